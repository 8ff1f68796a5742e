/// Where the tree builder switches between its equivalent paths. None of these change a
/// single tree (tests train with extreme values and compare); they only move time around.
public struct ForestTuning: Sendable {
    /// Nodes with fewer rows sort keys instead of filling a histogram.
    public var sortBelow = 32
    /// Nodes with less than 1/sparseBelow of the tree's rows read row-major bins.
    public var sparseBelow = 16
    /// Sparse subtrees whose rows' bins fit in this many bytes copy them locally (0: never).
    public var localBytes = 2 << 20

    public init() {}
}

/// One trained classification tree as flat parallel node arrays.
///
/// Node 0 is the root and children always come after their parent. An internal node's
/// children are `child[i]` (rows with `value <= threshold[i]`) and `child[i] + 1`; a leaf has
/// `feature[i] == -1` and `child[i]` is its leaf number, whose weighted class counts are
/// `leafCounts[leaf * classes ..< (leaf + 1) * classes]`.
public struct TrainedTree: Sendable {
    /// The tree's global index in the forest (it seeds the tree's random numbers).
    public var index: Int
    public var feature: [Int32] = []
    /// The training bin boundary of each split (rows with bin <= splitBin go left).
    public var splitBin: [UInt8] = []
    public var threshold: [Double] = []
    public var child: [Int32] = []
    public var leafCounts: [Float] = []
    /// Bit `r` set when training row `r` was drawn for this tree (for out-of-bag scores).
    public var inBag: [UInt64] = []

    public var nodeCount: Int { feature.count }

    init(index: Int) { self.index = index }
}

/// How a split's children are scored from running class-count statistics.
///
/// The sweep keeps, for each side, a sum over classes of `term(count)`; both criteria then
/// score a candidate in O(1), whatever the number of classes. Static requirements on a
/// generic parameter are specialised away: no dynamic dispatch in the sweep.
protocol ScoreRule {
    static func term(_ count: Int32, _ table: UnsafePointer<Double>) -> Double
    /// `term(c + h) - term(c)`, computed as cheaply as the rule allows.
    static func step(_ c: Int32, _ h: Int32, _ table: UnsafePointer<Double>) -> Double
    static func score(_ aggL: Double, _ wL: Int32, _ aggR: Double, _ wR: Int32,
                      _ table: UnsafePointer<Double>) -> Double
}

/// Gini: minimising the weighted child impurity = maximising sum_k l_k^2/wL + sum_k r_k^2/wR.
/// `table[w] = 1 / w`: a multiplication per side instead of a division, at every candidate.
enum GiniRule: ScoreRule {
    @inline(__always) static func term(_ c: Int32, _ t: UnsafePointer<Double>) -> Double {
        Double(c) * Double(c)
    }
    /// (c + h)^2 - c^2 in integers: exact, like the Doubles it replaces (all below 2^53).
    @inline(__always) static func step(_ c: Int32, _ h: Int32, _ t: UnsafePointer<Double>) -> Double {
        Double(Int64(h) &* Int64(2 &* c &+ h))
    }
    @inline(__always) static func score(_ aggL: Double, _ wL: Int32, _ aggR: Double, _ wR: Int32,
                                        _ t: UnsafePointer<Double>) -> Double {
        aggL * t[Int(wL)] + aggR * t[Int(wR)]
    }
}

/// Entropy: minimising wL H(L) + wR H(R) = maximising sum l ln l - wL ln wL + (same for R).
/// `table[w] = w ln w` for every integer weight a node can have.
enum EntropyRule: ScoreRule {
    @inline(__always) static func term(_ c: Int32, _ t: UnsafePointer<Double>) -> Double {
        t[Int(c)]
    }
    @inline(__always) static func step(_ c: Int32, _ h: Int32, _ t: UnsafePointer<Double>) -> Double {
        t[Int(c &+ h)] - t[Int(c)]
    }
    @inline(__always) static func score(_ aggL: Double, _ wL: Int32, _ aggR: Double, _ wR: Int32,
                                        _ t: UnsafePointer<Double>) -> Double {
        (aggL - t[Int(wL)]) + (aggR - t[Int(wR)])
    }
}

