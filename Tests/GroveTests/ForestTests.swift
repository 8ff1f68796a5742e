import Foundation
import Grove
import XCTest

/// Helpers shared by the forest tests: matrices from arrays, training and reloading models.
enum ForestFixtures {
    static func matrix<T: ZmatScalar>(_ values: [T], columns: Int, labels: [Int32]?,
                                      metadata: ZmatMetadata = ZmatMetadata()) -> Matrix {
        let rows = columns == 0 ? 0 : values.count / columns
        let m = Matrix(header: ZmatHeader(elementType: T.elementType, columns: columns,
                                          hasLabels: labels != nil, metadata: metadata), rows: rows)
        let v = m.values(as: T.self)
        for i in 0..<values.count { v[i] = values[i] }
        if let labels, let l = m.labels { for i in 0..<rows { l[i] = labels[i] } }
        return m
    }

    static func temporaryPath(_ test: XCTestCase, _ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-forest-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent(name).path
    }

    /// Trains `trees` trees and returns the model file's bytes and the loaded forest.
    static func train(_ test: XCTestCase, _ data: TrainingSet, _ params: ForestParameters, trees: Int,
                      firstIndex: Int = 0, threads: Int = 1) throws -> (bytes: Data, forest: Forest) {
        let trainer = try ForestTrainer(data: data, params: params)
        let grown = trainer.train(indices: firstIndex..<(firstIndex + trees), threads: threads)
        let path = temporaryPath(test, "model.zmat")
        let out = try OutputFile(path: path)
        try ForestWriter.write(grown, classes: data.classes.count, criterion: params.criterion,
                               elementType: ForestWriter.elementType(forTrainingInput: data.header.elementType),
                               metadata: ForestWriter.metadata(producer: "test", data: data, params: params, trees: grown),
                               to: out)
        try out.commit()
        return (try Data(contentsOf: URL(fileURLWithPath: path)), try Forest(path: path))
    }

    /// Predicted labels of every row of `m`.
    static func predict(_ forest: Forest, _ m: Matrix, threads: Int = 1) throws -> [Int32] {
        var probs = [Float](repeating: 0, count: m.rows * forest.classes.count)
        var labels = [Int32](repeating: 0, count: m.rows)
        try probs.withUnsafeMutableBufferPointer { p in
            try labels.withUnsafeMutableBufferPointer { l in
                try forest.predict(m.block, name: "test", firstRow: 0, threads: threads,
                                   probabilities: p.baseAddress!, labels: l.baseAddress!)
            }
        }
        return labels
    }

    static func accuracy(_ predicted: [Int32], _ truth: [Int32]) -> Double {
        Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    }
}

/// A tiny deterministic generator for test data (independent of the code under test).
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        var z = state
        z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
        return z ^ (z >> 33)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

final class ForestTreeTests: XCTestCase {
    func testSeparableDataIsFitExactly() throws {
        // Four classes in the quadrants of the plane plus a noise feature: a full tree without
        // bootstrap must classify every training row.
        var rng = TestRandom(state: 1)
        var values = [Float](), labels = [Int32]()
        for _ in 0..<400 {
            let x = Float(rng.unit() * 2 - 1), y = Float(rng.unit() * 2 - 1)
            values += [x, y, Float(rng.unit())]
            labels.append((x > 0 ? 1 : 0) + (y > 0 ? 2 : 0))
        }
        let m = ForestFixtures.matrix(values, columns: 3, labels: labels)
        let data = try TrainingSet.make(m)
        var params = ForestParameters()
        params.bootstrap = false
        params.maxFeatures = .all
        let (_, forest) = try ForestFixtures.train(self, data, params, trees: 1)
        XCTAssertEqual(try ForestFixtures.predict(forest, m), labels)
        XCTAssertEqual(forest.classes, [0, 1, 2, 3])
        // The first split is on x or y (the noise feature separates nothing), and the tree
        // needs only the two informative features.
        let imp = forest.importances()
        XCTAssertLessThan(imp[2], 0.05)
        XCTAssertEqual(imp.reduce(0, +), 1, accuracy: 1e-9)
    }

