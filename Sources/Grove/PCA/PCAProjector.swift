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
    /// Components scaled for whitening, K rows of stride `stride`, 64-byte aligned.
    private let axes: UnsafeMutablePointer<Double>
    /// Row stride of `axes` and of the row buffers: d rounded up to whole cache lines, so
    /// vector loads never straddle two lines.
    private let stride: Int
    /// mean . axis_k, subtracted after the dot product (so rows need not be centered).
    private let offsets: [Double]
    /// One float64 row buffer per worker, 4 rows each.
    private let scratch: UnsafeMutablePointer<Double>
    private static func alignedDoubles(_ count: Int) -> UnsafeMutablePointer<Double> {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 8, alignment: 64)
            .bindMemory(to: Double.self, capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        return p
    }
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
        stride = (d + 7) & ~7
        self.axes = PCAProjector.alignedDoubles(k * stride)
        for c in 0..<k { for j in 0..<d { self.axes[c * stride + j] = axes[c * d + j] } }
        offsets = (0..<k).map { c in
            var s = 0.0
            for j in 0..<d { s += model.mean[j] * axes[c * d + j] }
            return s
        }
        scratch = PCAProjector.alignedDoubles(self.threads * PCAProjector.rowsPerStep * stride)
    }

    deinit {
        scratch.deallocate()
        axes.deallocate()
    }

    /// Projects `block` into `out` (block.rows x K float32). `firstRow` (0-based) and `name`
    /// locate rows in messages: NaN or infinite inputs are refused.
    public func project(_ block: RowBlock, into out: UnsafeMutablePointer<Float>, firstRow: Int, name: String) throws {
        precondition(block.columns == model.columns, "block width")
        let parts = Parallel.ranges(block.rows, parts: threads)
        var failures = [GroveError?](repeating: nil, count: parts.count)
        failures.withUnsafeMutableBufferPointer { fail in
            Parallel.forEach(parts.count, threads: threads) { t in
                fail[t] = projectRows(block, parts[t], out, scratch + t * PCAProjector.rowsPerStep * stride,
                                      firstRow: firstRow, name: name)
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
    }

    private func projectRows(_ block: RowBlock, _ range: Range<Int>, _ out: UnsafeMutablePointer<Float>,
                             _ buffer: UnsafeMutablePointer<Double>, firstRow: Int, name: String) -> GroveError? {
        let d = model.columns, k = model.componentCount, stride = stride
        let checkFinite = block.elementType == .float32 || block.elementType == .float64
        var r = range.lowerBound
        while r < range.upperBound {
            let m = min(PCAProjector.rowsPerStep, range.upperBound - r)
            for i in 0..<m {
                let row = buffer + i * stride
                block.convertRows(r + i..<r + i + 1, into: UnsafeMutableBufferPointer(start: row, count: d))
                if checkFinite, let j = (0..<d).first(where: { !row[$0].isFinite }) {
                    return GroveError(file: name,
                        "row \(firstRow + r + i + 1), column \(j + 1): \(row[j]), expected a finite number")
                }
            }
            // Missing rows of a short step are zeros: every row takes the same arithmetic
            // path, so results do not depend on where the thread ranges split.
            if m < PCAProjector.rowsPerStep {
                (buffer + m * stride).update(repeating: 0, count: (PCAProjector.rowsPerStep - m) * stride)
            }
            for c in 0..<k {
                let dots = PCAProjector.dot4(buffer, stride, axes + c * stride)
                for i in 0..<m { out[(r + i) * k + c] = Float(dots[i] - offsets[c]) }
            }
            r += m
        }
        return nil
    }

    /// Four rows (consecutive, `stride` apart, zero-padded) dotted with one axis of the same
    /// padded length: the axis is loaded once for the four. Aligned whole vectors only.
    @inline(__always)
    private static func dot4(_ x: UnsafePointer<Double>, _ stride: Int, _ y: UnsafePointer<Double>) -> SIMD4<Double> {
        typealias V = SIMD8<Double>
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        let ry = UnsafeRawPointer(y), rx = UnsafeRawPointer(x)
        var o = 0
        let end = stride * 8
        while o < end {
            let w = ry.load(fromByteOffset: o, as: V.self)
            a0 += rx.load(fromByteOffset: o, as: V.self) * w
            a1 += rx.load(fromByteOffset: end + o, as: V.self) * w
            a2 += rx.load(fromByteOffset: 2 * end + o, as: V.self) * w
            a3 += rx.load(fromByteOffset: 3 * end + o, as: V.self) * w
            o += 64
        }
        return SIMD4<Double>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    }
}
