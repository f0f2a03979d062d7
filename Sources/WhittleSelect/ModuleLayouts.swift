import WhittleFiles
import WhittleFlatten

/// Where an image's Python looks for modules: its standard library directories
/// (`usr/lib/python3.11`, with `lib-dynload`), the site directories that hold installed
/// distributions, and `PYTHONPATH`. Tree paths throughout (no leading slash).
struct PythonLayout {
    /// `usr/lib/python3.11`, `usr/local/lib/python3.12`: directories holding `os.py`.
    let standardLibraries: [String]
    /// Directories distributions are installed into (`site-packages`, `dist-packages`).
    let siteDirectories: [String]
    let pythonPath: [String]

    init(tree: FileTree, siteDirectories: [String], environment: [String]) {
        var libraries: [String] = []
        for parent in ["usr/lib", "usr/local/lib"] {
            for child in tree.lookup(parent)?.sortedChildren ?? [] where child.name.hasPrefix("python3") {
                let path = parent + "/" + child.name
                if tree.lookup(path + "/os.py")?.inode != nil { libraries.append(path) }
            }
        }
        standardLibraries = libraries
        var sites = Set(siteDirectories)
        for library in libraries {
            for name in ["site-packages", "dist-packages"] where tree.lookup(library + "/" + name)?.isDirectory == true
            {
                sites.insert(library + "/" + name)
            }
        }
        if tree.lookup("usr/lib/python3/dist-packages")?.isDirectory == true {
            sites.insert("usr/lib/python3/dist-packages")
        }
        self.siteDirectories = sites.sorted()
        let variable = environment.first { $0.hasPrefix("PYTHONPATH=") }.map {
            String($0.dropFirst("PYTHONPATH=".count))
        }
        pythonPath = (variable ?? "").split(separator: ":").map { String($0.drop { $0 == "/" }) }.filter { !$0.isEmpty }
    }

    func isStandardLibrary(_ path: String) -> Bool {
        standardLibraries.contains { path.hasPrefix($0 + "/") } && !isInSite(path)
    }

    /// Code of the interpreter or of installed distributions, not the app's own.
    func isLibrary(_ path: String) -> Bool {
        isInSite(path) || standardLibraries.contains { path.hasPrefix($0 + "/") }
    }

    private func isInSite(_ path: String) -> Bool {
        siteDirectories.contains { path.hasPrefix($0 + "/") }
    }

    /// The files importing `module` from `file` loads: the module itself (a `.py`, a
    /// package's `__init__.py`, an extension `.so`, or a namespace directory) and the
    /// `__init__.py` of each package above it. Empty when nothing in the image matches (a
    /// built-in module, or an optional import the image does not have).
    func resolve(_ module: String, from file: String, tree: FileTree) -> [String] {
        let level = module.prefix { $0 == "." }.count
        let dotted = module.dropFirst(level).split(separator: ".").map(String.init)
        var roots: [String]
        if level > 0 {
            var directory = file.split(separator: "/").dropLast().map(String.init)
            for _ in 1..<level where !directory.isEmpty { directory.removeLast() }
            roots = [directory.joined(separator: "/")]
        } else {
            let own = file.split(separator: "/").dropLast().joined(separator: "/")
            roots =
                [own] + pythonPath + standardLibraries + standardLibraries.map { $0 + "/lib-dynload" } + siteDirectories
        }
        for root in roots {
            if let files = resolve(dotted, under: root, tree: tree) { return files }
        }
        return []
    }

    private func resolve(_ parts: [String], under root: String, tree: FileTree) -> [String]? {
        var files: [String] = []
        var directory = root
        for (position, part) in parts.enumerated() {
            let base = directory.isEmpty ? part : directory + "/" + part
            let isLast = position == parts.count - 1
            if tree.lookup(base)?.isDirectory == true {
                let initializer = base + "/__init__.py"
                if tree.lookup(initializer)?.inode != nil {
                    files.append(initializer)
                } else if isLast {
                    files.append(base)
                }
                directory = base
                continue
            }
            guard isLast else { return nil }
            if tree.lookup(base + ".py")?.inode != nil { return files + [base + ".py"] }
            let parent = directory.isEmpty ? tree.root : tree.lookup(directory)
            let extensions =
                parent?.sortedChildren.filter {
                    !$0.isDirectory && $0.name.hasPrefix(part + ".") && $0.name.hasSuffix(".so")
                } ?? []
            guard let found = extensions.first else { return nil }
            return files + [directory.isEmpty ? found.name : directory + "/" + found.name]
        }
        return files.isEmpty && parts.isEmpty ? nil : files
    }
}

/// Where Node.js finds a package: `node_modules` directories up from the requiring file,
/// `NODE_PATH`, and the global directories Debian's `nodejs` searches.
struct NodeLayout {
    static let globalDirectories = [
        "usr/local/lib/nodejs", "usr/share/nodejs", "usr/lib/nodejs", "usr/local/lib/node_modules",
        "usr/lib/node_modules",
    ]
    let searchDirectories: [String]