    func testThresholdsPassUnseenValuesHalfway() throws {
        // Pixels 0 and 200 separate the classes; the threshold lies halfway (100), as in
        // scikit-learn, so 99 goes left and 101 right.
        let m = ForestFixtures.matrix([UInt8](arrayLiteral: 0, 0, 200, 200), columns: 1, labels: [3, 3, 7, 7])
        var params = ForestParameters()
        params.bootstrap = false
        let (_, forest) = try ForestFixtures.train(self, try TrainingSet.make(m), params, trees: 1)
        let probe = ForestFixtures.matrix([UInt8](arrayLiteral: 99, 101, 0, 255), columns: 1, labels: nil)
        XCTAssertEqual(try ForestFixtures.predict(forest, probe), [3, 7, 3, 7])
        XCTAssertEqual(forest.nodes.count, 3)
        XCTAssertEqual(forest.nodes[0].threshold, 100)
    }

    func testThresholdsSeparateAdjacentNumbers() throws {
        // Neighbouring float32 values (no float32 lies between them) and neighbouring doubles:
        // the stored threshold must still send each training row to its side.
        let a: Float = 1.5, b = a.nextUp
        let m32 = ForestFixtures.matrix([a, a, b, b], columns: 1, labels: [0, 0, 1, 1])
        var params = ForestParameters()
        params.bootstrap = false
        let (_, f32) = try ForestFixtures.train(self, try TrainingSet.make(m32), params, trees: 1)
        XCTAssertEqual(f32.header.elementType, .float32)
        XCTAssertEqual(try ForestFixtures.predict(f32, m32), [0, 0, 1, 1])
        XCTAssertEqual(f32.nodes[0].threshold, Double(a))

        let c = 0.1, d = c.nextUp
        let m64 = ForestFixtures.matrix([c, d, c, d], columns: 1, labels: [4, 9, 4, 9])
        let (_, f64) = try ForestFixtures.train(self, try TrainingSet.make(m64), params, trees: 1)
        XCTAssertEqual(f64.header.elementType, .float64)
        XCTAssertEqual(try ForestFixtures.predict(f64, m64), [4, 9, 4, 9])

        // Infinite values split like any other.
        let mInf = ForestFixtures.matrix([-Float.infinity, 0, 1, .infinity], columns: 1, labels: [0, 1, 2, 3])
        let (_, fInf) = try ForestFixtures.train(self, try TrainingSet.make(mInf), params, trees: 1)
        XCTAssertEqual(try ForestFixtures.predict(fInf, mInf), [0, 1, 2, 3])
        XCTAssertFalse(fInf.nodes.contains { $0.threshold.isNaN })

        // int32 features train a float64 model and predict from int32 rows.
        let mi = ForestFixtures.matrix([Int32](arrayLiteral: -7, 100_000_001, -7, 100_000_002), columns: 1, labels: [1, 2, 1, 3])
        let (_, fi) = try ForestFixtures.train(self, try TrainingSet.make(mi), params, trees: 1)
        XCTAssertEqual(fi.header.elementType, .float64)
        XCTAssertEqual(try ForestFixtures.predict(fi, mi), [1, 2, 1, 3])
    }

    func testSingleClassGivesOneLeaf() throws {
        let m = ForestFixtures.matrix([Float](arrayLiteral: 1, 2, 3, 4, 5, 6), columns: 2, labels: [5, 5, 5])
        let (_, forest) = try ForestFixtures.train(self, try TrainingSet.make(m), ForestParameters(), trees: 3)
        XCTAssertEqual(forest.treeCount, 3)
        XCTAssertEqual(forest.nodes.count, 3)
        XCTAssertTrue(forest.nodes.allSatisfy { $0.feature == -1 })
        XCTAssertEqual(forest.classes, [5])
        XCTAssertEqual(try ForestFixtures.predict(forest, m), [5, 5, 5])
        XCTAssertEqual(forest.depths(), [0, 0, 0])
    }