/// The best split found so far at a node.
struct SplitChoice {
    var feature = -1
    var leftBin = 0
    var rightBin = 0
    var score = -Double.infinity
}

/// Grows trees on one thread. All scratch memory is allocated once per builder (sized by the
/// training set) and reused for every node and every tree: nothing is allocated per node.
final class TreeBuilder {
    let data: TrainingSet
    let params: ForestParameters
    let n: Int, classes: Int
    let featuresPerNode: Int
    /// Features that are not constant over the whole training set.
    let candidates: [Int32]
    let table: UnsafePointer<Double>
    /// Nodes with fewer rows than this sort their (bin, class) keys instead of filling a
    /// bins x classes histogram: the sweep over 256 bins would cost more than the rows.
    let sortBelow: Int

    private let bins: UnsafePointer<UInt8>
    private let rowBins: UnsafePointer<UInt8>
    /// A node holding less than 1/`sparseBelow` of the tree's rows reads bins row-major (see
    /// `TrainingSet.rowBins`); bigger nodes read the feature's column, where consecutive
    /// rows share cache lines. Measured on Fashion-MNIST (8 and 32 were within 5 %).
    let sparseBelow: Int
    /// Subtrees of at most this many rows copy their rows' bins into `localBins` (row-major,
    /// 2 MiB: fits the last-level cache share of a core) when they start, and read only that
    /// copy: deep nodes then hit the cache instead of fetching scattered rows of the whole
    /// training set from memory. Measured on Fashion-MNIST pixels: 0.5, 2, 4 and 16 MiB took
    /// 0.66, 0.59, 0.61 and 0.69 s for 6 trees (0.70 without).
    let localRows: Int
    private let localBins: UnsafeMutablePointer<UInt8>
    /// Whether the node being grown lies in such a subtree (its `rowsOf` are local indices).
    private var inLocal = false
    private var inBagRows = 1
    private let classOf: UnsafeMutablePointer<UInt16>
    private let weight: UnsafeMutablePointer<Int32>
    private let rowsOf: UnsafeMutablePointer<Int32>
    private let hist: UnsafeMutablePointer<Int32>
    private let binRows: UnsafeMutablePointer<Int32>
    private let binMask: UnsafeMutablePointer<UInt64>
    private let keys: UnsafeMutablePointer<UInt64>
    /// `tagAt[i]` = class << 20 | weight of row `rowsOf[i]`, moved with it: the sweeps read
    /// class and weight sequentially, and only the feature column at random.
    private let tagAt: UnsafeMutablePointer<UInt32>
    private let spillTag: UnsafeMutablePointer<UInt32>
    private let spill: UnsafeMutablePointer<Int32>
    private let perm: UnsafeMutablePointer<Int32>
    private let leftCounts: UnsafeMutablePointer<Int32>
    private let nodeCounts: UnsafeMutablePointer<Int32>
    /// Left-side class counts of the best split found so far.
    private let bestLeft: UnsafeMutablePointer<Int32>

