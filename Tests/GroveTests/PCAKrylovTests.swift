import Foundation
import Grove
import XCTest

/// The Krylov eigensolver (`BlockLanczos`, `pca-fit --solver krylov`) against the full one:
/// explained-variance ratios within 1e-9 and components with |cos| >= 0.999999 (issue 11),
/// independent of the thread count; on synthetic matrices and on Fashion-MNIST (784 wide).
/// The 64x64 shape (Gram path) is checked against scikit-learn in EndToEndTests.
final class PCAKrylovTests: XCTestCase {
    static func compare(_ krylov: PCAModel, _ full: PCAModel, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(krylov.componentCount, full.componentCount, "\(what): component count", file: file, line: line)
        XCTAssertEqual(krylov.totalVariance, full.totalVariance, accuracy: 1e-12 * full.totalVariance, "\(what): total", file: file, line: line)
        let d = full.columns
        for c in 0..<min(krylov.componentCount, full.componentCount) {
            XCTAssertEqual(krylov.explainedVarianceRatio[c], full.explainedVarianceRatio[c], accuracy: 1e-9,
                           "\(what): ratio \(c)", file: file, line: line)
            var dot = 0.0
            for j in 0..<d { dot += krylov.components[c * d + j] * full.components[c * d + j] }
            XCTAssertGreaterThanOrEqual(abs(dot), 0.999999, "\(what): component \(c) |cos|", file: file, line: line)
            XCTAssertGreaterThan(dot, 0, "\(what): component \(c) sign convention", file: file, line: line)
        }
    }

    /// A symmetric matrix with known spectrum: Q diag(values) Q^T, Q from Householder reflections.
    static func knownSpectrum(_ values: [Double], seed: UInt64) -> [Double] {
        let n = values.count
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { a[i * n + i] = values[i] }
        var s = seed | 1
        for _ in 0..<3 {
            var v = (0..<n).map { _ -> Double in
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                return Double(s >> 11) * 0x1p-53 - 0.5
            }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            v = v.map { $0 / norm }
            // A <- H A H with H = I - 2 v v^T.
            var av = [Double](repeating: 0, count: n)
            for i in 0..<n { for j in 0..<n { av[i] += a[i * n + j] * v[j] } }
            let vav = zip(v, av).map { $0 * $1 }.reduce(0, +)
            for i in 0..<n {
                for j in 0..<n {
                    a[i * n + j] += -2 * v[i] * av[j] - 2 * av[i] * v[j] + 4 * vav * v[i] * v[j]
                }
            }
        }
        return a
    }

    func testLanczosFindsAKnownSpectrumWithEqualEigenvalues() {
        // Repeated and clustered eigenvalues at the top: the block resolves them.
        var values = (0..<400).map { 1.0 / Double($0 + 1) }
        values[1] = values[0]
        values[2] = values[0]
        values[5] = values[4] * (1 - 1e-7)
        let a = PCAKrylovTests.knownSpectrum(values, seed: 7)
        let sorted = values.sorted(by: >)
        for threads in [1, 2] {
            let (got, vectors) = a.withUnsafeBufferPointer {
                BlockLanczos.largest($0.baseAddress!, order: 400, count: 12, threads: threads)
            }
            for i in 0..<12 { XCTAssertEqual(got[i], sorted[i], accuracy: 1e-13, "eigenvalue \(i)") }
            // Orthonormal eigenvectors with small residuals.
            for i in 0..<12 {
                var r = 0.0
                for row in 0..<400 {
                    var s = 0.0
                    for j in 0..<400 { s += a[row * 400 + j] * vectors[i * 400 + j] }
                    r = max(r, abs(s - got[i] * vectors[i * 400 + row]))
                }
                XCTAssertLessThan(r, 1e-9, "residual \(i)")
                for j in 0...i {
                    var dot = 0.0
                    for c in 0..<400 { dot += vectors[i * 400 + c] * vectors[j * 400 + c] }
                    XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-12, "orthonormality \(i), \(j)")
                }
            }
        }
        let one = a.withUnsafeBufferPointer { BlockLanczos.largest($0.baseAddress!, order: 400, count: 12, threads: 1) }
        let two = a.withUnsafeBufferPointer { BlockLanczos.largest($0.baseAddress!, order: 400, count: 12, threads: 2) }
        XCTAssertEqual(one.values, two.values, "thread count changed the eigenvalues")
        XCTAssertEqual(one.vectors, two.vectors, "thread count changed the eigenvectors")
    }

    func testAutoPicksKrylovOnlyWhereItPays() {
        XCTAssertFalse(EigenSolver.auto.usesKrylov(order: 100, selection: .count(10)))
        XCTAssertTrue(EigenSolver.auto.usesKrylov(order: 784, selection: .count(10)))
        XCTAssertFalse(EigenSolver.auto.usesKrylov(order: 784, selection: .count(200)))
        XCTAssertTrue(EigenSolver.krylov.usesKrylov(order: 20, selection: .count(10)))
        XCTAssertFalse(EigenSolver.full.usesKrylov(order: 4096, selection: .count(10)))
    }

    func testFashionMNISTKrylovMatchesFull() throws {
        let images = try PCAReferenceTests.loadImages()
        let n = images.rows, d = images.columns
        let accumulator = CoMomentAccumulator(columns: d, elementType: .uint8, threads: 2, name: "fashion-mnist")
        try accumulator.add(images.block)
        XCTAssertEqual(accumulator.rows, n)
        let statistics = try accumulator.finish()
        let full = try PCAModel.fit(statistics, selection: .count(10), whiten: false, threads: 2, solver: .full)
        let krylov2 = try PCAModel.fit(statistics, selection: .count(10), whiten: false, threads: 2, solver: .krylov)
        let krylov1 = try PCAModel.fit(statistics, selection: .count(10), whiten: false, threads: 1, solver: .krylov)
        let auto = try PCAModel.fit(statistics, selection: .count(10), whiten: false, threads: 2, solver: .auto)
        PCAKrylovTests.compare(krylov2, full, "fashion -k 10")
        XCTAssertEqual(krylov1, krylov2, "thread count changed the Krylov model")
        XCTAssertEqual(auto, krylov2, "auto takes the Krylov solver at d = 784, K = 10")
        // --variance: the space grows until the ratio is reached; the same cut as the full solver.
        let fullV = try PCAModel.fit(statistics, selection: .varianceFraction(0.8), whiten: false, threads: 2, solver: .full)
        let krylovV = try PCAModel.fit(statistics, selection: .varianceFraction(0.8), whiten: false, threads: 2, solver: .krylov)
        XCTAssertGreaterThan(fullV.componentCount, 16, "a fraction past the first Krylov size")
        PCAKrylovTests.compare(krylovV, fullV, "fashion --variance 0.8")
    }
}
