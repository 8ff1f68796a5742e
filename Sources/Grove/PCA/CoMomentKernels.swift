#if canImport(Glibc)
import Glibc
#endif

/// The symmetric rank-k update C += X^T X over a chunk of rows, the hot loop of `pca-fit`.
///
/// A register tile holds a few rows (i) x one or two vectors of columns (j) of C: per input
/// row the kernel loads the vectors of row elements, broadcasts the tile's i elements and
/// does one vector multiply-add per accumulator, so loads stay well below the arithmetic.
/// Only tiles reaching the diagonal or above it are computed, from the vector boundary at or
/// below the diagonal; `mirrorUpper` fills the lower triangle.
///
/// Two tile shapes, because the best one depends on the vector registers the binary was
/// compiled for: `wide` (8 x 2 vectors, 16 accumulators) fits AVX-512's 32 registers,
/// `narrow` (6 x 1 vector, 12 accumulator halves) fits AVX2's 16. Swift cannot test the
/// target's features at compile time, so `preferredShape` times both once per process. The
/// choice never changes a result: each element of C is summed over the rows in the same
/// order whatever the shape.
public enum CoMomentKernels {
    /// Rows per exact float32 chunk: 256 * 255 * 255 < 2^24, so every partial sum of uint8
    /// products in a float32 lane is an exact integer.
    static let exactChunkRows = 256
    /// Columns per cache block of `syrkFloat` (a multiple of 32): 256 rows x 256 float32 is 256 KiB.
    static let floatBlockColumns = 256

    typealias F16 = SIMD16<Float>
    typealias D8 = SIMD8<Double>

    /// A register tile shape.
    public enum Shape: Sendable {
        /// 8 rows x 2 vectors.
        case wide
        /// 6 rows x 1 vector.
        case narrow

        /// C rows per tile (a panel).
        public var rows: Int { self == .wide ? 8 : 6 }
    }

    /// Buffer geometry for d columns: rows of chunks and of C are `stride` apart, with zero
    /// padding after column d so tiles never need edge cases.
    struct Geometry: Sendable {
        /// d.
        let columns: Int
        /// The column range tiles cover: d rounded up to 16.
        let width: Int
        /// Row stride of chunks and of C (room for a last panel running past d).
        let stride: Int
        /// Rows of C (the last panel may run past d).
        var cRows: Int { width + 8 }

        init(columns: Int) {
            self.columns = columns
            width = (columns + 15) & ~15
            stride = width + 16
        }

        /// Panels (units of `shape.rows`) covering rows 0..<d.
        func panels(_ shape: Shape) -> Int { (columns + shape.rows - 1) / shape.rows }
    }

    // MARK: float32 tiles (exact integer path)

    /// The first column the float32 kernel computes for a panel starting at row i0.
    @inline(__always)
    static func firstColumnFloat(_ i0: Int) -> Int { (i0 / 16) * 16 }

