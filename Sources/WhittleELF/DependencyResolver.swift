import WhittleFlatten
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a path is needed, for reports.
public enum DependencyReason: Sendable, Hashable, CustomStringConvertible {
    /// One of the paths the closure was asked about (or what its symlinks lead to).
    case requested
    /// The `PT_INTERP` loader of that ELF file, which the kernel maps unseen.
    case interpreter(of: String)
    /// Found for the `DT_NEEDED` name `library` of that ELF file.
    case needed(library: String, by: String)
    /// The `#!` interpreter of that script.
    case shebang(of: String)
    /// The program `#!/usr/bin/env` runs for that script, found through PATH.
    case shebangCommand(String, of: String)
    /// A symlink followed on the way to that path; without it the path stops resolving.
    case symlink(toward: String)

    public var description: String {
        switch self {
        case .requested: return "requested"
        case let .interpreter(of): return "ELF interpreter of \(of)"
        case let .needed(library, by): return "\(library) needed by \(by)"
        case let .shebang(of): return "#! interpreter of \(of)"
        case let .shebangCommand(command, of): return "'\(command)' run by the #! line of \(of)"
        case let .symlink(toward): return "symlink on the way to \(toward)"
        }
    }
}

/// One path of the image that must stay, and the first reason found for it.
public struct Dependency: Sendable, Hashable {
    /// A tree path: no leading slash, and no symlinks among its parent directories.
    public let path: String
    public let reason: DependencyReason

    public init(path: String, reason: DependencyReason) {
        self.path = path
        self.reason = reason
    }
}

/// Something a file needs that the image does not have. Not an error for whittle: the
/// program may already be broken, or may never take that path; the caller reports it.
public struct UnresolvedDependency: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case library(String)
        case interpreter(String)
        case command(String)
    }

    public let kind: Kind
    /// The tree path of the file that needs it.
    public let requiredBy: String
    /// Where it was looked for, in order (absolute in the image).
    public let searched: [String]

    public var description: String {
        let what: String
        switch kind {
        case let .library(name): what = "the library \(name)"
        case let .interpreter(path): what = "the interpreter \(path)"
        case let .command(name): what = "the program '\(name)'"
        }
        let places = searched.isEmpty ? "" : " (looked in \(searched.joined(separator: ", ")))"
        return "\(requiredBy) needs \(what), which is not in the image\(places)"
    }
}

/// A file whose needs could not be worked out, such as a damaged ELF file.
public struct DependencyProblem: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { message }
}

/// Everything the given files need to run, as the kernel and the dynamic loader would find it.
public struct DependencyClosure: Sendable {
    /// Each needed path once, in the order found, with the first reason found.
    public internal(set) var dependencies: [Dependency] = []
    public internal(set) var unresolved: [UnresolvedDependency] = []
    public internal(set) var problems: [DependencyProblem] = []

    public var paths: [String] { dependencies.map(\.path) }
}

/// Works out, inside a flattened image, what the kernel and the dynamic loader would open to
/// start the given programs: ELF interpreters, `DT_NEEDED` libraries (recursively, searched
/// as glibc's or musl's loader does), `#!` interpreters, and every symlink on the way.
public struct DependencyResolver {
    public let tree: FileTree
    /// Directories searched as `LD_LIBRARY_PATH` would be. Empty by default: the image's
    /// environment is the caller's business.
    public var libraryPath: [String]
    /// The image's PATH, for `#!/usr/bin/env NAME` scripts; the caller knows the image's
    /// environment. Empty finds no such NAME.
    public var executableSearchPath: [String]

    public init(tree: FileTree, libraryPath: [String] = [], executableSearchPath: [String] = []) {
        self.tree = tree
        self.libraryPath = libraryPath
        self.executableSearchPath = executableSearchPath
    }

    /// The closure of `paths` (tree paths; a leading slash is fine). Files that are neither
    /// ELF nor scripts contribute only themselves and the symlinks leading to them.
    public func closure(of paths: [String]) -> DependencyClosure {
        let builder = ClosureBuilder(self)
        for path in paths { builder.add(root: path) }
        return builder.result
    }
}

