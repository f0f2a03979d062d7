import Foundation
import Testing
import WhittleFiles

@testable import WhittleSelect

@Suite("Removed paths: a path or any directory above it, by bytes")
struct PathPrefixSetTests {
    /// The answer the set must give, spelled out the slow way: every prefix that ends
    /// before a slash, and the whole path, compared as bytes.
    static func expected(_ removed: [String], _ path: String) -> Bool {
        let bytes = Array(path.utf8)
        let prefixes =
            bytes.indices.filter { $0 > 0 && bytes[$0] == UInt8(ascii: "/") }.map { Array(bytes[..<$0]) } + [bytes]
        return prefixes.contains { prefix in removed.contains { Array($0.utf8) == prefix } }
    }

    @Test("a removed directory holds what is below it, and nothing beside it")
    func prefixes() {
        let removed = ["usr/share/doc", "opt/app/tests", "a"]
        let set = PathPrefixSet(removed)
        let cases = [
            "usr/share/doc", "usr/share/doc/x/copyright", "usr/share/docs", "usr/share/doc-base/x",
            "usr/share", "usr", "opt/app/tests/t.py", "opt/app/test", "a", "a/b", "ab", "b/a", "",
            "usr//share/doc/x", "a/",
        ]
        for path in cases {
            #expect(set.containsPathOrParent(of: path) == Self.expected(removed, path), "\(path)")
        }
        #expect(set.containsPathOrParent(of: "usr/share/doc/x/copyright"))
        #expect(!set.containsPathOrParent(of: "usr/share/docs"))
        #expect(!PathPrefixSet([]).containsPathOrParent(of: "anything"))
    }

    @Test("names are told apart by their bytes, as the kernel does: é composed is not é decomposed")
    func bytes() {
        let composed = "caf\u{e9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // Swift calls them equal; the file system does not.
        let set = PathPrefixSet([composed])
        #expect(set.containsPathOrParent(of: composed + "/menu"))
        #expect(!set.containsPathOrParent(of: decomposed + "/menu"))
    }

    @Test("many paths: the same answers as spelling every prefix out")
    func many() {
        var generator = SystemRandomNumberGenerator()
        let names = ["a", "b", "ab", "lib", "lib64", "x.py", "__pycache__"]
        func randomPath() -> String {
            (0..<Int.random(in: 1...5, using: &generator)).map { _ in names.randomElement(using: &generator)! }
                .joined(separator: "/")
        }
        let removed = (0..<40).map { _ in randomPath() }
        let set = PathPrefixSet(removed)
        for _ in 0..<2000 {
            let path = randomPath()
            #expect(set.containsPathOrParent(of: path) == Self.expected(removed, path), "\(path)")
        }
    }
}

@Suite("Side by side: two pieces of work at once")
struct SideBySideTests {
    @Test("both run at the same time and both results come back")
    func concurrent() {
        let started = DispatchSemaphore(value: 0)
        let (first, second) = sideBySide(
            { () -> Bool in
                // Only a second thread running meanwhile can signal this.
                started.wait(timeout: .now() + 10) == .success
            },
            { () -> Int in
                started.signal()
                return 42
            })
        #expect(first)
        #expect(second == 42)
    }

    @Test("an error of either is thrown, once both have stopped")
    func errors() {
        struct Failure: Error {}
        let finished = Box()
        #expect(throws: Failure.self) {
            _ = try sideBySide(
                { () throws -> Int in throw Failure() },
                { () throws -> Int in
                    Thread.sleep(forTimeInterval: 0.2)
                    finished.set()
                    return 1
                })
        }
        #expect(finished.isSet)
        #expect(throws: Failure.self) {
            _ = try sideBySide({ () throws -> Int in 1 }, { () throws -> Int in throw Failure() })
        }
    }

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }
}
