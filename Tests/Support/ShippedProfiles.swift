import Foundation
import WhittleProfiles

/// The profiles the repository ships in `Profiles/`, as the tests load them.
enum ShippedProfiles {
    static var directory: String { repositoryRoot.appendingPathComponent("Profiles").path }

    static func catalog() throws -> ProfileCatalog {
        try ProfileCatalog.load(directory: directory)
    }
}
