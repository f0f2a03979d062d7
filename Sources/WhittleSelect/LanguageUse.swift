import Foundation
import WhittleFlatten
import WhittleImage
import WhittlePackageGraph
import WhittlePackages

/// What a trace's keep set adds so that code paths its probes did not reach still work:
/// the state the app writes, whole; each language package it used, whole, with what that
/// package declares it requires; and the modules that import statements of kept code name.
/// A reviewer should be able to accept each reason: "the app used part of this package, so
/// the package stays", not "this exact file was opened". "Whole" means what a running app
/// can load: a package's own test suite and the sources it was compiled from stay out
/// unless the trace saw them.
struct LanguageUse {
    private let tree: FileTree
    private let python: PythonLayout
    private let node: NodeLayout
    private let ruby: RubyLayout
    private let perl: PerlLayout
    private let volumes: [String]
    /// The image's Python distributions (vendored ones aside), their records for the
    /// dependency graph, and where their files and metadata are.
    private let distributions: [InstalledPackage]
    private let records: [PackageRecord]
    private let environment: PackageEnvironment
    private var distributionOfFile: [String: Int] = [:]
    private var distributionOfMetadata: [String: Int] = [:]
    /// What Python's site startup reads in every process: `.pth` files and the modules
    /// their `import` lines load. Reading them says nothing of what the app uses.
    private var startupHooks = Set<String>()

    private var usedDistributions = Set<Int>()
    private var usedNodePackages = Set<String>()
    private var libraries: LibraryPackages
    private var usedLibraries = Set<LibraryPackage>()
    private var scanned = Set<String>()
    private var queue: [String] = []
    private(set) var dynamicImports: [String] = []

    init(tree: FileTree, config: ImageConfig?, packages: PackageDatabase?) {
        self.tree = tree
        let environmentVariables = config?.env ?? []
        let database = packages ?? PackageDatabase(packages: [])
        let vendored = PackageRemoval.vendoredDistributions(database)
        let python = database.packages.indices.filter {
            database.packages[$0].kind == .python && database.packages[$0].installed && !vendored.contains($0)
        }
        distributions = python.map { database.packages[$0] }
        records = distributions.compactMap(\.graphRecord)
        environment = PackageRemoval.environment(database, records: records)
        self.python = PythonLayout(
            tree: tree,
            siteDirectories: distributions.compactMap { distribution in
                distribution.key.lastIndex(of: "/").map { String(distribution.key[..<$0]) }
            }, environment: environmentVariables)
        node = NodeLayout(environment: environmentVariables)
        ruby = RubyLayout(tree: tree)
        perl = PerlLayout(tree: tree)
        libraries = LibraryPackages(tree: tree, packages: packages)
        volumes = config?.volumes ?? []
        for (position, distribution) in distributions.enumerated() {
            for file in distribution.files where distributionOfFile[file] == nil { distributionOfFile[file] = position }
            for path in distribution.metadata { distributionOfMetadata[path] = position }
        }
        startupHooks = Self.startupHooks(self.python, tree: tree)
    }

    private static func startupHooks(_ python: PythonLayout, tree: FileTree) -> Set<String> {
        var hooks = Set<String>()
        for site in python.siteDirectories {
            for child in tree.lookup(site)?.sortedChildren ?? []
            where child.name.hasSuffix(".pth") && !child.isDirectory {
                let path = site + "/" + child.name
                hooks.insert(path)
                let lines = (text(of: path, in: tree) ?? "").split(separator: "\n").filter { $0.hasPrefix("import") }
                for module in ImportStatements.python(lines.joined(separator: "\n")).modules {
                    for file in python.resolve(module, from: path, tree: tree) where file.hasPrefix(site + "/") {
                        hooks.insert(file)
                        hooks.formUnion(PackageRemoval.compiledFiles(of: file, in: tree))
                    }
                }
            }
        }
        return hooks
    }

    /// The directories holding what the app created, changed, renamed or deleted, and the
    /// image's VOLUMEs: the app's state, kept with all it holds.
    func stateDirectories(changed: [String]) -> [String] {
        var directories = Set<String>()
        // The sandbox's own /dev, /proc and /sys hide the image's: nothing the app writes there is the image's.
        for path in changed where !["/dev/", "/proc/", "/sys/"].contains(where: path.hasPrefix) {
            let resolution = tree.resolve(path, followFinal: false)
            let directory: String
            if let own = resolution.path, resolution.node != nil {
                directory = own.lastIndex(of: "/").map { String(own[..<$0]) } ?? ""
            } else {
                directory = resolution.existingDirectory
            }
            // The root holds the whole image: a file written there keeps only itself.
            if !directory.isEmpty { directories.insert(directory) }
        }
        for volume in volumes {
            let resolution = tree.resolve(volume)
            if let path = resolution.path, !path.isEmpty, resolution.node?.isDirectory == true {
                directories.insert(path)
            }
        }
        return directories.sorted()
    }

