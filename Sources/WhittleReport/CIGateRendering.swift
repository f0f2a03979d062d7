import Foundation
import WhittleAnalysis

/// What `inspect --ci` prints and writes: a line per rule, and JUnit XML for CI systems.
public enum CIGateRendering {
    /// `PASS  lowestEfficiency: efficiency 0.9712 >= 0.9` per rule, then a summary line.
    public static func text(_ results: [CIResult], image: String) -> String {
        let width = results.map(\.rule.count).max() ?? 0
        var lines = results.map { result in
            "\(result.status.rawValue)  "
                + (result.rule + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0)
                + "  \(result.detail)  [\(result.source)]"
        }
        let failed = results.filter { $0.status == .fail }.count
        let skipped = results.filter { $0.status == .skip }.count
        lines.append(
            """
            \(failed > 0 ? "FAIL" : "PASS"): \(image): \(results.count) rules, \(results.count - failed - skipped) passed, \
            \(failed) failed, \(skipped) skipped
            """)
        return lines.joined(separator: "\n") + "\n"
    }

    /// One test suite for the image, one test case per rule: a failure carries the line,
    /// a disabled rule is skipped.
    public static func junit(_ results: [CIResult], image: String) -> String {
        let failed = results.filter { $0.status == .fail }.count
        let skipped = results.filter { $0.status == .skip }.count
        let name = xml("whittle inspect --ci \(image)")
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<testsuites name=\(name) tests=\"\(results.count)\" failures=\"\(failed)\" skipped=\"\(skipped)\">",
            "  <testsuite name=\(name) tests=\"\(results.count)\" failures=\"\(failed)\" skipped=\"\(skipped)\" errors=\"0\">",
        ]
        for result in results {
            let open = "    <testcase classname=\(xml(result.source)) name=\(xml(result.rule))"
            switch result.status {
            case .pass:
                lines.append(open + ">")
                lines.append("      <system-out>\(xmlText(result.detail))</system-out>")
                lines.append("    </testcase>")
            case .fail:
                lines.append(open + ">")
                lines.append(
                    "      <failure message=\(xml(result.detail)) type=\"threshold\">\(xmlText(result.detail))</failure>"
                )
                lines.append("    </testcase>")
            case .skip:
                lines.append(open + ">")
                lines.append("      <skipped message=\(xml(result.detail))/>")
                lines.append("    </testcase>")
            }
        }
        lines += ["  </testsuite>", "</testsuites>"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A quoted attribute value.
    private static func xml(_ text: String) -> String {
        "\"" + xmlText(text).replacingOccurrences(of: "\"", with: "&quot;") + "\""
    }

    private static func xmlText(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