    func testMaxDepthAndMinSamplesAreHonoured() throws {
        var rng = TestRandom(state: 9)
        var values = [Float](), labels = [Int32]()
        for _ in 0..<500 {
            values += [Float(rng.unit()), Float(rng.unit())]
            labels.append(Int32(rng.below(3)))
        }
        let data = try TrainingSet.make(ForestFixtures.matrix(values, columns: 2, labels: labels))
        var params = ForestParameters()
        params.maxDepth = 3
        let (_, shallow) = try ForestFixtures.train(self, data, params, trees: 4)
        XCTAssertTrue(shallow.depths().allSatisfy { $0 <= 3 })
        params.maxDepth = nil
        params.minSamplesLeaf = 20
        let (_, leafy) = try ForestFixtures.train(self, data, params, trees: 2)
        // Every leaf holds at least 20 distinct rows: its weighted count is at least 20.
        for (i, node) in leafy.nodes.enumerated() where node.feature < 0 {
            XCTAssertGreaterThanOrEqual(leafy.samples[i], 20)
        }
    }

    func testImpurityFormulas() {
        XCTAssertEqual(SplitCriterion.gini.impurity([1.0, 1.0]), 0.5, accuracy: 1e-12)
        XCTAssertEqual(SplitCriterion.gini.impurity([3.0, 0.0]), 0, accuracy: 1e-12)
        XCTAssertEqual(SplitCriterion.entropy.impurity([1.0, 1.0]), 1, accuracy: 1e-12)
        XCTAssertEqual(SplitCriterion.entropy.impurity([1.0, 1.0, 1.0, 1.0]), 2, accuracy: 1e-12)
        XCTAssertEqual(MaxFeatures.sqrt.resolve(features: 784), 28)
        XCTAssertEqual(MaxFeatures.log2.resolve(features: 784), 9)
        XCTAssertEqual(MaxFeatures("0.5")?.resolve(features: 10), 5)
        XCTAssertEqual(MaxFeatures("3"), .count(3))
        XCTAssertNil(MaxFeatures("0"))
        XCTAssertNil(MaxFeatures("lots"))
    }

    func testSeedsDependOnSeedAndIndexOnly() {
        var a = TreeRandom(seed: 7, treeIndex: 3), b = TreeRandom(seed: 7, treeIndex: 3)
        var c = TreeRandom(seed: 7, treeIndex: 4), d = TreeRandom(seed: 8, treeIndex: 3)
        let x = (0..<4).map { _ in a.next() }
        XCTAssertEqual(x, (0..<4).map { _ in b.next() })
        XCTAssertNotEqual(x, (0..<4).map { _ in c.next() })
        XCTAssertNotEqual(x, (0..<4).map { _ in d.next() })
    }
}

/// The split search against an exact, sort-based splitter written independently here.
final class ForestSplitOracleTests: XCTestCase {
    /// scikit-learn's definition: among thresholds between consecutive distinct values that
    /// leave at least `minLeaf` rows each side, the one with the largest weighted impurity
    /// decrease. Returns (decrease, threshold) per feature.
    static func oracle(values: [[Double]], labels: [Int], weights: [Int], rows: [Int], classes: Int,
                       criterion: SplitCriterion, minLeaf: Int) -> [(Double, Double)?] {
        values.map { column -> (Double, Double)? in
            let order = rows.sorted { column[$0] < column[$1] }
            var all = [Double](repeating: 0, count: classes)
            for r in rows { all[labels[r]] += Double(weights[r]) }
            let total = all.reduce(0, +)
            let parent = total * criterion.impurity(all)
            var left = [Double](repeating: 0, count: classes)
            var best: (Double, Double)?
            for i in 0..<(order.count - 1) {
                left[labels[order[i]]] += Double(weights[order[i]])
                let a = column[order[i]], b = column[order[i + 1]]
                if a == b || i + 1 < minLeaf || order.count - i - 1 < minLeaf { continue }
                let right = zip(all, left).map { $0 - $1 }
                let wl = left.reduce(0, +), wr = right.reduce(0, +)
                let decrease = parent - wl * criterion.impurity(left) - wr * criterion.impurity(right)
                if best == nil || decrease > best!.0 + 1e-12 { best = (decrease, (a + b) / 2) }
            }
            return best
        }
    }