    init(data: TrainingSet, params: ForestParameters, tuning: ForestTuning, table: UnsafePointer<Double>) {
        sortBelow = tuning.sortBelow
        sparseBelow = tuning.sparseBelow
        self.data = data
        self.params = params
        n = data.rows
        classes = data.classes.count
        featuresPerNode = params.maxFeatures.resolve(features: data.features)
        candidates = (0..<data.features).filter { data.binCounts[$0] > 1 }.map { Int32($0) }
        self.table = table
        bins = UnsafePointer(data.bins.baseAddress!)
        rowBins = UnsafePointer(data.rowBins.baseAddress!)
        localRows = tuning.localBytes <= 0 ? 0 : min(data.rows, max(64, tuning.localBytes / max(1, data.features)))
        localBins = .allocate(capacity: max(1, localRows * data.features))
        classOf = .allocate(capacity: n)
        for r in 0..<n { classOf[r] = data.classIndex[r] }
        weight = .allocate(capacity: n)
        rowsOf = .allocate(capacity: n)
        hist = .allocate(capacity: 256 * classes)
        hist.initialize(repeating: 0, count: 256 * classes)
        binRows = .allocate(capacity: 256)
        binRows.initialize(repeating: 0, count: 256)
        binMask = .allocate(capacity: 256)
        binMask.initialize(repeating: 0, count: 256)
        keys = .allocate(capacity: n)
        spill = .allocate(capacity: n)
        tagAt = .allocate(capacity: n)
        spillTag = .allocate(capacity: n)
        perm = .allocate(capacity: max(1, candidates.count))
        leftCounts = .allocate(capacity: classes)
        nodeCounts = .allocate(capacity: classes)
        bestLeft = .allocate(capacity: classes)
    }

    deinit {
        classOf.deallocate(); weight.deallocate(); rowsOf.deallocate(); hist.deallocate()
        binRows.deallocate(); keys.deallocate(); spill.deallocate(); tagAt.deallocate(); spillTag.deallocate(); perm.deallocate(); leftCounts.deallocate()
        nodeCounts.deallocate(); bestLeft.deallocate(); binMask.deallocate(); localBins.deallocate()
    }

    /// Grows tree `treeIndex` (its random numbers depend only on the seed and this index).
    func build(treeIndex: Int) -> TrainedTree {
        switch params.criterion {
        case .gini: return grow(treeIndex: treeIndex, GiniRule.self)
        case .entropy: return grow(treeIndex: treeIndex, EntropyRule.self)
        }
    }

    /// Draws the tree's rows: bootstrap counts become row weights, so no row is copied.
    /// Fills `rowsOf[0..<m]` with the drawn rows in ascending order; returns m.
    private func drawRows(_ rng: inout TreeRandom) -> Int {
        weight.initialize(repeating: 0, count: n)
        let draws = max(1, Int((params.sampleFraction * Double(n)).rounded()))
        if params.bootstrap {
            // Weights live in 20 bits of a row's tag; no real draw comes near the cap.
            for _ in 0..<draws {
                let r = rng.below(n)
                if weight[r] < 0xF_FFFF { weight[r] += 1 }
            }
        } else if draws < n {
            for r in 0..<n { rowsOf[r] = Int32(r) }
            for i in 0..<draws {
                let j = i + rng.below(n - i)
                let t = rowsOf[i]; rowsOf[i] = rowsOf[j]; rowsOf[j] = t
                weight[Int(rowsOf[i])] = 1
            }
        } else {
            weight.update(repeating: 1, count: n)
        }
        var m = 0
        for r in 0..<n where weight[r] > 0 {
            rowsOf[m] = Int32(r)
            m += 1
        }
        return m
    }

