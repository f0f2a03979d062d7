import WhittleELF
import WhittleFlatten
import WhittleImage
import WhittlePackageGraph
import WhittlePackages

/// What a runtime trace says the app needs, closed over what a trace cannot see (design
/// notes §5) and over what its probes did not reach. Every path carries the reason it is
/// kept:
///
/// - what the app named, the symlinks on the way, ELF interpreters and libraries, `#!`
///   interpreters, Python sources, and files no app asks for until it fails;
/// - with `.packages` (the default): each language package the app used, whole, with the
///   packages it declares it requires; the modules the import statements of kept code
///   name (the app's own imports, and the standard library's from everything kept); and
///   every directory the app wrote into, and every VOLUME, with all it holds.
///
/// Package records are not kept here: the package step keeps the records of the packages
/// whose files stay (see `Selector.select(_:packages:…)`).
public struct TraceKeepSet: Sendable {
    /// How far a trace's keep set reaches beyond the files the app touched.
    public enum Extent: String, Sendable, CaseIterable {
        /// Whole language packages and their dependencies, static imports, state.
        case packages
        /// Only the files the trace saw and their loader closure: smaller, but a code path
        /// the probes did not reach may find its module, data or metadata gone.
        case files
    }

    /// What the trace saw, in the terms the keep set needs.
    public struct Use: Sendable {
        /// Absolute or relative image paths the app named, whether they existed or not.
        public var paths: [String]
        /// Of those, the ones it created, changed, renamed or deleted.
        public var changed: [String]

        public init(paths: [String], changed: [String] = []) {
            self.paths = paths
            self.changed = changed
        }
    }

    /// Tree path (no leading slash) → reason: `trace`, `closure:symlink`, `closure:elf`, …
    public private(set) var reasons: [String: KeepReason] = [:]
    /// Every directory above a kept path: kept as a parent, entered by the selection.
    public private(set) var ancestors: Set<String> = []
    /// Import statements whose module is computed at run time, as `file:line`: not followed.
    public private(set) var dynamicImports: [String] = []

    static let essentials = [
        "etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/hosts", "etc/resolv.conf", "etc/host.conf",
        "etc/ssl/certs/ca-certificates.crt", "etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/cert.pem",
    ]

    /// - Parameter traced: image paths the app named, whether they existed or not: a path
    ///   the app created or probed for keeps the directory it was looked up in, so the app
    ///   meets the same directory (and the same ENOENT) again.
    /// - Parameter searchPath: the image's PATH, where `#!/usr/bin/env NAME` finds NAME.
    public init(traced: [String], tree: FileTree, searchPath: [String]) {
        self.init(
            use: Use(paths: traced), tree: tree, config: nil, packages: nil, extent: .files,
            searchPath: searchPath)
    }

    /// - Parameters:
    ///   - config: the image's config: its PATH, Env (`PYTHONPATH`, `NODE_PATH`) and VOLUMEs.
    ///   - packages: the image's package databases, for the Python distributions.
    public init(
        use: Use, tree: FileTree, config: ImageConfig?, packages: PackageDatabase?, extent: Extent,
        searchPath: [String]? = nil
    ) {
        for path in use.paths { keepResolved(path, reason: .traced, tree: tree) }
        for path in Self.essentials { keepResolved(path, reason: .closure(.essential), tree: tree) }
        if extent == .packages {
            var usage = LanguageUse(tree: tree, config: config, packages: packages)
            usage.close(over: &reasons, state: usage.stateDirectories(changed: use.changed))
            dynamicImports = usage.dynamicImports
        }
        addPythonClosure(tree: tree)
        addLoaderClosure(tree: tree, searchPath: searchPath ?? config?.searchPath ?? [])
        for path in reasons.keys { addAncestors(of: path) }
    }

    /// Keeps a path as the app names it: each symlink on the way, the symlink itself when
    /// it is the last component, and what it finally leads to. A path that is not there
    /// keeps the deepest directory its lookup reached.
    private mutating func keepResolved(_ path: String, reason: KeepReason, tree: FileTree) {
        let own = tree.resolve(path, followFinal: false)
        for link in own.symlinks { add(link, .closure(.symlink)) }
        guard let ownPath = own.path, own.node != nil else {
            if reason == .traced { add(own.existingDirectory, .closure(.directory)) }
            return
        }
        add(ownPath, reason)
        let final = tree.resolve(path, followFinal: true)
        for link in final.symlinks { add(link, .closure(.symlink)) }
        if let finalPath = final.path, final.node != nil {
            if finalPath != ownPath { add(finalPath, .closure(.symlink)) }
        } else if reason == .traced {
            // A dangling symlink the app will create the target of (a pid file, a socket).
            add(final.existingDirectory, .closure(.directory))
        }
    }

    /// A kept `__pycache__/x.*.pyc` keeps `x.py`.
    private mutating func addPythonClosure(tree: FileTree) {
        for path in Array(reasons.keys) {
            let parts = path.split(separator: "/").map(String.init)
            if parts.count >= 2, parts[parts.count - 2] == "__pycache__", parts[parts.count - 1].hasSuffix(".pyc"),
                let module = parts[parts.count - 1].split(separator: ".").first
            {
                let source = (parts.dropLast(2) + [module + ".py"]).joined(separator: "/")
                if tree.lookup(source)?.inode != nil { add(source, .closure(.python)) }
            }
        }
    }

    /// ELF interpreters and libraries, and `#!` interpreters, of every kept file.
    private mutating func addLoaderClosure(tree: FileTree, searchPath: [String]) {
        let files = reasons.keys.filter { tree.lookup($0)?.inode?.kind == .regular }.sorted()
        for dependency in DependencyResolver(tree: tree, executableSearchPath: searchPath).closure(of: files)
            .dependencies
        {
            switch dependency.reason {
            case .requested: continue
            case .interpreter, .needed: add(dependency.path, .closure(.elf))
            case .shebang, .shebangCommand: add(dependency.path, .closure(.shebang))
            case .symlink: add(dependency.path, .closure(.symlink))
            }
        }
    }

    mutating func add(_ path: String, _ reason: KeepReason) {
        let clean = String(path.drop { $0 == "/" })
        guard !clean.isEmpty, reasons[clean] == nil else { return }
        reasons[clean] = reason
    }

    private mutating func addAncestors(of path: String) {
        var parts = path.split(separator: "/").dropLast()
        while !parts.isEmpty {
            guard ancestors.insert(parts.joined(separator: "/")).inserted else { return }
            parts = parts.dropLast()
        }
    }
}
