import WhittleFlatten

/// glibc's `/etc/ld.so.cache`: library names (sonames) to paths, written by ldconfig.
/// Reads the current format ("glibc-ld.so.cache1.1", either byte order), the libc5-era
/// "ld.so-1.7.0" format, and the old format with the new one appended, as glibc does.
public struct LoaderCache: Sendable {
    public enum Format: Sendable, Equatable {
        /// "glibc-ld.so.cache1.1" only: what ldconfig writes since glibc 2.32.
        case current
        /// "ld.so-1.7.0" only.
        case legacy
        /// The legacy table followed by the current one; the current one is used.
        case combined
    }

    public struct Entry: Sendable, Hashable {
        /// The name programs ask for (`DT_NEEDED`), usually a soname.
        public let name: String
        /// The absolute path in the image the name maps to.
        public let path: String
        /// ldconfig's flags: the file type in the low byte, the ABI in the next.
        public let flags: Int32
        public let osVersion: UInt32
        public let hardwareCapabilities: UInt64
        /// For entries in a `glibc-hwcaps` subdirectory, its name (e.g. `x86-64-v3`).
        public let hwcapsSubdirectory: String?

        public init(
            name: String, path: String, flags: Int32, osVersion: UInt32 = 0,
            hardwareCapabilities: UInt64 = 0, hwcapsSubdirectory: String? = nil
        ) {
            self.name = name
            self.path = path
            self.flags = flags
            self.osVersion = osVersion
            self.hardwareCapabilities = hardwareCapabilities
            self.hwcapsSubdirectory = hwcapsSubdirectory
        }

        /// Whether the entry is in a `glibc-hwcaps` subdirectory, so that only CPUs with
        /// that level would load it.
        public var isHWCapsVariant: Bool { hwcapsSubdirectory != nil }

        /// The ABI as `ldconfig -p` prints it, e.g. `libc6,x86-64`.
        public var abiDescription: String {
            var text: String
            switch flags & 0xff {
            case 1: text = "ELF"
            case 2: text = "libc5"
            case 3: text = "libc6"
            default: text = "unknown"
            }
            switch flags & 0xff00 {
            case 0: break
            case 0x0100, 0x0400, 0x0500, 0x0700: text += ",64bit"
            case 0x0200: text += ",IA-64"
            case 0x0300: text += ",x86-64"
            case 0x0600: text += ",N32"
            case 0x0800: text += ",x32"
            case 0x0900: text += ",hard-float"
            case 0x0a00: text += ",AArch64"
            case 0x0b00, 0x0f00, 0x1100: text += ",soft-float"
            case 0x0c00: text += ",nan2008"
            case 0x0d00: text += ",N32,nan2008"
            case 0x0e00: text += ",64bit,nan2008"
            case 0x1000, 0x1200: text += ",double-float"
            default: text += ",\(flags & 0xff00)"
            }
            if let hwcapsSubdirectory {
                text += ", hwcap: \"\(hwcapsSubdirectory)\""
            } else if hardwareCapabilities != 0 {
                text +=
                    ", hwcap: 0x"
                    + String(repeating: "0", count: max(0, 16 - String(hardwareCapabilities, radix: 16).count))
                    + String(hardwareCapabilities, radix: 16)
            }
            if osVersion != 0 {
                let systems = ["Linux", "Hurd", "Solaris", "FreeBSD", "kNetBSD", "Syllable", "Unknown OS"]
                let system = systems[min(Int(osVersion >> 24), systems.count - 1)]
                text += ", OS ABI: \(system) \((osVersion >> 16) & 0xff).\((osVersion >> 8) & 0xff).\(osVersion & 0xff)"
            }
            return text
        }

        /// Whether the loader of `program` would consider this entry: the file type is ELF
        /// and the ABI flag is one that loader accepts (glibc's `_dl_cache_check_flags`).
        /// Machines whittle does not know accept any flag; the file itself is checked later.
        public func suits(_ program: ELFFile) -> Bool {
            if flags == 1 { return true }
            guard flags & 0xff == 3 else { return false }
            let abi = flags & 0xff00
            let wide = program.elfClass == .elf64
            switch program.machine {
            case .x86_64: return abi == (wide ? 0x0300 : 0x0800)
            case .x86: return abi == 0
            case .aarch64: return abi == 0x0a00
            case .arm: return [0, 0x0900, 0x0b00].contains(abi)
            case .powerPC64: return abi == 0x0500
            case .powerPC: return abi == 0
            case .s390: return abi == (wide ? 0x0400 : 0)
            case .sparcV9: return abi == 0x0100
            case .sparc: return abi == (wide ? 0x0100 : 0)
            case .ia64: return abi == 0x0200
            case .mips: return wide ? [0x0700, 0x0e00].contains(abi) : [0, 0x0600, 0x0c00, 0x0d00].contains(abi)
            case .riscV: return [0, 0x0f00, 0x1000].contains(abi)
            case .loongArch: return [0x1100, 0x1200].contains(abi)
            default: return true
            }
        }
    }

