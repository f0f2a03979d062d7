import WhittleFlatten
import WhittleFiles

/// An ELF `e_machine` value. Only the machines whose library directories whittle knows are
/// named; any other value still parses and is compared as a number.
public struct ELFMachine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let sparc = ELFMachine(rawValue: 2)
    public static let x86 = ELFMachine(rawValue: 3)
    public static let mips = ELFMachine(rawValue: 8)
    public static let powerPC = ELFMachine(rawValue: 20)
    public static let powerPC64 = ELFMachine(rawValue: 21)
    public static let s390 = ELFMachine(rawValue: 22)
    public static let arm = ELFMachine(rawValue: 40)
    public static let sparcV9 = ELFMachine(rawValue: 43)
    public static let ia64 = ELFMachine(rawValue: 50)
    public static let x86_64 = ELFMachine(rawValue: 62)
    public static let aarch64 = ELFMachine(rawValue: 183)
    public static let riscV = ELFMachine(rawValue: 243)
    public static let loongArch = ELFMachine(rawValue: 258)

    public var description: String {
        switch self {
        case .sparc: return "sparc"
        case .x86: return "i386"
        case .mips: return "mips"
        case .powerPC: return "ppc"
        case .powerPC64: return "ppc64"
        case .s390: return "s390"
        case .arm: return "arm"
        case .sparcV9: return "sparc64"
        case .ia64: return "ia64"
        case .x86_64: return "x86_64"
        case .aarch64: return "aarch64"
        case .riscV: return "riscv"
        case .loongArch: return "loongarch"
        default: return "machine \(rawValue)"
        }
    }
}

/// What the dynamic loader needs to know about one ELF file: its interpreter, the libraries
/// it names and where it asks for them to be searched. Only the ELF header, the program
/// headers, `PT_INTERP`, `PT_DYNAMIC` and the strings those name are read.
public struct ELFFile: Sendable, Equatable {
    public enum Class: Sendable, Equatable {
        case elf32, elf64
    }

    public enum ByteOrder: Sendable, Equatable {
        case littleEndian, bigEndian
    }

    public enum FileType: Sendable, Equatable {
        case relocatable, executable, sharedObject, core
        case other(UInt16)
    }

    public let elfClass: Class
    public let byteOrder: ByteOrder
    public let osABI: UInt8
    public let fileType: FileType
    public let machine: ELFMachine
    /// `e_flags`: ABI details such as ARM hard-float or MIPS NaN encoding.
    public let flags: UInt32
    /// `PT_INTERP`: the loader the kernel maps before running the program.
    public let interpreter: String?
    /// Whether there is a `PT_DYNAMIC` segment; without it no library is loaded.
    public let isDynamic: Bool
    /// `DT_NEEDED`, in file order (the loader's breadth-first order starts from it).
    public let needed: [String]
    public let soname: String?
    /// `DT_RPATH` as written, colon-separated and unexpanded.
    public let rpath: String?
    /// `DT_RUNPATH` as written, colon-separated and unexpanded.
    public let runpath: String?
    /// `DF_1_NODEFLIB`: the cache and the default directories are not searched for this
    /// object's dependencies.
    public let noDefaultLibraries: Bool

    public init(
        elfClass: Class, byteOrder: ByteOrder, osABI: UInt8 = 0, fileType: FileType, machine: ELFMachine,
        flags: UInt32 = 0, interpreter: String? = nil, isDynamic: Bool = false, needed: [String] = [],
        soname: String? = nil, rpath: String? = nil, runpath: String? = nil, noDefaultLibraries: Bool = false
    ) {
        self.elfClass = elfClass
        self.byteOrder = byteOrder
        self.osABI = osABI
        self.fileType = fileType
        self.machine = machine
        self.flags = flags
        self.interpreter = interpreter
        self.isDynamic = isDynamic
        self.needed = needed
        self.soname = soname
        self.rpath = rpath
        self.runpath = runpath
        self.noDefaultLibraries = noDefaultLibraries
    }

    /// Whether a loader running `self` would accept `library`: same class, byte order and
    /// machine. glibc skips a mismatching file and keeps searching, as this resolver does.
    public func canLoad(_ library: ELFFile) -> Bool {
        library.elfClass == elfClass && library.byteOrder == byteOrder && library.machine == machine
    }

