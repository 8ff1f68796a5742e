/// Projects rows onto a `PCAModel`'s components: y = (x - mean) . components^T, divided by
/// sqrt(explained variance) when the model whitens. Computed in float64 and stored as float32.
///
/// Each block's rows are split into contiguous ranges, one per worker; a row's result depends
/// only on the row, so the output is the same whatever the thread count.
public final class PCAProjector {
    /// The model projected onto.
    public let model: PCAModel
    /// Workers per block (the output does not depend on it).
    public let threads: Int
    /// Components scaled for whitening, K x d.
    private let axes: [Double]
    /// mean . axis_k, subtracted after the dot product (so rows need not be centered).
    private let offsets: [Double]
    /// One float64 row buffer per worker, 4 rows each.
    private let scratch: UnsafeMutablePointer<Double>
    private static let rowsPerStep = 4

    /// A projector for `model` using up to `threads` workers.
    public init(model: PCAModel, threads: Int) {
        self.model = model
        self.threads = max(1, threads)
        let d = model.columns, k = model.componentCount
        var axes = model.components
        if model.whiten {
            for c in 0..<k {
                let s = 1 / model.explainedVariance[c].squareRoot()
                for j in 0..<d { axes[c * d + j] *= s }
            }
        }
        self.axes = axes
        offsets = (0..<k).map { c in
            var s = 0.0
            for j in 0..<d { s += model.mean[j] * axes[c * d + j] }
            return s
        }
        scratch = .allocate(capacity: self.threads * PCAProjector.rowsPerStep * max(d, 1))
        scratch.initialize(repeating: 0, count: self.threads * PCAProjector.rowsPerStep * max(d, 1))
    }

    deinit { scratch.deallocate() }

    /// Projects `block` into `out` (block.rows x K float32). `firstRow` (0-based) and `name`
    /// locate rows in messages: NaN or infinite inputs are refused.
    public func project(_ block: RowBlock, into out: UnsafeMutablePointer<Float>, firstRow: Int, name: String) throws {
        precondition(block.columns == model.columns, "block width")
        let parts = Parallel.ranges(block.rows, parts: threads)
        var failures = [GroveError?](repeating: nil, count: parts.count)
        failures.withUnsafeMutableBufferPointer { fail in
            Parallel.forEach(parts.count, threads: threads) { t in
                fail[t] = projectRows(block, parts[t], out, scratch + t * PCAProjector.rowsPerStep * model.columns,
                                      firstRow: firstRow, name: name)
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
    }

    private func projectRows(_ block: RowBlock, _ range: Range<Int>, _ out: UnsafeMutablePointer<Float>,
                             _ buffer: UnsafeMutablePointer<Double>, firstRow: Int, name: String) -> GroveError? {
        let d = model.columns, k = model.componentCount
        var r = range.lowerBound
        return axes.withUnsafeBufferPointer { ab -> GroveError? in
            let a = ab.baseAddress!
            while r < range.upperBound {
                let m = min(PCAProjector.rowsPerStep, range.upperBound - r)
                block.convertRows(r..<r + m, into: UnsafeMutableBufferPointer(start: buffer, count: m * d))
                if block.elementType == .float32 || block.elementType == .float64 {
                    for i in 0..<m * d where !buffer[i].isFinite {
                        return GroveError(file: name,
                            "row \(firstRow + r + i / d + 1), column \(i % d + 1): \(buffer[i]), expected a finite number")
                    }
                }
                // Missing rows of a short step are zeros: every row takes the same arithmetic
                // path, so results do not depend on where the thread ranges split.
                if m < PCAProjector.rowsPerStep {
                    (buffer + m * d).update(repeating: 0, count: (PCAProjector.rowsPerStep - m) * d)
                }
                for c in 0..<k {
                    let dots = PCAProjector.dot4(buffer, d, a + c * d)
                    for i in 0..<m { out[(r + i) * k + c] = Float(dots[i] - offsets[c]) }
                }
                r += m
            }
            return nil
        }
    }

    /// Four rows (consecutive, stride d) dotted with one axis: the axis is loaded once.
    @inline(__always)
    private static func dot4(_ x: UnsafePointer<Double>, _ d: Int, _ y: UnsafePointer<Double>) -> SIMD4<Double> {
        typealias V = SIMD8<Double>
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        let ry = UnsafeRawPointer(y), rx = UnsafeRawPointer(x)
        var j = 0
        while j + 8 <= d {
            let w = ry.loadUnaligned(fromByteOffset: j * 8, as: V.self)
            a0 += rx.loadUnaligned(fromByteOffset: j * 8, as: V.self) * w
            a1 += rx.loadUnaligned(fromByteOffset: (d + j) * 8, as: V.self) * w
            a2 += rx.loadUnaligned(fromByteOffset: (2 * d + j) * 8, as: V.self) * w
            a3 += rx.loadUnaligned(fromByteOffset: (3 * d + j) * 8, as: V.self) * w
            j += 8
        }
        var s = SIMD4<Double>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
        while j < d {
            s += SIMD4(x[j], x[d + j], x[2 * d + j], x[3 * d + j]) * y[j]
            j += 1
        }
        return s
    }
}