    public let format: Format
    /// The ldconfig that wrote the cache, if it says (`ldconfig -p` prints it last).
    public let generator: String?
    /// Every entry, in file order (ldconfig sorts them, hwcaps variants first per name).
    public let entries: [Entry]
    private let indexByName: [String: [Int]]

    init(format: Format, entries: [Entry], generator: String? = nil) {
        self.format = format
        self.generator = generator
        self.entries = entries
        var index: [String: [Int]] = [:]
        for (position, entry) in entries.enumerated() { index[entry.name, default: []].append(position) }
        indexByName = index
    }

    /// Entries for one name, in file order.
    public func entries(named name: String) -> [Entry] {
        (indexByName[name] ?? []).map { entries[$0] }
    }

    /// Entries for one name that the loader of `program` would consider, in its order.
    public func lookup(_ name: String, for program: ELFFile) -> [Entry] {
        entries(named: name).filter { $0.suits(program) }
    }

    static let path = "etc/ld.so.cache"
    // Real caches are tens of kilobytes; this only stops a hostile file costing memory.
    static let maxSize: Int64 = 64 << 20

    /// Reads `etc/ld.so.cache` from the image; nil when there is none.
    public static func load(from tree: FileTree) throws -> LoaderCache? {
        let resolution = tree.resolve(path)
        guard let inode = resolution.node?.inode, inode.kind == .regular else { return nil }
        guard inode.content != nil else { throw ELFError.malformedCache(file: path, reason: "it is empty") }
        let bytes: [UInt8]?
        do {
            bytes = try inode.contents(limit: maxSize)
        } catch {
            throw ELFError.malformedCache(file: path, reason: "it is shorter than the image says")
        }
        guard let bytes else {
            throw ELFError.malformedCache(file: path, reason: "it is implausibly large (\(inode.size) bytes)")
        }
        return try parse(bytes: bytes, name: path)
    }

    static let legacyMagic = Array("ld.so-1.7.0".utf8)
    static let currentMagic = Array("glibc-ld.so.cache1.1".utf8)
    static let legacyHeaderSize = 16
    static let legacyEntrySize = 12
    static let currentHeaderSize = 48
    static let currentEntrySize = 24
    static let extensionMagic: UInt32 = 0xeaa4_2174

    /// Parses a cache held in memory. `name` is only used in error messages.
    public static func parse(bytes: [UInt8], name: String = "etc/ld.so.cache") throws -> LoaderCache {
        func malformed(_ reason: String) -> ELFError { .malformedCache(file: name, reason: reason) }
        if bytes.starts(with: currentMagic) {
            let (entries, generator) = try parseCurrent(bytes, at: 0, name: name)
            return LoaderCache(format: .current, entries: entries, generator: generator)
        }
        guard bytes.starts(with: legacyMagic) else {
            throw malformed("it starts with neither \"glibc-ld.so.cache1.1\" nor \"ld.so-1.7.0\"")
        }
        guard bytes.count >= legacyHeaderSize else { throw malformed("it ends inside its header") }
        // The legacy format has no byte-order mark: take the order that gives a count that fits.
        let available = (bytes.count - legacyHeaderSize) / legacyEntrySize
        var bigEndian = false
        var count = Int(Fields(bytes: bytes, bigEndian: false).u32(12))
        if count > available {
            bigEndian = true
            count = Int(Fields(bytes: bytes, bigEndian: true).u32(12))
        }
        guard count <= available else {
            throw malformed("it claims \(count) entries but has room for \(available)")
        }
        let tableEnd = legacyHeaderSize + count * legacyEntrySize
        // The current table, if any, follows at the next 8-byte boundary (glibc's ALIGN_CACHE).
        let currentStart = (tableEnd + 7) & ~7
        if currentStart + currentHeaderSize <= bytes.count,
            bytes[currentStart...].starts(with: currentMagic)
        {
            let (entries, generator) = try parseCurrent(bytes, at: currentStart, name: name)
            return LoaderCache(format: .combined, entries: entries, generator: generator)
        }
        let fields = Fields(bytes: bytes, bigEndian: bigEndian)
        var entries: [Entry] = []
        for index in 0..<count {
            let base = legacyHeaderSize + index * legacyEntrySize
            // Legacy strings are relative to the end of the entry table.
            entries.append(
                Entry(
                    name: try string(bytes, at: tableEnd, plus: fields.u32(base + 4), name: name),
                    path: try string(bytes, at: tableEnd, plus: fields.u32(base + 8), name: name),
                    flags: Int32(bitPattern: fields.u32(base))))
        }
        return LoaderCache(format: .legacy, entries: entries)
    }

