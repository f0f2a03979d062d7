/// A glob over paths in an image, anchored at the image root.
///
/// Syntax, one path component at a time (components are separated by `/`):
/// - `*` matches any run of characters within one component, `?` exactly one character
///   (never `/`); everything else matches itself.
/// - `**` as a whole component matches zero or more components. At the end of a pattern it
///   matches one or more, so `var/lib/apt/lists/**` matches everything below `lists` but not
///   `lists` itself.
/// - A leading `/` is optional and ignored: `/usr/share/doc` and `usr/share/doc` are equal.
///
/// A pattern says nothing about entry kinds: whoever applies it decides what a match on a
/// directory means (whittle's profiles: the directory and everything below it).
///
/// Patterns are compiled once into components and matched on UTF-8 bytes, because they
/// run against every path of an image for every pattern of every profile.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The compiled pattern. It is the only stored property, so copying a pattern (as every
    /// loop over a pattern list does) costs one reference count.
    let program: Program

    /// The pattern as written.
    public var text: String { program.text }

    /// Compiles `text`. Throws `ProfileError.invalidPattern` for an empty pattern, a trailing
    /// or doubled `/`, a `.` or `..` component, `**` glued to other characters, and the
    /// unsupported `[`, `{` and `\`.
    public init(_ text: String) throws {
        var body = Substring(text)
        if body.first == "/" { body = body.dropFirst() }
        guard !body.isEmpty else {
            throw ProfileError.invalidPattern(text, reason: "it is empty; write a path such as 'usr/share/doc/**'")
        }
        guard body.last != "/" else {
            throw ProfileError.invalidPattern(
                text,
                reason: """
                    drop the trailing '/': a pattern that matches a directory already covers what is \
                    below it, and 'DIR/**' matches only what is below
                    """)
        }
        var segments: [Segment] = []
        var parts: [Substring] = []
        for part in body.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty {
                throw ProfileError.invalidPattern(text, reason: "it has an empty component ('//'); use a single '/'")
            }
            if part == "." || part == ".." {
                throw ProfileError.invalidPattern(
                    text,
                    reason: """
                        '\(part)' components are not allowed: patterns are anchored at the image root, \
                        so write the path from there
                        """)
            }
            if part == "**" {
                // `**/**` means the same as `**`; folding keeps the matcher free of repeats.
                if case .globstar = segments.last { continue }
                segments.append(.globstar)
                parts.append(part)
                continue
            }
            if part.contains("**") {
                throw ProfileError.invalidPattern(
                    text,
                    reason: """
                        '**' must be a whole component (as in 'a/**/b'); within a name '\(part)' \
                        use a single '*'
                        """)
            }
            if let bad = part.first(where: { $0 == "[" || $0 == "{" || $0 == "\\" }) {
                throw ProfileError.invalidPattern(
                    text,
                    reason: """
                        '\(bad)' is not supported (no character classes, braces or escapes); write \
                        one pattern per alternative, or use '?' for one character
                        """)
            }
            segments.append(Segment(part))
            parts.append(part)
        }
        guard segments.count <= Program.maxSegments else {
            throw ProfileError.invalidPattern(text, reason: "it has more than \(Program.maxSegments) components")
        }
        program = Program(segments, text: text, normalized: parts.joined(separator: "/"))
    }

    public var description: String { program.text }

    public static func == (lhs: PathPattern, rhs: PathPattern) -> Bool {
        lhs.program.normalized == rhs.program.normalized
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(program.normalized)
    }

    /// Whether `path` (an image path such as `usr/lib/python3/dist-packages/x/tests`, with
    /// no leading slash; leading and trailing slashes are tolerated) matches the pattern.
    public func matches(_ path: String) -> Bool {
        withPathBytes(path) { bytes in
            guard let (start, end) = trimmed(bytes) else { return false }
            return program.matches(bytes, start, end)
        }
    }

    /// False only when no path strictly inside `directoryPath` can match, so a tree walk may
    /// skip the directory's subtree. The empty path stands for the image root.
    public func mayMatchBelow(_ directoryPath: String) -> Bool {
        withPathBytes(directoryPath) { bytes in
            guard let (start, end) = trimmed(bytes) else { return true }
            return program.mayMatchBelow(bytes, start, end)
        }
    }
}

