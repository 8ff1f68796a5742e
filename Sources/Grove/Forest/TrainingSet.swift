/// The training rows as the tree builder wants them: every feature binned once into at most
/// 256 ordered bins, stored column-major as bytes, and every label mapped to a class index.
///
/// Binning is what makes split search cheap: a node's best threshold on a feature is found by
/// counting (bin, class) pairs and sweeping the bins, instead of sorting real values. Each bin
/// remembers the smallest and largest real value that fell into it, so a split between two
/// bins becomes a real threshold halfway between them (as scikit-learn places it), and models
/// predict on raw values without knowing the bins.
public final class TrainingSet {
    /// Number of rows.
    public let rows: Int
    /// Number of feature columns.
    public let features: Int
    /// `bins[f * rows + r]`: the bin of row `r` in feature `f`.
    public let bins: UnsafeMutableBufferPointer<UInt8>
    /// Bins used by each feature (1...256; 1 means the feature is constant).
    public let binCounts: [Int]
    /// `low[f * 256 + b]`, `high[f * 256 + b]`: smallest and largest value in bin `b` of `f`.
    public let low: [Double]
    public let high: [Double]
    /// Class index (into `classes`) of each row.
    public let classIndex: [UInt16]
    /// The labels the classes stand for, ascending.
    public let classes: [Int32]
    /// The input's header (metadata is copied into models for provenance).
    public let header: ZmatHeader
    /// XXH64 content hash of the input rows.
    public let inputHash: UInt64

    /// Largest label value accepted; labels are class numbers, not arbitrary integers.
    public static let maxLabel: Int32 = 65535
    /// Most classes a model may have (split search keeps a bins x classes histogram).
    public static let maxClasses = 4096

    init(rows: Int, features: Int, threads: Int, bins: UnsafeMutableBufferPointer<UInt8>, binCounts: [Int],
         low: [Double], high: [Double], classIndex: [UInt16], classes: [Int32],
         header: ZmatHeader, inputHash: UInt64) {
        self.rows = rows
        self.features = features
        self.bins = bins
        rowBins = TrainingSet.transpose(bins, rows: rows, features: features, threads: threads)
        self.binCounts = binCounts
        self.low = low
        self.high = high
        self.classIndex = classIndex
        self.classes = classes
        self.header = header
        self.inputHash = inputHash
    }

    /// `rowBins[r * features + f]`: the same bins row-major. Small nodes read these: their
    /// rows are scattered over each column (a cache miss per row and feature), while the
    /// features drawn at a node share a row's few cache lines. Halves tree time on pixels.
    public let rowBins: UnsafeMutableBufferPointer<UInt8>

