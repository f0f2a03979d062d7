import ArgumentParser
import Foundation
import WhittleProfiles
import WhittleReport

/// `whittle profiles`: what the named removal profiles are and what each one removes.
public struct ProfilesCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List the named removal profiles, or show one.",
        discussion: """
            A removal profile is a YAML file of path patterns to remove and to keep, and \
            (format version 2) whole packages to remove, with a note on what removing them \
            could break. The shipped profiles are read from \
            $WHITTLE_PROFILES, from ../share/whittle/profiles next to the whittle \
            executable, or from the source tree's Profiles/ directory, in that order. \
            Profiles/README.md describes the file format.

            Examples:
              whittle profiles list
              whittle profiles show pycache
              whittle profiles show safe
              whittle profiles show python-dev
              whittle profiles list --profiles-dir ./my-profiles
            """,
        subcommands: [List.self, Show.self])

    public init() {}

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every profile with its description and risk.",
            discussion: """
                One line per profile: its name, the first line of its description and the \
                first line of its risk note. `whittle profiles show NAME` prints the rest, and \
                what a composite profile includes.

                Examples:
                  whittle profiles list
                  WHITTLE_PROFILES=/opt/whittle/profiles whittle profiles list
                """)

        @OptionGroup var source: ProfileSourceOptions

        func run() throws {
            print(try ProfileListing.table(try source.catalog()), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print one profile's file, and for a composite what it expands to.",
            discussion: """
                Prints the profile's YAML file as written, comments included. For a \
                composite profile, a final comment lists the concrete profiles it expands \
                to, in the order they apply.

                Examples:
                  whittle profiles show docs
                  whittle profiles show all
                """)

        @Argument(help: ArgumentHelp("The profile to show, as listed by `whittle profiles list`.", valueName: "name"))
        var name: String

        @OptionGroup var source: ProfileSourceOptions

        func run() throws {
            print(try ProfileListing.show(name, in: try source.catalog()), terminator: "")
        }
    }
}

/// Where the profiles come from, shared by the `profiles` subcommands.
struct ProfileSourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Read profiles from this directory instead of the shipped ones.", valueName: "directory"))
    var profilesDir: String?

    func catalog() throws -> ProfileCatalog {
        guard let directory = profilesDir ?? ProfileCatalog.defaultDirectory() else {
            throw ValidationError(
                """
                cannot find the shipped profiles; set WHITTLE_PROFILES to the whittle Profiles \
                directory or pass --profiles-dir
                """)
        }
        return try ProfileCatalog.load(directory: directory)
    }
}
