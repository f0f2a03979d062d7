/// Which directories hold libraries for which ABI. Images come from many distributions, so
/// these lists are the union of the usual layouts; each candidate file is still checked
/// against the program's class and machine before it counts.
extension ELFFile {
    /// Debian-style multiarch directory names (`lib/<triplet>`) for this object's ABI.
    public var multiarchTriplets: [String] {
        let little = byteOrder == .littleEndian
        let wide = elfClass == .elf64
        switch machine {
        case .x86_64: return wide ? ["x86_64-linux-gnu"] : ["x86_64-linux-gnux32"]
        case .x86: return ["i386-linux-gnu", "i686-linux-gnu"]
        case .aarch64: return little ? ["aarch64-linux-gnu"] : ["aarch64_be-linux-gnu"]
        case .arm:
            return little
                ? ["arm-linux-gnueabihf", "arm-linux-gnueabi"]
                : ["armeb-linux-gnueabihf", "armeb-linux-gnueabi"]
        case .powerPC64: return little ? ["powerpc64le-linux-gnu"] : ["powerpc64-linux-gnu"]
        case .powerPC: return ["powerpc-linux-gnu"]
        case .s390: return wide ? ["s390x-linux-gnu"] : ["s390-linux-gnu"]
        case .riscV: return wide ? ["riscv64-linux-gnu"] : ["riscv32-linux-gnu"]
        case .loongArch: return ["loongarch64-linux-gnu"]
        case .sparcV9: return ["sparc64-linux-gnu"]
        case .sparc: return ["sparc-linux-gnu"]
        case .ia64: return ["ia64-linux-gnu"]
        case .mips:
            if wide { return little ? ["mips64el-linux-gnuabi64"] : ["mips64-linux-gnuabi64"] }
            // EF_MIPS_ABI2 marks the n32 ABI, which has its own directories.
            if flags & 0x20 != 0 { return little ? ["mips64el-linux-gnuabin32"] : ["mips64-linux-gnuabin32"] }
            return little ? ["mipsel-linux-gnu"] : ["mips-linux-gnu"]
        default: return []
        }
    }

    /// The directories the loader searches last (absolute in the image), most specific first:
    /// Debian's multiarch directories, then `lib64` or `lib32` style ones, then `lib`.
    public var defaultLibraryDirectories: [String] {
        if usesMusl { return ["/lib", "/usr/local/lib", "/usr/lib"] }
        var directories = multiarchTriplets.flatMap { ["/lib/\($0)", "/usr/lib/\($0)"] }
        switch (elfClass, machine) {
        case (.elf64, .riscV): directories += ["/lib64/lp64d", "/usr/lib64/lp64d", "/lib64", "/usr/lib64"]
        case (.elf64, _): directories += ["/lib64", "/usr/lib64"]
        case (.elf32, .x86_64): directories += ["/libx32", "/usr/libx32"]
        case (.elf32, _): break
        }
        directories += ["/lib", "/usr/lib"]
        if elfClass == .elf32, machine != .x86_64 { directories += ["/lib32", "/usr/lib32"] }
        return directories
    }

    /// What `$LIB` may expand to. Distributions build the loader with different values, so
    /// every plausible one is tried.
    var libTokenExpansions: [String] {
        let multiarch = multiarchTriplets.map { "lib/\($0)" }
        switch (elfClass, machine) {
        case (.elf64, _): return multiarch + ["lib64", "lib"]
        case (.elf32, .x86_64): return multiarch + ["libx32", "lib"]
        case (.elf32, _): return multiarch + ["lib", "lib32"]
        }
    }

    /// What `$PLATFORM` (the kernel's AT_PLATFORM string) may expand to.
    var platformTokenExpansions: [String] {
        switch machine {
        case .x86_64: return elfClass == .elf64 ? ["x86_64", "haswell", "xeon_phi"] : ["x86_64"]
        case .x86: return ["i686", "i586", "i486", "i386"]
        case .aarch64: return ["aarch64"]
        case .arm: return ["v7l", "v8l", "v6l", "v5l"]
        case .powerPC64: return ["power10", "power9", "power8", "power7", "ppc64", "ppc64le"]
        case .powerPC: return ["ppc", "power7", "power6"]
        case .s390: return ["z17", "z16", "z15", "z14", "z13", "zEC12", "z196", "s390x", "s390"]
        default: return [machine.description]
        }
    }

    /// Expands the loader's dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`, also in
    /// `${...}` form) in one path. A token can stand for several values, so several paths
    /// may come back. Unknown tokens stay as written, as glibc leaves them.
    func expandTokens(in path: String, origin: String) -> [String] {
        var results = [""]
        var characters = Substring(path)
        func append(_ options: [String]) {
            results = results.flatMap { prefix in options.map { prefix + $0 } }
        }
        while let dollar = characters.firstIndex(of: "$") {
            append([String(characters[..<dollar])])
            var rest = characters[characters.index(after: dollar)...]
            var name: Substring
            if rest.first == "{", let close = rest.firstIndex(of: "}") {
                name = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_") } ?? rest.endIndex
                name = rest[..<end]
                rest = rest[end...]
            }
            switch name {
            case "ORIGIN": append([origin])
            case "LIB": append(libTokenExpansions)
            case "PLATFORM": append(platformTokenExpansions)
            default: append([String(characters[dollar..<rest.startIndex])])
            }
            characters = rest
        }
        append([String(characters)])
        return results
    }
}

/// The directory part of a path (`"/"` for a top-level name, `"."` for a bare name).
func directoryName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let directory = path[..<slash]
    return directory.isEmpty ? "/" : String(directory)
}

/// The last component of a path.
func baseName(of path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