/// The state of one `closure(of:)` call: each file is parsed once, the cache read once.
final class ClosureBuilder {
    private let tree: FileTree
    private let libraryPath: [String]
    private let executableSearchPath: [String]
    private(set) var result = DependencyClosure()
    private var recorded: Set<String> = []
    private var unresolvedSeen: Set<UnresolvedDependency> = []
    private var problemsSeen: Set<DependencyProblem> = []
    private var kinds: [String: FileKind] = [:]
    private var examined: Set<String> = []
    private var cache: LoaderCache??
    private var configured: [String]?

    enum FileKind {
        case elf(ELFFile)
        case script(Shebang)
        case other
    }

    /// An object in one program's link map: where it is, the path it was opened by (glibc
    /// takes `$ORIGIN` from that, not from the symlink-free path) and who loaded it.
    struct LoadedObject {
        let path: String
        let openedAs: String
        let elf: ELFFile
        let loader: Int?
    }

    struct Candidate {
        let openedAs: String
        let path: String
        let symlinks: [String]
        let elf: ELFFile
    }

    init(_ resolver: DependencyResolver) {
        tree = resolver.tree
        libraryPath = resolver.libraryPath
        executableSearchPath = resolver.executableSearchPath
    }

    func add(root path: String) {
        let resolution = tree.resolve(path)
        let target = resolution.path ?? String(path.drop { $0 == "/" })
        for link in resolution.symlinks { record(link, .symlink(toward: target)) }
        guard resolution.outcome == .found, let physical = resolution.path, let node = resolution.node else {
            let why = resolution.outcome == .symlinkLoop ? "it leads into a symlink loop" : "it is not in the image"
            problem(path, "cannot follow '\(path)': \(why)")
            return
        }
        record(physical, .requested)
        examine(physical, node, depth: 0)
    }

    // MARK: Recording

    private func record(_ path: String, _ reason: DependencyReason) {
        guard !path.isEmpty, recorded.insert(path).inserted else { return }
        result.dependencies.append(Dependency(path: path, reason: reason))
    }

    private func record(_ candidate: Candidate, _ reason: DependencyReason) {
        for link in candidate.symlinks { record(link, .symlink(toward: candidate.path)) }
        record(candidate.path, reason)
    }

    private func unresolved(_ kind: UnresolvedDependency.Kind, requiredBy: String, searched: [String] = []) {
        let item = UnresolvedDependency(kind: kind, requiredBy: requiredBy, searched: searched)
        if unresolvedSeen.insert(item).inserted { result.unresolved.append(item) }
    }

    private func problem(_ path: String, _ message: String) {
        let item = DependencyProblem(path: path, message: message)
        if problemsSeen.insert(item).inserted { result.problems.append(item) }
    }

    // MARK: Files

    private func kind(of path: String, _ node: Node) -> FileKind {
        if let known = kinds[path] { return known }
        var kind = FileKind.other
        if let inode = node.inode, inode.kind == .regular, let content = inode.content {
            do {
                if let elf = try ELFFile.parse(content, name: path) {
                    kind = .elf(elf)
                } else if let shebang = try Shebang.parse(content, name: path) {
                    kind = .script(shebang)
                }
            } catch {
                problem(path, "\(error)")
            }
        }
        kinds[path] = kind
        return kind
    }

    private func examine(_ path: String, _ node: Node, depth: Int) {
        guard examined.insert(path).inserted else { return }
        switch kind(of: path, node) {
        case let .elf(elf):
            load(program: path, elf)
        case let .script(shebang):
            // The kernel gives up after a few nested interpreters (BINPRM_MAX_RECURSION).
            if depth < 5 { follow(shebang, of: path, depth: depth) }
        case .other:
            break
        }
    }

