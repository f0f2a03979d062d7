import Foundation
import Testing
@testable import WhittleCommands
import WhittleCompression
import WhittleReport
import WhittleTrace
@testable import WhittleTestSupport

@Suite("Progress line: what the bar and the log line say")
struct ProgressLineTests {
    @Test("a metered phase shows the percent, bytes done of the total, the rate and the time left")
    func barFigures() {
        let line = ProgressLine(phase: "reading layers", detail: "3/9", done: 3 << 30, total: 4 << 30, elapsed: 30)
        #expect(line.percent == 75)
        #expect(line.rate == Double(3 << 30) / 30)
        #expect(line.secondsLeft == 10)
        let bar = line.bar(width: 100)
        #expect(bar.hasPrefix("reading layers 3/9 ["))
        #expect(bar.contains("] 75%  3.0 GiB / 4.0 GiB  102.4 MiB/s  0:10 left"), "\(bar)")
        #expect(bar.count <= 100)
        // Three quarters of the bar is filled, with the arrow at its head.
        let inside = bar.split(separator: "[")[1].split(separator: "]")[0]
        #expect(inside.filter { $0 == "=" }.count + 1 == inside.count * 3 / 4)
        #expect(inside.contains(">"))
    }

    @Test("the line fits the terminal: the bar shrinks, then goes, then the text is cut", arguments: [120, 80, 60, 30])
    func fitsWidth(width: Int) {
        let line = ProgressLine(phase: "reading layers", detail: "1/2", done: 512 << 20, total: 1 << 30, elapsed: 4)
        let bar = line.bar(width: width)
        #expect(bar.count < width)
        #expect(bar.hasPrefix(width > 40 ? "reading layers 1/2" : "reading"))
        #expect(bar.contains("[") == (width >= 80))
        if width >= 80 { #expect(bar.count == min(width - 1, 18 + 1 + 42 + 1 + 48)) }
    }

    @Test("an unknown total shows bytes, rate and the clock; a full one no time left")
    func unknownTotal() {
        let spool = ProgressLine(phase: "reading standard input", done: 10 << 20, elapsed: 2)
        #expect(spool.percent == nil)
        #expect(spool.bar(width: 80) == "reading standard input  10.0 MiB  5.0 MiB/s  0:02")
        let done = ProgressLine(phase: "writing", done: 100, total: 100, elapsed: 65)
        #expect(done.plain() == "whittle: writing: 100%, 100 B of 100 B, 1 B/s, 1:05")
    }

    @Test("a total that was an estimate never shows more than 100%")
    func estimateOvershoot() {
        #expect(ProgressLine(phase: "writing", done: 150, total: 100, elapsed: 1).percent == 100)
    }

    @Test("a phase without bytes shows its clock, and a status replaces the figures")
    func statusAndClock() {
        #expect(
            ProgressLine(phase: "selecting what to remove", elapsed: 3725).bar(width: 80)
                == "selecting what to remove  1:02:05")
        let status = ProgressLine(phase: "tracing", elapsed: 4, status: "0:04  12 syscalls  3 paths")
        #expect(status.bar(width: 80) == "tracing  0:04  12 syscalls  3 paths")
        #expect(status.plain() == "whittle: tracing: 0:04  12 syscalls  3 paths")
    }

    @Test("a trace's status line: elapsed, syscalls, paths, and each probe's state")
    func traceStatus() {
        let status = TraceStatus(
            elapsed: 12.4, syscalls: 12345, paths: 812,
            probes: [
                .init(kind: "tcp", target: "127.0.0.1:5432", state: .passed),
                .init(kind: "http", target: "http://127.0.0.1:8080/health", state: .waiting),
                .init(kind: "exec", target: "psql -c 'select 1'", state: .pending),
            ])
        #expect(
            TraceCommand.statusLine(status) == "0:12  12345 syscalls  812 paths  tcp 127.0.0.1:5432 passed  "
                + "http http://127.0.0.1:8080/health waiting  exec psql -c 'select 1' pending")
    }
}

/// Collects what a `ProgressDisplay` writes.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    func append(_ text: String) { lock.withLock { parts.append(text) } }
    var text: String { lock.withLock { parts.joined() } }
}

@Suite("Progress display: when it shows and what it writes")
struct ProgressDisplayTests {
    @Test(
        "auto is a bar on a terminal and nothing otherwise; --quiet and none silence it",
        arguments: [
            (ProgressMode.auto, true, ProgressDisplay.Style.bar), (.auto, false, .silent), (.bar, false, .bar),
            (.plain, true, .plain), (.none, true, .silent),
        ])
    func styles(mode: ProgressMode, terminal: Bool, expected: ProgressDisplay.Style) {
        #expect(ProgressDisplay.style(for: mode, stderrIsTerminal: terminal) == expected)
    }