    /// Whether the interpreter is musl's, whose search rules differ from glibc's.
    public var usesMusl: Bool {
        interpreter.map { $0.split(separator: "/").last?.hasPrefix("ld-musl-") ?? false } ?? false
    }
}

// MARK: - Parsing

extension ELFFile {
    /// Parses a file of the flattened tree. Returns nil when the file is not ELF at all
    /// (a script, data); throws `ELFError` when it starts like ELF but is damaged.
    /// `name` (the tree path) is only used in error messages.
    public static func parse(_ content: FileSlice, name: String) throws -> ELFFile? {
        try parse(ByteReader(content: content, name: name))
    }

    /// Parses `length` bytes of an open file starting at `offset` (the whole file by default).
    public static func parse(
        file: OpenFile, offset: Int64 = 0, length: Int64? = nil, name: String? = nil
    ) throws
        -> ELFFile?
    {
        let length = length ?? max(file.size - offset, 0)
        return try parse(ByteReader(file: file, offset: offset, length: length, name: name ?? file.path))
    }

    /// Parses bytes held in memory.
    public static func parse(bytes: [UInt8], name: String = "ELF data") throws -> ELFFile? {
        try parse(ByteReader(bytes: bytes, name: name))
    }

    static let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]

    // Limits no real file comes near; they keep a hostile header from costing much.
    static let maxProgramHeaderBytes = 1 << 20
    static let maxDynamicBytes: UInt64 = 1 << 20
    static let maxInterpreterBytes: UInt64 = 4096

    struct Segment {
        var type: UInt32
        var offset: UInt64
        var virtualAddress: UInt64
        var fileSize: UInt64
    }

    static func parse(_ reader: ByteReader) throws -> ELFFile? {
        guard let start = try reader.bytes(at: 0, count: 4), start == magic else { return nil }
        let parser = try Parser(reader)
        let header = try parser.header()
        let segments = try parser.segments(header)
        // The loader uses the first PT_INTERP and the first PT_DYNAMIC.
        let interpreter = try segments.first(where: { $0.type == 3 }).map(parser.interpreter)
        guard let dynamicSegment = segments.first(where: { $0.type == 2 }) else {
            return ELFFile(
                elfClass: parser.elfClass, byteOrder: parser.byteOrder, osABI: parser.osABI,
                fileType: header.fileType, machine: header.machine, flags: header.flags,
                interpreter: interpreter)
        }
        let dynamic = try parser.dynamicEntries(dynamicSegment)
        let names = try parser.names(dynamic, segments: segments)
        return ELFFile(
            elfClass: parser.elfClass, byteOrder: parser.byteOrder, osABI: parser.osABI,
            fileType: header.fileType, machine: header.machine, flags: header.flags,
            interpreter: interpreter, isDynamic: true,
            needed: names.needed, soname: names.soname, rpath: names.rpath, runpath: names.runpath,
            noDefaultLibraries: dynamic.flags1 & 0x800 != 0)
    }

    /// The fields of the ELF header that the rest of the parse needs.
    struct Header {
        var fileType: FileType
        var machine: ELFMachine
        var flags: UInt32
        var programHeaderOffset: UInt64
        var programHeaderSize: Int
        /// With `PN_XNUM` resolved.
        var programHeaderCount: Int
    }

    /// The entries of `PT_DYNAMIC` that name libraries and search paths; strings are
    /// still offsets into the string table.
    struct DynamicEntries {
        var neededOffsets: [UInt64] = []
        var sonameOffset: UInt64?
        var rpathOffset: UInt64?
        var runpathOffset: UInt64?
        var stringTableAddress: UInt64?
        var stringTableSize: UInt64?
        /// `DT_FLAGS_1`.
        var flags1: UInt64 = 0

        var refersToStrings: Bool {
            !neededOffsets.isEmpty || sonameOffset != nil || rpathOffset != nil || runpathOffset != nil
        }
    }

    /// The strings `DynamicEntries` point at.
    struct DynamicNames {
        var needed: [String] = []
        var soname: String?
        var rpath: String?
        var runpath: String?
    }

    /// One parse of one file, step by step in file order: the identification bytes (which
    /// fix the class and byte order every later read depends on), the ELF header, the
    /// program headers, the interpreter, the dynamic section and its strings.
    struct Parser {
        let reader: ByteReader
        let elfClass: Class
        let byteOrder: ByteOrder
        let osABI: UInt8
        var wide: Bool { elfClass == .elf64 }
        var bigEndian: Bool { byteOrder == .bigEndian }

        /// Reads the identification bytes.
        init(_ reader: ByteReader) throws {
            self.reader = reader
            let file = reader.name
            guard let ident = try reader.bytes(at: 0, count: 16) else {
                throw ELFError.truncated(file: file, structure: "identification bytes")
            }
            switch ident[4] {
            case 1: elfClass = .elf32
            case 2: elfClass = .elf64
            default:
                throw ELFError.malformed(file: file, reason: "unknown ELF class \(ident[4]) (1 is 32-bit, 2 is 64-bit)")
            }
            switch ident[5] {
            case 1: byteOrder = .littleEndian
            case 2: byteOrder = .bigEndian
            default:
                throw ELFError.malformed(
                    file: file, reason: "unknown byte order \(ident[5]) (1 is little-endian, 2 is big-endian)")
            }
            guard ident[6] == 1 else { throw ELFError.malformed(file: file, reason: "unknown ELF version \(ident[6])") }
            osABI = ident[7]
        }

        func truncated(_ structure: String) -> ELFError { .truncated(file: reader.name, structure: structure) }
        func malformed(_ reason: String) -> ELFError { .malformed(file: reader.name, reason: reason) }

        func header() throws -> Header {
            guard let bytes = try reader.bytes(at: 0, count: wide ? 64 : 52) else { throw truncated("ELF header") }
            let header = Fields(bytes: bytes, bigEndian: bigEndian)
            let fileType: FileType
            switch header.u16(16) {
            case 1: fileType = .relocatable
            case 2: fileType = .executable
            case 3: fileType = .sharedObject
            case 4: fileType = .core
            case let other: fileType = .other(other)
            }
            var count = Int(header.u16(wide ? 56 : 44))
            if count == 0xffff {
                count = try extendedProgramHeaderCount(
                    sectionHeaderOffset: header.word(wide ? 40 : 32, wide: wide),
                    sectionHeaderSize: Int(header.u16(wide ? 58 : 46)))
            }
            return Header(
                fileType: fileType, machine: ELFMachine(rawValue: header.u16(18)), flags: header.u32(wide ? 48 : 36),
                programHeaderOffset: header.word(wide ? 32 : 28, wide: wide),
                programHeaderSize: Int(header.u16(wide ? 54 : 42)), programHeaderCount: count)
        }

        /// PN_XNUM: the real count is in the first section header's sh_info.
        private func extendedProgramHeaderCount(sectionHeaderOffset: UInt64, sectionHeaderSize: Int) throws -> Int {
            let size = wide ? 64 : 40
            guard sectionHeaderSize >= size else {
                throw malformed("it has over 65534 program headers but no usable section header to count them")
            }
            guard let first = try reader.bytes(at: sectionHeaderOffset, count: size) else {
                throw truncated("first section header (it holds the program header count)")
            }
            return Int(Fields(bytes: first, bigEndian: bigEndian).u32(wide ? 44 : 28))
        }

        func segments(_ header: Header) throws -> [Segment] {
            let count = header.programHeaderCount
            let size = header.programHeaderSize
            guard count > 0 else { return [] }
            let entrySize = wide ? 56 : 32
            guard size >= entrySize else {
                throw malformed(
                    "its program headers are \(size) bytes each, "
                        + "fewer than the \(entrySize) a \(wide ? 64 : 32)-bit header needs")
            }
            let (tableSize, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, tableSize <= maxProgramHeaderBytes else {
                throw malformed("its \(count) program headers are implausibly many")
            }
            guard let table = try reader.bytes(at: header.programHeaderOffset, count: tableSize) else {
                throw truncated("program header table")
            }
            let fields = Fields(bytes: table, bigEndian: bigEndian)
            return (0..<count).map { index in
                let base = index * size
                return Segment(
                    type: fields.u32(base),
                    offset: fields.word(base + (wide ? 8 : 4), wide: wide),
                    virtualAddress: fields.word(base + (wide ? 16 : 8), wide: wide),
                    fileSize: fields.word(base + (wide ? 32 : 16), wide: wide))
            }
        }

        /// The path in a `PT_INTERP` segment.
        func interpreter(_ segment: Segment) throws -> String {
            guard segment.fileSize <= maxInterpreterBytes else {
                throw malformed("its interpreter path is \(segment.fileSize) bytes long")
            }
            guard let bytes = try reader.bytes(at: segment.offset, count: Int(segment.fileSize)) else {
                throw truncated("interpreter path (PT_INTERP)")
            }
            let path = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            guard !path.isEmpty else { throw malformed("its interpreter path (PT_INTERP) is empty") }
            return path
        }

        func dynamicEntries(_ segment: Segment) throws -> DynamicEntries {
            guard segment.fileSize <= maxDynamicBytes else {
                throw malformed("its dynamic section is \(segment.fileSize) bytes long")
            }
            guard let bytes = try reader.bytes(at: segment.offset, count: Int(segment.fileSize)) else {
                throw truncated("dynamic section (PT_DYNAMIC)")
            }
            let dynamic = Fields(bytes: bytes, bigEndian: bigEndian)
            let entrySize = wide ? 16 : 8
            var entries = DynamicEntries()
            for index in 0..<(bytes.count / entrySize) {
                let tag = dynamic.word(index * entrySize, wide: wide)
                let value = dynamic.word(index * entrySize + entrySize / 2, wide: wide)
                if tag == 0 { break }  // DT_NULL ends the array.
                switch tag {
                case 1: entries.neededOffsets.append(value)
                case 5: entries.stringTableAddress = value
                case 10: entries.stringTableSize = value
                case 14: entries.sonameOffset = value
                case 15: entries.rpathOffset = value
                case 29: entries.runpathOffset = value
                case 0x6fff_fffb: entries.flags1 = value
                default: break
                }
            }
            return entries
        }

        /// Looks up the strings of `entries` in the string table, found through the
        /// `PT_LOAD` segment that maps its address.
        func names(_ entries: DynamicEntries, segments: [Segment]) throws -> DynamicNames {
            guard entries.refersToStrings else { return DynamicNames() }
            guard let address = entries.stringTableAddress else {
                throw malformed("it names libraries but has no string table (DT_STRTAB)")
            }
            guard let (tableOffset, segmentEnd) = fileOffset(of: address, in: segments) else {
                throw malformed(
                    "its string table address 0x\(String(address, radix: 16)) "
                        + "lies outside every loadable segment")
            }
            var tableEnd = segmentEnd
            if let size = entries.stringTableSize {
                let (end, overflow) = tableOffset.addingReportingOverflow(size)
                if !overflow { tableEnd = min(tableEnd, end) }
            }
            func string(_ index: UInt64, _ what: String) throws -> String {
                let (position, overflow) = tableOffset.addingReportingOverflow(index)
                guard !overflow, position < tableEnd else {
                    throw malformed("its \(what) string index \(index) lies outside the string table")
                }
                guard position < reader.length else { throw truncated("string table (\(what))") }
                guard let text = try reader.string(at: position, end: tableEnd) else {
                    throw malformed("its \(what) string at index \(index) does not end inside the string table")
                }
                return text
            }
            return DynamicNames(
                needed: try entries.neededOffsets.map { try string($0, "DT_NEEDED") },
                soname: try entries.sonameOffset.map { try string($0, "DT_SONAME") },
                rpath: try entries.rpathOffset.map { try string($0, "DT_RPATH") },
                runpath: try entries.runpathOffset.map { try string($0, "DT_RUNPATH") })
        }
    }

    /// Maps a virtual address to a file offset through the `PT_LOAD` segment holding it;
    /// also returns where that segment's file bytes end.
    static func fileOffset(of address: UInt64, in segments: [Segment]) -> (offset: UInt64, end: UInt64)? {
        for segment in segments where segment.type == 1 {
            guard address >= segment.virtualAddress else { continue }
            let delta = address - segment.virtualAddress
            guard delta < segment.fileSize else { continue }
            let (offset, overflow) = segment.offset.addingReportingOverflow(delta)
            let (end, endOverflow) = segment.offset.addingReportingOverflow(segment.fileSize)
            guard !overflow, !endOverflow else { continue }
            return (offset, end)
        }
        return nil
    }
}
