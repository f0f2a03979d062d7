import Foundation
import WhittleFlatten
import WhittlePackageGraph
import WhittlePackages

/// A language package outside Python's and Node's layouts, as a trace keeps it whole: a
/// Ruby gem, a Composer package, a Perl distribution installed with its `.packlist`, or a
/// Debian package of Perl, Ruby or PHP library code.
struct LibraryPackage: Hashable {
    enum Kind: Hashable { case gem, composer, perlDistribution, deb }
    let kind: Kind
    /// The gem's or Composer package's directory, the `.packlist`'s path, or `deb:NAME`.
    let id: String
}

/// Finds the library package a kept path belongs to, what it holds, and what it declares
/// it needs at run time. Tree paths throughout.
struct LibraryPackages {
    private let tree: FileTree
    /// Debian packages with files in a language's vendor library directories, and those files.
    private let debs: [InstalledPackage]
    private let debRecords: [PackageRecord]
    private let debEnvironment: PackageEnvironment
    private var debOfFile: [String: Int] = [:]
    /// Files listed by each Perl `.packlist`, read on the first path that could be in one.
    private var packlistOfFile: [String: String]?

    /// Where Debian puts libraries that are packaged, not part of an interpreter: Perl's,
    /// Ruby's and PHP's vendor directories. The interpreters' own libraries are not here;
    /// like Python's standard library, they stay file by file.
    static let vendorDirectories = [
        "usr/share/perl5/", "usr/lib/x86_64-linux-gnu/perl5/", "usr/lib/aarch64-linux-gnu/perl5/",
        "usr/lib/ruby/vendor_ruby/", "usr/lib/x86_64-linux-gnu/ruby/vendor_ruby/",
        "usr/lib/aarch64-linux-gnu/ruby/vendor_ruby/", "usr/share/rubygems-integration/", "usr/share/php/",
    ]

    init(tree: FileTree, packages: PackageDatabase?) {
        self.tree = tree
        let installed = (packages?.packages ?? []).filter { $0.kind == .deb && $0.installed }
        debs = installed
        debRecords = installed.compactMap(\.graphRecord)
        debEnvironment = PackageRemoval.environment(PackageDatabase(packages: installed), records: debRecords)
        for (position, package) in installed.enumerated() {
            for file in package.files where Self.isVendorLibrary(file) { debOfFile[file] = position }
        }
    }

    static func isVendorLibrary(_ path: String) -> Bool {
        vendorDirectories.contains { path.hasPrefix($0) }
    }

    /// The package `path` belongs to; nil for a path in none of these layouts.
    mutating func package(of path: String) -> LibraryPackage? {
        if let gem = gemDirectory(of: path) { return LibraryPackage(kind: .gem, id: gem) }
        if let composer = composerPackage(of: path) { return LibraryPackage(kind: .composer, id: composer) }
        if path.contains("perl"), let packlist = packlists()[path] {
            return LibraryPackage(kind: .perlDistribution, id: packlist)
        }
        if let position = debOfFile[path] { return LibraryPackage(kind: .deb, id: "deb:" + debs[position].name) }
        return nil
    }

    /// What stays of a used package: directories to keep whole, or single files.
    mutating func contents(of package: LibraryPackage) -> [String] {
        switch package.kind {
        case .gem:
            let (home, name) = (Self.parent(Self.parent(package.id)), Self.lastName(package.id))
            var paths = [package.id, home + "/specifications/" + name + ".gemspec"]
            // Compiled extensions live apart: extensions/PLATFORM/ABI/NAME-VERSION.
            for platform in tree.lookup(home + "/extensions")?.sortedChildren ?? [] {
                for abi in platform.sortedChildren {
                    paths.append([home, "extensions", platform.name, abi.name, name].joined(separator: "/"))
                }
            }
            return paths
        case .composer:
            return [package.id]
        case .perlDistribution:
            return [package.id] + packlists().filter { $0.value == package.id }.map(\.key).sorted()
        case .deb:
            guard let position = debPosition(package) else { return [] }
            return debs[position].files.filter(Self.isVendorLibrary)
        }
    }

    /// The packages `package` declares it needs at run time, as installed here.
    func dependencies(of package: LibraryPackage) -> [LibraryPackage] {
        switch package.kind {
        case .gem:
            let (home, name) = (Self.parent(Self.parent(package.id)), Self.lastName(package.id))
            guard let spec = text(home + "/specifications/" + name + ".gemspec") else { return [] }
            return Self.gemRuntimeDependencies(spec).compactMap { installedGem($0, in: home) }
                .map { LibraryPackage(kind: .gem, id: $0) }
        case .composer:
            guard let manifest = text(package.id + "/composer.json") else { return [] }
            let vendor = Self.parent(Self.parent(package.id))
            return Self.composerRequirements(manifest)
                .map { vendor + "/" + $0 }.filter { tree.lookup($0)?.isDirectory == true }
                .map { LibraryPackage(kind: .composer, id: $0) }
        case .perlDistribution:
            // A .packlist names files, not prerequisites: the trace and imports find those.
            return []
        case .deb:
            guard let position = debPosition(package) else { return [] }
            let required = RequiredPackages.closure(of: [position], records: debRecords, environment: debEnvironment)
            return required.filter { $0 != position && debs[$0].files.contains(where: Self.isVendorLibrary) }
                .map { LibraryPackage(kind: .deb, id: "deb:" + debs[$0].name) }
        }
    }

