#if canImport(Glibc)
import Glibc
#endif

/// Accumulates `CoMoments` from a stream of row blocks in one pass, memory O(d^2 + block).
///
/// uint8 rows take the exact integer path: rows are widened to float32 in chunks of at most
/// 256 (so every partial sum is an exact integer below 2^24), multiplied in SIMD register
/// tiles, and flushed into integer-valued float64 accumulators, one per worker. Integer sums
/// do not depend on order, so the result is identical whatever the thread count.
///
/// Other element types take the float64 path: rows are staged in batches of `batchRows`,
/// each batch is centered on its own mean, its co-moments are computed with the upper
/// triangle's tiles spread over the workers (each element is always summed in row order),
/// and the batch is folded into the running statistics with Chan's pairwise update. Batch
/// boundaries depend only on the row sequence, so this path too is thread-count independent.
public final class CoMomentAccumulator {
    /// Row width d.
    public let columns: Int
    /// The rows' type: uint8 takes the exact integer path, the rest the float64 path.
    public let elementType: ElementType
    /// Workers used (the result does not depend on it).
    public let threads: Int
    /// The input's name, for messages about bad values.
    public let name: String
    /// Rows seen so far.
    public private(set) var rows = 0

    /// Buffer layout: row stride `geometry.stride` (called ld below), zero padding after d.
    private let geometry: CoMomentKernels.Geometry
    private var ld: Int { geometry.stride }
    /// The register tile shape the kernels use (`CoMomentKernels.preferredShape` unless
    /// given); it changes the speed, never the result.
    public let shape: CoMomentKernels.Shape
    private var workers: [IntegerWorker] = []
    /// The statistics of no rows (made only when needed: its d x d zeros are not free).
    private var empty: CoMoments {
        CoMoments(columns: columns, accumulation: elementType == .uint8 ? .integer : .float)
    }

    // Float path staging.
    static let batchRows = 1024
    private var staging: UnsafeMutablePointer<Double>?
    private var staged = 0
    private var batchProducts: UnsafeMutablePointer<Double>?

    /// An accumulator for rows of `columns` elements of `elementType`; `name` is the input's
    /// name for messages.
    public init(columns: Int, elementType: ElementType, threads: Int, name: String,
                shape: CoMomentKernels.Shape = CoMomentKernels.preferredShape) {
        self.shape = shape
        self.columns = columns
        self.elementType = elementType
        self.threads = max(1, threads)
        self.name = name
        geometry = CoMomentKernels.Geometry(columns: columns)
    }

    /// Bytes the d x d matrices of a fit take (worker accumulators, the dense statistics,
    /// the covariance and the reduction), roughly.
    public static func estimatedBytes(columns: Int, threads: Int) -> Double {
        let g = CoMomentKernels.Geometry(columns: columns)
        return Double(max(1, threads) + 4) * 8 * Double(g.cRows) * Double(g.stride)
    }

