import Foundation
import Grove
import XCTest

/// PCA of the Fashion-MNIST training images against scikit-learn's reference values
/// (/work/shared/reference/fashion-mnist-pca10, `PCA(10, svd_solver="full")` on the same
/// 60000 x 784 pixels). Skipped, saying why, when the dataset or the reference is absent.
final class PCAReferenceTests: XCTestCase {
    static let dataset = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    static let referenceFolders = [
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("../shared/reference/fashion-mnist-pca10").path,
        "/work/shared/reference/fashion-mnist-pca10",
    ]

    /// The training images as a uint8 matrix, decoded here (gzip -dc, 16-byte IDX header).
    static func loadImages() throws -> Matrix {
        guard FileManager.default.fileExists(atPath: dataset) else {
            throw XCTSkip("\(dataset) is absent: install Debian's dataset-fashion-mnist to run the scikit-learn comparison")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -dc \"$0\"", dataset]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "gzip -dc \(dataset)")
        let bytes = [UInt8](data)
        func be32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        guard bytes.count >= 16, be32(0) == 0x0803 else { throw GroveError(file: dataset, "not an IDX3 image file") }
        let n = be32(4), d = be32(8) * be32(12)
        XCTAssertEqual(bytes.count, 16 + n * d)
        let m = Matrix(header: ZmatHeader(elementType: .uint8, columns: d, hasLabels: false), rows: n)
        let v = m.values(as: UInt8.self)
        bytes.withUnsafeBufferPointer { src in
            v.baseAddress!.update(from: src.baseAddress! + 16, count: n * d)
        }
        return m
    }

    static func csv(_ name: String) throws -> [[Double]] {
        guard let folder = referenceFolders.first(where: { FileManager.default.fileExists(atPath: $0 + "/" + name) }) else {
            throw XCTSkip("reference \(name) is absent (looked in \(referenceFolders.joined(separator: ", ")))")
        }
        let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
        return text.split(separator: "\n").map { line in line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! } }
    }

    /// Feeds the accumulator in blocks as a stream would arrive, as `type` (the exact
    /// integer path for uint8, the float64 path otherwise), and fits 10 components.
    static func fit(_ images: Matrix, as type: ElementType) throws -> PCAModel {
        let n = images.rows, d = images.columns
        let accumulator = CoMomentAccumulator(columns: d, elementType: type, threads: 2, name: "fashion-mnist")
        var start = 0
        let all = images.values(as: UInt8.self)
        while start < n {
            let rows = min(1337, n - start)
            let block = RowBlock(rows: rows, columns: d, elementType: type, hasLabels: false)
            if type == .uint8 {
                block.values(as: UInt8.self).baseAddress!.update(from: all.baseAddress! + start * d, count: rows * d)
            } else {
                let f = block.values(as: Float.self)
                for i in 0..<rows * d { f[i] = Float(all[start * d + i]) }
            }
            try accumulator.add(block)
            start += rows
        }
        return try PCAModel.fit(accumulator.finish(), selection: .count(10), whiten: false, threads: 2)
    }

    func testFashionMNISTMatchesScikitLearn() throws {
        let images = try PCAReferenceTests.loadImages()
        try check(PCAReferenceTests.fit(images, as: .uint8), images)
    }

    func testFashionMNISTAsFloat32MatchesScikitLearn() throws {
        let images = try PCAReferenceTests.loadImages()
        try check(PCAReferenceTests.fit(images, as: .float32), images)
    }

    func check(_ model: PCAModel, _ images: Matrix) throws {
        let refRatio = try PCAReferenceTests.csv("explained_variance_ratio.csv")[0]
        let refComponents = try PCAReferenceTests.csv("components.csv")
        let refMean = try PCAReferenceTests.csv("mean.csv")[0]
        let n = images.rows, d = images.columns
        let all = images.values(as: UInt8.self)

        for j in 0..<d {
            XCTAssertEqual(model.mean[j], refMean[j], accuracy: 1e-9 * max(1, abs(refMean[j])), "mean[\(j)]")
        }
        for c in 0..<10 {
            XCTAssertEqual(model.explainedVarianceRatio[c], refRatio[c], accuracy: 1e-6, "ratio \(c)")
            let ours = model.components[c * d..<(c + 1) * d]
            let refNorm = refComponents[c].map { $0 * $0 }.reduce(0, +).squareRoot()
            let cosine = zip(ours, refComponents[c]).map { $0 * $1 }.reduce(0, +) / refNorm
            XCTAssertGreaterThanOrEqual(cosine, 0.99999, "component \(c): cosine \(cosine) (negative: opposite sign)")
        }

        // Projection of every 7th row against (x - mean) . components^T in float64.
        let projector = PCAProjector(model: model, threads: 2)
        var out = [Float](repeating: 0, count: n * 10)
        try out.withUnsafeMutableBufferPointer {
            try projector.project(images.block, into: $0.baseAddress!, firstRow: 0, name: "fashion-mnist")
        }
        var worst = 0.0
        for r in stride(from: 0, to: n, by: 7) {
            for c in 0..<10 {
                var s = 0.0
                for j in 0..<d { s += (Double(all[r * d + j]) - model.mean[j]) * model.components[c * d + j] }
                let error = abs(Double(out[r * 10 + c]) - s) / max(abs(s), 1e-6)
                worst = max(worst, error)
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "worst relative projection error")
    }
}
