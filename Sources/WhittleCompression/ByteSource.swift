/// A pull-based stream of bytes. Stages of the layer pipeline (file slice, hashing,
/// decompression) wrap one another so a layer is never held in memory.
public protocol ByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes and returns how many were written; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A push-based consumer of bytes, the writing side of the pipeline.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}
