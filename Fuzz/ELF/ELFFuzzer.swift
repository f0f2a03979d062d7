import FuzzSupport
import WhittleELF
import WhittleFiles

// The ELF, ld.so.cache and `#!` readers: any bytes as a file of the image. Each reader
// rejects the others' formats at the first bytes, so one input serves all three.

private let directory = FuzzDirectory("elf")

/// A 64-bit x86 program, for looking libraries up when the input is no ELF file itself.
private let defaultProgram = ELFFile(
    elfClass: .elf64, byteOrder: .littleEndian, osABI: 0, fileType: .executable, machine: .x86_64, flags: 0,
    interpreter: "/lib64/ld-linux-x86-64.so.2")

func fuzzELF(_ bytes: [UInt8]) {
    let fromMemory = Result { try ELFFile.parse(bytes: bytes, name: "input") }
    // The flattener hands the parser a slice of a file: it must agree with the bytes in memory.
    let path = directory.write(bytes, to: "input")
    if let file = try? OpenFile(path: path) {
        let fromFile = Result { try ELFFile.parse(file: file, name: "input") }
        precondition(describe(fromMemory) == describe(fromFile), "ELF parse of a file and of its bytes differ")
    }
    let program = (try? fromMemory.get()).flatMap { $0 } ?? defaultProgram
    _ = program.usesMusl
    _ = program.canLoad(program)
    if let cache = try? LoaderCache.parse(bytes: bytes, name: "input") {
        for entry in cache.entries.prefix(256) {
            _ = cache.lookup(entry.name, for: program)
            _ = entry.abiDescription
        }
    }
    if let shebang = Shebang.parse(bytes: bytes) { _ = shebang.command }
}

private func describe(_ result: Result<ELFFile?, Error>) -> String {
    switch result {
    case let .success(file): return "\(String(describing: file))"
    case let .failure(error): return "error \(error)"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELFInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzELF(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzELFInput)
        #else
            replay(Array(CommandLine.arguments.dropFirst()), harness: "FuzzELF", fuzzELF)
        #endif
    }
}