    // MARK: Ruby

    /// `HOME/gems/NAME-VERSION` for a path inside it, where `HOME/specifications` describes it.
    private func gemDirectory(of path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for index in parts.indices.dropLast().reversed() where parts[index] == "gems" && index > 0 {
            let home = parts[..<index].joined(separator: "/")
            let name = String(parts[index + 1])
            if tree.lookup(home + "/specifications/" + name + ".gemspec")?.inode != nil {
                return home + "/gems/" + name
            }
        }
        return nil
    }

    /// The directory of the newest installed gem called `name` in `home`.
    private func installedGem(_ name: String, in home: String) -> String? {
        let specs = (tree.lookup(home + "/specifications")?.sortedChildren ?? []).map(\.name).filter {
            $0.hasPrefix(name + "-") && $0.hasSuffix(".gemspec")
                && $0.dropFirst(name.count + 1).first.map(\.isNumber) == true
        }
        guard let newest = specs.max(by: { $0.compare($1, options: .numeric) == .orderedAscending }) else { return nil }
        return home + "/gems/" + newest.dropLast(".gemspec".count)
    }

    /// Names in `add_runtime_dependency` and `add_dependency` lines of an installed gemspec
    /// (`s.add_runtime_dependency(%q<rack>.freeze, [">= 2"])`); development ones are not run.
    static func gemRuntimeDependencies(_ spec: String) -> [String] {
        spec.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("add_runtime_dependency") || line.contains("add_dependency") else { return nil }
            guard let open = line.firstIndex(where: { $0 == "<" || $0 == "\"" || $0 == "'" }) else { return nil }
            let closing: Character = line[open] == "<" ? ">" : line[open]
            let rest = line[line.index(after: open)...]
            guard let close = rest.firstIndex(of: closing) else { return nil }
            let name = String(rest[..<close])
            return name.isEmpty ? nil : name
        }
    }

    // MARK: PHP

    /// `VENDOR/NAME` inside a Composer `vendor/` directory, which `vendor/composer` marks.
    private func composerPackage(of path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for index in parts.indices.reversed() where parts[index] == "vendor" && index + 3 < parts.count {
            let vendor = parts[...index].joined(separator: "/")
            guard tree.lookup(vendor + "/composer")?.isDirectory == true, parts[index + 1] != "composer" else {
                continue
            }
            return parts[...(index + 2)].joined(separator: "/")
        }
        return nil
    }

    /// Package names in `composer.json`'s `require` object: `vendor/name` keys, not the
    /// `php` and `ext-*` platform requirements.
    static func composerRequirements(_ manifest: String) -> [String] {
        guard let key = manifest.range(of: "\"require\""),
            let open = manifest[key.upperBound...].firstIndex(of: "{"),
            let close = manifest[open...].firstIndex(of: "}")
        else { return [] }
        return manifest[manifest.index(after: open)..<close].split(separator: ",").compactMap { entry in
            let pieces = entry.split(separator: "\"", omittingEmptySubsequences: false)
            guard pieces.count >= 2, pieces[1].contains("/") else { return nil }
            return String(pieces[1])
        }
    }

    // MARK: Perl

    /// Every `.packlist` under `usr/local` (where `cpan` and `cpanm` install), by the files
    /// it lists.
    private mutating func packlists() -> [String: String] {
        if let packlistOfFile { return packlistOfFile }
        var found: [String: String] = [:]
        var stack = ["usr/local"]
        while let directory = stack.popLast() {
            for child in tree.lookup(directory)?.sortedChildren ?? [] {
                let path = directory + "/" + child.name
                if child.isDirectory {
                    stack.append(path)
                } else if child.name == ".packlist", let listing = text(path) {
                    for line in listing.split(separator: "\n") {
                        // Lines are absolute paths, optionally followed by ` key=value` pairs.
                        let file = line.split(separator: " ").first.map { String($0.drop { $0 == "/" }) } ?? ""
                        if !file.isEmpty { found[file] = path }
                    }
                }
            }
        }
        packlistOfFile = found
        return found
    }

    // MARK: Shared

    private func debPosition(_ package: LibraryPackage) -> Int? {
        let name = package.id.dropFirst("deb:".count)
        return debs.firstIndex { $0.name == name }
    }

    private static func parent(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
    }

    private static func lastName(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    private func text(_ path: String) -> String? {
        guard let inode = tree.lookup(path)?.inode, inode.kind == .regular, inode.size <= 4 << 20,
            let bytes = try? inode.contents(limit: 4 << 20)
        else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