    private func grow<R: ScoreRule>(treeIndex: Int, _ rule: R.Type) -> TrainedTree {
        var rng = TreeRandom(seed: params.seed, treeIndex: treeIndex)
        var tree = TrainedTree(index: treeIndex)
        let m = drawRows(&rng)
        inBagRows = m
        for i in 0..<m { let r = Int(rowsOf[i]); tagAt[i] = UInt32(classOf[r]) << 20 | UInt32(weight[r]) }
        var inBag = [UInt64](repeating: 0, count: (n + 63) / 64)
        for i in 0..<m { let r = Int(rowsOf[i]); inBag[r >> 6] |= 1 << UInt64(r & 63) }
        tree.inBag = inBag
        // Every tree starts from the same candidate order, so a builder's history never
        // leaks into the next tree.
        for (i, f) in candidates.enumerated() { perm[i] = f }

        let k = classes
        let maxDepth = params.maxDepth ?? Int.max
        let minSplit = max(2, params.minSamplesSplit)
        let minLeaf = max(1, params.minSamplesLeaf)
        let estimate = min(2 * m, 1 << 16)
        tree.feature.reserveCapacity(estimate)
        tree.splitBin.reserveCapacity(estimate)
        tree.threshold.reserveCapacity(estimate)
        tree.child.reserveCapacity(estimate)
        tree.leafCounts.reserveCapacity(estimate / 2 * k)

        tree.feature.append(-1); tree.splitBin.append(0); tree.threshold.append(0); tree.child.append(-1)
        var stack: [(start: Int32, end: Int32, depth: Int32, node: Int32, constants: Int32, local: Bool)] = [(0, Int32(m), 0, 0, 0, false)]
        stack.reserveCapacity(128)
        // The class counts of the nodes on the stack, K per entry: a child's counts come
        // from its parent's split, so no node recounts its rows.
        var pending = [Int32](repeating: 0, count: k)
        pending.reserveCapacity(128 * k)
        for i in 0..<m { pending[Int(tagAt[i] >> 20)] &+= Int32(tagAt[i] & 0xF_FFFF) }
        while let (s32, e32, depth32, node32, constants32, local) = stack.popLast() {
            inLocal = local
            let s = Int(s32), e = Int(e32), depth = Int(depth32), node = Int(node32)
            let count = e - s
            var total: Int32 = 0
            let base = pending.count - k
            for c in 0..<k {
                nodeCounts[c] = pending[base + c]
                total &+= nodeCounts[c]
            }
            pending.removeLast(k)
            var present = 0
            var aggTotal = 0.0
            for c in 0..<k where nodeCounts[c] > 0 {
                present += 1
                aggTotal += R.term(nodeCounts[c], table)
            }
            var best = SplitChoice()
            var constants = Int(constants32)
            if depth < maxDepth && count >= minSplit && count >= 2 * minLeaf && present > 1 {
                if !inLocal && count <= localRows && count * sparseBelow < inBagRows {
                    // This subtree's rows from now on: copied once, read many times. (Dense
                    // nodes keep reading columns, where neighbouring rows share cache lines.)
                    let d = data.features
                    for i in s..<e {
                        (localBins + (i - s) * d).update(from: rowBins + Int(rowsOf[i]) * d, count: d)
                        rowsOf[i] = Int32(i - s)
                    }
                    inLocal = true
                }
                (best, constants) = findSplit(s, e, total: total, aggTotal: aggTotal, minLeaf: minLeaf,
                                              knownConstants: constants, &rng, R.self)
            }
            if best.feature < 0 {
                tree.child[node] = Int32(tree.leafCounts.count / k)
                for c in 0..<k { tree.leafCounts.append(Float(nodeCounts[c])) }
                continue
            }
            // Partition the node's rows, stably: rows stay in ascending order within every
            // node, so the split sweeps read each feature column front to back (prefetchable,
            // and neighbouring rows share cache lines) instead of jumping around it.
            let (col, stride) = binsOf(best.feature, rows: count)
            let lb = UInt8(best.leftBin)
            // Branch-free: each row is written to both places and only one index advances
            // (the direction of a split is a coin flip the branch predictor cannot learn).
            var i = s, moved = 0
            let rowsOf = rowsOf, tagAt = tagAt, spill = spill, spillTag = spillTag
            for j in s..<e {
                let r = rowsOf[j], t = tagAt[j]
                let left = col[Int(r) &* stride] <= lb ? 1 : 0
                rowsOf[i] = r
                tagAt[i] = t
                spill[moved] = r
                spillTag[moved] = t
                i += left
                moved += 1 - left
            }
            (rowsOf + i).update(from: spill, count: moved)
            (tagAt + i).update(from: spillTag, count: moved)
            let left = tree.feature.count
            tree.feature[node] = Int32(best.feature)
            tree.splitBin[node] = lb
            tree.threshold[node] = data.threshold(feature: best.feature, leftBin: best.leftBin,
                                                  rightBin: best.rightBin)
            tree.child[node] = Int32(left)
            for _ in 0..<2 {
                tree.feature.append(-1); tree.splitBin.append(0); tree.threshold.append(0); tree.child.append(-1)
            }
            // Right pushed first so the left subtree is grown first (depth first).
            stack.append((Int32(i), e32, depth32 + 1, Int32(left + 1), Int32(constants), inLocal))
            stack.append((s32, Int32(i), depth32 + 1, Int32(left), Int32(constants), inLocal))
            for c in 0..<k { pending.append(nodeCounts[c] &- bestLeft[c]) }
            for c in 0..<k { pending.append(bestLeft[c]) }
        }
        return tree
    }