    init(environment: [String]) {
        let variable = environment.first { $0.hasPrefix("NODE_PATH=") }.map { String($0.dropFirst("NODE_PATH=".count)) }
        let nodePath = (variable ?? "").split(separator: ":").map { String($0.drop { $0 == "/" }) }.filter {
            !$0.isEmpty
        }
        searchDirectories =
            nodePath + Self.globalDirectories + ["usr/lib/x86_64-linux-gnu/nodejs", "usr/lib/aarch64-linux-gnu/nodejs"]
    }

    static func isScript(_ path: String) -> Bool {
        path.hasSuffix(".js") || path.hasSuffix(".mjs") || path.hasSuffix(".cjs")
    }

    /// Code of an installed package, not the app's own.
    func isLibrary(_ path: String) -> Bool {
        path.contains("/node_modules/") || path.hasPrefix("node_modules/")
            || searchDirectories.contains { path.hasPrefix($0 + "/") }
    }

    /// The directory of the package `path` belongs to: the entry below a `node_modules` or
    /// a global directory, with its `@scope`.
    func packageRoot(of path: String) -> String? {
        var parts = path.split(separator: "/").map(String.init)
        var containerEnd: Int?
        for (index, part) in parts.enumerated().reversed() where part == "node_modules" {
            containerEnd = index + 1
            break
        }
        if containerEnd == nil {
            for directory in searchDirectories where path.hasPrefix(directory + "/") {
                containerEnd = directory.split(separator: "/").count
                break
            }
        }
        guard let start = containerEnd, start < parts.count else { return nil }
        let length = parts[start].hasPrefix("@") ? 2 : 1
        guard start + length <= parts.count else { return nil }
        parts = Array(parts[..<(start + length)])
        return parts.joined(separator: "/")
    }

    /// The package directory `request` (`express`, `@scope/name/sub`) names from `file`;
    /// nil for Node's built-in modules, relative paths and what the image lacks.
    func resolvePackage(_ request: String, from file: String, tree: FileTree) -> String? {
        guard !request.hasPrefix("."), !request.hasPrefix("/"), !request.hasPrefix("node:") else { return nil }
        let parts = request.split(separator: "/").map(String.init)
        let nameLength = parts.first?.hasPrefix("@") == true ? 2 : 1
        guard parts.count >= nameLength else { return nil }
        let name = parts.prefix(nameLength).joined(separator: "/")
        var directory = file.split(separator: "/").dropLast().map(String.init)
        while true {
            let modules = (directory + ["node_modules", name]).joined(separator: "/")
            if tree.lookup(modules)?.isDirectory == true { return modules }
            if directory.isEmpty { break }
            directory.removeLast()
        }
        return searchDirectories.map { $0 + "/" + name }.first { tree.lookup($0)?.isDirectory == true }
    }

    /// The file a relative `request` names from `file`, as Node tries it.
    func resolveRelative(_ request: String, from file: String, tree: FileTree) -> String? {
        guard request.hasPrefix("./") || request.hasPrefix("../") || request == "." || request == ".." else {
            return nil
        }
        let directory = file.split(separator: "/").dropLast().joined(separator: "/")
        let base = foldLexically(directory, [request])
        for candidate in [
            base, base + ".js", base + ".json", base + ".mjs", base + ".cjs", base + ".node",
            base + "/index.js", base + "/index.json", base + "/index.mjs",
        ]
        where tree.lookup(candidate)?.inode != nil {
            return candidate
        }
        return tree.lookup(base)?.isDirectory == true ? base : nil
    }

    /// `dependencies` and `optionalDependencies` named in a package's `package.json`.
    static func declaredDependencies(_ packageJSON: [UInt8]) -> [String] {
        guard let text = String(validating: packageJSON, as: UTF8.self) else { return [] }
        var names: [String] = []
        for field in ["\"dependencies\"", "\"optionalDependencies\""] {
            guard let key = text.range(of: field),
                let open = text[key.upperBound...].firstIndex(of: "{"),
                let close = text[open...].firstIndex(of: "}")
            else { continue }
            let body = text[text.index(after: open)..<close]
            for entry in body.split(separator: ",") {
                let pieces = entry.split(separator: "\"", omittingEmptySubsequences: false)
                if pieces.count >= 2, !pieces[1].isEmpty { names.append(String(pieces[1])) }
            }
        }
        return names
    }
}

/// The multiarch triplets whose library directories Debian's interpreters search.
private let multiarchTriplets = ["x86_64-linux-gnu", "aarch64-linux-gnu"]

/// The children of `parent` named by a version (`3.1.0`, `5.36`), as tree paths.
private func versionDirectories(_ parent: String, in tree: FileTree) -> [String] {
    (tree.lookup(parent)?.sortedChildren ?? []).filter { $0.isDirectory && $0.name.first?.isNumber == true }
        .map { parent + "/" + $0.name }
}