/// Runs `body` on the UTF-8 bytes of `path`, copying only when the string is not stored
/// contiguously (bridged strings).
func withPathBytes<R>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = path.utf8.withContiguousStorageIfAvailable(body) { return result }
    return Array(path.utf8).withUnsafeBufferPointer(body)
}

/// The range of `bytes` without leading and trailing slashes, or nil when nothing is left.
func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
    var start = 0
    var end = bytes.count
    while start < end, bytes[start] == slash { start += 1 }
    while end > start, bytes[end - 1] == slash { end -= 1 }
    return start < end ? (start, end) : nil
}

let slash = UInt8(ascii: "/")

/// One component of a pattern as written, before it is laid out for matching.
enum Segment {
    /// A name without wildcards.
    case literal(Substring)
    /// A name with `*` or `?`.
    case glob(Substring)
    /// `**`.
    case globstar

    init(_ part: Substring) {
        self = part.contains(where: { $0 == "*" || $0 == "?" }) ? .glob(part) : .literal(part)
    }

    var isGlobstar: Bool {
        if case .globstar = self { return true }
        return false
    }
}

/// A compiled pattern split around its `**` components:
/// `head / ** / block / ** / block / ** / tail`. The head is matched from the front and the
/// tail from the back, so the common shapes (`prefix/**`, `**/name`, `a/**/b`) never
/// backtrack; only the blocks between two `**` are searched for, leftmost first, which is
/// optimal because a `**` can absorb whatever a later match skips.
///
/// Everything lives in plain memory owned by this object: matching then reads it without
/// reference counting, which dominated the cost when segments were arrays in an enum.
/// The memory is written once in `init` and only read afterwards, hence `@unchecked`.
final class Program: @unchecked Sendable {
    /// `mayMatchBelow` keeps its state set in one 64-bit word.
    static let maxSegments = 63

    /// How one segment is matched; its tokens are `tokens[start..<start + count]`. A glob's
    /// first `prefix` and last `suffix` tokens are plain bytes, checked before the wildcard
    /// matching so that most components are rejected after a byte or two.
    struct Info {
        enum Kind: UInt8 { case literal, glob, globstar }
        var kind: Kind
        var start: Int
        var count: Int
        var prefix = 0
        var suffix = 0
    }

    /// Bytes of every segment in order; in globs, `star` and `one` stand for `*` and `?`.
    static let star: UInt16 = 0x100
    static let one: UInt16 = 0x101

    let text: String
    /// The pattern without its leading `/` and with repeated `**` folded: patterns compare
    /// equal by this, however they were written.
    let normalized: String
    let tokens: UnsafeMutableBufferPointer<UInt16>
    let segments: UnsafeMutableBufferPointer<Info>
    /// Segment ranges between two `**` (non-empty).
    let blocks: UnsafeMutableBufferPointer<(Int, Int)>
    let headCount: Int
    let tailCount: Int
    let hasGlobstar: Bool
    let endsWithGlobstar: Bool
    let globstarMask: UInt64

    init(_ parsed: [Segment], text: String, normalized: String) {
        self.text = text
        self.normalized = normalized
        var tokenList: [UInt16] = []
        var infos: [Info] = []
        for segment in parsed {
            switch segment {
            case let .literal(name):
                infos.append(Info(kind: .literal, start: tokenList.count, count: name.utf8.count))
                tokenList += name.utf8.map { UInt16($0) }
            case let .glob(name):
                let globTokens = name.utf8.map { byte -> UInt16 in
                    switch byte {
                    case UInt8(ascii: "*"): return Program.star
                    case UInt8(ascii: "?"): return Program.one
                    default: return UInt16(byte)
                    }
                }
                let prefix = globTokens.prefix { $0 < Program.star }.count
                let suffix = globTokens.reversed().prefix { $0 < Program.star }.count
                infos.append(
                    Info(
                        kind: .glob, start: tokenList.count, count: globTokens.count,
                        prefix: prefix, suffix: suffix))
                tokenList += globTokens
            case .globstar:
                infos.append(Info(kind: .globstar, start: tokenList.count, count: 0))
            }
        }
        let stars = parsed.indices.filter { parsed[$0].isGlobstar }
        var blockList: [(Int, Int)] = []
        if let first = stars.first, let last = stars.last {
            headCount = first
            tailCount = parsed.count - last - 1
            blockList = zip(stars, stars.dropFirst()).map { ($0 + 1, $1) }.filter { $0.0 < $0.1 }
        } else {
            headCount = parsed.count
            tailCount = 0
        }
        hasGlobstar = !stars.isEmpty
        endsWithGlobstar = parsed.last?.isGlobstar ?? false
        globstarMask = stars.reduce(0) { $0 | (1 << UInt64($1)) }

        tokens = .allocate(capacity: tokenList.count)
        _ = tokens.initialize(from: tokenList)
        segments = .allocate(capacity: infos.count)
        _ = segments.initialize(from: infos)
        blocks = .allocate(capacity: blockList.count)
        _ = blocks.initialize(from: blockList)
    }