    private func follow(_ shebang: Shebang, of script: String, depth: Int) {
        let resolution = tree.resolve(shebang.interpreter)
        if let path = resolution.path, let node = resolution.node, node.inode?.kind == .regular {
            for link in resolution.symlinks { record(link, .symlink(toward: path)) }
            record(path, .shebang(of: script))
            examine(path, node, depth: depth + 1)
        } else {
            unresolved(.interpreter("/" + shebang.interpreter), requiredBy: script)
        }
        guard let command = shebang.command else { return }
        let candidates = command.contains("/") ? [command] : executableSearchPath.map { join($0, command) }
        for candidate in candidates {
            let resolution = tree.resolve(candidate)
            guard let path = resolution.path, let node = resolution.node, let inode = node.inode,
                inode.kind == .regular, inode.attributes.permissions & 0o111 != 0
            else { continue }
            for link in resolution.symlinks { record(link, .symlink(toward: path)) }
            record(path, .shebangCommand(command, of: script))
            examine(path, node, depth: depth + 1)
            return
        }
        unresolved(.command(command), requiredBy: script, searched: command.contains("/") ? [] : executableSearchPath)
    }

    // MARK: Loading

    /// Loads one program's libraries breadth-first, as the loader does, with its own link
    /// map: which object loaded which decides the RPATH chain, and names already loaded
    /// are not searched again.
    private func load(program path: String, _ program: ELFFile) {
        var objects = [LoadedObject(path: path, openedAs: "/" + path, elf: program, loader: nil)]
        var byName: [String: Int] = [:]
        var byPath: [String: Int] = [path: 0]
        if let soname = program.soname { byName[soname] = 0 }

        var interpreterIndex: Int?
        if let interpreter = program.interpreter {
            let resolution = tree.resolve(interpreter)
            if let interpreterPath = resolution.path, let node = resolution.node, node.inode?.kind == .regular {
                for link in resolution.symlinks { record(link, .symlink(toward: interpreterPath)) }
                record(interpreterPath, .interpreter(of: path))
                if case let .elf(elf) = kind(of: interpreterPath, node) {
                    let index = byPath[interpreterPath] ?? objects.count
                    if index == objects.count {
                        objects.append(
                            LoadedObject(path: interpreterPath, openedAs: interpreter, elf: elf, loader: nil))
                        byPath[interpreterPath] = index
                    }
                    interpreterIndex = index
                    // The loader is in the link map under its PT_INTERP path and its soname,
                    // so libc's DT_NEEDED on it is never searched.
                    byName[interpreter] = index
                    if let soname = elf.soname { byName[soname] = index }
                }
            } else {
                unresolved(.interpreter(interpreter), requiredBy: path)
            }
        }
        guard program.isDynamic else { return }

        var next = 0
        while next < objects.count {
            let index = next
            next += 1
            if index == interpreterIndex { continue }
            let object = objects[index]
            for name in object.elf.needed where byName[name] == nil {
                if program.usesMusl, isMuslReserved(name), let interpreterIndex {
                    byName[name] = interpreterIndex
                    continue
                }
                let (found, searched) = search(name, requester: index, in: objects, program: program)
                guard !found.isEmpty else {
                    unresolved(.library(name), requiredBy: object.path, searched: searched)
                    continue
                }
                for (position, candidate) in found.enumerated() {
                    record(candidate, .needed(library: name, by: object.path))
                    let loaded: Int
                    if let existing = byPath[candidate.path] {
                        loaded = existing
                    } else {
                        objects.append(
                            LoadedObject(
                                path: candidate.path, openedAs: candidate.openedAs,
                                elf: candidate.elf, loader: index))
                        loaded = objects.count - 1
                        byPath[candidate.path] = loaded
                    }
                    // Later candidates are glibc-hwcaps variants: kept, but the name maps to
                    // the plain library.
                    if position == 0 {
                        byName[name] = loaded
                        if let soname = candidate.elf.soname, byName[soname] == nil { byName[soname] = loaded }
                    }
                }
            }
        }
    }

