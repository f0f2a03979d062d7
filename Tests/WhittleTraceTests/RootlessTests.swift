import Foundation
import Testing
@testable import WhittleTrace
#if canImport(Glibc)
    import Glibc
    @testable import WhittleTestSupport
#endif

/// How an ordinary user's trace finds its subordinate ids, and what it says when it has none.
@Suite("Rootless tracing: subordinate ids")
struct RootlessPlanTests {
    private func write(_ text: String, in work: TestDirectory) throws -> String {
        let path = work.path("subuid")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theCallersLineIsFoundByNameOrByUid() throws {
        let work = try TestDirectory()
        let file = try write("bob:100000:65536\nalice:165536:65536\n1001:300000:1000\n", in: work)
        #expect(
            RootlessPlan.subordinateRange(in: file, user: "alice", id: 1000)
                == RootlessPlan.Range(start: 165_536, count: 65_536))
        #expect(
            RootlessPlan.subordinateRange(in: file, user: "carol", id: 1001)
                == RootlessPlan.Range(start: 300_000, count: 1000))
        #expect(RootlessPlan.subordinateRange(in: file, user: "dave", id: 1002) == nil)
    }

    @Test func malformedAndEmptyRangesAreSkipped() throws {
        let work = try TestDirectory()
        let file = try write("alice:x:65536\nalice:100000:0\nalice:100000\nalice:200000:10\n", in: work)
        #expect(
            RootlessPlan.subordinateRange(in: file, user: "alice", id: 1000)
                == RootlessPlan.Range(start: 200_000, count: 10))
        #expect(RootlessPlan.subordinateRange(in: work.path("missing"), user: "alice", id: 1000) == nil)
    }

    @Test func theMessageWithoutRangesSaysHowToAddThem() {
        let message = TraceError.noSubordinateIDs(user: "alice").description
        #expect(message.contains("/etc/subuid"))
        #expect(message.contains("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"))
        #expect(TraceError.missingIDMapTools.description.contains("apt-get install uidmap"))
    }
}

/// A user with no subordinate ids gets the message, a non-zero exit and no output; nothing
/// weaker runs instead. Needs root to become that user (runs under CI=true).
@Suite("Rootless tracing without subordinate ids", .enabled(if: canTrace, "needs root (runs under CI=true)"))
struct RootlessRefusalTests {
    @Test func aUserWithoutRangesIsToldWhatIsMissing() throws {
        let work = try TestDirectory()
        chmod(work.url.path, 0o777)
        let whittle = work.path("whittle")
        try FileManager.default.copyItem(atPath: try whittleExecutable(), toPath: whittle)
        let image = work.path("busybox-app.docker.tar")
        try FileManager.default.copyItem(atPath: fixture("busybox-app.docker.tar"), toPath: image)
        chmod(image, 0o644)
        let trace = work.path("t.json")
        // nobody has no line in /etc/subuid on Debian.
        #expect(RootlessPlan.subordinateRange(in: "/etc/subuid", user: "nobody", id: 65_534) == nil)
        let failure = #expect(throws: CommandFailure.self) {
            try run(
                "/usr/bin/setpriv",
                [
                    "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                    "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "TMPDIR=\(work.url.path)",
                    whittle, "trace", image, "-o", trace, "--", "/bin/busybox", "true",
                ])
        }
        #expect(failure?.status == 1)
        #expect(failure?.output.contains("subordinate ids for 'nobody'") == true, "\(failure?.output ?? "")")
        #expect(!FileManager.default.fileExists(atPath: trace))
        #expect(!FileManager.default.fileExists(atPath: work.path("t.log")))
    }
}