    deinit {
        tokens.deallocate()
        segments.deallocate()
        blocks.deallocate()
    }

    /// Whether the component `bytes[from..<to]` matches segment `index` (not a `**`).
    @inline(__always)
    func matchesSegment(_ index: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        let info = segments[index]
        switch info.kind {
        case .literal:
            return info.count == to - from && same(info.start, info.count, bytes, from)
        case .glob:
            return globMatch(info.start, info.start + info.count, bytes, from, to)
        case .globstar:
            return true
        }
    }

    /// Matches segment `index` (not a `**`) against the component that starts at `position`
    /// and ends at the next '/' or at `limit`. Returns the component's end, or -1.
    @inline(__always)
    func matchForward(_ index: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ position: Int, _ limit: Int) -> Int {
        let info = segments[index]
        if info.kind == .literal {
            let stop = position + info.count
            guard stop <= limit, same(info.start, info.count, bytes, position) else { return -1 }
            return stop == limit || bytes[stop] == slash ? stop : -1
        }
        let afterPrefix = position + info.prefix
        guard afterPrefix <= limit, same(info.start, info.prefix, bytes, position) else { return -1 }
        let stop = componentEnd(bytes, afterPrefix, limit)
        let beforeSuffix = stop - info.suffix
        guard beforeSuffix >= afterPrefix,
            same(info.start + info.count - info.suffix, info.suffix, bytes, beforeSuffix),
            globMatch(info.start + info.prefix, info.start + info.count - info.suffix, bytes, afterPrefix, beforeSuffix)
        else { return -1 }
        return stop
    }

    /// Matches segment `index` (not a `**`) against the component that ends at `limit` and
    /// starts after the previous '/' or at `low`. Returns the component's start, or -1.
    @inline(__always)
    func matchBackward(_ index: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ low: Int, _ limit: Int) -> Int {
        let info = segments[index]
        if info.kind == .literal {
            let first = limit - info.count
            guard first >= low, same(info.start, info.count, bytes, first) else { return -1 }
            return first == low || bytes[first - 1] == slash ? first : -1
        }
        let beforeSuffix = limit - info.suffix
        guard beforeSuffix >= low, same(info.start + info.count - info.suffix, info.suffix, bytes, beforeSuffix)
        else { return -1 }
        var first = beforeSuffix
        while first > low, bytes[first - 1] != slash { first -= 1 }
        let afterPrefix = first + info.prefix
        guard afterPrefix <= beforeSuffix, same(info.start, info.prefix, bytes, first),
            globMatch(info.start + info.prefix, info.start + info.count - info.suffix, bytes, afterPrefix, beforeSuffix)
        else { return -1 }
        return first
    }

