// swift-tools-version: 6.1
// The example service's grab endpoint generated from its openapi.yaml (swift-openapi-generator, served by
// swift-openapi-hummingbird), to measure what the generated path costs beside the hand-written one (issue 21):
// `Benchmarks/openapi-side-by-side.sh`. A package of its own: the generator's build stays out of every other build.
import PackageDescription

let package = Package(
    name: "OpenAPIGrab",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Hongbao", path: "../.."),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "OpenAPIGrab",
            dependencies: [
                .product(name: "HongbaoCore", package: "Hongbao"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
    ]
)