    /// Transposes the column-major bins, in tiles of rows so both sides stay in cache.
    private static func transpose(_ bins: UnsafeMutableBufferPointer<UInt8>, rows n: Int, features d: Int,
                                  threads: Int) -> UnsafeMutableBufferPointer<UInt8> {
        let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, n * d))
        let tile = 64
        let tiles = (n + tile - 1) / tile
        Parallel.forEach(tiles, threads: threads) { t in
            let r0 = t * tile, r1 = min(n, r0 + tile)
            for f in 0..<d {
                let col = bins.baseAddress! + f * n
                for r in r0..<r1 { out[r * d + f] = col[r] }
            }
        }
        return out
    }

    deinit {
        bins.deallocate()
        rowBins.deallocate()
    }

    /// Reads a labelled zmat stream and bins it.
    ///
    /// - Parameters:
    ///   - classes: the class labels the model must have, or nil for the labels seen.
    ///     A label outside an explicit list is an error.
    ///   - budget: memory the rows may take; each block is charged as it arrives, and the
    ///     binned copies before they are made (see `memoryNeeded`).
    public static func load(_ reader: ZmatReader, classes explicitClasses: [Int32]? = nil,
                            threads: Int, budget: MemoryBudget? = nil) throws -> TrainingSet {
        let header = reader.header
        let name = reader.name
        var blocks = [RowBlock?]()
        var n = 0
        if header.hasLabels && header.columns > 0 {
            while let b = try reader.nextBlock() {
                try budget?.charge(b.rows * (header.rowBytes + 4),
                                   holding: "\(n + b.rows) training rows of \(header.columns) \(header.elementType) columns",
                                   file: name)
                blocks.append(b)
                n += b.rows
            }
            try budget?.charge(binnedBytes(rows: n, features: header.columns),
                               holding: "\(n) rows x \(header.columns) features binned for training (2 bytes per value, 22 per row)",
                               file: name)
        }
        return try build(header: header, name: name, blocks: &blocks, rows: n,
                         hash: reader.contentHash ?? 0, classes: explicitClasses, threads: threads)
    }

    /// What a training set of `rows` x `features` holds besides the raw rows: the bins
    /// column-major and row-major (one byte each per value), and per row its label and class
    /// while loading plus the index arrays tree growth partitions (about 22 bytes).
    public static func binnedBytes(rows: Int, features: Int) -> Int {
        let (values, o1) = rows.multipliedReportingOverflow(by: features)
        let (twice, o2) = values.multipliedReportingOverflow(by: 2)
        let (total, o3) = twice.addingReportingOverflow(rows &* 22)
        return o1 || o2 || o3 ? Int.max : total
    }

    /// Bins a matrix already in memory (its content hash is not known: recorded as 0).
    public static func make(_ matrix: Matrix, name: String = "<matrix>", classes: [Int32]? = nil,
                            threads: Int = 1) throws -> TrainingSet {
        var blocks: [RowBlock?] = [matrix.block]
        return try build(header: matrix.header, name: name, blocks: &blocks, rows: matrix.rows,
                  hash: 0, classes: classes, threads: threads)
    }

    /// Takes the blocks out of `blocks` (freeing each once copied, to bound peak memory).
    private static func build(header: ZmatHeader, name: String, blocks: inout [RowBlock?], rows n: Int,
                              hash: UInt64, classes explicitClasses: [Int32]?, threads: Int) throws -> TrainingSet {
        guard header.hasLabels else {
            throw GroveError(file: name, "rows have no labels; rf-tree trains on labelled rows (e.g. from mnist-decode)")
        }
        guard header.columns > 0 else {
            throw GroveError(file: name, "rows have no feature columns")
        }
        let d = header.columns
        guard n > 0 else { throw GroveError(file: name, "no rows to train on") }
        guard n < Int(Int32.max) else { throw GroveError(file: name, "\(n) rows is beyond the limit of \(Int32.max)") }

        // Labels first: a bad label is reported before any heavy work.
        var labels = [Int32](repeating: 0, count: n)
        var at = 0
        for b in blocks {
            let l = b!.labels!
            for i in 0..<l.count {
                let v = l[i]
                if v < 0 || v > maxLabel {
                    throw GroveError(file: name, "row \(at + i): label \(v) is out of range; labels are class numbers 0...\(maxLabel)")
                }
                labels[at + i] = v
            }
            at += l.count
        }
        var lookup = [Int32](repeating: -1, count: Int(maxLabel) + 1)
        let classes: [Int32]
        if let explicitClasses {
            classes = explicitClasses
            for (k, c) in classes.enumerated() { lookup[Int(c)] = Int32(k) }
        } else {
            var seen = [Bool](repeating: false, count: Int(maxLabel) + 1)
            for v in labels { seen[Int(v)] = true }
            classes = (0...Int(maxLabel)).filter { seen[$0] }.map { Int32($0) }
            for (k, c) in classes.enumerated() { lookup[Int(c)] = Int32(k) }
        }
        guard classes.count <= maxClasses else {
            throw GroveError(file: name, "\(classes.count) classes is beyond the limit of \(maxClasses)")
        }
        var classIndex = [UInt16](repeating: 0, count: n)
        for r in 0..<n {
            let k = lookup[Int(labels[r])]
            if k < 0 {
                throw GroveError(file: name, "row \(r): label \(labels[r]) is not one of the classes given (\(classes.map(String.init).joined(separator: ",")))")
            }
            classIndex[r] = UInt16(k)
        }
        labels = []

        let bins = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, n * d))
        var binCounts = [Int](repeating: 1, count: d)
        var low = [Double](repeating: 0, count: d * 256)
        var high = [Double](repeating: 0, count: d * 256)

        if header.elementType == .uint8 {
            // Pixels already are bins: transpose, then renumber each column's values densely so
            // values no row has cost nothing in the split sweeps.
            var start = 0
            for k in 0..<blocks.count {
                let b = blocks[k]!
                let v = b.values(as: UInt8.self)
                let rowsInBlock = b.rows
                let base = start
                Parallel.forEach(min(threads, 8), threads: threads) { part in
                    for f in Parallel.ranges(d, parts: min(threads, 8))[part] {
                        let col = bins.baseAddress! + f * n + base
                        for i in 0..<rowsInBlock { col[i] = v[i * d + f] }
                    }
                }
                start += rowsInBlock
                blocks[k] = nil  // free as we go: peak memory is one copy plus a block
            }
            binCounts.withUnsafeMutableBufferPointer { counts in
                low.withUnsafeMutableBufferPointer { lo in
                    high.withUnsafeMutableBufferPointer { hi in
                        Parallel.forEach(d, threads: threads) { f in
                            let col = bins.baseAddress! + f * n
                            var present = [Bool](repeating: false, count: 256)
                            for i in 0..<n { present[Int(col[i])] = true }
                            var map = [UInt8](repeating: 0, count: 256)
                            var next = 0
                            for v in 0..<256 where present[v] {
                                map[v] = UInt8(next)
                                lo[f * 256 + next] = Double(v)
                                hi[f * 256 + next] = Double(v)
                                next += 1
                            }
                            counts[f] = next
                            for i in 0..<n { col[i] = map[Int(col[i])] }
                        }
                    }
                }
            }
        } else {
            // Columns are read straight from the blocks: no second copy of the whole input.
            let parts = blocks.map { $0! }
            blocks = []
            var nanAt = [Int](repeating: -1, count: d)
            binCounts.withUnsafeMutableBufferPointer { counts in
                low.withUnsafeMutableBufferPointer { lo in
                    high.withUnsafeMutableBufferPointer { hi in
                        nanAt.withUnsafeMutableBufferPointer { nanRow in
                            Parallel.forEach(d, threads: threads) { f in
                                var column = [Double](repeating: 0, count: n)
                                column.withUnsafeMutableBufferPointer { c in
                                    readColumn(parts, f, into: c)
                                }
                                if let r = column.firstIndex(where: { $0.isNaN }) {
                                    nanRow[f] = r
                                    return
                                }
                                counts[f] = binColumn(column, into: bins.baseAddress! + f * n,
                                                      low: lo.baseAddress! + f * 256,
                                                      high: hi.baseAddress! + f * 256)
                            }
                        }
                    }
                }
            }
            var worst: (row: Int, column: Int)?
            for f in 0..<d where nanAt[f] >= 0 {
                if worst == nil || nanAt[f] < worst!.row { worst = (nanAt[f], f) }
            }
            if let worst {
                bins.deallocate()
                throw GroveError(file: name, "row \(worst.row), column \(worst.column): NaN feature value; rf-tree needs numbers in every column")
            }
        }
        return TrainingSet(rows: n, features: d, threads: threads, bins: bins, binCounts: binCounts, low: low, high: high,
                           classIndex: classIndex, classes: classes, header: header, inputHash: hash)
    }

    private static func readColumn(_ blocks: [RowBlock], _ f: Int, into out: UnsafeMutableBufferPointer<Double>) {
        var at = 0
        for b in blocks {
            let d = b.columns
            switch b.elementType {
            case .uint8: let v = b.values(as: UInt8.self); for r in 0..<b.rows { out[at + r] = Double(v[r * d + f]) }
            case .int32: let v = b.values(as: Int32.self); for r in 0..<b.rows { out[at + r] = Double(v[r * d + f]) }
            case .float32: let v = b.values(as: Float.self); for r in 0..<b.rows { out[at + r] = Double(v[r * d + f]) }
            case .float64: let v = b.values(as: Double.self); for r in 0..<b.rows { out[at + r] = v[r * d + f] }
            }
            at += b.rows
        }
    }

    /// Bins one column: each distinct value its own bin when there are at most 256 of them,
    /// else quantile bins (about equal row counts, never splitting a run of equal values).
    /// Returns the number of bins.
    static func binColumn(_ column: [Double], into out: UnsafeMutablePointer<UInt8>,
                          low: UnsafeMutablePointer<Double>, high: UnsafeMutablePointer<Double>) -> Int {
        let n = column.count
        let sorted = column.sorted()
        var distinct = 1
        for i in 1..<n where sorted[i] != sorted[i - 1] { distinct += 1 }
        var bins = 0
        var i = 0
        while i < n {
            let remainingBins = 256 - bins
            let target = distinct <= 256 ? 1 : max(1, (n - i) / remainingBins)
            let start = i
            repeat {
                let v = sorted[i]
                while i < n && sorted[i] == v { i += 1 }
            } while i < n && (i - start < target || remainingBins == 1)
            low[bins] = sorted[start]
            high[bins] = sorted[i - 1]
            bins += 1
        }
        for r in 0..<n {
            // First bin whose largest value is >= x.
            let x = column[r]
            var lo = 0, hi = bins - 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                if high[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            out[r] = UInt8(lo)
        }
        return bins
    }

    /// The real threshold between bin `left` and bin `right` (> left) of feature `f`: halfway
    /// between the largest value on the left and the smallest on the right, so rows with
    /// `value <= threshold` go left exactly as the bins did in training.
    /// For byte and float32 inputs the threshold is a float32 value (models store float32).
    @inline(__always)
    public func threshold(feature f: Int, leftBin: Int, rightBin: Int) -> Double {
        let a = high[f * 256 + leftBin], b = low[f * 256 + rightBin]
        var t = a + (b - a) / 2
        if narrowThresholds { t = Double(Float(t)) }
        // When a and b are adjacent numbers the midpoint rounds onto b, and next to an
        // infinity it is infinite or NaN: fall back to a (still splits the rows the same way).
        return (t.isNaN || t >= b || t < a) ? a : t
    }

    /// Whether thresholds must be float32 values (see `ForestWriter.elementType`).
    public var narrowThresholds: Bool { ForestWriter.elementType(forTrainingInput: header.elementType) == .float32 }
}
