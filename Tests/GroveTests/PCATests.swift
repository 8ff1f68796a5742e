import Foundation
import Grove
import XCTest

/// Known-answer tests for PCA: co-moment accumulation, merging, the eigensolver, the model and
/// projection. Expected values come from constructions whose answer is known in closed form
/// (orthogonal Hadamard patterns, a Laplacian's analytic spectrum, exact integer sums).
final class PCATests: XCTestCase {
    // MARK: helpers

    /// Sylvester Hadamard entry: +-1, rows mutually orthogonal, row 0 all ones.
    static func hadamard(_ i: Int, _ j: Int) -> Double { (i & j).nonzeroBitCount % 2 == 0 ? 1 : -1 }

    /// A matrix of `rows` x `columns` from row-major Doubles, as `type`.
    static func matrix(_ values: [Double], columns: Int, type: ElementType = .float64, labels: [Int32]? = nil,
                       metadata: ZmatMetadata = ZmatMetadata()) -> Matrix {
        let rows = values.count / max(columns, 1)
        let m = Matrix(header: ZmatHeader(elementType: type, columns: columns, hasLabels: labels != nil, metadata: metadata),
                       rows: rows)
        switch type {
        case .uint8: let v = m.values(as: UInt8.self); for i in values.indices { v[i] = UInt8(values[i]) }
        case .int32: let v = m.values(as: Int32.self); for i in values.indices { v[i] = Int32(values[i]) }
        case .float32: let v = m.values(as: Float.self); for i in values.indices { v[i] = Float(values[i]) }
        case .float64: let v = m.values(as: Double.self); for i in values.indices { v[i] = values[i] }
        }
        if let labels, let l = m.labels { for i in labels.indices { l[i] = labels[i] } }
        return m
    }

    static func statistics(_ m: Matrix, threads: Int = 2,
                           shape: CoMomentKernels.Shape = CoMomentKernels.preferredShape) throws -> CoMoments {
        let acc = CoMomentAccumulator(columns: m.columns, elementType: m.elementType, threads: threads, name: "test",
                                      shape: shape)
        try acc.add(m.block)
        return try acc.finish()
    }

    /// Deterministic pseudo-random numbers (xorshift).
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    static func randomValues(_ count: Int, seed: UInt64, _ f: (inout Rng) -> Double) -> [Double] {
        var rng = Rng(s: seed)
        return (0..<count).map { _ in f(&rng) }
    }

    /// Rows = offset + sum_m scale_m * h_m(row) e_m: columns are orthogonal zero-mean +-1
    /// patterns (Hadamard columns 1...), so the covariance is diagonal, scale^2 * n/(n-1).
    static func hadamardData(rows n: Int, scales: [Double], offset: Double) -> [Double] {
        var v = [Double]()
        for r in 0..<n { for (j, s) in scales.enumerated() { v.append(offset + s * hadamard(r, j + 1)) } }
        return v
    }

