import Foundation
import Yams

/// The figures `inspect --ci` judges an image by: dive's three, and what each profile
/// would remove.
public struct CIFigures: Sendable {
    /// dive's efficiency: the smallest size of every path over the sum of all its sizes.
    public var efficiency: Double
    public var wastedBytes: Int64
    /// Wasted bytes over the bytes of every layer but the first, as a ratio (dive's
    /// `WastedUserPercent`). With no such bytes it is what dive's division gives:
    /// infinite when something is wasted, NaN (which fails nothing) when nothing is.
    public var userWastedRatio: Double
    public var flattenedBytes: Int64
    /// What each profile would remove, by name; empty when no profiles were found.
    public var profiles: [String: (files: Int, bytes: Int64)]

    public init(
        efficiency: Double, wastedBytes: Int64, userWastedRatio: Double, flattenedBytes: Int64,
        profiles: [String: (files: Int, bytes: Int64)]
    ) {
        self.efficiency = efficiency
        self.wastedBytes = wastedBytes
        self.userWastedRatio = userWastedRatio
        self.flattenedBytes = flattenedBytes
        self.profiles = profiles
    }

    public init(_ inspection: ImageInspection) {
        let waste = inspection.waste
        self.init(
            efficiency: waste.efficiency, wastedBytes: waste.wastedBytes,
            userWastedRatio: Double(waste.wastedBytes) / Double(waste.userSizeBytes),
            flattenedBytes: inspection.totals.flattenedBytes,
            profiles: Dictionary(
                (inspection.profiles ?? []).map { ($0.name, (files: $0.files, bytes: $0.bytes)) },
                uniquingKeysWith: { a, _ in a }))
    }
}

/// One rule of a CI gate, with its threshold (nil when the rule is disabled).
public enum CIRule: Sendable, Equatable {
    /// dive's `lowestEfficiency`: fails when the efficiency is below the threshold (0–1).
    case lowestEfficiency(Double?)
    /// dive's `highestWastedBytes`: fails when more bytes than this are wasted.
    case highestWastedBytes(Int64?)
    /// dive's `highestUserWastedPercent`: fails when the wasted share of the user's bytes
    /// is above the threshold, a ratio (0–1) despite the name.
    case highestUserWastedPercent(Double?)
    /// whittle's: fails when `profile` would remove more than this.
    case profile(String, ProfileLimit)

    public enum ProfileLimit: Sendable, Equatable {
        case maxRemovableBytes(Int64)
        case maxRemovableFiles(Int)
        /// Of the flattened image's bytes, as a ratio (0–1).
        case maxRemovableShare(Double)

        var key: String {
            switch self {
            case .maxRemovableBytes: return "maxRemovableBytes"
            case .maxRemovableFiles: return "maxRemovableFiles"
            case .maxRemovableShare: return "maxRemovableShare"
            }
        }
    }

    /// As the configuration files spell it: `lowestEfficiency`, `profiles.safe.maxRemovableBytes`.
    public var name: String {
        switch self {
        case .lowestEfficiency: return "lowestEfficiency"
        case .highestWastedBytes: return "highestWastedBytes"
        case .highestUserWastedPercent: return "highestUserWastedPercent"
        case let .profile(profile, limit): return "profiles.\(profile).\(limit.key)"
        }
    }
}

/// One rule's verdict, with the figure and the threshold it was judged by.
public struct CIResult: Sendable, Equatable {
    public enum Status: String, Sendable {
        case pass = "PASS", fail = "FAIL", skip = "SKIP"
    }

    public var rule: String
    /// The file the rule came from, or `dive's defaults`.
    public var source: String
    public var status: Status
    /// `efficiency 0.9712 >= 0.95`, `safe would remove 3.2 MiB (3355443 B) > 20000000 B`.
    public var detail: String
}

/// `whittle inspect --ci`: dive's rules from a `.dive-ci` file (dive's defaults without
/// one) and whittle's own from a `.whittle-ci.yaml`, judged against one image's figures.
public struct CIGate: Sendable {
    public var rules: [(rule: CIRule, source: String)]

    public init(rules: [(rule: CIRule, source: String)]) {
        self.rules = rules
    }

    /// dive's rules when no `.dive-ci` is found: dive applies the same.
    public static let diveDefaults: [CIRule] = [
        .lowestEfficiency(0.9), .highestWastedBytes(nil), .highestUserWastedPercent(0.1),
    ]

    public func evaluate(_ figures: CIFigures) -> [CIResult] {
        rules.map { rule, source in
            let (status, detail) = Self.judge(rule, figures)
            return CIResult(rule: rule.name, source: source, status: status, detail: detail)
        }
    }

    /// Each comparison as dive makes it: a figure equal to its threshold passes, and a NaN
    /// (no user bytes, nothing wasted) passes too.
    static func judge(_ rule: CIRule, _ figures: CIFigures) -> (CIResult.Status, String) {
        switch rule {
        case .lowestEfficiency(nil), .highestWastedBytes(nil), .highestUserWastedPercent(nil):
            return (.skip, "disabled")
        case let .lowestEfficiency(threshold?):
            let failed = threshold > figures.efficiency
            return (
                failed ? .fail : .pass, "efficiency \(ratio(figures.efficiency)) \(failed ? "<" : ">=") \(threshold)"
            )
        case let .highestWastedBytes(threshold?):
            let failed = figures.wastedBytes > threshold
            return (
                failed ? .fail : .pass,
                "\(bytes(figures.wastedBytes)) wasted \(failed ? ">" : "<=") \(bytes(threshold))"
            )
        case let .highestUserWastedPercent(threshold?):
            let failed = figures.userWastedRatio > threshold
            return (
                failed ? .fail : .pass,
                "\(ratio(figures.userWastedRatio)) of the user's bytes wasted "
                    + "\(failed ? ">" : "<=") \(threshold)"
            )
        case let .profile(name, limit):
            guard let removal = figures.profiles[name] else { return (.fail, "no profile '\(name)' was estimated") }
            return judge(limit, profile: name, removal: removal, flattened: figures.flattenedBytes)
        }
    }

    private static func judge(
        _ limit: CIRule.ProfileLimit, profile: String, removal: (files: Int, bytes: Int64),
        flattened: Int64
    ) -> (CIResult.Status, String) {
        switch limit {
        case let .maxRemovableBytes(threshold):
            let failed = removal.bytes > threshold
            return (
                failed ? .fail : .pass,
                "\(profile) would remove \(bytes(removal.bytes)) \(failed ? ">" : "<=") \(bytes(threshold))"
            )
        case let .maxRemovableFiles(threshold):
            let failed = removal.files > threshold
            return (
                failed ? .fail : .pass,
                "\(profile) would remove \(removal.files) files \(failed ? ">" : "<=") \(threshold)"
            )
        case let .maxRemovableShare(threshold):
            let share = flattened > 0 ? Double(removal.bytes) / Double(flattened) : 0
            let failed = share > threshold
            return (
                failed ? .fail : .pass,
                "\(profile) would remove \(ratio(share)) of the flattened bytes "
                    + "\(failed ? ">" : "<=") \(threshold)"
            )
        }
    }

    private static func ratio(_ value: Double) -> String {
        value.isNaN || value.isInfinite ? "\(value)" : String(format: "%.4f", value)
    }

    private static func bytes(_ value: Int64) -> String { "\(value) B" }
}