    /// Refuses widths whose co-moment matrices would not fit in half of this machine's
    /// memory: a clear message instead of the out-of-memory killer.
    public static func checkMemory(columns: Int, threads: Int, name: String) throws {
        let need = estimatedBytes(columns: columns, threads: threads)
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return }
        let have = Double(pages) * Double(pageSize)
        if need > have / 2 {
            func gib(_ b: Double) -> String { String(Double(Int(b / Double(1 << 30) * 10)) / 10) }
            throw GroveError(file: name,
                "\(columns) columns need about \(gib(need)) GiB for the \(columns) x \(columns) co-moment matrices; this machine has \(gib(have)) GiB (reduce the width first, or use fewer --threads)")
        }
    }

    deinit {
        staging?.deallocate()
        batchProducts?.deallocate()
        runningM2?.deallocate()
    }

    /// Adds every row of `block` (of this accumulator's width and type).
    public func add(_ block: RowBlock) throws {
        precondition(block.columns == columns && block.elementType == elementType, "block shape")
        if block.rows == 0 || columns == 0 {
            rows += block.rows
            return
        }
        if elementType == .uint8 {
            addInteger(block)
        } else {
            try addFloat(block)
        }
        rows += block.rows
    }

    /// The statistics of every row added.
    public func finish() throws -> CoMoments {
        if elementType == .uint8 {
            guard !workers.isEmpty else { return empty }
            let d = columns
            var sums = [Double](repeating: 0, count: d)
            for w in workers {
                w.prepare()
                for j in 0..<d { sums[j] += w.sums[j] }
            }
            // Sum the workers' upper triangles into a dense symmetric matrix, rows split
            // across the workers (integer values: the order of the sums does not matter).
            var products = [Double](repeating: 0, count: d * d)
            var overflow = false
            let ld = ld
            // Plain pointers: no reference counting in the loop.
            let sources = workers.map { UnsafePointer($0.products) }
            let parts = Parallel.ranges(d, parts: threads * 4)
            products.withUnsafeMutableBufferPointer { out in
                let o = out.baseAddress!
                var flags = [Bool](repeating: false, count: parts.count)
                flags.withUnsafeMutableBufferPointer { flag in
                    Parallel.forEach(parts.count, threads: threads) { part in
                        for i in parts[part] {
                            for j in i..<d {
                                var v = 0.0
                                for source in sources { v += source[i * ld + j] }
                                if v >= CoMoments.exactIntegerLimit { flag[part] = true }
                                o[i * d + j] = v
                                o[j * d + i] = v
                            }
                        }
                    }
                }
                overflow = flags.contains(true)
            }
            if overflow {
                throw GroveError(file: name, "\(rows) rows are beyond the exact integer accumulation limit (2^53 per co-moment)")
            }
            return CoMoments(columns: d, count: rows, accumulation: .integer, first: sums, second: products)
        }
        try flushBatch()
        guard let m2 = runningM2, runningCount > 0 else { return empty }
        return CoMoments(columns: columns, count: runningCount, accumulation: .float, first: runningMean,
                         second: CoMomentKernels.mirrorUpper(m2, ld: ld, columns: columns))
    }

    // MARK: integer path

    /// One worker's chunk buffer and accumulators.
    private final class IntegerWorker {
        let chunk: UnsafeMutablePointer<Float>
        let products: UnsafeMutablePointer<Double>
        var sums: [Double]

        private let ld: Int, cRows: Int
        private var ready = false

        init(_ g: CoMomentKernels.Geometry) {
            ld = g.stride
            cRows = g.cRows
            chunk = .allocate(capacity: CoMomentKernels.exactChunkRows * ld)
            products = .allocate(capacity: cRows * ld)
            sums = [Double](repeating: 0, count: g.columns)
        }

        /// Zeroes the buffers on first use, on the thread that will use them (so their pages
        /// are faulted in in parallel, close to that core).
        func prepare() {
            if ready { return }
            ready = true
            chunk.initialize(repeating: 0, count: CoMomentKernels.exactChunkRows * ld)
            products.initialize(repeating: 0, count: cRows * ld)
        }

        deinit {
            chunk.deallocate()
            products.deallocate()
        }
    }

    private func addInteger(_ block: RowBlock) {
        if workers.isEmpty {
            let g = geometry
            workers = (0..<threads).map { _ in IntegerWorker(g) }
        }
        let pixels = UnsafePointer(block.values(as: UInt8.self).baseAddress!)
        let parts = Parallel.ranges(block.rows, parts: threads)
        let d = columns, ld = ld, g = geometry, shape = shape
        let panels = g.panels(shape)
        Parallel.forEach(parts.count, threads: threads) { t in
            let w = workers[t]
            w.prepare()
            var start = parts[t].lowerBound
            var rowSums = [Int](repeating: 0, count: d)
            while start < parts[t].upperBound {
                let n = min(CoMomentKernels.exactChunkRows, parts[t].upperBound - start)
                for r in 0..<n {
                    let src = pixels + (start + r) * d
                    let dst = w.chunk + r * ld
                    for j in 0..<d { dst[j] = Float(src[j]) }
                    rowSums.withUnsafeMutableBufferPointer { s in
                        for j in 0..<d { s[j] &+= Int(src[j]) }
                    }
                }
                CoMomentKernels.syrkFloat(w.chunk, g, rows: n, panels: 0..<panels, shape: shape, into: w.products)
                start += n
            }
            for j in 0..<d { w.sums[j] += Double(rowSums[j]) }
        }
    }

    // MARK: float path

    private func addFloat(_ block: RowBlock) throws {
        if staging == nil {
            staging = .allocate(capacity: CoMomentAccumulator.batchRows * ld)
            staging!.initialize(repeating: 0, count: CoMomentAccumulator.batchRows * ld)
            batchProducts = .allocate(capacity: geometry.cRows * ld)
            batchProducts!.initialize(repeating: 0, count: geometry.cRows * ld)
        }
        var done = 0
        while done < block.rows {
            let take = min(CoMomentAccumulator.batchRows - staged, block.rows - done)
            try stage(block, rows: done..<done + take)
            done += take
            if staged == CoMomentAccumulator.batchRows { try flushBatch() }
        }
    }

    /// Converts rows of `block` to float64 into the staging buffer, refusing NaN and infinity.
    private func stage(_ block: RowBlock, rows range: Range<Int>) throws {
        let d = columns, ld = ld
        let dst0 = staging! + staged * ld
        var bad: (row: Int, column: Int, value: Double)?
        switch elementType {
        case .int32:
            let v = block.values(as: Int32.self)
            for (k, r) in range.enumerated() {
                for j in 0..<d { dst0[k * ld + j] = Double(v[r * d + j]) }
            }
        case .float32:
            let v = block.values(as: Float.self)
            for (k, r) in range.enumerated() where bad == nil {
                var finite = true
                for j in 0..<d {
                    let x = v[r * d + j]
                    finite = finite && x.isFinite
                    dst0[k * ld + j] = Double(x)
                }
                if !finite, let j = (0..<d).first(where: { !v[r * d + $0].isFinite }) {
                    bad = (r, j, Double(v[r * d + j]))
                }
            }
        case .float64:
            let v = block.values(as: Double.self)
            for (k, r) in range.enumerated() where bad == nil {
                var finite = true
                for j in 0..<d {
                    let x = v[r * d + j]
                    finite = finite && x.isFinite
                    dst0[k * ld + j] = x
                }
                if !finite, let j = (0..<d).first(where: { !v[r * d + $0].isFinite }) {
                    bad = (r, j, v[r * d + j])
                }
            }
        case .uint8:
            preconditionFailure("uint8 takes the integer path")
        }
        if let bad {
            throw GroveError(file: name,
                "row \(rows + bad.row + 1), column \(bad.column + 1): \(bad.value), expected a finite number")
        }
        staged += range.count
    }

    /// Folds the staged batch into the running statistics.
    ///
    /// Each worker takes 8-row panels of the upper triangle: it computes the batch's centered
    /// co-moments for its panel and folds them straight into the running M2 with Chan's
    /// update, M2 += C + delta delta^T * na nb / n, where delta = batch mean - running mean.
    private func flushBatch() throws {
        let n = staged
        guard n > 0 else { return }
        staged = 0
        let d = columns, ld = ld
        let x = staging!
        let c = batchProducts!
        if runningM2 == nil {
            runningM2 = .allocate(capacity: geometry.cRows * ld)
            runningM2!.initialize(repeating: 0, count: geometry.cRows * ld)
            runningMean = [Double](repeating: 0, count: d)
        }
        let m2 = runningM2!
        // Batch mean, each column summed in row order; then center.
        var mean = [Double](repeating: 0, count: d)
        mean.withUnsafeMutableBufferPointer { m in
            for r in 0..<n {
                let row = x + r * ld
                for j in 0..<d { m[j] += row[j] }
            }
            let inv = 1 / Double(n)
            for j in 0..<d { m[j] *= inv }
            for r in 0..<n {
                let row = x + r * ld
                for j in 0..<d { row[j] -= m[j] }
            }
        }
        let na = Double(runningCount), nb = Double(n), total = na + nb
        let weight = na * nb / total
        var delta = [Double](repeating: 0, count: ld)
        for j in 0..<d { delta[j] = mean[j] - runningMean[j] }
        let g = geometry, shape = shape
        let panels = g.panels(shape)
        let chunk = 128
        delta.withUnsafeBufferPointer { deltaBuffer in
            let dl = deltaBuffer.baseAddress!
            Parallel.forEach(panels, threads: threads) { p in
                let i0 = p * shape.rows
                let jStart = CoMomentKernels.firstColumnDouble(i0, shape)
                for i in i0..<i0 + shape.rows {
                    (c + i * ld + jStart).update(repeating: 0, count: g.width - jStart)
                }
                var start = 0
                while start < n {
                    let rows = min(chunk, n - start)
                    CoMomentKernels.syrkDouble(UnsafePointer(x + start * ld), g, rows: rows,
                                               panels: p..<p + 1, shape: shape, into: c)
                    start += rows
                }
                for i in i0..<min(i0 + shape.rows, d) {
                    let di = dl[i] * weight
                    let src = c + i * ld, dst = m2 + i * ld
                    for j in jStart..<g.width { dst[j] += src[j] + di * dl[j] }
                }
            }
        }
        for j in 0..<d { runningMean[j] += delta[j] * (nb / total) }
        runningCount += n
    }

    // Float path running statistics: count, mean, and M2's upper triangle (ld x ld).
    private var runningCount = 0
    private var runningMean: [Double] = []
    private var runningM2: UnsafeMutablePointer<Double>?
}
