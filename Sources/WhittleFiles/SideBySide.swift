import Foundation

/// Runs two pieces of work at once, `second` on a thread of its own, and returns both
/// results once both are done.
///
/// For stages that only read what was built before them (a flattened tree is not
/// `Sendable`): the caller vouches that neither piece writes anything the other touches.
public func sideBySide<First, Second>(_ first: () -> First, _ second: @escaping () -> Second) -> (First, Second) {
    let other = OtherThread(second)
    let thread = Thread { other.run() }
    // Tree walks recurse once per level; give the thread the main thread's room.
    thread.stackSize = 8 << 20
    thread.start()
    let firstResult = first()
    other.finished.wait()
    return (firstResult, other.result!)
}

/// The same for work that can fail: an error of either is thrown once both have stopped.
public func sideBySide<First, Second>(
    _ first: () throws -> First, _ second: @escaping () throws -> Second
) throws -> (First, Second) {
    let (firstResult, secondResult) = sideBySide({ Result { try first() } }, { Result { try second() } })
    return (try firstResult.get(), try secondResult.get())
}

/// The second piece of work and its result, handed to its thread and back.
private final class OtherThread<Value>: @unchecked Sendable {
    let work: () -> Value
    var result: Value?
    let finished = DispatchSemaphore(value: 0)

    init(_ work: @escaping () -> Value) {
        self.work = work
    }

    func run() {
        result = work()
        finished.signal()
    }
}