    /// Adds to `reasons` the state directories with all they hold, and everything the paths
    /// kept lead to, until nothing new does.
    mutating func close(over reasons: inout [String: KeepReason], state: [String]) {
        var keep = KeepList(reasons: reasons, tree: tree)
        for directory in state { keepSubtree(directory, .closure(.state), into: &keep) }
        // What the app ran names its packages first: a package both run and imported was used.
        let seen = Array(keep.reasons.keys).sorted()
        for path in seen { claimPackage(of: path, into: &keep) }
        queue += seen
        while true {
            while let path = queue.popLast() { follow(path, into: &keep) }
            let required = RequiredPackages.closure(
                of: usedDistributions.sorted(), records: records, environment: environment)
            let added = required.filter { !usedDistributions.contains($0) }
            guard !added.isEmpty else { break }
            for position in added { use(distribution: position, .closure(.dependency), into: &keep) }
        }
        reasons = keep.reasons
    }

    /// One newly kept path: the package it belongs to, and the imports it states.
    private mutating func follow(_ path: String, into keep: inout KeepList) {
        claimPackage(of: path, into: &keep)
        guard scanned.insert(path).inserted else { return }
        if path.hasSuffix(".py") {
            scanPython(path, into: &keep)
        } else if NodeLayout.isScript(path), !node.isLibrary(path), !python.isLibrary(path) {
            scanJavaScript(path, into: &keep)
        } else if RubyLayout.isScript(path) {
            scanRuby(path, into: &keep)
        } else if PerlLayout.isScript(path) {
            scanPerl(path, into: &keep)
        }
    }

    /// The package a kept path belongs to is used, and stays whole.
    private mutating func claimPackage(of path: String, into keep: inout KeepList) {
        if startupHooks.contains(path) {
            // Site startup, not the app: no package is used by it.
        } else if let position = distributionOfFile[path] {
            use(distribution: position, .closure(.package), into: &keep)
        } else if let position = metadataOwner(path) {
            use(distribution: position, .closure(.metadata), into: &keep)
        }
        if node.isLibrary(path), let root = node.packageRoot(of: path) {
            use(nodePackage: root, .closure(.package), into: &keep)
        }
        if let library = libraries.package(of: path) { use(library: library, .closure(.package), into: &keep) }
    }

    /// The distribution whose version or requirements the app read: its `METADATA` or
    /// `PKG-INFO` (`importlib.metadata.version("x")` reads it). A scan of every
    /// distribution's `entry_points.txt` says no more than that the distribution is there.
    private func metadataOwner(_ path: String) -> Int? {
        // A single-file `.egg-info` is its own PKG-INFO; a metadata directory listed is no read.
        if let position = distributionOfMetadata[path] {
            return tree.lookup(path)?.isDirectory == true ? nil : position
        }
        guard path.hasSuffix("/METADATA") || path.hasSuffix("/PKG-INFO") else { return nil }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        return distributionOfMetadata[directory]
    }

    // MARK: Python

    /// The app's own code follows every import; the standard library and installed
    /// distributions follow only into the standard library, so an optional import deep in
    /// one library does not pull in everything installed: declared dependencies decide those.
    private mutating func scanPython(_ path: String, into keep: inout KeepList) {
        let isAppCode = !python.isLibrary(path)
        guard let text = Self.text(of: path, in: tree) else { return }
        let statements = ImportStatements.python(text)
        if isAppCode {
            dynamicImports += statements.dynamicLines.map { "/\(path):\($0)" }
            // Only where the file reads distribution metadata at all: `version("x")` is a
            // common name for other things.
            if text.contains("importlib.metadata") || text.contains("importlib_metadata")
                || text.contains("pkg_resources")
            {
                for name in statements.metadataQueries {
                    if let position = distributionNamed(name) {
                        use(distribution: position, .closure(.metadata), into: &keep)
                    }
                }
            }
        }
        var modules = statements.modules
        for (module, names) in statements.fromNames {
            modules += names.map { module.hasSuffix(".") ? module + $0 : module + "." + $0 }
        }
        modules += Self.loadedByName(path, python: python, tree: tree)
        for module in modules where isAppCode || !Self.developmentModules.contains(Self.topLevel(module)) {
            for file in python.resolve(module, from: path, tree: tree) {
                if python.isStandardLibrary(file) || (isAppCode && !python.isLibrary(file)) {
                    keep.add(file, .closure(.importStatement), queue: &queue)
                } else if isAppCode, let position = distributionOfFile[file] {
                    use(distribution: position, .closure(.importStatement), into: &keep)
                } else if isAppCode {
                    keep.add(file, .closure(.importStatement), queue: &queue)
                }
            }
        }
    }

