import Foundation
import Grove
import XCTest

/// `pca-fit` on the 64x64 shape (`mnist-decode --resize 64x64` of the shipped 2,000 images:
/// 2000 x 4096, fewer rows than columns, so `auto` fits through the n x n Gram matrix with the
/// Krylov solver) against scikit-learn's `PCA(10, svd_solver="full")` values in
/// Tests/GroveTests/Reference/mnist2k-64x64-pca10 (README there says how they were made).
final class PCAWideTests: XCTestCase {
    var dir: String!
    static let reference = Tool.repositoryRoot + "/Tests/GroveTests/Reference/mnist2k-64x64-pca10"

    override func setUpWithError() throws {
        dir = try Tool.temporaryDirectory(self)
    }

    func csv(_ text: String) -> [[Double]] {
        text.split(separator: "\n").map { $0.split(separator: ",").map { Double($0)! } }
    }

    func model(_ path: String) throws -> PCAModel {
        try PCAModel.read(path: path).model
    }

    func testSixtyFourSquareMatchesScikitLearn() throws {
        let images = Tool.repositoryRoot + "/datasets/mnist-images-2k"
        guard FileManager.default.fileExists(atPath: images) else { throw XCTSkip("\(images) is absent") }
        let rows = dir + "/w64.zmat"
        var r = try Tool.run("mnist-decode", ["--resize", "64x64", images, "-o", rows])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (name, args) in [("auto", ["-k", "10"]), ("t1", ["-k", "10", "--threads", "1"]),
                             ("krylov", ["-k", "10", "--solver", "krylov", "--threads", "2"]),
                             ("variance", ["--variance", "0.5"])] {
            r = try Tool.run("pca-fit", args + [rows, "-o", dir + "/\(name).zmat"])
            XCTAssertEqual(r.status, 0, "pca-fit \(args): \(r.stderr)")
        }
        let auto = try model(dir + "/auto.zmat")
        let refRatio = csv(try String(contentsOfFile: PCAWideTests.reference + "/explained_variance_ratio.csv", encoding: .utf8))[0]
        let refMean = csv(try String(contentsOfFile: PCAWideTests.reference + "/mean.csv", encoding: .utf8))[0]
        let unzip = try Tool.shell("gzip -dc '\(PCAWideTests.reference)/components.csv.gz'")
        XCTAssertEqual(unzip.status, 0, unzip.stderr)
        let refComponents = csv(unzip.stdoutText)
        XCTAssertEqual(auto.columns, 4096)
        XCTAssertEqual(auto.count, 2000)
        XCTAssertEqual(refComponents.count, 10)
        for j in 0..<4096 { XCTAssertEqual(auto.mean[j], refMean[j], accuracy: 1e-9 * max(1, abs(refMean[j])), "mean[\(j)]") }
        for c in 0..<10 {
            XCTAssertEqual(auto.explainedVarianceRatio[c], refRatio[c], accuracy: 1e-9, "ratio \(c)")
            let ref = refComponents[c]
            let refNorm = ref.map { $0 * $0 }.reduce(0, +).squareRoot()
            var dot = 0.0
            for j in 0..<4096 { dot += auto.components[c * 4096 + j] * ref[j] }
            XCTAssertGreaterThanOrEqual(dot / refNorm, 0.999999, "component \(c): cosine (negative: the sign convention)")
        }
        // Deterministic across thread counts; auto here is the Krylov solver on the Gram matrix.
        let bytes = { (name: String) in try Data(contentsOf: URL(fileURLWithPath: self.dir + "/\(name).zmat")) }
        XCTAssertEqual(try bytes("auto"), try bytes("t1"), "--threads 1 changed the model")
        XCTAssertEqual(try bytes("auto"), try bytes("krylov"), "auto is --solver krylov on this shape")
        // --variance 0.5: the fewest components whose cumulative ratio exceeds 0.5.
        var cumulative = 0.0
        let expected = refRatio.firstIndex { cumulative += $0; return cumulative > 0.5 }! + 1
        let variance = try model(dir + "/variance.zmat")
        XCTAssertEqual(variance.componentCount, expected)
        for c in 0..<expected {
            XCTAssertEqual(variance.explainedVarianceRatio[c], refRatio[c], accuracy: 1e-9, "--variance ratio \(c)")
        }
    }
}
