import Foundation

/// One PEP 508 `Requires-Dist` value: `numpy>=1.22.4; python_version < "3.11"`,
/// `jupyter-server[test]<3,>=2.4`, `foo @ https://example.org/foo.whl ; extra == "x"`.
public struct PythonRequirement: Sendable, Hashable {
    /// The name as written, and normalized (PEP 503).
    public var rawName: String
    public var name: String
    /// Extras asked of the required distribution, normalized.
    public var extras: [String]
    /// The version specifier or URL as written; whittle resolves names only.
    public var constraint: String
    public var marker: PythonMarker?

    public init(_ text: String) throws {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        let markerText: Substring?
        (body, markerText) = Self.splitMarker(body)
        let nameEnd =
            body.firstIndex { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") } ?? body.endIndex
        rawName = String(body[..<nameEnd])
        guard let first = rawName.first, first.isLetter || first.isNumber else {
            throw PackageGraphError.invalidSpec(spec: text, reason: "a requirement starts with a distribution name")
        }
        name = PythonName.normalize(rawName)
        var rest = body[nameEnd...].drop { $0 == " " }
        extras = []
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else {
                throw PackageGraphError.invalidSpec(spec: text, reason: "'[' without ']'")
            }
            extras = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",")
                .map { PythonName.normalize($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
            rest = rest[rest.index(after: close)...]
        }
        constraint = rest.trimmingCharacters(in: .whitespaces)
        marker = try markerText.map { try PythonMarker.parse(String($0)) }
    }

    /// The marker follows the first ';'; after a URL (`@ ...`) only a ';' preceded by
    /// whitespace counts, since URLs may hold ';'.
    private static func splitMarker(_ body: Substring) -> (Substring, Substring?) {
        let isURL = body.contains("@")
        var index = body.startIndex
        while index < body.endIndex {
            if body[index] == ";" {
                let previous = index > body.startIndex ? body[body.index(before: index)] : " "
                if !isURL || previous == " " || previous == "\t" {
                    return (body[..<index], body[body.index(after: index)...])
                }
            }
            index = body.index(after: index)
        }
        return (body, nil)
    }

    /// Whether pip installs this requirement for a distribution asked for with `extras`:
    /// the marker holds with `extra == ""` (the distribution itself) or with one of the
    /// extras (pip resolves `dist[extra]` as the distribution plus the extra's requirements).
    public func applies(in environment: PythonEnvironment, extras requested: Set<String>) -> Bool {
        guard let marker else { return true }
        return marker.evaluate(environment, extra: "") || requested.contains { marker.evaluate(environment, extra: $0) }
    }
}