    /// The best split of `rows` (with `weights`) over `features`, scored in the given order,
    /// through the histogram or the sort path. For checking the split search itself.
    func bestSplit(rows: [Int32], weights: [Int32], features: [Int], sorted: Bool) -> SplitChoice {
        weight.initialize(repeating: 0, count: n)
        for (i, r) in rows.enumerated() {
            rowsOf[i] = r
            weight[Int(r)] = weights[i]
            tagAt[i] = UInt32(classOf[Int(r)]) << 20 | UInt32(weights[i])
        }
        let k = classes
        nodeCounts.initialize(repeating: 0, count: k)
        var total: Int32 = 0
        for r in rows { nodeCounts[Int(classOf[Int(r)])] += weight[Int(r)]; total += weight[Int(r)] }
        var best = SplitChoice()
        func run<R: ScoreRule>(_ rule: R.Type) {
            var aggTotal = 0.0
            for c in 0..<k where nodeCounts[c] > 0 { aggTotal += R.term(nodeCounts[c], table) }
            for f in features {
                if sorted {
                    _ = sortedSweep(f, 0, rows.count, total: total, aggTotal: aggTotal,
                                    minLeaf: max(1, params.minSamplesLeaf), &best, R.self)
                } else {
                    _ = histogramSweep(f, 0, rows.count, total: total, aggTotal: aggTotal,
                                       minLeaf: max(1, params.minSamplesLeaf), &best, R.self)
                }
            }
        }
        switch params.criterion {
        case .gini: run(GiniRule.self)
        case .entropy: run(EntropyRule.self)
        }
        return best
    }

    /// Where feature `f`'s bin of row `r` of a node of `rows` rows is: `col[r * stride]`.
    @inline(__always)
    private func binsOf(_ f: Int, rows: Int) -> (UnsafePointer<UInt8>, Int) {
        if inLocal { return (UnsafePointer(localBins) + f, data.features) }
        if rows * sparseBelow < inBagRows { return (rowBins + f, data.features) }
        return (bins + f * n, 1)
    }

    /// Draws features at random, scikit-learn's way: `featuresPerNode` draws, constant
    /// features included, and more only until one non-constant feature has been scored.
    /// Features found constant are moved to the front of `perm` and stay known constant for
    /// the node's descendants (which cannot vary where their ancestor did not), so deep nodes
    /// do not rescan them. Returns the best split and the new known-constant count.
    private func findSplit<R: ScoreRule>(_ s: Int, _ e: Int, total: Int32, aggTotal: Double, minLeaf: Int,
                                         knownConstants: Int, _ rng: inout TreeRandom,
                                         _ rule: R.Type) -> (SplitChoice, Int) {
        var best = SplitChoice()
        let useSort = e - s < sortBelow
        var end = candidates.count       // perm[end...] : scored, not constant
        var drawnConstants = 0           // known constants drawn so far: perm[..<drawnConstants]
        var foundConstants = 0           // newly found: perm[knownConstants..<totalConstants]
        var totalConstants = knownConstants
        var visited = 0
        while end > totalConstants
            && (visited < featuresPerNode || visited <= foundConstants + drawnConstants) {
            visited += 1
            var j = drawnConstants + rng.below(end - foundConstants - drawnConstants)
            if j < knownConstants {
                swapAt(perm, drawnConstants, j)
                drawnConstants += 1
                continue
            }
            j += foundConstants
            let f = Int(perm[j])
            let varied: Bool
            if useSort {
                varied = sortedSweep(f, s, e, total: total, aggTotal: aggTotal, minLeaf: minLeaf, &best, R.self)
            } else {
                varied = histogramSweep(f, s, e, total: total, aggTotal: aggTotal, minLeaf: minLeaf, &best, R.self)
            }
            if !varied {
                swapAt(perm, j, totalConstants)
                foundConstants += 1
                totalConstants += 1
                continue
            }
            end -= 1
            swapAt(perm, end, j)
        }
        return (best, totalConstants)
    }

