import Foundation
import Testing
import WhittleCommands
import WhittleOutput
import WhittleReport

/// The image the README's first command (scripts/demo.sh) slims: Fixtures/demo-app.docker.tar,
/// made by `Fixtures/make_fixtures.py demo`.
enum DemoImage {
    static let file = "demo-app.docker.tar"
    static let tag = "whittle-fixture/demo-app:1"
    /// What its entrypoint prints (written by hand from Fixtures/make_fixtures.py's run.sh).
    static let output = "demo-app: serving /app/site (3 pages)\n"
    /// The profile scripts/demo.sh slims it with.
    static let profile = "all"

    /// At least this much of each kind of waste the fixture carries goes, by the profile
    /// that names it (entries, bytes). Set by hand below what the generator writes.
    static let leastRemoved: [String: (entries: Int, bytes: Int64)] = [
        "apt-cache": (entries: 8, bytes: 3_000_000),  // lists, pkgcache.bin, .deb archives
        "pip-cache": (entries: 25, bytes: 1_500_000),  // root/.cache/pip
        "pycache": (entries: 4, bytes: 500_000),  // four __pycache__ directories
        "docs": (entries: 12, bytes: 150_000),  // changelogs and man pages
        "tests": (entries: 4, bytes: 250_000),  // the packages' tests directories
        "dev-tools": (entries: 9, bytes: 3_800_000),  // gcc-12, cc1, collect2, headers
    ]
}