    func assertClose(_ a: Double, _ b: Double, _ tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(a - b), tol, "\(what): \(a) vs \(b)", file: file, line: line)
    }

    // MARK: co-moments

    func testIntegerCoMomentsAreExactWithEitherTileShape() throws {
        // 37 columns (not a multiple of the tiles), 700 rows (several 256-row chunks).
        let n = 700, d = 37
        let values = PCATests.randomValues(n * d, seed: 7) { Double($0.next() % 256) }
        let matrix = PCATests.matrix(values, columns: d, type: .uint8)
        let stats = try PCATests.statistics(matrix, threads: 3, shape: .wide)
        XCTAssertEqual(try PCATests.statistics(matrix, threads: 2, shape: .narrow), stats)
        XCTAssertEqual(stats.accumulation, .integer)
        XCTAssertEqual(stats.count, n)
        for i in 0..<d {
            var s = 0
            for r in 0..<n { s += Int(values[r * d + i]) }
            XCTAssertEqual(stats.first[i], Double(s))
            for j in 0..<d {
                var p = 0
                for r in 0..<n { p += Int(values[r * d + i]) * Int(values[r * d + j]) }
                XCTAssertEqual(stats.second[i * d + j], Double(p), "X^T X [\(i)][\(j)]")
            }
        }
    }

    func testFloatCoMomentsMatchTwoPassAndIgnoreThreadCount() throws {
        let n = 1300, d = 21
        let values = PCATests.randomValues(n * d, seed: 11) { 1000 + $0.uniform() * 3 }
        let m = PCATests.matrix(values, columns: d)
        let one = try PCATests.statistics(m, threads: 1, shape: .wide)
        let three = try PCATests.statistics(m, threads: 3, shape: .narrow)
        XCTAssertEqual(one, three, "float statistics must not depend on the thread count or the tile shape")
        // Two-pass textbook covariance in Double as the peer.
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += values[r * d + j] } }
        mean = mean.map { $0 / Double(n) }
        let cov = one.covariance()
        for i in 0..<d {
            assertClose(one.mean[i], mean[i], 1e-12 * 1000, "mean \(i)")
            for j in 0..<d {
                var s = 0.0
                for r in 0..<n { s += (values[r * d + i] - mean[i]) * (values[r * d + j] - mean[j]) }
                assertClose(cov[i * d + j], s / Double(n - 1), 1e-12, "cov[\(i)][\(j)]")
            }
        }
    }

    func testNonFiniteValuesAreRefusedWithTheirRow() throws {
        var values = PCATests.randomValues(40 * 3, seed: 3) { $0.uniform() }
        values[17 * 3 + 2] = .nan
        let acc = CoMomentAccumulator(columns: 3, elementType: .float32, threads: 2, name: "x.zmat")
        XCTAssertThrowsError(try acc.add(PCATests.matrix(values, columns: 3, type: .float32).block)) { e in
            XCTAssertEqual((e as? GroveError)?.message, "x.zmat: row 18, column 3: nan, expected a finite number")
        }
        values[17 * 3 + 2] = 0
        values[39 * 3] = -.infinity
        let acc2 = CoMomentAccumulator(columns: 3, elementType: .float64, threads: 1, name: "y.zmat")
        XCTAssertThrowsError(try acc2.add(PCATests.matrix(values, columns: 3).block)) { e in
            XCTAssertTrue("\(e)".contains("row 40, column 1: -inf"), "\(e)")
        }
    }

    // MARK: merging

    /// Splits rows into `parts` uneven pieces, accumulates each, merges in order.
    func mergedStatistics(_ values: [Double], columns d: Int, type: ElementType, cuts: [Int]) throws -> CoMoments {
        var merged: CoMoments?
        var start = 0
        for end in cuts + [values.count / d] {
            let part = try PCATests.statistics(PCATests.matrix(Array(values[start * d..<end * d]), columns: d, type: type))
            if merged == nil { merged = part } else { try merged!.merge(part) }
            start = end
        }
        return merged!
    }

    func testMergingIntegerPartialsEqualsOnePassExactly() throws {
        let n = 1000, d = 19
        let values = PCATests.randomValues(n * d, seed: 5) { Double($0.next() % 256) }
        let whole = try PCATests.statistics(PCATests.matrix(values, columns: d, type: .uint8))
        for cuts in [[], [613], [1, 50, 51, 300, 777, 999]] {  // 1, 2 and 7 uneven partials
            let merged = try mergedStatistics(values, columns: d, type: .uint8, cuts: cuts)
            XCTAssertEqual(merged, whole, "\(cuts.count + 1) partials")
        }
    }

    func testMergingFloatPartialsMatchesOnePassTo1e9() throws {
        let n = 1000, d = 19
        let values = PCATests.randomValues(n * d, seed: 9) { 50 + 10 * $0.uniform() * $0.uniform() }
        let whole = try PCATests.statistics(PCATests.matrix(values, columns: d)).covariance()
        let scale = whole.map(abs).max()!
        for cuts in [[], [613], [1, 50, 51, 300, 777, 999]] {
            let merged = try mergedStatistics(values, columns: d, type: .float64, cuts: cuts).covariance()
            let worst = zip(merged, whole).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-9, "\(cuts.count + 1) partials")
        }
        // Integer and float partials of the same rows merge too.
        let ints = PCATests.randomValues(n * d, seed: 13) { Double($0.next() % 256) }
        var mixed = try PCATests.statistics(PCATests.matrix(Array(ints[0..<400 * d]), columns: d, type: .uint8))
        let rest: [Double] = Array(ints[(400 * d)...])
        try mixed.merge(PCATests.statistics(PCATests.matrix(rest, columns: d, type: .float32)))
        let exact = try PCATests.statistics(PCATests.matrix(ints, columns: d, type: .uint8)).covariance()
        let worst = zip(mixed.covariance(), exact).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst / exact.map(abs).max()!, 1e-12)
    }

    func testPartialStreamRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-pca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for type in [ElementType.uint8, .float64] {
            let values = PCATests.randomValues(300 * 5, seed: 21) { Double($0.next() % 200) }
            let stats = try PCATests.statistics(PCATests.matrix(values, columns: 5, type: type))
            let path = dir.appendingPathComponent("part-\(type).zmat").path
            let out = try OutputFile(path: path)
            try stats.writePartial(to: out, metadata: ZmatMetadata([("producer", "test")]))
            try out.commit()
            let matrix = try Matrix.load(path: path)
            XCTAssertEqual(matrix.header.metadata["kind"], ContentKind.pcaPartial)
            XCTAssertEqual(try CoMoments(partial: matrix, name: path), stats)
        }
        let notPartial = PCATests.matrix([1, 2, 3, 4], columns: 2)
        XCTAssertThrowsError(try CoMoments(partial: notPartial, name: "p.zmat")) { e in
            XCTAssertTrue("\(e)".hasPrefix("p.zmat: kind is '(none)', expected a pca-partial"), "\(e)")
        }
    }

    // MARK: eigensolver

    func testEigenOfTheLaplacianMatchesItsAnalyticSpectrum() {
        // T = tridiag(-1, 2, -1): eigenvalues 2 - 2 cos(k pi / (n+1)), vectors sin(j k pi / (n+1)).
        let n = 60
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            a[i * n + i] = 2
            if i + 1 < n { a[i * n + i + 1] = -1; a[(i + 1) * n + i] = -1 }
        }
        let eigen = SymmetricEigen(symmetric: a, order: n)
        let values = (0..<5).map { eigen.eigenvalue(rank: $0) }
        let vectors = eigen.eigenvectors(for: values)
        for r in 0..<5 {
            let k = Double(n - r)
            assertClose(values[r], 2 - 2 * cos(k * .pi / Double(n + 1)), 1e-13, "eigenvalue \(r)")
            var expected = (0..<n).map { sin(Double($0 + 1) * k * .pi / Double(n + 1)) }
            let norm = expected.map { $0 * $0 }.reduce(0, +).squareRoot()
            expected = expected.map { $0 / norm }
            let cosine = zip(vectors[r * n..<(r + 1) * n], expected).map { $0 * $1 }.reduce(0, +)
            assertClose(abs(cosine), 1, 1e-10, "eigenvector \(r)")
        }
    }

    func testEigenOfADenseMatrixWithKnownVectors() {
        // A = H D H with H = I - 2uu^T (a reflection): eigenvalues D, eigenvectors H's columns.
        let n = 40
        var u: [Double] = (0..<n).map { Double($0 % 7) - 2.5 }
        let nu: Double = u.map { $0 * $0 }.reduce(0, +).squareRoot()
        u = u.map { $0 / nu }
        let dvals: [Double] = (0..<n).map { (i: Int) -> Double in Double(n - i) * 1.5 + (i % 3 == 0 ? 0.25 : 0) }
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                let identity: Double = i == j ? 1 : 0
                h[i * n + j] = identity - 2 * u[i] * u[j]
            }
        }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += h[i * n + k] * dvals[k] * h[k * n + j] }
                a[i * n + j] = s
            }
        }
        let eigen = SymmetricEigen(symmetric: a, order: n)
        let order = dvals.indices.sorted { dvals[$0] > dvals[$1] }
        let values = (0..<8).map { eigen.eigenvalue(rank: $0) }
        let vectors = eigen.eigenvectors(for: values)
        for r in 0..<8 {
            assertClose(values[r], dvals[order[r]], 1e-12, "eigenvalue \(r)")
            var cosine = 0.0
            for i in 0..<n { cosine += vectors[r * n + i] * h[i * n + order[r]] }
            assertClose(abs(cosine), 1, 1e-10, "eigenvector \(r)")
        }
    }

    func testEigenIsThreadIndependentAndAccurateOnALargeMatrix() {
        // 300 x 300 (big enough for the partitioned passes): X^T X of random rows.
        let n = 300, m = 400
        let x = PCATests.randomValues(m * n, seed: 23) { $0.uniform() - 0.5 }
        var a = [Double](repeating: 0, count: n * n)
        for r in 0..<m { for i in 0..<n { for j in 0..<n { a[i * n + j] += x[r * n + i] * x[r * n + j] } } }
        var results = [([Double], [Double])]()
        for threads in [1, 2, 3] {
            let eigen = SymmetricEigen(symmetric: a, order: n, threads: threads)
            let values = (0..<6).map { eigen.eigenvalue(rank: $0) }
            // The SIMD batch bisection gives exactly the scalar one's values, batched anyhow.
            XCTAssertEqual(eigen.eigenvalues(ranks: 0..<6, threads: threads), values)
            let all = eigen.eigenvalues(ranks: 0..<n, threads: threads)
            XCTAssertEqual(Array(all[3..<20]), eigen.eigenvalues(ranks: 3..<20))
            XCTAssertEqual(all[n - 1], eigen.eigenvalue(rank: n - 1))
            XCTAssertEqual(all, all.sorted(by: >))
            results.append((values, eigen.eigenvectors(for: values)))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
        XCTAssertEqual(results[0].1, results[2].1)
        // Residuals ||A v - lambda v|| relative to the largest eigenvalue.
        let (values, vectors) = results[0]
        for k in 0..<6 {
            var worst = 0.0
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s += a[i * n + j] * vectors[k * n + j] }
                worst = max(worst, abs(s - values[k] * vectors[k * n + i]))
            }
            XCTAssertLessThan(worst / values[0], 1e-12, "residual of eigenpair \(k)")
        }
    }

    func testFullSpectrumWithTightClustersIsOrthonormal() {
        // A = H2 H1 D H1 H2 (two reflections: a dense orthogonal basis), D holding tight
        // clusters (gaps of 1e-10), an exactly repeated eigenvalue and a spread of others.
        let n = 160
        var dvals = [Double]()
        for i in 0..<n {
            switch i % 4 {
            case 0: dvals.append(1 + Double(i) * 1e-10)  // a tight cluster near 1
            case 1: dvals.append(2)                      // an exactly repeated eigenvalue
            default: dvals.append(3 + Double(i))
            }
        }
        func reflector(_ seed: UInt64) -> [Double] {
            var u = PCATests.randomValues(n, seed: seed) { $0.uniform() - 0.5 }
            let norm = u.map { $0 * $0 }.reduce(0, +).squareRoot()
            u = u.map { $0 / norm }
            return u
        }
        let u1 = reflector(31), u2 = reflector(37)
        // Q = H2 H1 (columns are the eigenvectors), built explicitly.
        var q = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                let h1: Double = (i == j ? 1 : 0) - 2 * u1[i] * u1[j]
                q[i * n + j] = h1
            }
        }
        for j in 0..<n {
            var s = 0.0
            for i in 0..<n { s += u2[i] * q[i * n + j] }
            for i in 0..<n { q[i * n + j] -= 2 * u2[i] * s }
        }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += q[i * n + k] * dvals[k] * q[j * n + k] }
                a[i * n + j] = s
            }
        }
        let eigen = SymmetricEigen(symmetric: a, order: n, threads: 2)
        let values = eigen.eigenvalues(ranks: 0..<n, threads: 2)
        XCTAssertEqual(zip(values, dvals.sorted(by: >)).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-12 * Double(n))
        let v = eigen.eigenvectors(for: values, threads: 2)
        var worstResidual = 0.0, worstOrthogonality = 0.0
        for k in 0..<n {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s += a[i * n + j] * v[k * n + j] }
                worstResidual = max(worstResidual, abs(s - values[k] * v[k * n + i]))
            }
            for l in k..<n {
                var s = 0.0
                for i in 0..<n { s += v[k * n + i] * v[l * n + i] }
                worstOrthogonality = max(worstOrthogonality, abs(s - (k == l ? 1 : 0)))
            }
        }
        XCTAssertLessThan(worstResidual, 1e-11, "residual (eigenvalues up to 162)")
        XCTAssertLessThan(worstOrthogonality, 1e-12, "orthonormality")
    }

    // MARK: model known answers

    func testDiagonalCovariance() throws {
        let n = 16
        for type in [ElementType.uint8, .float64] {
            let values = PCATests.hadamardData(rows: n, scales: [1, 3, 2], offset: 10)
            let model = try PCAModel.fit(PCATests.statistics(PCATests.matrix(values, columns: 3, type: type)),
                                         selection: .count(3), whiten: false)
            let f = Double(n) / Double(n - 1)
            XCTAssertEqual(model.mean, [10, 10, 10])
            for (r, (variance, axis)) in [(9 * f, 1), (4 * f, 2), (1 * f, 0)].enumerated() {
                assertClose(model.explainedVariance[r], variance, 1e-12, "\(type) variance \(r)")
                assertClose(model.explainedVarianceRatio[r], variance / (14 * f), 1e-14, "\(type) ratio \(r)")
                for j in 0..<3 {
                    assertClose(model.components[r * 3 + j], j == axis ? 1 : 0, 1e-12, "\(type) component \(r)[\(j)]")
                }
            }
            assertClose(model.totalVariance, 14 * f, 1e-12, "total")
        }
    }

    func testRankOneData() throws {
        // Rows on a line: x = 30 + t (2, -6, 3) = 30 + 7 t u with u = (2, -6, 3)/7 a unit vector;
        // one nonzero eigenvalue 49 var(t); the component is -u (its largest loading, -6/7, flips).
        let ts: [Double] = [-4, -3, -1, 0, 1, 2, 3, 4]
        let direction: [Double] = [2, -6, 3]
        var values = [Double]()
        for t in ts { for j in 0..<3 { values.append(30 + t * direction[j]) } }
        let stats = try PCATests.statistics(PCATests.matrix(values, columns: 3, type: .uint8))
        let model = try PCAModel.fit(stats, selection: .count(2), whiten: false)
        let meanT = ts.reduce(0, +) / 8
        let varT = ts.map { ($0 - meanT) * ($0 - meanT) }.reduce(0, +) / 7
        assertClose(model.explainedVariance[0], 49 * varT, 1e-10, "variance")
        assertClose(model.explainedVariance[1], 0, 1e-10, "second variance")
        assertClose(model.explainedVarianceRatio[0], 1, 1e-14, "ratio")
        for j in 0..<3 { assertClose(model.components[j], -direction[j] / 7, 1e-12, "component[\(j)]") }
        XCTAssertThrowsError(try PCAModel.fit(stats, selection: .count(2), whiten: true)) { e in
            XCTAssertTrue("\(e)".contains("component 2 has no variance: cannot whiten"), "\(e)")
        }
    }

    func testRepeatedEigenvalues() throws {
        // Scales 2, 2, 2, 1: a threefold eigenvalue. Any orthonormal basis of its eigenspace is
        // right; check A v = lambda v and orthonormality.
        let n = 8, d = 4
        let values = PCATests.hadamardData(rows: n, scales: [2, 2, 1, 2], offset: 0)
        let stats = try PCATests.statistics(PCATests.matrix(values, columns: d))
        let model = try PCAModel.fit(stats, selection: .count(4), whiten: false)
        let cov = stats.covariance()
        let f = Double(n) / Double(n - 1)
        for (r, expected) in [4 * f, 4 * f, 4 * f, f].enumerated() {
            assertClose(model.explainedVariance[r], expected, 1e-12, "variance \(r)")
            let v = Array(model.components[r * d..<(r + 1) * d])
            for i in 0..<d {
                let av = (0..<d).map { cov[i * d + $0] * v[$0] }.reduce(0, +)
                assertClose(av, expected * v[i], 1e-12, "A v = lambda v, component \(r)")
            }
            for s in 0..<d {
                let w = Array(model.components[s * d..<(s + 1) * d])
                assertClose(zip(v, w).map { $0 * $1 }.reduce(0, +), r == s ? 1 : 0, 1e-12, "v\(r) . v\(s)")
            }
        }
        XCTAssertEqual(model.components[3 * d + 2].rounded(), 1, "the single eigenvalue's axis")
    }

    func testConstantColumns() throws {
        // Column 1 and 3 never change: their loadings are zero, their means exact.
        let n = 8
        var values = [Double]()
        for r in 0..<n {
            values += [5 + 3 * PCATests.hadamard(r, 1), 7, 5 + PCATests.hadamard(r, 2), 200]
        }
        let model = try PCAModel.fit(PCATests.statistics(PCATests.matrix(values, columns: 4, type: .uint8)),
                                     selection: .count(2), whiten: false)
        XCTAssertEqual(model.mean, [5, 7, 5, 200])
        let f = Double(n) / Double(n - 1)
        assertClose(model.explainedVariance[0], 9 * f, 1e-12, "variance 0")
        assertClose(model.explainedVariance[1], f, 1e-12, "variance 1")
        XCTAssertEqual(model.components.map { abs($0) < 1e-12 ? 0 : $0 }, [1, 0, 0, 0, 0, 0, 1, 0])
        let constant = PCATests.matrix([Double](repeating: 3, count: 12), columns: 3, type: .uint8)
        XCTAssertThrowsError(try PCAModel.fit(PCATests.statistics(constant), selection: .count(1), whiten: false)) { e in
            XCTAssertTrue("\(e)".contains("every column is constant"), "\(e)")
        }
    }

    func testFewerRowsThanColumns() throws {
        // n = 4 rows of d = 16: X = 10 + sum_m s_m a_m b_m^T with a_m Hadamard columns of length 4
        // (zero mean, orthogonal) and b_m unit Hadamard rows of length 16. Covariance
        // eigenvalues s_m^2 * 4 / 3, then 0; components b_m.
        let n = 4, d = 16
        let scales: [Double] = [3, 2, 1]
        var values = [Double](repeating: 10, count: n * d)
        for (m, s) in scales.enumerated() {
            for r in 0..<n { for j in 0..<d { values[r * d + j] += s * PCATests.hadamard(r, m + 1) * PCATests.hadamard(m + 3, j) / 4 } }
        }
        let stats = try PCATests.statistics(PCATests.matrix(values, columns: d))
        let model = try PCAModel.fit(stats, selection: .count(4), whiten: false)
        for (m, s) in scales.enumerated() {
            assertClose(model.explainedVariance[m], s * s * 4 / 3, 1e-12, "variance \(m)")
            let cosine = (0..<d).map { model.components[m * d + $0] * PCATests.hadamard(m + 3, $0) / 4 }.reduce(0, +)
            assertClose(abs(cosine), 1, 1e-10, "component \(m)")
        }
        assertClose(model.explainedVariance[3], 0, 1e-12, "variance 3")
        XCTAssertThrowsError(try PCAModel.fit(stats, selection: .count(5), whiten: false)) { e in
            XCTAssertTrue("\(e)".contains("-k 5 is out of range: with 4 rows of 16 columns at most min(n, d) = 4"), "\(e)")
        }
        let one = try PCATests.statistics(PCATests.matrix(Array(values[0..<d]), columns: d))
        XCTAssertThrowsError(try PCAModel.fit(one, selection: .count(1), whiten: false)) { e in
            XCTAssertTrue("\(e)".contains("1 row: PCA needs at least 2 rows"), "\(e)")
        }
    }

    func testVarianceFractionPicksTheFewestComponents() throws {
        // Variances 16, 9, 4, 1 (ratios .533, .3, .133, .033): 0.8 needs 2 (.833 > .8), 0.84 needs 3.
        let values = PCATests.hadamardData(rows: 8, scales: [4, 3, 2, 1], offset: 100)
        let stats = try PCATests.statistics(PCATests.matrix(values, columns: 4))
        XCTAssertEqual(try PCAModel.fit(stats, selection: .varianceFraction(0.8), whiten: false).componentCount, 2)
        XCTAssertEqual(try PCAModel.fit(stats, selection: .varianceFraction(0.84), whiten: false).componentCount, 3)
        XCTAssertEqual(try PCAModel.fit(stats, selection: .varianceFraction(0.999), whiten: false).componentCount, 4)
    }

    // MARK: model stream and projection

    func testModelStreamRoundTripAndSummary() throws {
        let values = PCATests.hadamardData(rows: 8, scales: [4, 3, 2, 1], offset: 100)
        let model = try PCAModel.fit(PCATests.statistics(PCATests.matrix(values, columns: 4)),
                                     selection: .count(2), whiten: true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-pca-\(UUID().uuidString).zmat").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try OutputFile(path: path)
        let hash = try model.write(to: out, metadata: ZmatMetadata([("producer", "test"), ("feature-space", "demo")]))
        try out.commit()
        let (back, header, contentHash) = try PCAModel.read(path: path)
        XCTAssertEqual(back, model)
        XCTAssertEqual(contentHash, hash)
        XCTAssertEqual(header.metadata["kind"], "pca-model")
        XCTAssertEqual(header.metadata["feature-space"], "demo")
        XCTAssertEqual(header.metadata["pca.components"], "2")
        XCTAssertEqual(header.metadata["pca.n"], "8")
        let lines = try ContentKind.summaryLines(for: Matrix.load(path: path))
        XCTAssertEqual(lines, [
            "PCA model: 2 components of 4 columns, fit on 8 rows, whitened",
            "explained variance ratio: 0.5333 0.3000",
            "cumulative:               0.5333 0.8333",
        ])
    }

    func testProjectionKnownAnswerWhitenedAndThreadIndependent() throws {
        // Hadamard data: the coordinate on component m is scale * h(row); whitened, h(row) * sqrt((n-1)/n).
        let n = 64
        let scales: [Double] = [4, 3, 2, 1]
        let values = PCATests.hadamardData(rows: n, scales: scales, offset: 100)
        let data = PCATests.matrix(values, columns: 4, type: .uint8, labels: (0..<n).map { Int32($0 % 3) })
        let stats = try PCATests.statistics(data)
        for whiten in [false, true] {
            let model = try PCAModel.fit(stats, selection: .count(3), whiten: whiten)
            var outputs = [[Float]]()
            for threads in [1, 3] {
                var out = [Float](repeating: .nan, count: n * 3)
                try out.withUnsafeMutableBufferPointer {
                    try PCAProjector(model: model, threads: threads).project(data.block, into: $0.baseAddress!, firstRow: 0, name: "t")
                }
                outputs.append(out)
            }
            XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[1].map(\.bitPattern), "thread count changed the output")
            for r in 0..<n {
                for c in 0..<3 {
                    let h = PCATests.hadamard(r, c + 1)
                    let expected = whiten ? h * (Double(n - 1) / Double(n)).squareRoot() : scales[c] * h
                    assertClose(Double(outputs[0][r * 3 + c]), expected, 1e-5, "row \(r) coordinate \(c) whiten \(whiten)")
                }
            }
        }
        var bad = values.map { $0 }
        bad[10 * 4 + 1] = .infinity
        let model = try PCAModel.fit(stats, selection: .count(2), whiten: false)
        var out = [Float](repeating: 0, count: n * 2)
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer {
            try PCAProjector(model: model, threads: 2).project(PCATests.matrix(bad, columns: 4).block, into: $0.baseAddress!,
                                                               firstRow: 100, name: "in.zmat")
        }) { e in
            XCTAssertEqual("\(e)", "in.zmat: row 111, column 2: inf, expected a finite number")
        }
    }

    // MARK: reading ahead

    func testPrefetcherHandsOutTheSameBlocksAndHash() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-pca-\(UUID().uuidString).zmat").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 12000 rows of 300 bytes: four blocks.
        let values = PCATests.randomValues(12000 * 300, seed: 17) { Double($0.next() % 256) }
        let data = PCATests.matrix(values, columns: 300, type: .uint8, labels: (0..<12000).map { Int32($0 % 7) })
        let out = try OutputFile(path: path)
        let written = try data.write(to: out)
        try out.commit()
        let direct = try ZmatReader(path: path)
        var expected = [RowBlock]()
        while let b = try direct.nextBlock() { expected.append(b) }
        XCTAssertGreaterThan(expected.count, 2)
        for depth in [1, 3] {
            let reader = try ZmatReader(path: path)
            let prefetcher = BlockPrefetcher(reader, depth: depth)
            var got = [RowBlock]()
            while let b = try prefetcher.nextBlock() { got.append(b) }
            XCTAssertNil(try prefetcher.nextBlock(), "stays at the end")
            XCTAssertEqual(got.count, expected.count)
            for (a, b) in zip(got, expected) {
                XCTAssertEqual(a.rows, b.rows)
                XCTAssertEqual(Array(a.elementBytes), Array(b.elementBytes))
                XCTAssertEqual(Array(a.labels!), Array(b.labels!))
            }
            XCTAssertEqual(reader.contentHash, written)
        }
        // Abandoning early, at any point, releases the reading thread without hanging or crashing.
        for taken in 0..<6 {
            let early = BlockPrefetcher(try ZmatReader(path: path), depth: 1 + taken % 2)
            for _ in 0..<taken { _ = try early.nextBlock() }
            early.close()
        }
    }
}
