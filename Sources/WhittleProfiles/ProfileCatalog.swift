import Foundation

/// The set of profiles a run can choose from: normally the shipped `Profiles/` directory,
/// plus any profile file the user passes.
///
/// A catalog is always consistent: names are unique, every `include` names a profile of
/// the catalog, and no profile includes itself, directly or not.
public struct ProfileCatalog: Sendable {
    private let byName: [String: Profile]

    /// Every profile name, sorted.
    public let names: [String]

    /// A catalog of `profiles`. Throws for duplicate names, unknown includes and cycles.
    public init(profiles: [Profile]) throws {
        var byName: [String: Profile] = [:]
        for profile in profiles {
            if let existing = byName[profile.name] {
                throw ProfileError.duplicateName(
                    profile.name, files: [existing.file ?? "(built in)", profile.file ?? "(built in)"])
            }
            byName[profile.name] = profile
        }
        self.byName = byName
        names = byName.keys.sorted()
        for name in names {
            _ = try expand([name])
        }
    }

    /// Loads every `*.yaml` and `*.yml` file of `directory`, one profile per file, named
    /// like its file.
    public static func load(directory: String) throws -> ProfileCatalog {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ProfileError.unreadable(path: directory, reason: readableReason(error))
        }
        var profiles: [Profile] = []
        for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            let path = (directory as NSString).appendingPathComponent(file)
            let profile = try loadFile(path)
            let stem = (file as NSString).deletingPathExtension
            // Matching names keep `whittle profiles show NAME` and the file system in step.
            guard profile.name == stem else {
                throw ProfileError.malformed(
                    file: path,
                    reason: """
                        the profile is named '\(profile.name)' but the file '\(file)'; rename one so they match
                        """)
            }
            profiles.append(profile)
        }
        guard !profiles.isEmpty else { throw ProfileError.noProfiles(directory: directory) }
        return try ProfileCatalog(profiles: profiles)
    }

    /// Reads one profile file, such as a user's `--profile-file`. Its includes are checked
    /// only when it joins a catalog (`adding(_:)`).
    public static func loadFile(_ path: String) throws -> Profile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ProfileError.unreadable(path: path, reason: readableReason(error))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ProfileError.malformed(file: path, reason: "not UTF-8 text")
        }
        return try ProfileDocument.parse(text, file: path)
    }

    /// This catalog with `profile` added, so that it can include the catalog's profiles.
    public func adding(_ profile: Profile) throws -> ProfileCatalog {
        try ProfileCatalog(profiles: names.compactMap { byName[$0] } + [profile])
    }

    /// The profile called `name`; an unknown name is an error listing the known ones.
    public func profile(named name: String) throws -> Profile {
        guard let profile = byName[name] else {
            throw ProfileError.unknownProfile(name, known: names, referencedBy: nil)
        }
        return profile
    }

    /// The concrete profiles (those with `remove` patterns or `packages`) that `names` stand for: each
    /// name, and recursively what it includes, in the order first met, each once.
    ///
    /// A composite is not returned itself, so its own `keep` patterns are added to the
    /// `keep` of every profile it includes, directly or not.
    public func expand(_ names: [String]) throws -> [Profile] {
        var order: [String] = []
        var inheritedKeeps: [String: [PathPattern]] = [:]

        func visit(_ name: String, inherited: [PathPattern], stack: [String]) throws {
            if let loopStart = stack.firstIndex(of: name) {
                throw ProfileError.includeCycle(Array(stack[loopStart...]) + [name])
            }
            guard let profile = byName[name] else {
                throw ProfileError.unknownProfile(name, known: self.names, referencedBy: stack.last)
            }
            if profile.isConcrete {
                if inheritedKeeps[name] == nil { order.append(name) }
                inheritedKeeps[name, default: []] += inherited
            }
            for included in profile.include {
                try visit(included, inherited: inherited + profile.keep, stack: stack + [name])
            }
        }

        for name in names {
            try visit(name, inherited: [], stack: [])
        }
        return order.compactMap { name in
            guard var profile = byName[name] else { return nil }
            var seen = Set(profile.keep)
            for pattern in inheritedKeeps[name] ?? [] where seen.insert(pattern).inserted {
                profile.keep.append(pattern)
            }
            return profile
        }
    }

    /// Where the shipped profiles are: `$WHITTLE_PROFILES` if set, else
    /// `<executable's directory>/../share/whittle/profiles` if it exists, else the
    /// repository's `Profiles/` as seen when this file was compiled (for development
    /// builds and tests). Nil when none of these exists.
    public static func defaultDirectory() -> String? {
        if let configured = ProcessInfo.processInfo.environment["WHITTLE_PROFILES"], !configured.isEmpty {
            // Returned even if missing, so that loading names the directory the user chose.
            return configured
        }
        if let executable = Bundle.main.executableURL {
            for candidate in [executable, executable.resolvingSymlinksInPath()] {
                let installed = candidate.deletingLastPathComponent()
                    .appendingPathComponent("../share/whittle/profiles").standardized.path
                if isDirectory(installed) { return installed }
            }
        }
        // This file is Sources/WhittleProfiles/ProfileCatalog.swift: the root is two levels up.
        let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Profiles").path
        return isDirectory(repository) ? repository : nil
    }
}

private func isDirectory(_ path: String) -> Bool {
    var directory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
}

/// Foundation's errors carry the POSIX reason deep inside; show that rather than the
/// generic "The file couldn't be opened".
private func readableReason(_ error: any Error) -> String {
    let nsError = error as NSError
    if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
        let code = POSIXErrorCode(rawValue: Int32(underlying.code))
    {
        return String(cString: strerror(code.rawValue))
    }
    if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError {
        return "no such file or directory"
    }
    return nsError.localizedDescription
}