    /// Finds one `DT_NEEDED` name for `objects[requester]`, in the loader's order. glibc:
    /// DT_RPATH of the requester and its loaders (only while the requester has no RUNPATH),
    /// LD_LIBRARY_PATH, the requester's DT_RUNPATH, ld.so.cache, the default directories.
    /// musl: LD_LIBRARY_PATH, RUNPATH or RPATH of the requester and its loaders, then its
    /// path file or defaults.
    private func search(
        _ name: String, requester: Int, in objects: [LoadedObject], program: ELFFile
    )
        -> (found: [Candidate], searched: [String])
    {
        var searched: [String] = []
        let object = objects[requester]
        func expand(_ list: String, for index: Int) -> [String] {
            let origin = directoryName(of: objects[index].openedAs)
            // An empty element means the working directory, which a static look cannot know.
            return list.split(separator: ":").flatMap {
                objects[index].elf.expandTokens(in: String($0), origin: origin)
            }
        }
        func first(in directories: [String], variants: Bool) -> [Candidate]? {
            for directory in directories {
                searched.append(directory)
                if let found = candidate(join(directory, name), for: program) {
                    return [found] + (variants ? hwcapsVariants(of: name, in: directory, for: program) : [])
                }
            }
            return nil
        }

        if name.contains("/") {
            let origin = directoryName(of: object.openedAs)
            for path in object.elf.expandTokens(in: name, origin: origin) {
                searched.append(path)
                if let found = candidate(path, for: program) { return ([found], searched) }
            }
            return ([], searched)
        }

        if program.usesMusl {
            var directories = libraryPath
            var cursor: Int? = requester
            while let index = cursor {
                if let list = objects[index].elf.runpath ?? objects[index].elf.rpath {
                    directories += expand(list, for: index)
                }
                cursor = objects[index].loader
            }
            directories += muslSystemDirectories(for: program)
            return (first(in: directories, variants: false) ?? [], searched)
        }

        var directories: [String] = []
        if object.elf.runpath == nil {
            var cursor: Int? = requester
            while let index = cursor {
                // An object with RUNPATH has its RPATH ignored, also for its dependents.
                if objects[index].elf.runpath == nil, let list = objects[index].elf.rpath {
                    directories += expand(list, for: index)
                }
                cursor = objects[index].loader
            }
        }
        directories += libraryPath
        if let list = object.elf.runpath { directories += expand(list, for: requester) }
        if let found = first(in: directories, variants: true) { return (found, searched) }

        // DF_1_NODEFLIB keeps the default directories out, also where the cache or the
        // configuration points into them.
        let defaults = program.defaultLibraryDirectories
        let noDefaults = object.elf.noDefaultLibraries
        func isDefault(_ path: String) -> Bool {
            defaults.contains { path == $0 || path.hasPrefix($0 + "/") }
        }
        if let cache = loaderCache() {
            searched.append("/etc/ld.so.cache")
            let entries = cache.lookup(name, for: program).filter { !noDefaults || !isDefault($0.path) }
            // glibc takes the first plain entry; hwcaps variants are kept for other CPUs.
            let plain = entries.first { !$0.isHWCapsVariant }.flatMap { candidate($0.path, for: program) }
            let variants = entries.filter(\.isHWCapsVariant).compactMap { candidate($0.path, for: program) }
            let found = (plain.map { [$0] } ?? []) + variants
            if !found.isEmpty { return (found, searched) }
        } else {
            // No cache: the configured directories are what ldconfig would have put in it.
            let configured = configuredDirectories().filter { !noDefaults || !isDefault($0) }
            if let found = first(in: configured, variants: true) { return (found, searched) }
        }
        guard !noDefaults else { return ([], searched) }
        return (first(in: defaults, variants: true) ?? [], searched)
    }

    /// A file the loader would accept under `path`: a regular ELF file of the program's ABI.
    private func candidate(_ path: String, for program: ELFFile) -> Candidate? {
        let resolution = tree.resolve(path)
        guard let physical = resolution.path, let node = resolution.node, node.inode?.kind == .regular,
            case let .elf(elf) = kind(of: physical, node), program.canLoad(elf)
        else { return nil }
        return Candidate(openedAs: path, path: physical, symlinks: resolution.symlinks, elf: elf)
    }

    /// Copies of a library in `glibc-hwcaps/*/` below the directory it was found in, which
    /// glibc prefers on CPUs of that level. Which CPU the image runs on is unknown, so all stay.
    private func hwcapsVariants(of name: String, in directory: String, for program: ELFFile) -> [Candidate] {
        let base = join(directory, "glibc-hwcaps")
        guard let node = tree.resolve(base).node, node.isDirectory else { return [] }
        return node.sortedChildren.compactMap { candidate(join(join(base, $0.name), name), for: program) }
    }