    /// C[i][j] += sum over `rows` rows of x[r][i] * x[r][j] for the upper-triangle tiles of
    /// `panels`. `x` is float32 (row stride g.stride), `c` float64 (g.cRows x g.stride).
    /// Exact for integer data in chunks of at most `exactChunkRows`.
    static func syrkFloat(_ x: UnsafePointer<Float>, _ g: Geometry, rows: Int, panels: Range<Int>, shape: Shape,
                          into c: UnsafeMutablePointer<Double>) {
        let ld = g.stride
        // Column blocks keep the chunk's slice of the j columns in cache across the panels
        // (a wide chunk does not fit): each tile is still computed once, whole, so every
        // element's sum is the same as without blocking.
        let blockColumns = floatBlockColumns
        for jb in stride(from: 0, to: g.width, by: blockColumns) {
            let jEnd = jb + blockColumns
            for panel in panels {
                let i0 = panel * shape.rows
                let first = firstColumnFloat(i0)
                if first >= jEnd { break }
                switch shape {
                case .wide:
                    // This panel's tiles start at first + 32 m; take those starting in the block.
                    var j0 = jb <= first ? first : first + (jb - first + 31) / 32 * 32
                    while j0 < jEnd && j0 + 32 <= g.width {
                        floatTile8x2(x + i0, x + j0, ld, rows, c + i0 * ld + j0)
                        j0 += 32
                    }
                    if j0 < jEnd && j0 < g.width { floatTile8x1(x + i0, x + j0, ld, rows, c + i0 * ld + j0) }
                case .narrow:
                    var j0 = max(first, jb)
                    while j0 < jEnd && j0 < g.width {
                        floatTile6x1(x + i0, x + j0, ld, rows, c + i0 * ld + j0)
                        j0 += 16
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func floatTile8x2(_ xi: UnsafePointer<Float>, _ xj: UnsafePointer<Float>, _ ld: Int, _ rows: Int,
                                     _ c: UnsafeMutablePointer<Double>) {
        var a00 = F16(), a01 = F16(), a10 = F16(), a11 = F16(), a20 = F16(), a21 = F16()
        var a30 = F16(), a31 = F16(), a40 = F16(), a41 = F16(), a50 = F16(), a51 = F16()
        var a60 = F16(), a61 = F16(), a70 = F16(), a71 = F16()
        var p = xj, q = xi
        for _ in 0..<rows {
            let raw = UnsafeRawPointer(p)
            let y0 = raw.loadUnaligned(as: F16.self)
            let y1 = raw.loadUnaligned(fromByteOffset: 64, as: F16.self)
            var b = F16(repeating: q[0]); a00 += b * y0; a01 += b * y1
            b = F16(repeating: q[1]); a10 += b * y0; a11 += b * y1
            b = F16(repeating: q[2]); a20 += b * y0; a21 += b * y1
            b = F16(repeating: q[3]); a30 += b * y0; a31 += b * y1
            b = F16(repeating: q[4]); a40 += b * y0; a41 += b * y1
            b = F16(repeating: q[5]); a50 += b * y0; a51 += b * y1
            b = F16(repeating: q[6]); a60 += b * y0; a61 += b * y1
            b = F16(repeating: q[7]); a70 += b * y0; a71 += b * y1
            p += ld
            q += ld
        }
        var tile = (a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71)
        flushFloatTile(&tile, rows: 8, width: 32, into: c, ld)
    }

    @inline(__always)
    private static func floatTile8x1(_ xi: UnsafePointer<Float>, _ xj: UnsafePointer<Float>, _ ld: Int, _ rows: Int,
                                     _ c: UnsafeMutablePointer<Double>) {
        var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16(), a4 = F16(), a5 = F16(), a6 = F16(), a7 = F16()
        var p = xj, q = xi
        for _ in 0..<rows {
            let y = UnsafeRawPointer(p).loadUnaligned(as: F16.self)
            a0 += F16(repeating: q[0]) * y
            a1 += F16(repeating: q[1]) * y
            a2 += F16(repeating: q[2]) * y
            a3 += F16(repeating: q[3]) * y
            a4 += F16(repeating: q[4]) * y
            a5 += F16(repeating: q[5]) * y
            a6 += F16(repeating: q[6]) * y
            a7 += F16(repeating: q[7]) * y
            p += ld
            q += ld
        }
        var tile = (a0, a1, a2, a3, a4, a5, a6, a7)
        flushFloatTile(&tile, rows: 8, width: 16, into: c, ld)
    }

    @inline(__always)
    private static func floatTile6x1(_ xi: UnsafePointer<Float>, _ xj: UnsafePointer<Float>, _ ld: Int, _ rows: Int,
                                     _ c: UnsafeMutablePointer<Double>) {
        var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16(), a4 = F16(), a5 = F16()
        var p = xj, q = xi
        for _ in 0..<rows {
            let y = UnsafeRawPointer(p).loadUnaligned(as: F16.self)
            a0 += F16(repeating: q[0]) * y
            a1 += F16(repeating: q[1]) * y
            a2 += F16(repeating: q[2]) * y
            a3 += F16(repeating: q[3]) * y
            a4 += F16(repeating: q[4]) * y
            a5 += F16(repeating: q[5]) * y
            p += ld
            q += ld
        }
        var tile = (a0, a1, a2, a3, a4, a5)
        flushFloatTile(&tile, rows: 6, width: 16, into: c, ld)
    }

    /// Adds a register tile, spilled to memory as `rows` x `width` float32, into float64
    /// accumulators. A plain loop over memory compiles to packed conversions and adds; SIMD
    /// type conversions here became out-of-line calls that spilled every accumulator.
    @inline(__always)
    private static func flushFloatTile<T>(_ tile: inout T, rows: Int, width: Int, into c: UnsafeMutablePointer<Double>,
                                          _ ld: Int) {
        withUnsafeBytes(of: &tile) { raw in
            let f = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                let dst = c + r * ld, src = f + r * width
                for l in 0..<width { dst[l] += Double(src[l]) }
            }
        }
    }

    // MARK: float64 tiles (float path)

    /// The first column the float64 kernel computes for a panel starting at row i0.
    @inline(__always)
    static func firstColumnDouble(_ i0: Int, _ shape: Shape) -> Int {
        shape == .wide ? (i0 / 16) * 16 : (i0 / 8) * 8
    }

    /// As `syrkFloat`, for centered float64 rows.
    static func syrkDouble(_ x: UnsafePointer<Double>, _ g: Geometry, rows: Int, panels: Range<Int>, shape: Shape,
                           into c: UnsafeMutablePointer<Double>) {
        let ld = g.stride
        for panel in panels {
            let i0 = panel * shape.rows
            var j0 = firstColumnDouble(i0, shape)
            switch shape {
            case .wide:
                while j0 < g.width {
                    doubleTile8x2(x + i0, x + j0, ld, rows, c + i0 * ld + j0)
                    j0 += 16
                }
            case .narrow:
                while j0 < g.width {
                    doubleTile6x1(x + i0, x + j0, ld, rows, c + i0 * ld + j0)
                    j0 += 8
                }
            }
        }
    }

    @inline(__always)
    private static func doubleTile8x2(_ xi: UnsafePointer<Double>, _ xj: UnsafePointer<Double>, _ ld: Int, _ rows: Int,
                                      _ c: UnsafeMutablePointer<Double>) {
        var a00 = D8(), a01 = D8(), a10 = D8(), a11 = D8(), a20 = D8(), a21 = D8()
        var a30 = D8(), a31 = D8(), a40 = D8(), a41 = D8(), a50 = D8(), a51 = D8()
        var a60 = D8(), a61 = D8(), a70 = D8(), a71 = D8()
        var p = xj, q = xi
        for _ in 0..<rows {
            let raw = UnsafeRawPointer(p)
            let y0 = raw.loadUnaligned(as: D8.self)
            let y1 = raw.loadUnaligned(fromByteOffset: 64, as: D8.self)
            var b = D8(repeating: q[0]); a00 += b * y0; a01 += b * y1
            b = D8(repeating: q[1]); a10 += b * y0; a11 += b * y1
            b = D8(repeating: q[2]); a20 += b * y0; a21 += b * y1
            b = D8(repeating: q[3]); a30 += b * y0; a31 += b * y1
            b = D8(repeating: q[4]); a40 += b * y0; a41 += b * y1
            b = D8(repeating: q[5]); a50 += b * y0; a51 += b * y1
            b = D8(repeating: q[6]); a60 += b * y0; a61 += b * y1
            b = D8(repeating: q[7]); a70 += b * y0; a71 += b * y1
            p += ld
            q += ld
        }
        var tile = (a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71)
        flushDoubleTile(&tile, rows: 8, width: 16, into: c, ld)
    }

    @inline(__always)
    private static func doubleTile6x1(_ xi: UnsafePointer<Double>, _ xj: UnsafePointer<Double>, _ ld: Int, _ rows: Int,
                                      _ c: UnsafeMutablePointer<Double>) {
        var a0 = D8(), a1 = D8(), a2 = D8(), a3 = D8(), a4 = D8(), a5 = D8()
        var p = xj, q = xi
        for _ in 0..<rows {
            let y = UnsafeRawPointer(p).loadUnaligned(as: D8.self)
            a0 += D8(repeating: q[0]) * y
            a1 += D8(repeating: q[1]) * y
            a2 += D8(repeating: q[2]) * y
            a3 += D8(repeating: q[3]) * y
            a4 += D8(repeating: q[4]) * y
            a5 += D8(repeating: q[5]) * y
            p += ld
            q += ld
        }
        var tile = (a0, a1, a2, a3, a4, a5)
        flushDoubleTile(&tile, rows: 6, width: 8, into: c, ld)
    }

    @inline(__always)
    private static func flushDoubleTile<T>(_ tile: inout T, rows: Int, width: Int, into c: UnsafeMutablePointer<Double>,
                                           _ ld: Int) {
        withUnsafeBytes(of: &tile) { raw in
            let f = raw.baseAddress!.assumingMemoryBound(to: Double.self)
            for r in 0..<rows {
                let dst = c + r * ld, src = f + r * width
                for l in 0..<width { dst[l] += src[l] }
            }
        }
    }

    // MARK: choosing the shape

    /// The faster shape on this build and machine, timed once per process (about a
    /// millisecond) on synthetic data with each thread's CPU clock, so preemption by other
    /// processes does not count. Results do not depend on it.
    public static let preferredShape: Shape = {
        let g = Geometry(columns: 96)
        let rows = exactChunkRows
        let x = UnsafeMutablePointer<Float>.allocate(capacity: rows * g.stride)
        let c = UnsafeMutablePointer<Double>.allocate(capacity: g.cRows * g.stride)
        defer { x.deallocate(); c.deallocate() }
        x.initialize(repeating: 0, count: rows * g.stride)
        c.initialize(repeating: 0, count: g.cRows * g.stride)
        for r in 0..<rows { for j in 0..<g.columns { x[r * g.stride + j] = Float((r * 31 + j * 7) % 256) } }
        func cost(_ shape: Shape) -> UInt64 {
            var best = UInt64.max
            for _ in 0..<3 {
                let start = threadCPUNanoseconds()
                for _ in 0..<4 {
                    syrkFloat(x, g, rows: rows, panels: 0..<g.panels(shape), shape: shape, into: c)
                }
                best = min(best, threadCPUNanoseconds() &- start)
            }
            return best
        }
        let wide = cost(.wide), narrow = cost(.narrow)
        return narrow * 10 < wide * 9 ? .narrow : .wide  // narrow only when clearly faster
    }()

    private static func threadCPUNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Copies the upper triangle of a `stride`-strided matrix into a dense d x d symmetric one.
    static func mirrorUpper(_ c: UnsafePointer<Double>, ld: Int, columns d: Int) -> [Double] {
        var out = [Double](repeating: 0, count: d * d)
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<d {
                for j in i..<d {
                    let v = c[i * ld + j]
                    o[i * d + j] = v
                    o[j * d + i] = v
                }
            }
        }
        return out
    }
}