    private static func parseCurrent(
        _ bytes: [UInt8], at start: Int, name: String
    ) throws
        -> (entries: [Entry], generator: String?)
    {
        func malformed(_ reason: String) -> ELFError { .malformedCache(file: name, reason: reason) }
        guard start + currentHeaderSize <= bytes.count else { throw malformed("it ends inside its header") }
        let available = (bytes.count - start - currentHeaderSize) / currentEntrySize
        let bigEndian: Bool
        switch bytes[start + 28] & 3 {
        case 2: bigEndian = false
        case 3: bigEndian = true
        case 1: throw malformed("ldconfig marked it invalid")
        default:
            // Written before caches recorded their byte order: take the order that fits.
            bigEndian = Int(Fields(bytes: bytes, bigEndian: false).u32(start + 20)) > available
        }
        let fields = Fields(bytes: bytes, bigEndian: bigEndian)
        let count = Int(fields.u32(start + 20))
        guard count <= available else {
            throw malformed("it claims \(count) entries but has room for \(available)")
        }
        let extensions = extensionSections(bytes, fields: fields, extensionOffset: Int(fields.u32(start + 32)))
        let hwcapsNames = extensions.hwcaps
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let base = start + currentHeaderSize + index * currentEntrySize
            let hwcap = fields.u64(base + 16)
            var subdirectory: String?
            // DL_CACHE_HWCAP_EXTENSION: bit 62 alone in the high word (ignoring the ISA
            // level bits) means the low word indexes the glibc-hwcaps names.
            if (hwcap >> 32) & ~UInt64(0x3ff) == 0x4000_0000 {
                let nameIndex = Int(UInt32(truncatingIfNeeded: hwcap))
                subdirectory = nameIndex < hwcapsNames.count ? hwcapsNames[nameIndex] : "hwcaps-\(nameIndex)"
            }
            // Current-format strings are relative to the start of the current header.
            entries.append(
                Entry(
                    name: try string(bytes, at: start, plus: fields.u32(base + 4), name: name),
                    path: try string(bytes, at: start, plus: fields.u32(base + 8), name: name),
                    flags: Int32(bitPattern: fields.u32(base)),
                    osVersion: fields.u32(base + 12),
                    hardwareCapabilities: hwcap,
                    hwcapsSubdirectory: subdirectory))
        }
        return (entries, extensions.generator)
    }

    /// The glibc-hwcaps subdirectory names and the generator text from the extension
    /// directory. A damaged extension only loses these, as glibc then ignores it too.
    private static func extensionSections(
        _ bytes: [UInt8], fields: Fields, extensionOffset: Int
    )
        -> (hwcaps: [String], generator: String?)
    {
        guard extensionOffset > 0, extensionOffset % 4 == 0, extensionOffset <= bytes.count - 8,
            fields.u32(extensionOffset) == extensionMagic
        else { return ([], nil) }
        let sectionCount = Int(fields.u32(extensionOffset + 4))
        guard sectionCount <= (bytes.count - extensionOffset - 8) / 16 else { return ([], nil) }
        var hwcaps: [String] = []
        var generator: String?
        for index in 0..<sectionCount {
            let base = extensionOffset + 8 + index * 16
            let offset = Int(fields.u32(base + 8))
            let size = Int(fields.u32(base + 12))
            guard offset <= bytes.count, size <= bytes.count - offset else { continue }
            switch fields.u32(base) {
            case 0:  // cache_extension_tag_generator: text, not NUL-terminated
                generator = String(decoding: bytes[offset..<(offset + size)].prefix { $0 != 0 }, as: UTF8.self)
            case 1:  // cache_extension_tag_glibc_hwcaps: string offsets from the start of the file
                guard size % 4 == 0, offset % 4 == 0 else { continue }
                hwcaps = stride(from: offset, to: offset + size, by: 4).map { position in
                    (try? string(bytes, at: 0, plus: fields.u32(position), name: "")) ?? ""
                }
            default:
                continue
            }
        }
        return (hwcaps, generator)
    }

    private static func string(_ bytes: [UInt8], at base: Int, plus offset: UInt32, name: String) throws -> String {
        let start = base + Int(offset)
        guard start < bytes.count else {
            throw ELFError.malformedCache(file: name, reason: "a string offset (\(offset)) points past the end")
        }
        guard let end = bytes[start...].firstIndex(of: 0) else {
            throw ELFError.malformedCache(file: name, reason: "a string at offset \(offset) does not end")
        }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