    func check(criterion: SplitCriterion, uint8: Bool, seed: UInt64) throws {
        var rng = TestRandom(state: seed)
        let n = 300, d = 5, k = 4
        var columns = [[Double]](repeating: [], count: d)
        var labels = [Int](), flat = [Double]()
        for _ in 0..<n {
            var row = [Double]()
            for f in 0..<d {
                // Few distinct values (ties), different per feature; <= 256 so bins are exact.
                let levels = [3, 17, 120, 256, 2][f]
                let v = uint8 ? Double(rng.below(levels)) : Double(rng.below(levels)) * 0.37 - 5
                row.append(v)
                columns[f].append(v)
            }
            flat += row
            // Labels depend on features 1 and 2 plus noise.
            labels.append((row[1] > (uint8 ? 8 : -2) ? 1 : 0) + (rng.below(4) == 0 ? 2 : 0) + (row[2] > (uint8 ? 60 : 17) ? 1 : 0) % k)
        }
        labels = labels.map { $0 % k }
        let m: Matrix = uint8
            ? ForestFixtures.matrix(flat.map { UInt8($0) }, columns: d, labels: labels.map { Int32($0) })
            : ForestFixtures.matrix(flat, columns: d, labels: labels.map { Int32($0) })
        let data = try TrainingSet.make(m)
        for trial in 0..<12 {
            var params = ForestParameters()
            params.criterion = criterion
            params.minSamplesLeaf = [1, 1, 3, 10][trial % 4]
            let trainer = try ForestTrainer(data: data, params: params)
            // A random subset of rows with bootstrap-like weights.
            let size = [5, 20, 60, 299][trial % 4]
            var rows = Array(0..<n)
            for i in 0..<size { rows.swapAt(i, i + rng.below(n - i)) }
            rows = Array(rows[0..<size]).sorted()
            var weights = [Int](repeating: 0, count: n)
            for r in rows { weights[r] = 1 + rng.below(3) }
            let expected = Self.oracle(values: columns, labels: labels, weights: weights, rows: rows, classes: data.classes.count,
                                       criterion: criterion, minLeaf: params.minSamplesLeaf)
            let bestExpected = expected.compactMap { $0 }.map(\.0).max()
            for sorted in [false, true] {
                let got = trainer.bestSplit(rows: rows.map { Int32($0) }, weights: rows.map { Int32(weights[$0]) },
                                            features: Array(0..<d), sorted: sorted)
                guard let bestExpected else {
                    XCTAssertNil(got, "trial \(trial): no valid split exists")
                    continue
                }
                let g = try XCTUnwrap(got, "trial \(trial) sorted \(sorted)")
                XCTAssertEqual(g.decrease, bestExpected, accuracy: 1e-9 * max(1, bestExpected),
                               "trial \(trial) sorted \(sorted)")
                // The chosen feature's own best threshold is the oracle's (halfway between values).
                let own = try XCTUnwrap(expected[g.feature])
                XCTAssertEqual(g.decrease, own.0, accuracy: 1e-9 * max(1, own.0))
                if abs(own.0 - bestExpected) < 1e-9 {
                    XCTAssertEqual(g.threshold, own.1, accuracy: uint8 ? 0 : 1e-6, "trial \(trial) feature \(g.feature)")
                }
            }
        }
    }

