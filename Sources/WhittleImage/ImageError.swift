/// Why an input image could not be read. Each message names the input part at fault.
public enum ImageError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, reason: String)
    case notAnImage(path: String, reason: String)
    case missingFile(name: String)
    case invalidJSON(name: String, reason: String)
    case unknownMediaType(name: String, mediaType: String)
    case unsupportedDigest(String)
    case digestMismatch(name: String, expected: String, actual: String)
    case sizeMismatch(name: String, expected: Int64, actual: Int64)
    case diffIDMismatch(layer: Int, expected: String, actual: String)
    case layerCountMismatch(layers: Int, diffIDs: Int)
    case noImage(path: String)
    case ambiguousImage(choices: [String])
    case imageNotFound(requested: String, choices: [String])
    case platformNotFound(requested: String, available: [String])
    case corruptLayer(layer: Int, reason: String)
    case inflationLimit(what: String, limit: Int64, stored: Int64)
    case tooManyLayers(count: Int)
    case memberEscapes(name: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open \(path): \(reason)"
        case let .notAnImage(path, reason):
            return "\(path) is not a saved image: \(reason)"
        case let .missingFile(name):
            return "the image archive has no \(name)"
        case let .invalidJSON(name, reason):
            return "\(name) is not valid JSON for its kind: \(reason)"
        case let .unknownMediaType(name, mediaType):
            return "\(name) has an unknown media type '\(mediaType)'"
        case let .unsupportedDigest(digest):
            return "unsupported digest '\(digest)': only sha256 digests are supported"
        case let .digestMismatch(name, expected, actual):
            return "digest mismatch for \(name): expected \(expected), content hashes to \(actual)"
        case let .sizeMismatch(name, expected, actual):
            return "size mismatch for \(name): descriptor says \(expected) bytes, archive holds \(actual)"
        case let .diffIDMismatch(layer, expected, actual):
            return "layer \(layer + 1) does not match its diff_id: expected \(expected), "
                + "uncompressed content hashes to \(actual)"
        case let .layerCountMismatch(layers, diffIDs):
            return "the image lists \(layers) layers but its config has \(diffIDs) diff_ids"
        case let .noImage(path):
            return "\(path) holds no image"
        case let .ambiguousImage(choices):
            return "the archive holds several images; choose one with --image: "
                + choices.joined(separator: ", ")
        case let .imageNotFound(requested, choices):
            return "no image named '\(requested)' in the archive; it holds: "
                + (choices.isEmpty ? "(untagged images only)" : choices.joined(separator: ", "))
        case let .platformNotFound(requested, available):
            return "the image has no variant for platform \(requested); choose one with --platform: "
                + available.joined(separator: ", ")
        case let .corruptLayer(layer, reason):
            return "layer \(layer + 1) is corrupt: \(reason)"
        case let .inflationLimit(what, limit, stored):
            return "\(what) expands past \(limit) bytes, the most its \(stored) stored bytes may grow to "
                + "(a decompression bomb?); refusing it. --max-inflation RATIO raises the limit, 0 lifts it"
        case let .tooManyLayers(count):
            return "the image has \(count) layers; Docker loads at most \(maximumLayerCount) "
                + "(max depth exceeded); refusing it"
        case let .memberEscapes(name):
            return "the image names '\(name)', which climbs out of the archive through '..'; refusing it"
        }
    }
}
