/// Failures while compiling path patterns or loading removal profiles. Each message names
/// the pattern, file or profile at fault and says what to change.
public enum ProfileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A path pattern that cannot be compiled; `reason` says which rule it breaks.
    case invalidPattern(String, reason: String)
    /// A profile file or directory that could not be read.
    case unreadable(path: String, reason: String)
    /// A profile file that is not valid YAML or does not have the expected shape.
    case malformed(file: String, reason: String)
    /// A key that the profile format does not define (often a typo).
    case unknownKey(file: String, key: String, line: Int?)
    /// A `version:` this build of whittle does not read.
    case unsupportedVersion(file: String, version: String)
    /// Two profiles with the same name.
    case duplicateName(String, files: [String])
    /// A profile name that no loaded profile has. `referencedBy` names the profile whose
    /// `include` asked for it, when that is where it came from.
    case unknownProfile(String, known: [String], referencedBy: String?)
    /// Profiles that include each other in a loop, in the order met.
    case includeCycle([String])
    /// A profile directory without any `*.yaml` file.
    case noProfiles(directory: String)

    public var description: String {
        switch self {
        case let .invalidPattern(pattern, reason):
            return "invalid path pattern '\(pattern)': \(reason)"
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .malformed(file, reason):
            return "\(file): \(reason)"
        case let .unknownKey(file, key, line):
            let place = line.map { "\(file):\($0)" } ?? file
            return "\(place): unknown key '\(key)'; a profile has only the keys "
                + ProfileDocument.keys.joined(separator: ", ")
        case let .unsupportedVersion(file, version):
            let known = ProfileDocument.versions.map { "'version: \($0)'" }.joined(separator: " and ")
            return "\(file): profile format version \(version) is not supported; this whittle reads "
                + "\(known) (see Profiles/README.md), so set one of those or use a newer whittle"
        case let .duplicateName(name, files):
            return "profile '\(name)' is defined more than once (\(files.joined(separator: ", "))); rename one of them"
        case let .unknownProfile(name, known, referencedBy):
            let context =
                referencedBy.map { "profile '\($0)' includes '\(name)', which does not exist" }
                ?? "no profile is named '\(name)'"
            return "\(context); known profiles: \(known.joined(separator: ", "))"
        case let .includeCycle(chain):
            return
                "profiles include each other in a loop: \(chain.joined(separator: " -> ")); remove one of these includes"
        case let .noProfiles(directory):
            return
                "no profiles (*.yaml files) in \(directory); point WHITTLE_PROFILES at the whittle Profiles directory"
        }
    }
}
