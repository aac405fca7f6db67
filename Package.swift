// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Wangge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wangge", targets: ["wangge"]),
        // Fuzz harness of the file parsers: replays a corpus; built with -sanitize=fuzzer by scripts/fuzz.sh.
        .executable(name: "wangge-fuzz", targets: ["WanggeFuzz"]),
        .library(name: "GeoKit", targets: ["GeoKit"]),
        .library(name: "GridCore", targets: ["GridCore"]),
        .library(name: "GridStore", targets: ["GridStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CGEOS", pkgConfig: "geos",
            providers: [.apt(["libgeos-dev"])]),
        .systemLibrary(
            name: "CPROJ", pkgConfig: "proj",
            providers: [.apt(["libproj-dev"])]),
        // GDAL's headers (libgdal-dev) without its library: GDALLoader opens
        // libgdal only in the processes that read or write vector files.
        .systemLibrary(name: "CGDAL"),
        .target(name: "GDALLoader"),
        .systemLibrary(
            name: "CSpatiaLite", pkgConfig: "sqlite3",
            providers: [.apt(["libspatialite-dev", "libsqlite3-mod-spatialite", "libsqlite3-dev"])]),
        // PostgreSQL's own client library, for the PostGIS store.
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        // Every text a user reads, in Chinese or English: the message catalogue and the reader's language.
        .target(name: "Localization"),
        .target(name: "GeoKit", dependencies: ["Localization", "CGEOS", "CPROJ"]),
        // Vector files through GDAL (Shapefile, KML/KMZ, GeoPackage, DXF, GeoJSON), read into GeoKit's types.
        .target(name: "GeoFiles", dependencies: ["Localization", "GeoKit", "CGDAL", "GDALLoader"]),
        .target(name: "GridCore", dependencies: ["Localization", "GeoKit"]),
        .target(
            name: "GridStore",
            dependencies: [
                "Localization", "GeoKit", "GeoFiles", "GridCore", "CSpatiaLite", "CLibPQ",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .target(name: "GridMap", dependencies: ["Localization"]),
        // The use cases every front end calls (locate, imports, incidents, planning, statistics, tokens), and the configuration.
        .target(
            name: "GridApplication",
            dependencies: [
                "Localization", "GeoKit", "GeoFiles", "GridCore", "GridStore", "GridMap",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CSV", package: "CSV.swift"),
            ]),
        .target(
            name: "GridServer",
            dependencies: [
                "Localization", "GeoKit", "GeoFiles", "GridCore", "GridStore", "GridApplication",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("openapi.json"), .copy("Web")]),
        .target(
            name: "SampleCounty",
            dependencies: ["Localization", "GeoKit", "GridCore", .product(name: "CSV", package: "CSV.swift")]),
        .executableTarget(
            name: "wangge",
            dependencies: [
                "Localization", "GeoKit", "GeoFiles", "GridCore", "GridStore", "GridApplication", "GridMap", "GridServer", "SampleCounty",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "WanggeFuzz", dependencies: ["Localization", "GeoKit", "GridStore", "GridApplication", "CLibFuzzer"]),
        .target(name: "TestSupport", dependencies: ["Localization", "GeoKit", "GridCore", "SampleCounty"], path: "Tests/Support"),
        .testTarget(name: "LocalizationTests", dependencies: ["Localization"]),
        .testTarget(name: "GeoKitTests", dependencies: ["GeoKit", "TestSupport"]),
        .testTarget(name: "GeoFilesTests", dependencies: ["GeoFiles", "GeoKit", "TestSupport"]),
        .testTarget(name: "GridCoreTests", dependencies: ["GridCore", "Localization", "GeoKit", "SampleCounty", "TestSupport"]),
        .testTarget(name: "GridMapTests", dependencies: ["GridMap"]),
        .testTarget(
            name: "GridServerTests",
            dependencies: [
                "GridServer", "Localization", "GridStore", "GridApplication", "GeoFiles", "SampleCounty", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "WanggeTests",
            dependencies: ["wangge", "Localization", "GridCore", "GridStore", "GridServer", "GridApplication", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The use cases' stores side by side: SpatiaLite and PostgreSQL + PostGIS give the same answers.
        .testTarget(
            name: "RepositoryTests",
            dependencies: ["GridApplication", "GridStore", "GridCore", "GeoKit", "Localization", "TestSupport", "SampleCounty"]),
        .testTarget(
            name: "GridStoreTests",
            dependencies: ["GridStore", "Localization", "GridCore", "GeoKit", "GeoFiles", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "CSV", package: "CSV.swift")]),
    ]
)
