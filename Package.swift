// swift-tools-version:6.0
import PackageDescription

/// Grove: PCA + random-forest training as Unix filters over zstd-compressed matrix streams.
///
/// `Grove` holds the whole domain (format, codecs, PCA, trees); `GroveCLI` holds what every
/// command line shares (I/O selection, error reporting, option groups); each executable is one
/// thin command file over them.
let tools = ["zmat", "mnist-decode", "pca-fit", "pca-project", "rf-tree", "rf-merge", "rf-predict", "rf-eval"]

let package = Package(
    name: "Grove",
    products: tools.map { .executable(name: $0, targets: [$0]) } + [
        .library(name: "Grove", targets: ["Grove"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "GroveCLI", dependencies: [
            "Grove", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "GroveTests", dependencies: ["Grove"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Grove"]),
    ] + tools.map {
        .executableTarget(name: $0, dependencies: [
            "Grove", "GroveCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ])
    },
    swiftLanguageModes: [.v5]
)
