import Synchronization

/// Counts bytes where a stage really reads or writes them, so that a progress display on
/// another thread shows the true position, not a guess. Lock-free: the reading thread
/// only adds to a counter.
public final class ByteMeter: Sendable {
    private let doneBytes = Atomic<Int64>(0)
    /// Below zero while the total is unknown (standard input, say).
    private let totalBytes = Atomic<Int64>(-1)

    public init(total: Int64? = nil) {
        if let total { totalBytes.store(total, ordering: .relaxed) }
    }

    public func add(_ count: Int64) {
        doneBytes.add(count, ordering: .relaxed)
    }

    public func add(_ count: Int) {
        add(Int64(count))
    }

    /// Sets the total once it is known (after the image's index has been read, say).
    public func expect(_ total: Int64) {
        totalBytes.store(total, ordering: .relaxed)
    }

    public var done: Int64 { doneBytes.load(ordering: .relaxed) }
    public var total: Int64? {
        let total = totalBytes.load(ordering: .relaxed)
        return total < 0 ? nil : total
    }
}

/// Where a long stage says what it is doing: the commands' progress display, or nobody.
/// The library's stages report through it, so they need not know how progress is drawn.
public protocol StageProgress: AnyObject, Sendable {
    /// Starts a phase; with a meter, its bytes are the phase's progress.
    func begin(_ name: String, meter: ByteMeter?)
    /// Where inside the phase it is ("2/4").
    func note(_ detail: String)
}

extension StageProgress {
    public func begin(_ name: String) {
        begin(name, meter: nil)
    }
}

/// Progress that goes nowhere: tests, and callers that draw none.
public final class SilentProgress: StageProgress {
    public init() {}
    public func begin(_ name: String, meter: ByteMeter?) {}
    public func note(_ detail: String) {}
}
