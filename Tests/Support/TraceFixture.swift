import Foundation
import Testing
import WhittleCommands
import WhittleOutput
import WhittleProfiles
import WhittleSelect
import WhittleImage
import WhittleFiles

/// Whether a removal list covers a path (a removed directory stands for its subtree).
func isCovered(_ path: String, by removals: [Removal]) -> Bool {
    removals.contains { path == $0.path || path.hasPrefix($0.path + "/") }
}

/// Writes a trace file as `whittle trace` would, for paths that existed.
enum TraceFixture {
    static func write(paths: [String], chainID: String? = nil, to file: String) throws {
        let entries = paths.map { path in
            JSONValue.object(["path": .string(path), "operations": .array([.string("openat")]), "existed": .bool(true)])
        }
        var document = JSONValue.object([
            "version": .integer(1), "image": .string("test"), "command": .array([]), "entries": .array(entries),
        ])
        if let chainID { document["chainID"] = .string(chainID) }
        try Data(try canonicalJSON(document)).write(to: URL(fileURLWithPath: file))
    }
}
