import Foundation
import WhittleProfiles

/// What `whittle profiles` prints.
public enum ProfileListing {
    /// A table with a header row: name, description summary, risk summary.
    public static func table(_ catalog: ProfileCatalog) throws -> String {
        var rows = [["NAME", "DESCRIPTION", "RISK"]]
        for name in catalog.names {
            let profile = try catalog.profile(named: name)
            rows.append([name, profile.summary, profile.riskSummary])
        }
        return tableLines(rows).map { $0 + "\n" }.joined()
    }

    /// The profile's file as written, plus, for a composite, what it expands to.
    public static func show(_ name: String, in catalog: ProfileCatalog) throws -> String {
        let profile = try catalog.profile(named: name)
        var text: String
        if let file = profile.file, let contents = try? String(contentsOfFile: file, encoding: .utf8) {
            text = "# \(file)\n" + contents
        } else {
            // A profile built in code has no file: render the same fields.
            text = render(profile)
        }
        if !text.hasSuffix("\n") { text += "\n" }
        if !profile.include.isEmpty {
            let expanded = try catalog.expand([name]).map(\.name)
            text += "# '\(name)' expands to: \(expanded.joined(separator: ", "))\n"
        }
        return text
    }

    private static func render(_ profile: Profile) -> String {
        func block(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        }
        func list(_ key: String, _ items: [String]) -> String {
            items.isEmpty
                ? ""
                : "\(key):\n" + items.map { "  - \"\($0.replacingOccurrences(of: "\"", with: "\\\""))\"\n" }.joined()
        }
        // Format version 2 only when the profile needs it, so version-1 profiles render as before.
        let version = profile.packages.isEmpty ? 1 : 2
        var text = "version: \(version)\nname: \(profile.name)\n"
        text += "description: |\n\(block(profile.description))\n"
        text += "risk: |\n\(block(profile.risk))\n"
        text += list("remove", profile.remove.map(\.text))
        text += list("keep", profile.keep.map(\.text))
        text += list("include", profile.include)
        text += list("packages", profile.packages.map(\.description))
        return text + (profile.autoremove ? "autoremove: true\n" : "")
    }
}
