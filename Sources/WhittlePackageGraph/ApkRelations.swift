import Foundation

/// apk's `installed` database lines: `D:` (what a package depends on) and `p:` (what else
/// it answers to), both space-separated.
public enum ApkRelations {
    /// The names a `D:` line depends on: package names, `so:libfoo.so.1`, `cmd:foo`,
    /// `pc:foo`, `/bin/sh`. Version restrictions (`python3~3.12`, `musl>=1.2`) are dropped:
    /// apk checked them when it installed, and the question here is only whether a
    /// provider stays. Conflicts (`!name`) are not dependencies and are skipped.
    public static func dependencies(_ line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { token in
            guard !token.hasPrefix("!") else { return nil }
            let name = stripVersion(token)
            return name.isEmpty ? nil : name
        }
    }

    /// The names a `p:` line provides (`cmd:pip3=23.1-r0` provides `cmd:pip3`).
    public static func provides(_ line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(stripVersion).filter { !$0.isEmpty }
    }

    private static func stripVersion(_ token: Substring) -> String {
        // apk's operators: = < > <= >= ~ and the fuzzy '=~'; a name never holds them.
        String(token.prefix { !"<>=~".contains($0) })
    }
}
