import WhittleELF
import WhittleFlatten
import WhittleImage

/// What a runtime trace says the app needs, closed over what a trace cannot see (design
/// notes §5): symlinks on each path, ELF interpreters and libraries, `#!` interpreters,
/// Python sources, and files no app asks for until it fails. Every path carries the reason
/// it is kept. Package metadata is not kept here: the package step keeps the records of
/// the packages whose files stay, and only those (see `Selector.select(_:packages:…)`).
public struct TraceKeepSet: Sendable {
    /// Tree path (no leading slash) → reason: `trace`, `closure:symlink`, `closure:elf`, …
    public private(set) var reasons: [String: KeepReason] = [:]
    /// Every directory above a kept path: kept as a parent, entered by the selection.
    public private(set) var ancestors: Set<String> = []

    static let essentials = [
        "etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/hosts", "etc/resolv.conf", "etc/host.conf",
        "etc/ssl/certs/ca-certificates.crt", "etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/cert.pem",
    ]

    /// - Parameter traced: absolute or relative image paths the app named, whether they
    ///   existed or not: a path the app created or probed for keeps the directory it was
    ///   looked up in, so the app meets the same directory (and the same ENOENT) again.
    /// - Parameter searchPath: the image's PATH, where `#!/usr/bin/env NAME` finds NAME.
    public init(traced: [String], tree: FileTree, searchPath: [String]) {
        for path in traced { keepResolved(path, reason: .traced, tree: tree) }
        for path in Self.essentials { keepResolved(path, reason: .closure(.essential), tree: tree) }
        addPythonClosure(tree: tree)
        addLoaderClosure(tree: tree, searchPath: searchPath)
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
               let module = parts[parts.count - 1].split(separator: ".").first {
                let source = (parts.dropLast(2) + [module + ".py"]).joined(separator: "/")
                if tree.lookup(source)?.inode != nil { add(source, .closure(.python)) }
            }
        }
    }

    /// ELF interpreters and libraries, and `#!` interpreters, of every kept file.
    private mutating func addLoaderClosure(tree: FileTree, searchPath: [String]) {
        let files = reasons.keys.filter { tree.lookup($0)?.inode?.kind == .regular }.sorted()
        for dependency in DependencyResolver(tree: tree, executableSearchPath: searchPath).closure(of: files).dependencies {
            switch dependency.reason {
            case .requested: continue
            case .interpreter, .needed: add(dependency.path, .closure(.elf))
            case .shebang, .shebangCommand: add(dependency.path, .closure(.shebang))
            case .symlink: add(dependency.path, .closure(.symlink))
            }
        }
    }

    private mutating func add(_ path: String, _ reason: KeepReason) {
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
