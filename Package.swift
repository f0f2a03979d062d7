// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "whittle",
    products: [
        .executable(name: "whittle", targets: ["whittle"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries at the edges, linked through pkg-config.
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        // splice(2), which the Glibc module leaves out.
        .systemLibrary(name: "CSplice"),
        .systemLibrary(name: "CMalloc"),

        // Open files, slices of them, and scratch space: what every stage below shares.
        .target(name: "WhittleFiles"),
        // Tar reading and writing on top of libarchive.
        .target(name: "WhittleArchive", dependencies: ["CArchive"]),
        // Byte streams: hashing, gzip and zstd decoding, parallel gzip encoding.
        .target(
            name: "WhittleCompression",
            dependencies: ["CZlib", "CZstd", .product(name: "Crypto", package: "swift-crypto")]),
        // Reading saved images: docker-archive, oci-archive, OCI layout directories.
        .target(
            name: "WhittleImage",
            dependencies: [
                "WhittleArchive", "WhittleCompression", "WhittleFiles",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Where images live beyond files: skopeo-style references, registries (the OCI
        // distribution API) and the Docker engine's API, each brought to or from an OCI layout.
        .target(
            name: "WhittleRegistry",
            dependencies: [
                "WhittleCompression", "WhittleFiles", "WhittleImage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Applying layer changesets into one tree, and dive's wasted-bytes model of the same stream.
        .target(
            name: "WhittleFlatten",
            dependencies: ["WhittleArchive", "WhittleCompression", "WhittleFiles", "WhittleImage"]),
        // Named removal profiles: the YAML documents in Profiles/ and path patterns.
        .target(
            name: "WhittleProfiles", dependencies: ["WhittlePackageGraph", .product(name: "Yams", package: "Yams")]),
        // ELF dependencies (PT_INTERP, DT_NEEDED) resolved inside a flattened tree.
        .target(name: "WhittleELF", dependencies: ["WhittleFiles", "WhittleFlatten"]),
        // Package databases (dpkg, apk, Python distributions): who owns which file, and the
        // databases rewritten to tell the truth about what a slim keeps.
        .target(
            name: "WhittlePackages",
            dependencies: ["WhittleFiles", "WhittleFlatten", .product(name: "Crypto", package: "swift-crypto")]),
        // Deciding what stays: profiles, globs, protected paths, with a reason for each.
        .target(
            name: "WhittleSelect",
            dependencies: [
                "WhittleFiles", "WhittleFlatten", "WhittleImage", "WhittleProfiles", "WhittleELF", "WhittlePackages",
                "WhittlePackageGraph",
            ]),
        // Above selection: inspect's estimates of what each profile would remove (through
        // the selection `slim` uses), and the CI gate with its YAML.
        .target(
            name: "WhittleAnalysis",
            dependencies: [
                "CSplice", "WhittleArchive", "WhittleCompression", "WhittleFiles", "WhittleFlatten", "WhittleImage",
                "WhittleProfiles", "WhittleSelect", "WhittlePackages",
                .product(name: "Yams", package: "Yams"),
            ]),
        // Everything commands print or write for people and scripts: slim's before/after
        // report and dry-run listing, inspect's report, the profile listing; tables and JSON.
        .target(
            name: "WhittleReport",
            dependencies: [
                "WhittleFlatten", "WhittleImage", "WhittleSelect", "WhittleAnalysis", "WhittleProfiles",
                "WhittlePackages", "WhittlePipeline",
            ]),
        // Writing the single-layer image tarball.
        .target(
            name: "WhittleOutput",
            dependencies: [
                "WhittleArchive", "WhittleCompression", "WhittleFiles", "WhittleImage", "WhittleFlatten",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The trace file: what a run touched and how it answered. Read by slim without the tracer.
        .target(name: "WhittleTraceFormat"),
        // Runtime tracing: everything between fork and exec, and the seccomp notification loop.
        .target(name: "CWhittleTrace", linkerSettings: [.linkedLibrary("seccomp")]),
        // Running an image's command in its own namespaces and recording the files it touches.
        .target(
            name: "WhittleTrace",
            dependencies: [
                "CWhittleTrace", "WhittleCompression", "WhittleFiles", "WhittleImage", "WhittleFlatten",
                "WhittleArchive",
                "WhittleTraceFormat",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Slim as a library: the input argument read, then read → flatten → select → write as
        // stages with a result type each, and the report built once from their results.
        .target(
            name: "WhittlePipeline",
            dependencies: [
                "CSplice", "WhittleArchive", "WhittleCompression", "WhittleFiles", "WhittleFlatten", "WhittleImage",
                "WhittleOutput", "WhittlePackageGraph", "WhittlePackages", "WhittleProfiles", "WhittleRegistry",
                "WhittleSelect", "WhittleTrace", "WhittleTraceFormat",
            ]),
        // The command tree: options parsed, the library called, the results rendered.
        .target(
            name: "WhittleCommands",
            dependencies: [
                "WhittleCompression", "WhittleFiles", "WhittleImage", "WhittleFlatten", "WhittleOutput",
                "WhittleProfiles",
                "WhittleELF", "WhittleAnalysis", "WhittleSelect", "WhittleReport", "WhittleTrace", "WhittleTraceFormat",
                "WhittlePackages", "WhittlePackageGraph", "WhittleRegistry", "WhittlePipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "whittle", dependencies: ["CMalloc", "WhittleCommands"]),
        // Which whole packages go: specs, dependency graphs of dpkg, apk and Python
        // distributions, autoremove, with a reason for each.
        .target(name: "WhittlePackageGraph"),
        // What every test target shares: test images built in memory, the private Docker
        // engine, scanners and processes, and the environment read in one place.
        .target(
            name: "WhittleTestSupport",
            dependencies: [
                "WhittlePipeline", "WhittleArchive", "WhittleCommands", "WhittleELF", "WhittleFiles", "WhittleFlatten",
                "WhittleImage",
                "WhittleOutput", "WhittlePackages", "WhittleProfiles", "WhittleReport", "WhittleSelect", "WhittleTrace",
                "WhittleTraceFormat", "WhittleRegistry",
            ],
            path: "Tests/Support",
            // Small servers the registry tests run: a token issuer and two misbehaving proxies.
            exclude: ["token_issuer.py", "dying_proxy.py", "size_limit_proxy.py"]),
        // The acceptance target: Docker, the zoo, the unprobed apps, scanners on real images; serial.
        .testTarget(
            name: "WhittleAcceptanceTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleFiles", "WhittleFlatten",
                "WhittleImage",
                "WhittleOutput", "WhittlePackageGraph", "WhittlePackages", "WhittleReport", "WhittleSelect",
                "WhittleTrace", "WhittleTraceFormat", "WhittleRegistry",
            ],
            path: "Tests/WhittleAcceptanceTests"),
        .testTarget(
            name: "WhittleAnalysisTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleAnalysis", "WhittleCommands", "WhittleFlatten",
                "WhittleImage",
                "WhittleOutput", "WhittlePackages", "WhittleProfiles", "WhittleSelect",
            ],
            path: "Tests/WhittleAnalysisTests"),
        .testTarget(
            name: "WhittleCommandsTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleCompression", "WhittleFiles",
                "WhittleImage",
                "WhittleOutput", "WhittleReport", "WhittleTrace",
            ],
            path: "Tests/WhittleCommandsTests"),
        .testTarget(
            name: "WhittleCompressionTests",
            dependencies: ["WhittleTestSupport", "WhittleCompression"],
            path: "Tests/WhittleCompressionTests"),
        .testTarget(
            name: "WhittleELFTests",
            dependencies: [
                "WhittleTestSupport", "WhittleArchive", "WhittleELF", "WhittleFiles", "WhittleFlatten", "WhittleImage",
            ],
            path: "Tests/WhittleELFTests"),
        .testTarget(
            name: "WhittleFlattenTests",
            dependencies: [
                "WhittleTestSupport", "WhittleArchive", "WhittleFiles", "WhittleFlatten", "WhittleImage",
                "WhittlePackageGraph", "WhittlePackages",
            ],
            path: "Tests/WhittleFlattenTests"),
        .testTarget(
            name: "WhittleImageTests",
            dependencies: ["WhittleTestSupport", "WhittleFiles", "WhittleFlatten", "WhittleImage"],
            path: "Tests/WhittleImageTests"),
        .testTarget(
            name: "WhittlePipelineTests",
            dependencies: ["WhittleTestSupport", "WhittleFiles", "WhittleImage", "WhittleOutput", "WhittlePipeline"],
            path: "Tests/WhittlePipelineTests"),
        .testTarget(
            name: "WhittleOutputTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleArchive", "WhittleCommands", "WhittleImage",
                "WhittleOutput",
            ],
            path: "Tests/WhittleOutputTests"),
        .testTarget(
            name: "WhittlePackageGraphTests",
            dependencies: ["WhittleTestSupport", "WhittlePackageGraph", "WhittleProfiles"],
            path: "Tests/WhittlePackageGraphTests",
            // Read from the source tree by path, as the Fixtures/ directory is.
            exclude: ["PackageGraphFixtures"]),
        .testTarget(
            name: "WhittlePackagesTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleFiles", "WhittleFlatten",
                "WhittleImage",
                "WhittleOutput", "WhittlePackageGraph", "WhittlePackages", "WhittleReport", "WhittleSelect",
            ],
            path: "Tests/WhittlePackagesTests"),
        .testTarget(
            name: "WhittleProfilesTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleFlatten", "WhittlePackageGraph",
                "WhittleProfiles",
                "WhittleReport", "WhittleSelect",
            ],
            path: "Tests/WhittleProfilesTests"),
        .testTarget(
            name: "WhittleReportTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleOutput", "WhittleReport",
                "WhittleTraceFormat",
            ],
            path: "Tests/WhittleReportTests"),
        .testTarget(
            name: "WhittleSelectTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleFiles", "WhittleFlatten",
                "WhittleImage",
                "WhittleOutput", "WhittlePackages", "WhittleProfiles", "WhittleSelect", "WhittleTraceFormat",
            ],
            path: "Tests/WhittleSelectTests"),
        // The tracer and its sandbox, which need root and check for leftover mounts: serial.
        .testTarget(
            name: "WhittleTraceTests",
            dependencies: [
                "WhittleTestSupport", "WhittlePipeline", "WhittleCommands", "WhittleFiles", "WhittleFlatten",
                "WhittleImage",
                "WhittleSelect", "WhittleTrace", "WhittleTraceFormat",
            ],
            path: "Tests/WhittleTraceTests"),

        // libFuzzer harnesses, one per untrusted-input reader (Fuzz/README.md, scripts/fuzz.sh).
        // Built plainly they replay input files; built with -sanitize=fuzzer and -D FUZZING
        // libFuzzer drives them.
        .target(name: "FuzzSupport", path: "Fuzz/Support"),
        .executableTarget(
            name: "FuzzImageDocuments", dependencies: ["FuzzSupport", "WhittleImage", "WhittleFiles"],
            path: "Fuzz/ImageDocuments"),
        .executableTarget(
            name: "FuzzLayer",
            dependencies: ["FuzzSupport", "WhittleImage", "WhittleFlatten", "WhittleFiles", "WhittleELF"],
            path: "Fuzz/Layer"),
        .executableTarget(
            name: "FuzzELF", dependencies: ["FuzzSupport", "WhittleELF", "WhittleFiles"], path: "Fuzz/ELF"),
        .executableTarget(name: "FuzzProfile", dependencies: ["FuzzSupport", "WhittleProfiles"], path: "Fuzz/Profile"),
        .executableTarget(name: "FuzzTrace", dependencies: ["FuzzSupport", "WhittleTraceFormat"], path: "Fuzz/Trace"),
        .executableTarget(
            name: "FuzzPackages",
            dependencies: [
                "FuzzSupport", "WhittleArchive", "WhittleFiles", "WhittleFlatten", "WhittleImage", "WhittlePackages",
                "WhittlePackageGraph", "WhittleSelect",
            ],
            path: "Fuzz/Packages"),
    ],
    swiftLanguageModes: [.v6]
)
