import CWhittleTrace
import Foundation

/// Answers seccomp notifications on its own thread (not Swift's cooperative pool: every
/// traced syscall waits for it) and hands each named path to the recorder.
final class Supervisor: @unchecked Sendable {
    private let handle: OpaquePointer
    private let recorder: PathRecorder
    private let lock = NSLock()
    private var stopRequested = false
    private let finished = DispatchSemaphore(value: 0)
    private(set) var notifications: UInt64 = 0
    private(set) var failure: String?

    init(listener: Int32, recorder: PathRecorder) throws {
        guard let handle = wt_supervisor_create(listener) else {
            close(listener)
            throw TraceError.internalFailure("cannot allocate seccomp notification buffers")
        }
        self.handle = handle
        self.recorder = recorder
    }

    deinit {
        wt_supervisor_destroy(handle)
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "whittle-trace-supervisor"
        thread.stackSize = 1 << 20
        thread.start()
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    private func loop() {
        var record = wt_record()
        while true {
            let result = wt_supervisor_next(handle, 100, &record)
            if result == 1 {
                recorder.countCall()
                let name = String(cString: record.syscall)
                if let path = record.path1 {
                    recorder.record(String(cString: path), name)
                    // `write` marks an open that may create or change the file: the app's state.
                    if record.writes != 0 { recorder.record(String(cString: path), "write") }
                }
                if let path = record.path2 { recorder.record(String(cString: path), name) }
            } else if result == 0 {
                if shouldStop { break }
            } else if result == -1 {
                break  // no traced process is left
            } else {
                lock.lock()
                failure = String(cString: strerror(-result))
                lock.unlock()
                break
            }
        }
        lock.lock()
        notifications = wt_supervisor_count(handle)
        lock.unlock()
    }

    /// Asks the loop to end once it is idle, and waits for it. Safe to call more than once.
    func stop() {
        lock.lock()
        let first = !stopRequested
        stopRequested = true
        lock.unlock()
        guard first else { return }
        finished.wait()
    }
}