    func testGiniFloatFeatures() throws { try check(criterion: .gini, uint8: false, seed: 11) }
    func testGiniByteFeatures() throws { try check(criterion: .gini, uint8: true, seed: 12) }
    func testEntropyFloatFeatures() throws { try check(criterion: .entropy, uint8: false, seed: 13) }
    func testEntropyByteFeatures() throws { try check(criterion: .entropy, uint8: true, seed: 14) }

    func testManyClassesUseTheUnmaskedSweep() throws {
        // More than 64 classes: the histogram sweep visits every class of a bin.
        var rng = TestRandom(state: 21)
        let n = 500, d = 3
        var flat = [Float](), labels = [Int]()
        var columns = [[Double]](repeating: [], count: d)
        for _ in 0..<n {
            let row = (0..<d).map { _ in Float(rng.below(40)) }
            flat += row
            for f in 0..<d { columns[f].append(Double(row[f])) }
            labels.append((Int(row[0]) * 2 + rng.below(3)) % 80)
        }
        let data = try TrainingSet.make(ForestFixtures.matrix(flat, columns: d, labels: labels.map { Int32($0) }))
        XCTAssertGreaterThan(data.classes.count, 64)
        // Class indices, as the oracle counts classes by index.
        let index = Dictionary(uniqueKeysWithValues: data.classes.enumerated().map { ($0.element, $0.offset) })
        let classOf = labels.map { index[Int32($0)]! }
        for criterion in SplitCriterion.allCases {
            var params = ForestParameters()
            params.criterion = criterion
            let trainer = try ForestTrainer(data: data, params: params)
            let rows = Array(0..<n)
            let weights = rows.map { _ in 1 + rng.below(2) }
            var w = [Int](repeating: 0, count: n)
            for r in rows { w[r] = weights[r] }
            let expected = Self.oracle(values: columns, labels: classOf, weights: w, rows: rows, classes: data.classes.count,
                                       criterion: criterion, minLeaf: 1).compactMap { $0 }.map(\.0).max()!
            for sorted in [false, true] {
                let got = try XCTUnwrap(trainer.bestSplit(rows: rows.map { Int32($0) }, weights: weights.map { Int32($0) },
                                                          features: Array(0..<d), sorted: sorted))
                XCTAssertEqual(got.decrease, expected, accuracy: 1e-9 * expected, "\(criterion) sorted \(sorted)")
            }
        }
    }

    func testQuantileBinsKeepOrderAndEqualValuesTogether() throws {
        // 1000 distinct values: 256 bins of about equal size, ascending, a value in exactly one.
        var rng = TestRandom(state: 3)
        let values = (0..<2000).map { _ in Double(rng.below(1000)) }
        let m = ForestFixtures.matrix(values, columns: 1, labels: [Int32](repeating: 0, count: 2000))
        let data = try TrainingSet.make(m)
        XCTAssertTrue((250...256).contains(data.binCounts[0]), "\(data.binCounts[0]) bins")
        for b in 0..<(data.binCounts[0] - 1) { XCTAssertLessThan(data.high[b], data.low[b + 1]) }
        for r in 0..<2000 {
            let b = Int(data.bins[r])
            XCTAssertTrue(data.low[b] <= values[r] && values[r] <= data.high[b])
        }
    }
}

final class ForestDeterminismTests: XCTestCase {
    func data() throws -> TrainingSet {
        var rng = TestRandom(state: 5)
        var values = [UInt8](), labels = [Int32]()
        for _ in 0..<600 {
            let row = (0..<16).map { _ in UInt8(rng.below(256)) }
            values += row
            labels.append(Int32((Int(row[0]) + Int(row[5]) / 2 + rng.below(60)) / 100))
        }
        return try TrainingSet.make(ForestFixtures.matrix(values, columns: 16, labels: labels))
    }

