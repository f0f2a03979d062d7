import FuzzSupport
import WhittleTraceFormat

// The trace file reader: any bytes as a trace file given to `slim --trace` or `verify`.
// A file it takes must survive normalizing, merging with itself, and writing out and back.

private let directory = FuzzDirectory("trace")

func fuzzTrace(_ bytes: [UInt8]) {
    let path = directory.write(bytes, to: "trace.json")
    guard let document = try? TraceDocument.load(path: path) else { return }
    _ = document.tracedChainIDs
    _ = TraceDocument.merging([document, document])
    guard let encoded = try? document.encoded() else { fatalError("a trace that was read cannot be written") }
    let again = directory.write(Array(encoded), to: "again.json")
    guard let reread = try? TraceDocument.load(path: again) else { fatalError("a written trace cannot be read back") }
    precondition(reread == document, "a trace changes when written and read back")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzTrace(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzTraceInput)
        #else
            replay(Array(CommandLine.arguments.dropFirst()), harness: "FuzzTrace", fuzzTrace)
        #endif
    }
}