    /// musl never loads a second libc: these names all mean the loader itself.
    private func isMuslReserved(_ name: String) -> Bool {
        guard name.hasPrefix("lib") else { return false }
        let rest = name.dropFirst(3)
        return ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."].contains { rest.hasPrefix($0) }
    }

    // MARK: Configuration in the image

    private func loaderCache() -> LoaderCache? {
        if let cache { return cache }
        var loaded: LoaderCache?
        do {
            loaded = try LoaderCache.load(from: tree)
        } catch {
            problem(LoaderCache.path, "\(error)")
        }
        cache = .some(loaded)
        return loaded
    }

    /// `/etc/ld-musl-ARCH.path` (one directory per line or colon-separated), else musl's
    /// built-in list.
    private func muslSystemDirectories(for program: ELFFile) -> [String] {
        let loader = baseName(of: program.interpreter ?? "")
        let arch = loader.dropFirst("ld-musl-".count).prefix { $0 != "." }
        if let text = readText("etc/ld-musl-\(arch).path") {
            return text.split(whereSeparator: { $0 == "\n" || $0 == ":" })
                .map { $0.trimmingBlanks() }.filter { !$0.isEmpty }
        }
        return program.defaultLibraryDirectories
    }

    /// Directories from `/etc/ld.so.conf` and the files it includes, in order.
    private func configuredDirectories() -> [String] {
        if let configured { return configured }
        var directories: [String] = []
        var visited: Set<String> = []
        func parse(_ path: String, depth: Int) {
            guard depth < 16, let physical = tree.resolve(path).path, visited.insert(physical).inserted,
                let text = readText(path)
            else { return }
            for rawLine in text.split(whereSeparator: \.isNewline) {
                let line = (rawLine.firstIndex(of: "#").map { rawLine[..<$0] } ?? rawLine).trimmingBlanks()
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let keyword = words.first else { continue }
                if keyword == "include", words.count > 1 {
                    for pattern in words.dropFirst() {
                        let including = path.hasPrefix("/") ? path : "/" + path
                        let absolute = pattern.hasPrefix("/") ? pattern : join(directoryName(of: including), pattern)
                        for file in glob(absolute) { parse(file, depth: depth + 1) }
                    }
                } else if keyword.lowercased() == "hwcap", words.count > 1 {
                    continue
                } else {
                    // ldconfig once allowed "DIR=TYPE"; the type is irrelevant here.
                    var directory = String(line.prefix { $0 != "=" })
                    while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
                    if !directory.isEmpty, !directories.contains(directory) { directories.append(directory) }
                }
            }
        }
        parse("/etc/ld.so.conf", depth: 0)
        configured = directories
        return directories
    }

    /// Paths in the image matching a glob pattern, sorted as glob(3) sorts them.
    private func glob(_ pattern: String) -> [String] {
        var matches = [""]
        for component in pattern.split(separator: "/").map(String.init) {
            guard component.contains(where: { "*?[".contains($0) }) else {
                matches = matches.map { $0 + "/" + component }
                continue
            }
            matches = matches.flatMap { base -> [String] in
                guard let node = tree.resolve(base).node, node.isDirectory else { return [] }
                return node.sortedChildren.map(\.name).filter { name in
                    (component.hasPrefix(".") || !name.hasPrefix(".")) && fnmatch(component, name, 0) == 0
                }.map { base + "/" + $0 }
            }
        }
        return matches.filter { tree.resolve($0).outcome == .found }.sorted()
    }

    /// A small text file of the image (configuration), or nil.
    private func readText(_ path: String) -> String? {
        guard let inode = tree.resolve(path).node?.inode, inode.kind == .regular else { return nil }
        guard let content = inode.content else { return "" }
        let reader = ByteReader(content: content, name: path)
        guard let bytes = try? reader.prefix(at: 0, upTo: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Joins a directory and a name with exactly one slash.
func join(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

extension StringProtocol {
    func trimmingBlanks() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
