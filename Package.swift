// swift-tools-version:6.0
import PackageDescription

/// Grove: PCA + random-forest training as Unix filters over zstd-compressed matrix streams.
///
/// `Grove` holds the whole domain (format, codecs, PCA, trees); `GroveCLI` holds what every
/// command line shares (I/O selection, error reporting, option groups); each executable is one
/// thin command file over them. `GroveONNX` (ONNX export, over SwiftProtobuf) is linked only by
/// the tools in `onnxTools`, so the others stay free of the protobuf runtime (and of the whole
/// Foundation, which SwiftProtobuf imports).
let tools = ["zmat", "mnist-decode", "pca-fit", "pca-project", "rf-tree", "rf-merge", "rf-predict", "rf-eval", "grove-report", "rf-export"]

let onnxTools: Set<String> = ["rf-export"]

let package = Package(
    name: "Grove",
    products: (tools + ["grove-stage"]).map { .executable(name: $0, targets: [$0]) } + [
        .library(name: "Grove", targets: ["Grove"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // SHA-256 and HMAC for S3's Signature V4 (grove-stage's by-reference requests).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Grove", dependencies: ["CZstd", "CPNG", "CZlib"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        // ONNX export: the ONNX messages are generated once from proto/onnx-ml.proto
        // (proto/generate.sh) and committed, so builds need neither protoc nor its plugin.
        .target(name: "GroveONNX", dependencies: [
            "Grove", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["proto"]),
        .target(name: "GroveCLI", dependencies: [
            "Grove", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // grove-stage: any tool as an HTTP/CloudEvents stage (SwiftNIO), over one C shim for
        // posix_spawn, which Swift's Glibc module cannot express completely.
        .target(name: "CGroveSpawn"),
        .target(name: "GroveStage", dependencies: [
            "CGroveSpawn",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "grove-stage", dependencies: [
            "GroveStage", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "GroveStageTests", dependencies: ["GroveStage"]),
        .testTarget(name: "GroveTests", dependencies: ["Grove"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Grove"]),
    ] + tools.map {
        .executableTarget(name: $0, dependencies: [
            "Grove", "GroveCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ] + (onnxTools.contains($0) ? ["GroveONNX"] : []))
    },
    swiftLanguageModes: [.v5]
)