    /// The standard library's test and development tools. Libraries name them for their own
    /// tests, doctests and `__main__` blocks, which an app does not run; the app's own
    /// imports of them are followed.
    static let developmentModules: Set<String> = [
        "test", "unittest", "doctest", "pydoc", "pydoc_data", "idlelib", "tkinter", "turtle", "turtledemo",
        "lib2to3", "ensurepip", "pdb", "_testcapi", "_testinternalcapi", "_testbuffer", "_testimportmultiple",
        "_testmultiphase", "_testclinic", "_xxtestfuzz", "xxlimited", "xxlimited_35",
    ]

    /// Modules of the standard library that load others by a name made at run time: all
    /// codecs for `encodings`, the platform's `_sysconfigdata_*` for `sysconfig`.
    private static func loadedByName(_ path: String, python: PythonLayout, tree: FileTree) -> [String] {
        guard python.isStandardLibrary(path), let slash = path.lastIndex(of: "/") else { return [] }
        let directory = String(path[..<slash])
        let name = path[path.index(after: slash)...]
        if name == "sysconfig.py" {
            return (tree.lookup(directory)?.sortedChildren ?? []).map(\.name)
                .filter { $0.hasPrefix("_sysconfigdata_") && $0.hasSuffix(".py") }.map { String($0.dropLast(3)) }
        }
        if name == "__init__.py", directory.hasSuffix("/encodings") {
            return (tree.lookup(directory)?.sortedChildren ?? []).map(\.name)
                .filter { $0.hasSuffix(".py") && $0 != "__init__.py" }.map { "encodings." + $0.dropLast(3) }
        }
        return []
    }

    /// The distribution a metadata query names, as Python normalizes names (PEP 503).
    private func distributionNamed(_ name: String) -> Int? {
        let wanted = Self.normalized(name)
        return distributions.firstIndex { Self.normalized($0.name) == wanted }
    }

    private static func normalized(_ name: String) -> String {
        String(name.lowercased().map { $0 == "_" || $0 == "." ? "-" : $0 })
    }

    private static func topLevel(_ module: String) -> String {
        String(module.split(separator: ".").first ?? "")
    }

    /// Whether a package's file can matter to a running app: everything but its own test
    /// suite, the C and Cython sources and headers it was built from, its type stubs
    /// (`.pyi`, read by type checkers only) and static libraries (read by linkers only). An
    /// app imports a package, never the package's tests; a file the trace saw stays
    /// whatever it is.
    static func isLoadedAtRunTime(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        if parts.dropLast().contains(where: { $0 == "tests" || $0 == "test" || $0 == "__tests__" }) { return false }
        guard let name = parts.last, let dot = name.lastIndex(of: ".") else { return true }
        return !buildSources.contains(String(name[name.index(after: dot)...]))
    }

    private static let buildSources: Set<String> = [
        "c", "h", "cc", "cpp", "cxx", "hpp", "pyx", "pxd", "pxi", "pyi", "a",
    ]

    /// A distribution the app uses stays whole: its files, their compiled forms, and its
    /// metadata, so it stays importable and listed.
    private mutating func use(distribution position: Int, _ reason: KeepReason, into keep: inout KeepList) {
        guard usedDistributions.insert(position).inserted else { return }
        let distribution = distributions[position]
        for file in distribution.files where Self.isLoadedAtRunTime(file) {
            keep.add(file, reason, queue: &queue)
            for compiled in PackageRemoval.compiledFiles(of: file, in: tree) {
                keep.add(compiled, reason, queue: &queue)
            }
        }
        for path in distribution.metadata { keepSubtree(path, reason, into: &keep) }
    }

    // MARK: JavaScript

    private mutating func scanJavaScript(_ path: String, into keep: inout KeepList) {
        guard let text = Self.text(of: path, in: tree) else { return }
        let statements = ImportStatements.javaScript(text)
        dynamicImports += statements.dynamicLines.map { "/\(path):\($0)" }
        for request in statements.modules {
            if let file = node.resolveRelative(request, from: path, tree: tree) {
                keep.add(file, .closure(.importStatement), queue: &queue)
            } else if let root = node.resolvePackage(request, from: path, tree: tree) {
                use(nodePackage: root, .closure(.importStatement), into: &keep)
            }
        }
    }