    func testThreadCountDoesNotChangeTheModel() throws {
        let data = try data()
        for criterion in SplitCriterion.allCases {
            var params = ForestParameters()
            params.criterion = criterion
            params.seed = 42
            let one = try ForestFixtures.train(self, data, params, trees: 6, threads: 1).bytes
            let two = try ForestFixtures.train(self, data, params, trees: 6, threads: 2).bytes
            XCTAssertEqual(one, two, "\(criterion)")
        }
    }

    func testFastPathsDoNotChangeTrees() throws {
        // Histogram vs sorted keys, columns vs rows, local copies or not: the same trees.
        var rng = TestRandom(state: 31)
        var values = [UInt8](), labels = [Int32]()
        for _ in 0..<3000 {
            let row = (0..<24).map { _ in UInt8(rng.below(64) * (rng.below(3) == 0 ? 0 : 4)) }
            values += row
            labels.append(Int32((Int(row[1]) + Int(row[7]) + rng.below(100)) / 120))
        }
        let data = try TrainingSet.make(ForestFixtures.matrix(values, columns: 24, labels: labels))
        for criterion in SplitCriterion.allCases {
            var params = ForestParameters()
            params.criterion = criterion
            params.minSamplesLeaf = criterion == .gini ? 1 : 2
            var reference: [TrainedTree]?
            for (sortBelow, sparseBelow, localBytes) in [(32, 16, 2 << 20), (0, 1, 0), (1 << 30, 1 << 30, 0), (1 << 30, 1 << 30, 1 << 30), (64, 4, 4096)] {
                var trainer = try ForestTrainer(data: data, params: params)
                trainer.tuning.sortBelow = sortBelow
                trainer.tuning.sparseBelow = sparseBelow
                trainer.tuning.localBytes = localBytes
                let trees = trainer.train(indices: 0..<4, threads: 2)
                if let reference {
                    for (a, b) in zip(reference, trees) {
                        XCTAssertEqual(a.feature, b.feature, "\(criterion) \(sortBelow) \(sparseBelow) \(localBytes)")
                        XCTAssertEqual(a.threshold, b.threshold)
                        XCTAssertEqual(a.child, b.child)
                        XCTAssertEqual(a.leafCounts, b.leafCounts)
                    }
                } else {
                    reference = trees
                    XCTAssertGreaterThan(trees[0].nodeCount, 50)
                }
            }
        }
    }

    func testTreesDependOnTheirIndexNotOnTheirCompany() throws {
        let data = try data()
        var params = ForestParameters()
        params.seed = 9
        let trainer = try ForestTrainer(data: data, params: params)
        let all = trainer.train(indices: 0..<5, threads: 2)
        let third = trainer.train(indices: 2..<3, threads: 1)[0]
        XCTAssertEqual(all[2].feature, third.feature)
        XCTAssertEqual(all[2].threshold, third.threshold)
        XCTAssertEqual(all[2].leafCounts, third.leafCounts)
        XCTAssertNotEqual(all[1].feature, all[2].feature)
        params.seed = 10
        let other = try ForestTrainer(data: data, params: params).train(indices: 2..<3, threads: 1)[0]
        XCTAssertNotEqual(other.feature, third.feature)
    }

    func testOutOfBagAccuracyIsStableAndPlausible() throws {
        let data = try data()
        let trainer = try ForestTrainer(data: data, params: ForestParameters())
        let trees = trainer.train(indices: 0..<20, threads: 2)
        let a = try XCTUnwrap(trainer.outOfBagAccuracy(trees, threads: 1))
        let b = try XCTUnwrap(trainer.outOfBagAccuracy(trees, threads: 2))
        XCTAssertEqual(a.accuracy, b.accuracy)
        XCTAssertEqual(a.rows, b.rows)
        XCTAssertGreaterThan(a.rows, 590)  // 20 bootstraps leave out nearly every row at least once
        XCTAssertGreaterThan(a.accuracy, 0.5)
    }
}
