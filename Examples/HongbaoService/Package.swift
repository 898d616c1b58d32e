// swift-tools-version: 6.1
// An example red-packet HTTP service on Hummingbird 2, and `bench-http`, the bench's load generator over its API.
// A package of its own, so that the root package's build stays lean.
import PackageDescription

let package = Package(
    name: "HongbaoService",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hongbao-service", targets: ["hongbao-service"]),
        .executable(name: "bench-http", targets: ["bench-http"]),
    ],
    dependencies: [
        .package(name: "Hongbao", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3" ..< "5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The API's JSON bodies and its bearer tokens' claims, shared by the service and its clients.
        .target(name: "RedPacketAPI", dependencies: [
            .product(name: "HongbaoCore", package: "Hongbao"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The routes: the engine behind an HTTP API, with metrics, bearer tokens and logs.
        .target(name: "RedPacketService", dependencies: [
            "RedPacketAPI",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "HongbaoCore", package: "Hongbao"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "hongbao-service", dependencies: [
            "RedPacketService",
            .product(name: "HongbaoCommandLine", package: "Hongbao"),
            .product(name: "HongbaoRedis", package: "Hongbao"),
            .product(name: "HongbaoSQLite", package: "Hongbao"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Any service that speaks the API, seen as an engine.
        .target(name: "HTTPGrabEngine", dependencies: [
            "RedPacketAPI",
            .product(name: "HongbaoCore", package: "Hongbao"),
            .product(name: "HongbaoSimulator", package: "Hongbao"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "bench-http", dependencies: [
            "HTTPGrabEngine",
            "RedPacketAPI",
            .product(name: "HongbaoBench", package: "Hongbao"),
            .product(name: "HongbaoCommandLine", package: "Hongbao"),
            .product(name: "HongbaoSimulator", package: "Hongbao"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "RedPacketServiceTests", dependencies: [
            "RedPacketService", "HTTPGrabEngine", "RedPacketAPI",
            .product(name: "HongbaoSimulator", package: "Hongbao"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "HongbaoCore", package: "Hongbao"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
