import ArgumentParser
import Foundation
import WhittleCompression
import WhittleReport
#if canImport(Glibc)
    import Glibc
#endif

/// How progress is shown on standard error.
public enum ProgressMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, bar, plain, none
}

/// The progress flags every long-running command shares.
struct ProgressOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            Progress on standard error: auto (a bar when standard error is a terminal, nothing \
            otherwise), bar, plain (a line every few seconds, for CI logs) or none.
            """, valueName: "mode"))
    var progress: ProgressMode = .auto

    @Flag(name: .shortAndLong, help: "Show no progress (the same as --progress none).")
    var quiet = false

    func display() -> ProgressDisplay {
        ProgressDisplay(
            style: ProgressDisplay.style(for: quiet ? .none : progress, stderrIsTerminal: isatty(STDERR_FILENO) == 1))
    }
}

/// Progress on standard error: a bar redrawn in place a few times a second, or a line every
/// few seconds for logs, or nothing. A phase's byte counts come from a `ByteMeter` the
/// reading or writing stage advances; a timer thread only looks at it, so a phase that
/// waits shows its clock still running.
public final class ProgressDisplay: StageProgress, @unchecked Sendable {
    public enum Style: Sendable, Equatable {
        case bar, plain, silent
    }

    static func style(for mode: ProgressMode, stderrIsTerminal: Bool) -> Style {
        switch mode {
        case .auto: return stderrIsTerminal ? .bar : .silent
        case .bar: return .bar
        case .plain: return .plain
        case .none: return .silent
        }
    }

    private struct Phase {
        var name: String
        var detail: String?
        var meter: ByteMeter?
        var status: String?
        var started: Date
    }

    private let style: Style
    private let write: @Sendable (String) -> Void
    private let lock = NSLock()
    private var phase: Phase?
    private var barShown = false
    private var timer: DispatchSourceTimer?

    /// - Parameter write: where the text goes (standard error); tests collect it instead.
    public init(
        style: Style,
        write: @escaping @Sendable (String) -> Void = { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    ) {
        self.style = style
        self.write = write
        guard style != .silent else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "whittle.progress"))
        let interval = style == .bar ? 0.2 : 5.0
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    deinit {
        timer?.cancel()
    }

    public static let silent = ProgressDisplay(style: .silent)

    /// Starts a phase, closing the one before with its final figures. With a meter, the
    /// display shows bytes done (of its total, when set), the rate and the time left.
    public func begin(_ name: String, meter: ByteMeter? = nil) {
        guard style != .silent else { return }
        locked {
            closePhase()
            phase = Phase(name: name, meter: meter, started: Date())
            if style == .plain, meter == nil { write("whittle: \(name)\n") }
        }
    }

    /// Where inside the phase it is ("layer 3/9").
    public func note(_ detail: String) {
        locked { phase?.detail = detail }
    }

    /// Free text in place of byte figures, for phases that count other things (a trace).
    public func status(_ text: String) {
        locked { phase?.status = text }
    }

    /// A message line on standard error that leaves the bar intact below it.
    public func log(_ line: String) {
        locked {
            if barShown { write("\r\u{1B}[K") }
            write("whittle: \(line)\n")
            if barShown { draw() }
        }
    }

    /// Ends the last phase and takes the bar off the screen.
    public func finish() {
        guard style != .silent else { return }
        locked {
            closePhase()
            phase = nil
            if barShown { write("\r\u{1B}[K") }
            barShown = false
        }
    }

    private func tick() {
        locked { draw() }
    }

    /// The last figures of the phase that ends, so that even a fast phase shows once.
    private func closePhase() {
        guard let phase else { return }
        if style == .bar, phase.meter != nil || phase.status != nil { draw() }
        if style == .plain, phase.meter != nil || phase.status != nil { write(line(phase).plain() + "\n") }
    }

    private func draw() {
        guard let phase else { return }
        switch style {
        case .bar:
            write("\r\u{1B}[K" + line(phase).bar(width: Self.terminalWidth()))
            barShown = true
        case .plain:
            write(line(phase).plain() + "\n")
        case .silent:
            break
        }
    }

    private func line(_ phase: Phase) -> ProgressLine {
        ProgressLine(
            phase: phase.name, detail: phase.detail, done: phase.meter?.done, total: phase.meter?.total,
            elapsed: Date().timeIntervalSince(phase.started), status: phase.status)
    }

    private func locked(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body()
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 else { return 80 }
        return Int(size.ws_col)
    }
}