    /// A Node.js package the app uses stays whole, with the packages its `package.json`
    /// says it depends on, found as Node would find them from it.
    private mutating func use(nodePackage root: String, _ reason: KeepReason, into keep: inout KeepList) {
        guard usedNodePackages.insert(root).inserted else { return }
        keepSubtree(root, reason, into: &keep, runTimeOnly: true)
        guard let manifest = tree.lookup(root + "/package.json")?.inode,
            let bytes = try? manifest.contents(limit: 4 << 20)
        else { return }
        for dependency in NodeLayout.declaredDependencies(bytes) {
            if let found = node.resolvePackage(dependency, from: root + "/package.json", tree: tree) {
                use(nodePackage: found, .closure(.dependency), into: &keep)
            }
        }
    }

    // MARK: Ruby, PHP and Perl

    /// As for Python: the app's own code follows every `require` and `use`, library code
    /// only into its language's standard library; the packages of what is kept stay whole
    /// as they are claimed.
    private mutating func scanRuby(_ path: String, into keep: inout KeepList) {
        guard let text = Self.text(of: path, in: tree) else { return }
        let (ruby, tree) = (ruby, tree)
        follow(
            ImportStatements.ruby(text), from: path, isLibrary: ruby.isLibrary,
            isStandardLibrary: ruby.isStandardLibrary, into: &keep
        ) { feature in ruby.resolve(feature, from: path, tree: tree).map { [$0] } ?? [] }
    }

    private mutating func scanPerl(_ path: String, into keep: inout KeepList) {
        guard let text = Self.text(of: path, in: tree) else { return }
        let (perl, tree) = (perl, tree)
        follow(
            ImportStatements.perl(text), from: path, isLibrary: perl.isLibrary,
            isStandardLibrary: perl.isStandardLibrary, into: &keep
        ) { module in perl.resolve(module, tree: tree) }
    }

    /// A gem, Composer package, Perl distribution or Debian-packaged library the app used
    /// stays whole, with the packages it declares it needs.
    private mutating func use(library: LibraryPackage, _ reason: KeepReason, into keep: inout KeepList) {
        guard usedLibraries.insert(library).inserted else { return }
        for path in libraries.contents(of: library) { keepSubtree(path, reason, into: &keep, runTimeOnly: true) }
        for dependency in libraries.dependencies(of: library) {
            use(library: dependency, .closure(.dependency), into: &keep)
        }
    }

    /// Keeps what `statements` of the file at `path` load: every file `resolve` gives for a
    /// module, the first of which decides whether library code may follow it.
    private mutating func follow(
        _ statements: ImportStatements, from path: String, isLibrary: (String) -> Bool,
        isStandardLibrary: (String) -> Bool, into keep: inout KeepList, resolve: (String) -> [String]
    ) {
        let isAppCode = !isLibrary(path)
        if isAppCode { dynamicImports += statements.dynamicLines.map { "/\(path):\($0)" } }
        for module in statements.modules {
            let files = resolve(module)
            guard let first = files.first, isAppCode || isStandardLibrary(first) else { continue }
            for file in files { keep.add(file, .closure(.importStatement), queue: &queue) }
        }
    }

    // MARK: Shared

    private mutating func keepSubtree(
        _ path: String, _ reason: KeepReason, into keep: inout KeepList,
        runTimeOnly: Bool = false
    ) {
        if runTimeOnly, !Self.isLoadedAtRunTime(path) { return }
        // Found through a symlink (Debian's /usr/share/node_modules): the tree's own path.
        guard let own = keep.add(path, reason, queue: &queue), let directory = tree.lookup(own),
            directory.isDirectory
        else { return }
        for child in directory.sortedChildren {
            keepSubtree(own + "/" + child.name, reason, into: &keep, runTimeOnly: runTimeOnly)
        }
    }

    /// A source file's text; nil for one that is not UTF-8 or is larger than any source.
    private static func text(of path: String, in tree: FileTree) -> String? {
        guard let inode = tree.lookup(path)?.inode, inode.kind == .regular, inode.size <= 8 << 20,
            let bytes = try? inode.contents(limit: 8 << 20)
        else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// The keep set's reasons while they grow: the first reason a path gets is its reason, and
/// each new path is queued once to be followed. A path reached through a symlink is kept
/// as the tree names it, with the symlinks on the way.
private struct KeepList {
    var reasons: [String: KeepReason]
    let tree: FileTree

    /// The tree's path for `path`, or nil when the image has nothing there.
    @discardableResult
    mutating func add(_ path: String, _ reason: KeepReason, queue: inout [String]) -> String? {
        guard !path.isEmpty else { return nil }
        let resolution = tree.resolve(path, followFinal: false)
        guard let own = resolution.path, resolution.node != nil else { return nil }
        for link in resolution.symlinks where reasons[link] == nil { reasons[link] = .closure(.symlink) }
        if reasons[own] == nil {
            reasons[own] = reason
            queue.append(own)
        }
        return own
    }
}
