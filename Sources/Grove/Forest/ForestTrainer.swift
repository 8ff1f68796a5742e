import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Trains the trees of a random forest, spread over threads.
///
/// Each tree is a pure function of (training set, parameters, global tree index): threads only
/// decide which core grows which tree, never what a tree looks like, and trees are returned in
/// index order. So any thread count, and any split of the indices over processes, gives the
/// same trees.
public struct ForestTrainer {
    public let data: TrainingSet
    public let params: ForestParameters
    /// Performance switches (never change the trees).
    public var tuning = ForestTuning()
    /// The split sweep's table over every integer weight a node can carry (a tree draws at
    /// most `rows` rows, so no node weighs more).
    private let table: [Double]

    public init(data: TrainingSet, params: ForestParameters) throws {
        guard params.minSamplesSplit >= 2 else { throw GroveError("--min-samples-split must be at least 2") }
        guard params.minSamplesLeaf >= 1 else { throw GroveError("--min-samples-leaf must be at least 1") }
        guard params.sampleFraction > 0, params.sampleFraction <= 1 else {
            throw GroveError("--sample-fraction must be in (0, 1]")
        }
        if case .count(let k) = params.maxFeatures, k > data.features {
            throw GroveError("--max-features \(k) is more than the \(data.features) feature columns")
        }
        self.data = data
        self.params = params
        table = ForestTrainer.table(params.criterion, size: data.rows + 2)
    }

    /// The sweep's per-weight table: `w ln w` (entropy) or `1 / w` (gini), for w in 0..<size.
    static func table(_ criterion: SplitCriterion, size: Int) -> [Double] {
        var t = [Double](repeating: 0, count: size)
        for w in 1..<max(1, size) {
            let x = Double(w)
            t[w] = criterion == .entropy ? x * log(x) : 1 / x
        }
        return t
    }

    /// Number of features each node draws.
    public var featuresPerNode: Int { params.maxFeatures.resolve(features: data.features) }

    /// Grows trees `indices` on up to `threads` threads; `progress(done)` is called after each
    /// tree (from worker threads, serialised).
    public func train(indices: Range<Int>, threads: Int, progress: ((Int) -> Void)? = nil) -> [TrainedTree] {
        let count = indices.count
        if count == 0 { return [] }
        let slots = UnsafeMutableBufferPointer<TrainedTree?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        var lock = pthread_mutex_t()
        pthread_mutex_init(&lock, nil)
        defer { pthread_mutex_destroy(&lock) }
        var next = 0, done = 0
        let workers = max(1, min(threads, count))
        table.withUnsafeBufferPointer { table in
            // One builder (and its scratch memory) per worker, reused for every tree it grows.
            Parallel.forEach(workers, threads: workers) { _ in
                let builder = TreeBuilder(data: data, params: params, tuning: tuning, table: table.baseAddress!)
                while true {
                    pthread_mutex_lock(&lock)
                    let i = next
                    next += 1
                    pthread_mutex_unlock(&lock)
                    if i >= count { break }
                    slots[i] = builder.build(treeIndex: indices.lowerBound + i)
                    if let progress {
                        pthread_mutex_lock(&lock)
                        done += 1
                        progress(done)
                        pthread_mutex_unlock(&lock)
                    }
                }
            }
        }
        return slots.map { $0! }
    }

    /// Out-of-bag accuracy: each training row voted on by the trees that did not draw it
    /// (probabilities averaged, as in prediction). Rows drawn by every tree are skipped.
    /// Returns (accuracy, rows scored); nil when no row was out of bag.
    public func outOfBagAccuracy(_ trees: [TrainedTree], threads: Int) -> (accuracy: Double, rows: Int)? {
        let n = data.rows, k = data.classes.count
        let parts = Parallel.ranges(n, parts: max(1, threads) * 4)
        var correct = [Int](repeating: 0, count: parts.count)
        var scored = [Int](repeating: 0, count: parts.count)
        // Row-major bins: a row's walk through a tree stays within the row's few cache lines.
        let bins = data.rowBins.baseAddress!
        let d = data.features
        correct.withUnsafeMutableBufferPointer { correct in
            scored.withUnsafeMutableBufferPointer { scored in
                Parallel.forEach(parts.count, threads: threads) { p in
                    var votes = [Float](repeating: 0, count: k)
                    for r in parts[p] {
                        for c in 0..<k { votes[c] = 0 }
                        var any = false
                        for t in trees where t.inBag[r >> 6] & (1 << UInt64(r & 63)) == 0 {
                            any = true
                            var node = 0
                            while t.feature[node] >= 0 {
                                let b = bins[r * d + Int(t.feature[node])]
                                node = Int(t.child[node]) + (b <= t.splitBin[node] ? 0 : 1)
                            }
                            let leaf = Int(t.child[node]) * k
                            var sum: Float = 0
                            for c in 0..<k { sum += t.leafCounts[leaf + c] }
                            for c in 0..<k { votes[c] += t.leafCounts[leaf + c] / sum }
                        }
                        if !any { continue }
                        var best = 0
                        for c in 1..<max(k, 1) where votes[c] > votes[best] { best = c }
                        scored[p] += 1
                        if best == Int(data.classIndex[r]) { correct[p] += 1 }
                    }
                }
            }
        }
        let total = scored.reduce(0, +)
        guard total > 0 else { return nil }
        return (Double(correct.reduce(0, +)) / Double(total), total)
    }

    /// The best split of some rows over some features, by the fast (histogram) search or by
    /// the small-node (sorted keys) search. Exposed so tests can hold the split search against
    /// an independent exact splitter.
    ///
    /// - Returns: the feature, the real threshold (rows `<= threshold` go left) and the
    ///   weighted impurity decrease `w*I(node) - wL*I(left) - wR*I(right)`, or nil if no
    ///   feature can split these rows.
    public func bestSplit(rows: [Int32], weights: [Int32], features: [Int], sorted: Bool)
        -> (feature: Int, threshold: Double, decrease: Double)? {
        // Training never weighs a node above the row count; these weights may.
        var table = self.table
        let needed = weights.reduce(0) { $0 + Int($1) } + 2
        if needed > table.count { table = ForestTrainer.table(params.criterion, size: needed) }
        return table.withUnsafeBufferPointer { table in
            let builder = TreeBuilder(data: data, params: params, tuning: tuning, table: table.baseAddress!)
            let choice = builder.bestSplit(rows: rows, weights: weights, features: features, sorted: sorted)
            guard choice.feature >= 0 else { return nil }
            let k = data.classes.count
            var all = [Double](repeating: 0, count: k), left = all, right = all
            let col = choice.feature * data.rows
            for (i, r) in rows.enumerated() {
                let c = Int(data.classIndex[Int(r)]), w = Double(weights[i])
                all[c] += w
                if Int(data.bins[col + Int(r)]) <= choice.leftBin { left[c] += w } else { right[c] += w }
            }
            let crit = params.criterion
            let decrease = all.reduce(0, +) * crit.impurity(all) - left.reduce(0, +) * crit.impurity(left)
                - right.reduce(0, +) * crit.impurity(right)
            let threshold = data.threshold(feature: choice.feature, leftBin: choice.leftBin, rightBin: choice.rightBin)
            return (choice.feature, threshold, decrease)
        }
    }
}
