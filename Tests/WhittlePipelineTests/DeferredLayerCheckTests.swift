import Foundation
import Testing
import WhittleFiles
import WhittleImage
import WhittleOutput
import WhittlePipeline
@testable import WhittleTestSupport

/// Slim lets the last layers' digests finish on the second core while it selects; a layer
/// whose bytes are not the image's must still stop it before anything is written.
@Suite("Slim: layer digests checked beside the selection still stop a damaged image")
struct DeferredLayerCheckTests {
    /// Five layers (more than the checks that run at once), one of them changed after its
    /// digest was taken: a byte of file data, so its headers still read.
    static func damagedLayout(layer damaged: Int, in directory: TestDirectory) throws -> String {
        let layers = (0..<5).map { number -> TestLayer in
            var layer = TestLayer()
            layer.file("data/\(number).txt", String(repeating: "layer \(number) ", count: 40))
            layer.file("usr/share/doc/pkg\(number)/README", "docs")
            return layer
        }
        let layout = try TestImageBuilder(layers: layers).writeOCILayout(in: directory.url)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let image = try SavedImage(path: layout, scratch: scratch)
        let blob = URL(fileURLWithPath: layout + "/" + image.layers[damaged].name)
        var bytes = try Data(contentsOf: blob)
        bytes[600] ^= 0xff
        try bytes.write(to: blob)
        return layout
    }

    @Test("a damaged first or last layer stops slim and its dry run, and no output is written", arguments: [0, 4])
    func damagedLayerStops(layer: Int) throws {
        let directory = try TestDirectory()
        let layout = try Self.damagedLayout(layer: layer, in: directory)
        let output = directory.path("out.tar")
        for target in [output, nil] {
            let slim = Slim(
                input: layout, output: target, options: WriteOptions(),
                removal: RemovalRequest(profiles: ["safe"]))
            #expect {
                _ = try slim.run()
            } throws: { error in
                "\(error)".contains("digest mismatch for blobs/sha256/")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.url.path).allSatisfy { !$0.hasPrefix("out") })
    }
}
