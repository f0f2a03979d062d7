/// Passes bytes through unchanged and counts them on a meter, for progress displays.
public final class MeteredSource: ByteSource {
    private let upstream: ByteSource
    private let meter: ByteMeter

    public init(upstream: ByteSource, meter: ByteMeter) {
        self.upstream = upstream
        self.meter = meter
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try upstream.read(into: buffer)
        meter.add(count)
        return count
    }
}

/// Forwards bytes unchanged and counts what the downstream accepted on a meter.
public final class MeteredSink: ByteSink {
    private let downstream: ByteSink
    private let meter: ByteMeter

    public init(downstream: ByteSink, meter: ByteMeter) {
        self.downstream = downstream
        self.meter = meter
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try downstream.write(bytes)
        meter.add(bytes.count)
    }
}
