import Foundation

/// Where a long phase stands, as one line: for a terminal's bar, redrawn in place, or for
/// a CI log, printed every few seconds.
public struct ProgressLine: Sendable, Equatable {
    /// What is being done: "reading layers", "writing".
    public var phase: String
    /// Where inside the phase: "layer 3/9".
    public var detail: String?
    /// Bytes done, when the phase counts them.
    public var done: Int64?
    /// Bytes in all, when known.
    public var total: Int64?
    /// Seconds since the phase began.
    public var elapsed: Double
    /// Free text in place of the byte figures (a trace's syscalls, paths and probes).
    public var status: String?

    public init(
        phase: String, detail: String? = nil, done: Int64? = nil, total: Int64? = nil,
        elapsed: Double, status: String? = nil
    ) {
        self.phase = phase
        self.detail = detail
        self.done = done
        self.total = total
        self.elapsed = elapsed
        self.status = status
    }

    /// Bytes per second over the phase so far; nil until there is something to divide.
    public var rate: Double? {
        guard let done, done > 0, elapsed > 0 else { return nil }
        return Double(done) / elapsed
    }

    /// Whole percent done, never above 100 (a total may be an estimate).
    public var percent: Int? {
        guard let done, let total, total > 0 else { return nil }
        return Int(min(100, max(0, done * 100 / total)))
    }

    /// Seconds left at the rate so far.
    public var secondsLeft: Double? {
        guard let done, let total, let rate, rate > 0, total >= done else { return nil }
        return Double(total - done) / rate
    }

    /// The bar, fitted to `width` columns: `reading layers 3/9 [=====>    ] 42% 1.2 GiB / 2.9 GiB 85.3 MiB/s 0:20 left`.
    public func bar(width: Int) -> String {
        let label = detail.map { "\(phase) \($0)" } ?? phase
        var figures = self.figures(separator: "  ")
        if status == nil, done == nil { figures = Self.clock(elapsed) }
        // The bar takes what the words leave, between 8 and 40 columns inside its brackets.
        let room = width - label.count - figures.count - 5
        guard let percent, room >= 8 else {
            return Self.fit([label, figures].filter { !$0.isEmpty }.joined(separator: "  "), width: width)
        }
        let inner = min(40, room)
        let filled = inner * percent / 100
        let arrow = filled < inner ? ">" : ""
        let bar =
            "[" + String(repeating: "=", count: max(0, filled - arrow.count)) + arrow
            + String(repeating: " ", count: inner - max(filled, arrow.count)) + "]"
        return Self.fit("\(label) \(bar) \(figures)", width: width)
    }

    /// The same for a log: `whittle: reading layers (layer 3/9): 42%, 1.2 GiB of 2.9 GiB, 85.3 MiB/s, 0:20 left`.
    public func plain() -> String {
        let label = detail.map { "\(phase) (\($0))" } ?? phase
        let figures = done == nil && status == nil ? Self.clock(elapsed) : self.figures(separator: ", ")
        return "whittle: \(label): \(figures)"
    }

    private func figures(separator: String) -> String {
        if let status { return status }
        guard let done else { return "" }
        var parts: [String] = []
        if let percent { parts.append("\(percent)%") }
        if let total {
            parts.append(
                separator == ", "
                    ? "\(humanBytes(done)) of \(humanBytes(total))"
                    : "\(humanBytes(done)) / \(humanBytes(total))")
        } else {
            parts.append(humanBytes(done))
        }
        parts.append(rate.map { "\(humanBytes(Int64($0)))/s" } ?? "- B/s")
        if let secondsLeft, total.map({ $0 > done }) ?? false {
            parts.append("\(Self.clock(secondsLeft)) left")
        } else {
            parts.append(Self.clock(elapsed))
        }
        return parts.joined(separator: separator)
    }

    /// `0:07`, `12:30`, `1:02:03`.
    public static func clock(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds.rounded()))
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0
            ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }

    private static func fit(_ line: String, width: Int) -> String {
        line.count < width ? line : String(line.prefix(max(0, width - 2))) + "…"
    }
}
