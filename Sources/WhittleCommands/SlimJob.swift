import Foundation
import WhittleFlatten
import WhittleImage
import WhittleOutput

/// One `whittle slim` run: read, flatten, write. Kept apart from argument parsing so tests
/// can drive it directly.
public struct SlimJob {
    public var input: String
    public var output: String
    public var selection: ImageSelection
    public var options: WriteOptions

    public init(input: String, output: String, selection: ImageSelection = ImageSelection(), options: WriteOptions) {
        self.input = input
        self.output = output
        self.selection = selection
        self.options = options
    }

    public struct Result: Sendable {
        public let inputLayers: Int
        public let written: WriteResult
    }

    public func run(progress: ((String) -> Void)? = nil) throws -> Result {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        progress?("reading \(input)")
        let image = try SavedImage(path: input, selection: selection, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        let count = image.layers.count
        try flattener.apply(image) { layer in
            progress?("applied layer \(layer.index + 1)/\(count) (\(layer.entries) entries)")
        }
        progress?("writing \(output)")
        let written = try ImageWriter().write(
            flattener.tree, from: image, to: output, options: options)
        return Result(inputLayers: count, written: written)
    }
}
