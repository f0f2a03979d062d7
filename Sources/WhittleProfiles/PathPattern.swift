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
    /// The pattern as written.
    public let text: String
    /// The pattern without its leading `/` and with repeated `**` folded: equal patterns
    /// compare equal however they were written.
    private let normalized: String
    private let program: Program

    /// Compiles `text`. Throws `ProfileError.invalidPattern` for an empty pattern, a trailing
    /// or doubled `/`, a `.` or `..` component, `**` glued to other characters, and the
    /// unsupported `[`, `{` and `\`.
    public init(_ text: String) throws {
        self.text = text
        var body = Substring(text)
        if body.first == "/" { body = body.dropFirst() }
        guard !body.isEmpty else {
            throw ProfileError.invalidPattern(text, reason: "it is empty; write a path such as 'usr/share/doc/**'")
        }
        guard body.last != "/" else {
            throw ProfileError.invalidPattern(text, reason: """
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
                throw ProfileError.invalidPattern(text, reason: """
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
                throw ProfileError.invalidPattern(text, reason: """
                    '**' must be a whole component (as in 'a/**/b'); within a name '\(part)' \
                    use a single '*'
                    """)
            }
            if let bad = part.first(where: { $0 == "[" || $0 == "{" || $0 == "\\" }) {
                throw ProfileError.invalidPattern(text, reason: """
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
        normalized = parts.joined(separator: "/")
        program = Program(segments)
    }

    public var description: String { text }

    public static func == (lhs: PathPattern, rhs: PathPattern) -> Bool {
        lhs.normalized == rhs.normalized
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(normalized)
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

    /// Matches the path held in `bytes[start..<end]`, already trimmed of slashes. Profiles
    /// use it to test every ancestor of a path without building a string for each.
    func matches(bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Bool {
        start < end && program.matches(bytes, start, end)
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

private let slash = UInt8(ascii: "/")

/// One component of a compiled pattern.
private enum Segment: Sendable {
    /// A name without wildcards, compared byte for byte.
    case literal([UInt8])
    /// A name with `*` or `?`: bytes, with `star` and `one` standing for the wildcards.
    case glob([UInt16])
    /// `**`.
    case globstar

    static let star: UInt16 = 0x100
    static let one: UInt16 = 0x101

    init(_ part: Substring) {
        if part.contains(where: { $0 == "*" || $0 == "?" }) {
            self = .glob(part.utf8.map { byte in
                switch byte {
                case UInt8(ascii: "*"): return Segment.star
                case UInt8(ascii: "?"): return Segment.one
                default: return UInt16(byte)
                }
            })
        } else {
            self = .literal(Array(part.utf8))
        }
    }

    var isGlobstar: Bool {
        if case .globstar = self { return true }
        return false
    }

    /// Whether the component `bytes[from..<to]` matches this (non-`**`) segment.
    @inline(__always)
    func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        switch self {
        case let .literal(name):
            guard name.count == to - from else { return false }
            var index = 0
            while index < name.count {
                if name[index] != bytes[from + index] { return false }
                index += 1
            }
            return true
        case let .glob(tokens):
            return globMatch(tokens, bytes, from, to)
        case .globstar:
            return true
        }
    }
}

/// Wildcard matching within one component. A `*` remembers where it started so a failed
/// attempt resumes one character later: linear for the usual single-`*` patterns.
private func globMatch(_ tokens: [UInt16], _ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
    var token = 0
    var index = from
    var starToken = -1
    var starIndex = from
    while index < to {
        if token < tokens.count {
            let current = tokens[token]
            if current == Segment.star {
                starToken = token
                starIndex = index
                token += 1
                continue
            }
            if current == Segment.one {
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
    while token < tokens.count, tokens[token] == Segment.star { token += 1 }
    return token == tokens.count
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

/// A compiled pattern split around its `**` components:
/// `head / ** / block / ** / block / ** / tail`. The head is matched from the front and the
/// tail from the back, so the common shapes (`prefix/**`, `**/name`, `a/**/b`) never
/// backtrack; only the blocks between two `**` are searched for, leftmost first, which is
/// optimal because a `**` can absorb whatever a later match skips.
private struct Program: Sendable {
    /// `mayMatchBelow` keeps its state set in one 64-bit word.
    static let maxSegments = 63

    let segments: [Segment]
    let headCount: Int
    let tailCount: Int
    let blocks: [Range<Int>]
    let hasGlobstar: Bool
    let endsWithGlobstar: Bool
    let globstarMask: UInt64

    init(_ segments: [Segment]) {
        self.segments = segments
        let stars = segments.indices.filter { segments[$0].isGlobstar }
        hasGlobstar = !stars.isEmpty
        endsWithGlobstar = segments.last?.isGlobstar ?? false
        if let first = stars.first, let last = stars.last {
            headCount = first
            tailCount = segments.count - last - 1
            blocks = zip(stars, stars.dropFirst()).map { ($0 + 1)..<$1 }.filter { !$0.isEmpty }
        } else {
            headCount = segments.count
            tailCount = 0
            blocks = []
        }
        globstarMask = stars.reduce(0) { $0 | (1 << UInt64($1)) }
    }

    /// Matches `bytes[start..<end]` (non-empty, no leading or trailing slash). A position is
    /// the start of a component; `end + 1` means every component is used.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var position = start
        for index in 0..<headCount {
            if position > end { return false }
            let componentStop = componentEnd(bytes, position, end)
            if !segments[index].matches(bytes, position, componentStop) { return false }
            position = componentStop + 1
        }
        guard hasGlobstar else { return position > end }

        // The tail takes the last components, right to left. `limit` ends the region left
        // for the `**`s and blocks, which holds a component while `position <= limit`.
        var limit = end
        var index = segments.count - 1
        for _ in 0..<tailCount {
            if limit < position { return false }
            var componentStart = limit
            while componentStart > position, bytes[componentStart - 1] != slash { componentStart -= 1 }
            if !segments[index].matches(bytes, componentStart, limit) { return false }
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
    /// matches `block`, or nil.
    private func find(_ block: Range<Int>, _ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int) -> Int? {
        var candidate = from
        while candidate <= limit {
            var position = candidate
            var matched = true
            for index in block {
                if position > limit {
                    matched = false
                    break
                }
                let componentStop = componentEnd(bytes, position, limit)
                if !segments[index].matches(bytes, position, componentStop) {
                    matched = false
                    break
                }
                position = componentStop + 1
            }
            if matched { return position }
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
                if segments[index].isGlobstar {
                    next |= 1 << UInt64(index)
                } else if segments[index].matches(bytes, position, componentStop) {
                    next |= 1 << UInt64(index + 1)
                }
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
