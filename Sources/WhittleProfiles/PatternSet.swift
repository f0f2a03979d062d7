/// An ordered list of patterns asked together: which is the first to match a path.
///
/// A selection asks this of every path of an image for every rule of every profile, and
/// `inspect` does it for each shipped profile: hundreds of patterns against tens of
/// thousands of paths. Most patterns can only match a path whose last component, or whose
/// first one or two components, are fixed text (`**/__pycache__`, `*.pyc`,
/// `usr/share/doc/**`), so each pattern is filed under that text and a path is matched only
/// against the patterns filed under its own components, plus the few that fit no such key.
public struct PatternSet: @unchecked Sendable {
    public let patterns: [PathPattern]
    /// Unretained views of the patterns' programs: the matching loop then costs no
    /// reference counting. `patterns` keeps them alive.
    private let programs: [Unmanaged<Program>]
    /// Pattern indexes in ascending order, in runs that the keys below point at.
    private let runs: [Int32]
    /// Hash of a last component → its run of patterns that end with that literal name.
    private let byName: [UInt64: Range<Int32>]
    /// Hash of the first component, or of the first two joined by `/` → patterns whose
    /// literal head starts so.
    private let byHead: [UInt64: Range<Int32>]
    /// Literal endings of a last component (`.pyc` of `**/*.pyc`) and their runs.
    private let bySuffix: [(suffix: [UInt8], run: Range<Int32>)]
    /// Patterns that fit no key.
    private let unkeyed: Range<Int32>

    public init(_ patterns: [PathPattern]) {
        self.patterns = patterns
        programs = patterns.map { Unmanaged.passUnretained($0.program) }
        var names: [UInt64: [Int32]] = [:]
        var heads: [UInt64: [Int32]] = [:]
        var suffixes: [[UInt8]: [Int32]] = [:]
        var others: [Int32] = []
        for (index, pattern) in patterns.enumerated() {
            let index = Int32(index)
            switch pattern.program.key {
            case let .name(bytes): names[fnv1a(bytes[...]), default: []].append(index)
            case let .head(bytes): heads[fnv1a(bytes[...]), default: []].append(index)
            case let .suffix(bytes): suffixes[bytes, default: []].append(index)
            case .unkeyed: others.append(index)
            }
        }
        var runs: [Int32] = []
        func file(_ indexes: [Int32]) -> Range<Int32> {
            let start = Int32(runs.count)
            runs += indexes
            return start..<Int32(runs.count)
        }
        byName = names.mapValues(file)
        byHead = heads.mapValues(file)
        bySuffix = suffixes.map { (suffix: $0.key, run: file($0.value)) }
        unkeyed = file(others)
        self.runs = runs
    }

    public var isEmpty: Bool { patterns.isEmpty }

    /// The index of the first pattern, in the order given, that matches `path`.
    public func firstMatch(_ path: String) -> Int? {
        if patterns.isEmpty { return nil }
        return withPathBytes(path) { bytes in
            guard let (start, end) = trimmed(bytes) else { return nil }
            var best = Int32.max
            // Runs ascend, so the first match in a run is the run's best.
            func consider(_ run: Range<Int32>?) {
                guard let run else { return }
                for slot in run {
                    let candidate = runs[Int(slot)]
                    if candidate >= best { return }
                    if programs[Int(candidate)]._withUnsafeGuaranteedRef({ $0.matches(bytes, start, end) }) {
                        best = candidate
                        return
                    }
                }
            }
            var lastStart = end
            while lastStart > start, bytes[lastStart - 1] != slash { lastStart -= 1 }
            let last = UnsafeBufferPointer(rebasing: bytes[lastStart..<end])
            consider(byName[fnv1a(last)])
            for entry in bySuffix
            where entry.suffix.count <= last.count
                && last.suffix(entry.suffix.count).elementsEqual(entry.suffix)
            {
                consider(entry.run)
            }
            var firstEnd = start
            while firstEnd < end, bytes[firstEnd] != slash { firstEnd += 1 }
            consider(byHead[fnv1a(UnsafeBufferPointer(rebasing: bytes[start..<firstEnd]))])
            if firstEnd < end {
                var secondEnd = firstEnd + 1
                while secondEnd < end, bytes[secondEnd] != slash { secondEnd += 1 }
                consider(byHead[fnv1a(UnsafeBufferPointer(rebasing: bytes[start..<secondEnd]))])
            }
            consider(unkeyed)
            return best == Int32.max ? nil : Int(best)
        }
    }

    /// Whether any pattern matches `path`.
    public func matchesAny(_ path: String) -> Bool {
        firstMatch(path) != nil
    }

    /// False only when no pattern can match anything strictly inside `directoryPath`.
    public func mayMatchBelow(_ directoryPath: String) -> Bool {
        patterns.contains { $0.mayMatchBelow(directoryPath) }
    }
}

/// What a path must hold for a pattern to have any chance of matching it.
enum PatternKey {
    /// Its last component is exactly these bytes.
    case name([UInt8])
    /// Its first component, or its first two joined by `/`, are these bytes.
    case head([UInt8])
    /// Its last component ends with these bytes.
    case suffix([UInt8])
    /// Nothing cheap to check.
    case unkeyed
}

extension Program {
    /// The most selective key the pattern has: a literal last component, a literal ending
    /// of it, then a literal head of up to two components.
    var key: PatternKey {
        let lastIndex = segments.count - 1
        if !endsWithGlobstar {
            let last = segments[lastIndex]
            if last.kind == .literal { return .name(literal(last.start, last.count)) }
            if last.kind == .glob, last.suffix > 0 {
                return .suffix(literal(last.start + last.count - last.suffix, last.suffix))
            }
        }
        var head: [UInt8] = []
        var index = 0
        while index < min(headCount, 2), segments[index].kind == .literal {
            if index > 0 { head.append(slash) }
            head += literal(segments[index].start, segments[index].count)
            index += 1
        }
        return head.isEmpty ? .unkeyed : .head(head)
    }

    private func literal(_ start: Int, _ count: Int) -> [UInt8] {
        tokens[start..<start + count].map { UInt8(truncatingIfNeeded: $0) }
    }
}

/// FNV-1a over bytes: a cheap hash for looking up a component without making a String.
private func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }
    return hash
}