    @Test("plain: a phase's final figures when it ends, read from its meter, and messages on their own lines")
    func plainLines() {
        let collected = Collected()
        let progress = ProgressDisplay(style: .plain, write: collected.append)
        let meter = ByteMeter(total: 2048)
        progress.begin("reading layers", meter: meter)
        meter.add(1024)
        meter.add(1024)
        progress.log("a message")
        progress.begin("selecting what to remove")
        progress.finish()
        let lines = collected.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines[0] == "whittle: a message")
        #expect(lines[1].hasPrefix("whittle: reading layers: 100%, 2.0 KiB of 2.0 KiB, "))
        #expect(lines[2] == "whittle: selecting what to remove")
    }

    @Test("bar: redrawn in place, messages above it, and cleared at the end")
    func barInPlace() {
        let collected = Collected()
        let progress = ProgressDisplay(style: .bar, write: collected.append)
        let meter = ByteMeter(total: 100)
        progress.begin("writing", meter: meter)
        meter.add(40)
        progress.begin("sending to standard output")
        progress.log("hello")
        progress.finish()
        let text = collected.text
        #expect(text.contains("\r\u{1B}[Kwriting ["))
        #expect(text.contains("40%  40 B / 100 B"))
        #expect(text.contains("\r\u{1B}[Kwhittle: hello\n"))
        #expect(text.hasSuffix("\r\u{1B}[K"))
    }

    @Test("bar: a timer redraws it while a phase runs, from the meter's current count")
    func redrawnWhileRunning() {
        let collected = Collected()
        let progress = ProgressDisplay(style: .bar, write: collected.append)
        let meter = ByteMeter(total: 1000)
        progress.begin("writing", meter: meter)
        meter.add(250)
        // No phase ends here: only the timer can draw. Wait for it (a bound, not a timing claim).
        for _ in 0..<500 where !collected.text.contains("25%") { usleep(10_000) }
        #expect(collected.text.contains("\r\u{1B}[Kwriting ["))
        #expect(collected.text.contains("25%  250 B / 1000 B"))
        meter.add(250)
        for _ in 0..<500 where !collected.text.contains("50%") { usleep(10_000) }
        #expect(collected.text.contains("50%  500 B / 1000 B"))
        progress.finish()
    }

    @Test("silent writes nothing")
    func silent() {
        let collected = Collected()
        let progress = ProgressDisplay(style: .silent, write: collected.append)
        progress.begin("reading layers", meter: ByteMeter(total: 1))
        progress.finish()
        #expect(collected.text.isEmpty)
    }
}

@Suite("Progress on a real terminal", .serialized)
struct ProgressTerminalTests {
    /// Runs whittle under a pseudo-terminal (util-linux `script`), as a user at a terminal would.
    private func underTerminal(_ arguments: String) throws -> String {
        let whittle = try whittleExecutable()
        let run = try shell("script -qfec \(quoted("\(quoted(whittle)) \(arguments) > /dev/null")) /dev/null")
        #expect(run.status == 0, "\(run.stderr)")
        return String(decoding: run.stdout, as: UTF8.self)
    }

    @Test("slim on a terminal draws a bar with the phase, percent, bytes and rate; --quiet draws none")
    func slimBar() throws {
        let work = try TestDirectory()
        let slim = "slim \(quoted(fixture(DemoImage.file))) -o \(quoted(work.path("out.tar"))) --profile all"
        let screen = try underTerminal(slim)
        #expect(screen.contains("\r\u{1B}[Kreading layers"))
        #expect(screen.contains("100%"))
        #expect(screen.contains(" / 2.5 MiB"), "\(screen)")
        #expect(screen.contains("MiB/s"))
        #expect(screen.contains("\r\u{1B}[Kwriting ["))
        #expect(try underTerminal(slim + " --quiet").isEmpty)
        #expect(try underTerminal(slim + " --progress none").isEmpty)
    }

    @Test("inspect and a pipe's spool show their bytes too")
    func inspectAndSpool() throws {
        let whittle = try whittleExecutable()
        let run = try shell(
            "script -qfec \(quoted("cat \(quoted(fixture(DemoImage.file))) | \(quoted(whittle)) inspect - > /dev/null")) /dev/null"
        )
        let text = String(decoding: run.stdout, as: UTF8.self)
        #expect(text.contains("reading standard input"))
        #expect(text.contains("reading layers"))
        #expect(text.contains("100%"))
    }

    @Test("with no terminal it stays silent; --progress plain writes lines for a log")
    func noTerminal() throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        let slim = "\(whittle) slim \(quoted(fixture(DemoImage.file))) -o \(quoted(work.path("out.tar"))) --profile all"
        let quiet = try shell(slim)
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
        let plain = try shell(slim + " --progress plain")
        #expect(!plain.stderr.contains("\r"))
        #expect(plain.stderr.contains("whittle: reading layers (4/4): 100%, 2.5 MiB of 2.5 MiB, "), "\(plain.stderr)")
        #expect(plain.stderr.contains("whittle: writing: 100%"))
    }
}

@Suite("A trace's progress on a real terminal", .serialized, .enabled(if: canTrace, "needs root (runs under CI=true)"))
struct TraceProgressTerminalTests {
    @Test("trace shows the elapsed time, syscalls and paths seen, and each probe's state")
    func traceStatus() throws {
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let trace = [
            quoted(whittle), "trace", quoted(fixture(DemoImage.file)), "-o", quoted(work.path("t.json")),
            "--network", "none", "--timeout", "30", "--probe-exec", quoted("cat /tmp/ready"), "--",
            "/bin/sh", "-c", quoted("sleep 1; echo up > /tmp/ready; sleep 30"),
        ].joined(separator: " ")
        let run = try shell("script -qfec \(quoted(trace)) /dev/null")
        #expect(run.status == 0, "\(run.stderr)")
        let screen = String(decoding: run.stdout, as: UTF8.self)
        #expect(screen.contains("\r\u{1B}[Kreading layers ["))
        #expect(screen.contains("\r\u{1B}[Ktracing  0:0"))
        #expect(screen.contains(" syscalls  "))
        #expect(screen.contains(" paths  exec cat /tmp/ready waiting"), "\(screen)")
        #expect(screen.contains(" paths  exec cat /tmp/ready passed"), "\(screen)")
    }
}
