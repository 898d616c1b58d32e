// swift-tools-version: 6.1
// The manifest is the architecture: adapters depend on the core, never the other way round.
import PackageDescription

let package = Package(
    name: "Hongbao",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HongbaoCore", targets: ["HongbaoCore"]),
        .library(name: "HongbaoRedis", targets: ["HongbaoRedis"]),
        .library(name: "HongbaoSQLite", targets: ["HongbaoSQLite"]),
        .library(name: "HongbaoSimulator", targets: ["HongbaoSimulator"]),
        .library(name: "HongbaoFigures", targets: ["HongbaoFigures"]),
        .library(name: "HongbaoBench", targets: ["HongbaoBench"]),
        .library(name: "HongbaoCommandLine", targets: ["HongbaoCommandLine"]),
        .executable(name: "bench", targets: ["bench"]),
        .executable(name: "hongbao", targets: ["hongbao"]),
        .executable(name: "hongbao-classroom", targets: ["hongbao-classroom"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3" ..< "5.0.0"),
    ],
    targets: [
        // Money, packets, splitting and the in-process engines: stdlib + Synchronization (Foundation only for the test
        // harness's threads, `runThreads`), and the arena's one C shim (membarrier and a compiler barrier for
        // epoch-based reclamation), imported only in Sources/HongbaoCore/Arena/.
        .target(name: "CHongbaoArena"),
        .target(name: "HongbaoCore", dependencies: ["CHongbaoArena"]),

        // Redis and Redis Cluster through hiredis: C calls only in Sources/HongbaoRedis/Hiredis/. Groups' sets are
        // named by a SHA-256 digest of their members (swift-crypto).
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM prohibits and warns about on every
        // build; the header is in the system include path and the module map links the library.
        .systemLibrary(name: "CHongbaoHiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "HongbaoRedis", dependencies: ["HongbaoCore", "CHongbaoHiredis", .product(name: "Crypto", package: "swift-crypto")]),

        // SQLite: C calls only in Sources/HongbaoSQLite/SQLite3/.
        .systemLibrary(name: "CHongbaoSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "HongbaoSQLite", dependencies: ["HongbaoCore", "CHongbaoSQLite"]),

        // The load simulator: population, workload, driver, latencies. Sees engines only through GrabEngine.
        .target(name: "HongbaoSimulator", dependencies: [
            "HongbaoCore",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),

        // A run's figures as people read them: latency percentiles off a histogram, durations, counts, fen, tables.
        .target(name: "HongbaoFigures", dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]),

        // A bench session: workload, driver, audit, results store and the table — what `bench` and the example
        // service's HTTP load generator share, with their command-line options.
        .target(name: "HongbaoBench", dependencies: [
            "HongbaoCore", "HongbaoSimulator", "HongbaoSQLite", "HongbaoFigures",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Analysis of stored runs, read only: text tables and a self-contained HTML page with SVG charts.
        .target(name: "HongbaoReport", dependencies: ["HongbaoSQLite", "HongbaoFigures"]),

        // The merge of the runs of several load generators into a new file: histograms add, verdicts add, rows are
        // checked again across shards.
        .target(name: "HongbaoMerge", dependencies: [
            "HongbaoCore", "HongbaoSQLite", "HongbaoFigures",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),

        // The concurrency lessons and the interleaving explorer.
        // Lesson 6 reaches Redis through `SharedStore`, which the command line makes: the lessons link no client.
        .target(name: "HongbaoClassroom", dependencies: ["HongbaoCore"]),

        // What every executable shares: bad input as one line and a non-zero exit.
        .target(name: "HongbaoCommandLine", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Executables: parse, validate, wire and print.
        .executableTarget(name: "bench", dependencies: [
            "HongbaoCore", "HongbaoSimulator", "HongbaoSQLite", "HongbaoRedis", "HongbaoBench", "HongbaoCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "hongbao-classroom", dependencies: [
            "HongbaoClassroom", "HongbaoCommandLine", "HongbaoRedis",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "hongbao", dependencies: [
            "HongbaoCore", "HongbaoReport", "HongbaoMerge", "HongbaoFigures", "HongbaoSQLite", "HongbaoCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Invariant checks and contention harnesses shared by every test target.
        .target(name: "HongbaoTestSupport", dependencies: ["HongbaoCore"]),
        .testTarget(name: "HongbaoCoreTests", dependencies: ["HongbaoCore", "HongbaoTestSupport"]),
        .testTarget(name: "HongbaoRedisTests", dependencies: ["HongbaoRedis", "HongbaoSimulator", "HongbaoTestSupport"]),
        .testTarget(name: "HongbaoSQLiteTests", dependencies: ["HongbaoSQLite", "HongbaoTestSupport"]),
        .testTarget(name: "HongbaoSimulatorTests", dependencies: ["HongbaoSimulator", "HongbaoTestSupport"]),
        .testTarget(name: "HongbaoClassroomTests", dependencies: ["HongbaoClassroom", "HongbaoRedis", "HongbaoTestSupport"]),
        .testTarget(name: "benchTests", dependencies: ["HongbaoSQLite", "HongbaoReport", "HongbaoTestSupport"]),
    ]
)
