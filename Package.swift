// swift-tools-version: 6.1
// The manifest is the architecture: adapters depend on the core, never the other way round.
import PackageDescription

let package = Package(
    name: "Hongbao",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HongbaoCore", targets: ["HongbaoCore"]),
    ],
    dependencies: [],
    targets: [
        // Money, packets, splitting and the in-process engines: stdlib + Synchronization only.
        .target(name: "HongbaoCore"),
        // Invariant checks and contention harnesses shared by every test target.
        .target(name: "HongbaoTestSupport", dependencies: ["HongbaoCore"]),
        .testTarget(name: "HongbaoCoreTests", dependencies: ["HongbaoCore", "HongbaoTestSupport"]),
    ]
)