    /// Adds weight `h` of class `c` to the left side of the sweep.
    @inline(__always)
    private func moveLeft<R: ScoreRule>(_ c: Int, _ h: Int32, _ aggL: inout Double, _ aggR: inout Double,
                                        _ rule: R.Type) {
        let l = leftCounts[c]
        let r = nodeCounts[c] &- l
        // term(r - h) - term(r) = -step(r - h, h): the same value, the same rounding.
        aggL += R.step(l, h, table)
        aggR -= R.step(r &- h, h, table)
        leftCounts[c] = l &+ h
    }

    /// Split search on one feature through a (bin, class) histogram of the node's rows.
    /// Returns false when the feature is constant on the node.
    private func histogramSweep<R: ScoreRule>(_ f: Int, _ s: Int, _ e: Int, total: Int32, aggTotal: Double,
                                              minLeaf: Int, _ best: inout SplitChoice, _ rule: R.Type) -> Bool {
        let k = classes
        let (col, stride) = binsOf(f, rows: e - s)
        var minBin = 255, maxBin = 0
        // With at most 64 classes each bin also records which classes it holds, so the sweep
        // visits those (usually one or two) instead of every class.
        let masked = k <= 64
        let hist = hist, binRows = binRows, binMask = binMask, rowsOf = rowsOf, tagAt = tagAt
        if masked {
            for i in s..<e {
                let b = Int(col[Int(rowsOf[i]) &* stride])
                let t = tagAt[i]
                let c = Int(t >> 20)
                hist[b &* k &+ c] &+= Int32(t & 0xF_FFFF)
                binRows[b] &+= 1
                binMask[b] |= 1 << UInt64(c)
                minBin = min(minBin, b)
                maxBin = max(maxBin, b)
            }
        } else {
            for i in s..<e {
                let b = Int(col[Int(rowsOf[i]) &* stride])
                let t = tagAt[i]
                hist[b &* k &+ Int(t >> 20)] &+= Int32(t & 0xF_FFFF)
                binRows[b] &+= 1
                minBin = min(minBin, b)
                maxBin = max(maxBin, b)
            }
        }
        if minBin == maxBin {
            for c in 0..<k { hist[minBin * k + c] = 0 }
            binRows[minBin] = 0
            binMask[minBin] = 0
            return false
        }
        let count = e - s
        leftCounts.initialize(repeating: 0, count: k)
        var aggL = 0.0, aggR = aggTotal
        var wL: Int32 = 0, nL = 0
        var previous = minBin
        for b in minBin...maxBin {
            let rowsInBin = Int(binRows[b])
            if rowsInBin == 0 { continue }
            if b != minBin && nL >= minLeaf && count - nL >= minLeaf {
                let score = R.score(aggL, wL, aggR, total &- wL, table)
                if score > best.score {
                    best = SplitChoice(feature: f, leftBin: previous, rightBin: b, score: score)
                    bestLeft.update(from: leftCounts, count: classes)
                }
            }
            let row = hist + b &* k
            if masked {
                var present = binMask[b]
                binMask[b] = 0
                while present != 0 {
                    let c = present.trailingZeroBitCount
                    present &= present &- 1
                    let h = row[c]
                    moveLeft(c, h, &aggL, &aggR, R.self)
                    wL &+= h
                    row[c] = 0
                }
            } else {
                for c in 0..<k {
                    let h = row[c]
                    if h != 0 {
                        moveLeft(c, h, &aggL, &aggR, R.self)
                        wL &+= h
                        row[c] = 0
                    }
                }
            }
            nL += rowsInBin
            binRows[b] = 0
            previous = b
        }
        return true
    }

