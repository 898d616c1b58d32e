// swift-tools-version: 6.1
// Micro-benchmarks, a package of their own (as in swift-nio) so that users and CI do not build
// ordo-one/benchmark with every `swift build`. Run: `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "HongbaoBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Hongbao", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Plain executable (not the ordo-one harness, whose plugin runs only targets directly in Benchmarks/):
        // needs a running server; see redis-side-by-side.sh.
        .executableTarget(
            name: "RedisGrabs",
            dependencies: [
                .product(name: "HongbaoCore", package: "Hongbao"),
                .product(name: "HongbaoRedis", package: "Hongbao"),
            ],
            path: "Tools/RedisGrabs"
        ),
        // Plain executable: the long-running engine's memory over tens of millions of packets (see README.md).
        .executableTarget(
            name: "Soak",
            dependencies: [.product(name: "HongbaoCore", package: "Hongbao")],
            path: "Tools/Soak"
        ),
        .executableTarget(
            name: "Engines",
            dependencies: [
                .product(name: "HongbaoCore", package: "Hongbao"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Engines",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
