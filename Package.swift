// swift-tools-version:6.0
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
// A connector writes JSON and reads it into the readable model; the shared export walk (KitbagConnector) renders.
let connectorDependencies: [Target.Dependency] = [
    "KitbagConnector", "KitbagCore", "KitbagHTTP", "KitbagArchive", "KitbagJournal",
    .product(name: "Logging", package: "swift-log"),
]
let sandboxEmulatorDependencies: [Target.Dependency] = [
    "KitbagSandboxCore", "KitbagCore",
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "Logging", package: "swift-log"),
]
let connectorTestDependencies: [Target.Dependency] = connectorDependencies + [
    "KitbagSandbox", "KitbagTestSupport", "KitbagRender",
    .product(name: "AsyncHTTPClient", package: "async-http-client"),
]

let package = Package(
    name: "kitbag",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kitbag", targets: ["kitbag"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        // Already resolved through async-http-client; named so KitbagHTTP can build TLS client-certificate settings.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/GraphQLSwift/GraphQL", from: "4.0.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System libraries (Debian: libarchive-dev, libxml2-dev).
        .systemLibrary(
            name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]),
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]),
        // Only the browser tests link it: they decode Chromium's screenshots (Debian: libpng-dev).
        .systemLibrary(
            name: "CLibPNG", path: "Sources/CLibPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),

        // Libraries, one per concern.
        .target(
            name: "KitbagCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "KitbagArchive",
            dependencies: ["KitbagCore", "CArchive", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(
            name: "KitbagHTTP",
            dependencies: [
                "KitbagCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "KitbagJournal",
            dependencies: ["KitbagCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .target(
            name: "KitbagRender",
            dependencies: ["KitbagCore", "CLibXML2"],
            swiftSettings: strict),
        .target(
            name: "KitbagConnector",
            dependencies: [
                "KitbagCore", "KitbagHTTP", "KitbagArchive", "KitbagJournal", "KitbagRender",
                .product(name: "Logging", package: "swift-log"), .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict),

        .target(
            name: "KitbagBackup",
            dependencies: [
                "KitbagCore", "KitbagArchive", "KitbagConnector",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict),

        // Connectors, one folder each; none imports another or the sandbox.
        .target(name: "Kinopio", dependencies: connectorDependencies, swiftSettings: strict),
        .target(
            name: "Kintone", dependencies: connectorDependencies + [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .target(name: "Kitemaker", dependencies: connectorDependencies, swiftSettings: strict),
        .target(name: "Kona", dependencies: connectorDependencies, swiftSettings: strict),

        // The sandbox: a small core (store, middleware, options, server) and one target per emulator that only adds
        // routes, state and seeds; no emulator sees another. `KitbagSandbox` holds the catalog and re-exports them.
        .target(
            name: "KitbagSandboxCore",
            dependencies: [
                "KitbagCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/KitbagSandbox/Core", swiftSettings: strict),
        .target(
            name: "KitbagSandboxKinopio", dependencies: sandboxEmulatorDependencies, path: "Sources/KitbagSandbox/Kinopio",
            swiftSettings: strict),
        .target(
            name: "KitbagSandboxKintone",
            dependencies: sandboxEmulatorDependencies + [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            path: "Sources/KitbagSandbox/Kintone", swiftSettings: strict),
        .target(
            name: "KitbagSandboxKitemaker",
            dependencies: sandboxEmulatorDependencies + [.product(name: "GraphQL", package: "GraphQL")],
            path: "Sources/KitbagSandbox/Kitemaker", swiftSettings: strict),
        .target(
            name: "KitbagSandboxKona", dependencies: sandboxEmulatorDependencies, path: "Sources/KitbagSandbox/Kona",
            swiftSettings: strict),
        .target(
            name: "KitbagSandbox",
            dependencies: [
                "KitbagCore", "KitbagSandboxCore", "KitbagSandboxKinopio", "KitbagSandboxKintone", "KitbagSandboxKitemaker",
                "KitbagSandboxKona", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/KitbagSandbox/Catalog", swiftSettings: strict),

        // The thin CLI.
        .executableTarget(
            name: "kitbag",
            dependencies: [
                "KitbagCore", "KitbagArchive", "KitbagHTTP", "KitbagJournal", "KitbagRender", "KitbagConnector",
                "KitbagBackup", "Kinopio", "Kintone", "Kitemaker", "Kona", "KitbagSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The oracles of the libFuzzer targets, shared with the corpus replay tests (Fuzz/README.md).
        .target(
            name: "KitbagFuzz", dependencies: ["KitbagArchive", "KitbagCore", "KitbagRender"], swiftSettings: strict),

        // What every test target shares: scratch folders that are scanned for credentials before removal
        // (Tests/Support/credentials.txt lists them), and the proof-size knob the slow suites read (KITBAG_PROOF).
        .target(
            name: "KitbagTestSupport", dependencies: ["KitbagArchive", "CSpawn"], path: "Tests/Support",
            exclude: ["credentials.txt", "scan-output.sh"], swiftSettings: strict),

        // glibc's posix_spawn extensions for the tests' child processes (Tests/Support/ChildProcess.swift).
        .target(name: "CSpawn", path: "Tests/CSpawn"),

        // Tests: one target per library, plus the connector conformance suite.
        .testTarget(name: "KitbagCoreTests", dependencies: ["KitbagTestSupport", "KitbagCore"], swiftSettings: strict),
        .testTarget(
            name: "KitbagArchiveTests",
            dependencies: ["KitbagTestSupport", "KitbagArchive", "KitbagCore", "CArchive"], swiftSettings: strict),
        .testTarget(
            name: "KitbagHTTPTests",
            dependencies: [
                "KitbagTestSupport", "KitbagHTTP", "KitbagCore",
                // The services' pacing presets live in their connectors' folders; the pacing tests check those.
                "Kinopio", "Kintone", "Kitemaker", "Kona",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "KitbagSandboxTests",
            dependencies: [
                "KitbagTestSupport", "KitbagSandbox", "KitbagSandboxCore", "KitbagCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "KitbagRenderTests", dependencies: ["KitbagTestSupport", "KitbagRender", "KitbagCore", "CLibXML2"],
            resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "KitbagFuzzTests", dependencies: ["KitbagTestSupport", "KitbagFuzz", "KitbagArchive", "KitbagCore"],
            swiftSettings: strict),
        .testTarget(
            name: "KitbagJournalTests",
            dependencies: ["KitbagTestSupport", "KitbagJournal", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .testTarget(
            name: "KitbagConnectorTests",
            dependencies: ["KitbagTestSupport", "KitbagConnector", "KitbagArchive", "KitbagCore"], swiftSettings: strict),
        .testTarget(
            name: "KitbagBackupTests",
            dependencies: [
                "KitbagTestSupport", "KitbagBackup", "KitbagArchive", "KitbagConnector", "KitbagCore", "Kinopio",
                "KitbagSandbox", "KitbagHTTP", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "KinopioTests", dependencies: connectorTestDependencies + ["Kinopio"], exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "KintoneTests",
            dependencies: connectorTestDependencies + [
                "Kintone", .product(name: "NIOCore", package: "swift-nio"), .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .testTarget(name: "KitemakerTests", dependencies: connectorTestDependencies + ["Kitemaker"], swiftSettings: strict),
        .testTarget(name: "KonaTests", dependencies: connectorTestDependencies + ["Kona"], swiftSettings: strict),
        // The shared connector conformance suite: every connector against its own sandbox.
        .testTarget(
            name: "ConformanceTests",
            dependencies: connectorTestDependencies + ["Kinopio", "Kintone", "Kitemaker", "Kona"],
            swiftSettings: strict),
        .testTarget(
            name: "KitbagCLITests",
            dependencies: [
                "KitbagTestSupport", "kitbag", "KitbagArchive", "KitbagBackup", "KitbagCore", "KitbagSandbox", "KitbagRender",
                "CLibXML2", "CLibPNG", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Golden", "Screenshots"],
            swiftSettings: strict),
    ]
)

// libFuzzer executables, only when KITBAG_FUZZ is set (Fuzz/run.sh builds them with -sanitize=fuzzer in .build-fuzz),
// so the normal build and `swift test` never link them.
if ProcessInfo.processInfo.environment["KITBAG_FUZZ"] != nil {
    package.targets.append(.target(name: "CFuzzerDriver", path: "Sources/CFuzzerDriver"))
    for name in ["FuzzArchiveReader", "FuzzJSONLines", "FuzzFeedReader"] {
        package.targets.append(
            .executableTarget(name: name, dependencies: ["KitbagFuzz", "CFuzzerDriver"], swiftSettings: strict))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