    /// Split search on one feature by sorting the node's (bin, class, weight) keys: cheaper
    /// than a histogram sweep for small nodes (always row-major: small nodes are sparse). Visits the same boundaries in the same order
    /// with the same updates as `histogramSweep`, so both give identical choices.
    private func sortedSweep<R: ScoreRule>(_ f: Int, _ s: Int, _ e: Int, total: Int32, aggTotal: Double,
                                           minLeaf: Int, _ best: inout SplitChoice, _ rule: R.Type) -> Bool {
        let (col, stride) = binsOf(f, rows: e - s)
        let count = e - s
        for i in 0..<count {
            keys[i] = UInt64(col[Int(rowsOf[s + i]) &* stride]) << 32 | UInt64(tagAt[s + i])
        }
        sortKeys(keys, count)
        if keys[0] >> 32 == keys[count - 1] >> 32 { return false }
        leftCounts.initialize(repeating: 0, count: classes)
        var aggL = 0.0, aggR = aggTotal
        var wL: Int32 = 0, nL = 0
        var previous = -1
        var j = 0
        while j < count {
            let b = Int(keys[j] >> 32)
            if previous >= 0 && nL >= minLeaf && count - nL >= minLeaf {
                let score = R.score(aggL, wL, aggR, total &- wL, table)
                if score > best.score {
                    best = SplitChoice(feature: f, leftBin: previous, rightBin: b, score: score)
                    bestLeft.update(from: leftCounts, count: classes)
                }
            }
            while j < count && Int(keys[j] >> 32) == b {
                let group = keys[j] >> 20
                var h: Int32 = 0
                while j < count && keys[j] >> 20 == group {
                    h &+= Int32(truncatingIfNeeded: keys[j] & 0xF_FFFF)
                    nL += 1
                    j += 1
                }
                moveLeft(Int(group & 0xFFF), h, &aggL, &aggR, R.self)
                wL &+= h
            }
            previous = b
        }
        return true
    }
}

/// In-place ascending sort of `count` keys: insertion sort for short runs, quicksort above.
/// (The standard library's sort allocates a merge buffer; this runs at every small node.)
@inline(__always)
func sortKeys(_ a: UnsafeMutablePointer<UInt64>, _ count: Int) {
    var lo = 0, hi = count - 1
    while hi - lo > 24 {
        // Median of three as the pivot.
        let mid = lo + (hi - lo) / 2
        if a[mid] < a[lo] { swapAt(a, mid, lo) }
        if a[hi] < a[lo] { swapAt(a, hi, lo) }
        if a[hi] < a[mid] { swapAt(a, hi, mid) }
        let pivot = a[mid]
        var i = lo, j = hi
        while i <= j {
            while a[i] < pivot { i += 1 }
            while a[j] > pivot { j -= 1 }
            if i <= j { swapAt(a, i, j); i += 1; j -= 1 }
        }
        // Recurse into the smaller part, loop on the larger: stack depth stays O(log n).
        if j - lo < hi - i {
            sortKeys(a + lo, j - lo + 1)
            lo = i
        } else {
            sortKeys(a + i, hi - i + 1)
            hi = j
        }
    }
    if hi <= lo { return }
    for i in (lo + 1)...hi {
        let v = a[i]
        var j = i - 1
        while j >= lo && a[j] > v {
            a[j + 1] = a[j]
            j -= 1
        }
        a[j + 1] = v
    }
}

@inline(__always)
private func swapAt<T>(_ a: UnsafeMutablePointer<T>, _ i: Int, _ j: Int) {
    let t = a[i]; a[i] = a[j]; a[j] = t
}
