import Foundation

// The pieces every command's output is made of: sizes, text tables, JSON.

/// Sizes the way people read them: binary units, one decimal.
public func humanBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while abs(value) >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// Text columns two spaces apart, each as wide as its widest cell (header row included).
/// A right-aligned column is padded on the left, any other on the right, except a last
/// column that is not right-aligned: it is left as it is, so lines end without spaces.
func tableLines(_ rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
    }
    return rows.map { row in
        row.enumerated().map { column, cell in
            let pad = String(repeating: " ", count: widths[column] - cell.count)
            if column == row.count - 1, !rightAligned.contains(column) { return cell }
            return rightAligned.contains(column) ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }
}

/// The figures table of `slim`'s report: the first column names a row, the others are
/// numbers, right-aligned.
func table(_ header: [String], _ rows: [[String]]) -> String {
    tableLines([header] + rows, rightAligned: Set(header.indices.dropFirst())).joined(separator: "\n")
}

/// The same as a Markdown table, for `--report FILE.md`: the first column left-aligned.
func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
    let head = "| " + header.joined(separator: " | ") + " |"
    let rule = "|" + header.indices.map { $0 == 0 ? " --- |" : " ---: |" }.joined()
    return ([head, rule] + rows.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
}

/// JSON as every command prints and writes it: indented, keys sorted so the same input
/// gives the same bytes, and slashes unescaped so that paths read as paths.
func renderJSON<Value: Encodable>(_ value: Value) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value)
}