    /// Whether `tokens[token..<token + count]` (plain bytes) equal `bytes[at..<at + count]`;
    /// the caller has checked that the bytes exist.
    @inline(__always)
    private func same(_ token: Int, _ count: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Bool {
        var offset = 0
        while offset < count {
            if tokens[token + offset] != UInt16(bytes[at + offset]) { return false }
            offset += 1
        }
        return true
    }

    /// Wildcard matching within one component. A `*` remembers where it started so a
    /// failed attempt resumes one character later: linear for the usual single-`*` case.
    private func globMatch(
        _ first: Int, _ last: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int
    ) -> Bool {
        var token = first
        var index = from
        var starToken = -1
        var starIndex = from
        while index < to {
            if token < last {
                let current = tokens[token]
                if current == Program.star {
                    starToken = token
                    starIndex = index
                    token += 1
                    continue
                }
                if current == Program.one {
                    index += scalarLength(bytes, index, to)
                    token += 1
                    continue
                }
                if current == UInt16(bytes[index]) {
                    index += 1
                    token += 1
                    continue
                }
            }
            guard starToken >= 0 else { return false }
            starIndex += scalarLength(bytes, starIndex, to)
            index = starIndex
            token = starToken + 1
        }
        while token < last, tokens[token] == Program.star { token += 1 }
        return token == last
    }

    /// Matches `bytes[start..<end]` (non-empty, no leading or trailing slash). A position is
    /// the start of a component; `end + 1` means every component is used.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var position = start
        for index in 0..<headCount {
            if position > end { return false }
            let componentStop = matchForward(index, bytes, position, end)
            if componentStop < 0 { return false }
            position = componentStop + 1
        }
        guard hasGlobstar else { return position > end }

        // The tail takes the last components, right to left. `limit` ends the region left
        // for the `**`s and blocks, which holds a component while `position <= limit`.
        var limit = end
        var index = segments.count - 1
        for _ in 0..<tailCount {
            if limit < position { return false }
            let componentStart = matchBackward(index, bytes, position, limit)
            if componentStart < 0 { return false }
            limit = componentStart - 1
            index -= 1
        }

        for block in blocks {
            guard let after = find(block, bytes, from: position, limit: limit) else { return false }
            position = after
        }
        // A final `**` needs at least one component.
        return endsWithGlobstar ? position <= limit : true
    }

    /// The position just after the leftmost run of components in `from...limit` that
    /// matches the segments `block`, or nil.
    private func find(_ block: (Int, Int), _ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int) -> Int? {
        var candidate = from
        while candidate <= limit {
            var position = candidate
            var index = block.0
            while index < block.1 {
                if position > limit { break }
                let componentStop = matchForward(index, bytes, position, limit)
                if componentStop < 0 { break }
                position = componentStop + 1
                index += 1
            }
            if index == block.1 { return position }
            candidate = componentEnd(bytes, candidate, limit) + 1
        }
        return nil
    }

    /// Runs the pattern as a state machine over the directory's components (state `i`:
    /// segments before `i` are matched). Any state short of the end can still be completed
    /// by some longer path, since every segment accepts some name.
    func mayMatchBelow(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        let accept: UInt64 = 1 << UInt64(segments.count)
        var states = closure(1)
        var position = start
        while position <= end {
            let componentStop = componentEnd(bytes, position, end)
            var next: UInt64 = 0
            var pending = states & ~accept
            while pending != 0 {
                let index = pending.trailingZeroBitCount
                pending &= pending - 1
                let isGlobstar = segments[index].kind == .globstar
                guard isGlobstar || matchesSegment(index, bytes, position, componentStop) else { continue }
                // A `**` stays in its state to take more components; any other segment moves on.
                next |= 1 << UInt64(isGlobstar ? index : index + 1)
            }
            states = closure(next)
            if states == 0 { return false }
            position = componentStop + 1
        }
        return states & ~accept != 0
    }

    /// Adds the states reached by letting a `**` match nothing. Repeated `**` are folded at
    /// compile time, so one step is enough.
    @inline(__always)
    private func closure(_ states: UInt64) -> UInt64 {
        states | ((states & globstarMask) << 1)
    }
}

/// Bytes in the UTF-8 sequence starting at `index`, so that `?` takes a whole character.
@inline(__always)
private func scalarLength(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ end: Int) -> Int {
    var next = index + 1
    while next < end, bytes[next] & 0xC0 == 0x80 { next += 1 }
    return next - index
}

/// End (exclusive) of the component starting at `start`, looking no further than `limit`.
@inline(__always)
private func componentEnd(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ limit: Int) -> Int {
    var end = start
    while end < limit, bytes[end] != slash { end += 1 }
    return end
}
