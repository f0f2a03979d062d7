/// How far a layer may expand as it is read, so that a small blob claiming gigabytes (a
/// decompression bomb, or a sparse file of terabytes) is refused instead of filling the disk.
///
/// A gzip or zstd layer may inflate, and the file data spooled from any layer may add up,
/// to `ratio` times the layer's stored size, or `floor` bytes when that is more. An archive
/// compressed whole (`docker save | gzip`) may inflate as far. Real layers stay far below:
/// text and binaries compress 2–10 times; only long runs of zeros go past 100.
public struct InflationLimit: Sendable, Equatable {
    /// 0 turns the check off.
    public var ratio: Int64
    /// Every blob may expand to this much, whatever its ratio.
    public var floor: Int64

    public static let defaultRatio: Int64 = 100
    public static let defaultFloor: Int64 = 1 << 30

    public init(ratio: Int64 = InflationLimit.defaultRatio, floor: Int64 = InflationLimit.defaultFloor) {
        self.ratio = ratio
        self.floor = floor
    }

    /// The most bytes a blob of `stored` bytes may expand to; nil when unlimited.
    public func maximum(forStored stored: Int64) -> Int64? {
        guard ratio > 0 else { return nil }
        let (scaled, overflow) = stored.multipliedReportingOverflow(by: ratio)
        return overflow ? nil : max(floor, scaled)
    }
}

/// Docker's layer store refuses an image of more layers than this ("max depth exceeded"),
/// and so does whittle, before reading any of them.
public let maximumLayerCount = 125
