import Foundation
import WhittleArchive

/// Reads a whole tar (small test outputs only) into entries and contents.
func readTar(_ bytes: [UInt8]) throws -> [(entry: TarEntry, data: [UInt8])] {
    var position = 0
    let reader = try TarReader(name: "test tar") { buffer in
        let count = min(buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<(position + count)]))
        }
        position += count
        return count
    }
    var result: [(TarEntry, [UInt8])] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while let entry = try reader.nextEntry() {
        var data: [UInt8] = []
        while true {
            let count = try chunk.withUnsafeMutableBytes { try reader.readData(into: $0) }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        result.append((entry, data))
    }
    return result
}

func readTar(path: String) throws -> [(entry: TarEntry, data: [UInt8])] {
    try readTar(Array(Data(contentsOf: URL(fileURLWithPath: path))))
}
