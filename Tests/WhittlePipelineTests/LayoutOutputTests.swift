import Foundation
import Testing
import WhittleFiles
import WhittleImage
import WhittleOutput
import WhittlePipeline
@testable import WhittleTestSupport

@Suite("-o oci:DIR: the image as a new OCI layout directory")
struct LayoutOutputTests {
    static func input(in directory: TestDirectory) throws -> String {
        var first = TestLayer()
        first.file("bin/app", "#!/bin/sh\necho hi\n", mode: 0o755)
        first.file("gone", "deleted later")
        var second = TestLayer()
        second.whiteout("gone")
        return try TestImageBuilder(layers: [first, second]).writeArchive(in: directory.url)
    }

    /// The same slim written as a tarball and as a layout: the layout holds the tarball's
    /// blobs, and whittle reads it back as the same image under the reference it was given.
    @Test("the layout holds the tarball's image, under its reference")
    func sameImage() throws {
        let directory = try TestDirectory()
        let input = try Self.input(in: directory)
        let tarball = directory.path("out.tar")
        let layout = directory.path("layout")
        let options = WriteOptions(tag: "app:1")
        let file = try #require(try Slim(input: input, output: tarball, options: options).run().written?.file)
        let written = try #require(try Slim(input: input, output: "oci:\(layout):slim", options: options).run().written)
        guard case .unpacked(layout)? = written.delivery else {
            Issue.record("delivered \(String(describing: written.delivery))")
            return
        }
        // The reference names the tag; the layer and its digest are the tarball's.
        #expect(written.file.tag == "app:slim")
        #expect(written.file.layerDigest == file.layerDigest)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let reread = try SavedImage(path: layout, selection: ImageSelection(name: "slim"), scratch: scratch)
        #expect(reread.layers.count == 1)
        #expect(reread.layers.first?.diffID == (try SavedImage(path: tarball, scratch: scratch)).layers.first?.diffID)
        let index = try String(contentsOfFile: layout + "/index.json", encoding: .utf8)
        #expect(index.contains(#""org.opencontainers.image.ref.name":"slim""#), "\(index)")
    }

    /// A directory that holds anything is refused before any work, and left as it was; a
    /// run that fails leaves no layout and no hidden staging directory beside it.
    @Test("a directory with something in it is refused, and nothing is left behind")
    func refusesNonEmpty() throws {
        let directory = try TestDirectory()
        let input = try Self.input(in: directory)
        let layout = directory.path("layout")
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: false)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: layout + "/notes.txt"))
        #expect {
            try Slim(input: input, output: "oci:\(layout)", options: WriteOptions()).run()
        } throws: { "\($0)".contains("it is not empty") && "\($0)".contains(layout) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout) == ["notes.txt"])
        let broken = directory.path("broken.tar")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: broken))
        #expect(throws: (any Error).self) {
            try Slim(input: broken, output: "oci:" + directory.path("new"), options: WriteOptions()).run()
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
        #expect(!left.contains("new") && !left.contains { $0.hasPrefix(".new.") }, "\(left)")
    }
}