/// Where Debian's Ruby finds what `require` names: site and vendor directories, the
/// standard library, and the `lib` directories of installed gems.
struct RubyLayout {
    /// `usr/lib/ruby/3.1.0` and its architecture-specific half.
    let standardLibraries: [String]
    let loadPath: [String]

    init(tree: FileTree) {
        var standard = versionDirectories("usr/lib/ruby", in: tree)
        var path =
            ["usr/local/lib/site_ruby"] + versionDirectories("usr/local/lib/site_ruby", in: tree)
            + ["usr/lib/ruby/vendor_ruby"] + versionDirectories("usr/lib/ruby/vendor_ruby", in: tree)
        for triplet in multiarchTriplets {
            standard += versionDirectories("usr/lib/\(triplet)/ruby", in: tree)
            path +=
                versionDirectories("usr/lib/\(triplet)/ruby/vendor_ruby", in: tree)
                + versionDirectories("usr/local/lib/\(triplet)/site_ruby", in: tree)
        }
        standardLibraries = standard
        path += standard
        // Gems' own directories come last: rubygems activates one when nothing above has the file.
        for home in ["var/lib/gems", "usr/lib/ruby/gems", "usr/local/lib/ruby/gems"].flatMap({
            versionDirectories($0, in: tree)
        })
            + ["usr/share/rubygems-integration/all"]
        {
            for gem in tree.lookup(home + "/gems")?.sortedChildren ?? [] where gem.isDirectory {
                path.append(home + "/gems/" + gem.name + "/lib")
            }
        }
        loadPath = path.filter { tree.lookup($0)?.isDirectory == true }
    }

    static func isScript(_ path: String) -> Bool { path.hasSuffix(".rb") }

    func isStandardLibrary(_ path: String) -> Bool {
        standardLibraries.contains { path.hasPrefix($0 + "/") }
    }

    /// Code of the interpreter or of installed libraries, not the app's own.
    func isLibrary(_ path: String) -> Bool {
        path.contains("/gems/") || loadPath.contains { path.hasPrefix($0 + "/") }
    }

    /// The file `feature` names from `file`: a `.rb` or a compiled `.so` on the load path,
    /// or next to `file` for `require_relative` (given as `./x`).
    func resolve(_ feature: String, from file: String, tree: FileTree) -> String? {
        let directories: [String]
        var name = feature
        if feature.hasPrefix("./") {
            let own = file.split(separator: "/").dropLast().joined(separator: "/")
            name = foldLexically(own, [String(feature.dropFirst(2))])
            directories = [""]
        } else {
            directories = loadPath
        }
        for directory in directories {
            let base = directory.isEmpty ? name : directory + "/" + name
            for candidate in [base + ".rb", base + ".so", base] where tree.lookup(candidate)?.inode != nil {
                return candidate
            }
        }
        return nil
    }
}

/// Where Debian's Perl finds what `use` and `require` name (its `@INC`), and the compiled
/// half of a module under `auto/`.
struct PerlLayout {
    /// The interpreter's own modules: `perl-base` and `perl-modules`.
    let standardLibraries: [String]
    let inc: [String]

    init(tree: FileTree) {
        var standard: [String] = versionDirectories("usr/share/perl", in: tree)
        var inc = ["etc/perl"] + versionDirectories("usr/local/share/perl", in: tree) + ["usr/share/perl5"]
        for triplet in multiarchTriplets {
            standard += versionDirectories("usr/lib/\(triplet)/perl", in: tree) + ["usr/lib/\(triplet)/perl-base"]
            inc +=
                versionDirectories("usr/local/lib/\(triplet)/perl", in: tree)
                + versionDirectories("usr/lib/\(triplet)/perl5", in: tree)
        }
        standardLibraries = standard.filter { tree.lookup($0)?.isDirectory == true }
        self.inc = (inc + standardLibraries + ["usr/local/lib/site_perl"]).filter {
            tree.lookup($0)?.isDirectory == true
        }
    }

    static func isScript(_ path: String) -> Bool { path.hasSuffix(".pm") || path.hasSuffix(".pl") }

    func isStandardLibrary(_ path: String) -> Bool {
        standardLibraries.contains { path.hasPrefix($0 + "/") }
    }

    func isLibrary(_ path: String) -> Bool {
        inc.contains { path.hasPrefix($0 + "/") }
    }

    /// The files loading `module` (`A/B.pm`) reads: the module, and what XSLoader loads for
    /// it from `auto/A/B/` beside it (its `.so`, autoload index and split subroutines).
    func resolve(_ module: String, tree: FileTree) -> [String] {
        for directory in inc where tree.lookup(directory + "/" + module)?.inode != nil {
            let auto = directory + "/auto/" + module.dropLast(module.hasSuffix(".pm") ? 3 : 0)
            let compiled = (tree.lookup(auto)?.sortedChildren ?? []).filter { !$0.isDirectory }.map {
                auto + "/" + $0.name
            }
            return [directory + "/" + module] + compiled
        }
        return []
    }
}
