/// The symmetric rank-k update C += X^T X over a chunk of rows, the hot loop of `pca-fit`.
///
/// Both kernels keep a register tile of 8 rows (i) x 2 vectors of columns (j) of C: per input
/// row they load two vectors of row elements, broadcast eight, and do 16 vector
/// multiply-adds, so the loads stay well below the arithmetic. Only tiles reaching the
/// diagonal or above it are computed, starting at the 16-column boundary below the
/// diagonal, with a half-width tile at the right edge, so at most 15 columns per 8-row
/// panel are computed needlessly; `mirrorUpper` fills the lower triangle.
enum CoMomentKernels {
    /// Rows per exact float32 chunk: 256 * 255 * 255 < 2^24, so every partial sum of uint8
    /// products in a float32 lane is an exact integer.
    static let exactChunkRows = 256

    /// Tile height (C rows per register tile).
    static let tileRows = 8

    /// Row stride, in elements, for a width: a multiple of 16 so every tile is whole
    /// (padding columns are zero and contribute nothing).
    static func paddedWidth(_ columns: Int) -> Int { (columns + 15) & ~15 }

    typealias F16 = SIMD16<Float>
    typealias D8 = SIMD8<Double>

    /// C[i][j] += sum over `rows` rows of x[r][i] * x[r][j], for the upper-triangle tiles whose
    /// first row lies in `panels` (units of `tileRows`). `x` is float32, row stride `ld`,
    /// `c` is ld x ld float64. Exact for integer data in chunks of at most `exactChunkRows`.
    static func syrkFloat(_ x: UnsafePointer<Float>, ld: Int, rows: Int, panels: Range<Int>,
                          into c: UnsafeMutablePointer<Double>) {
        for panel in panels {
            let i0 = panel * tileRows
            var j0 = (i0 / 16) * 16
            while j0 + 32 <= ld {
                tileFloat(x, ld, rows, i0, j0, c)
                j0 += 32
            }
            if j0 < ld { halfTileFloat(x, ld, rows, i0, j0, c) }
        }
    }

    /// Column panels of a packed chunk: 32 columns wide (the last one 16 when the padded
    /// width is an odd multiple of 16), each panel's rows contiguous. A tile then reads two
    /// short sequential streams, and a column panel (256 rows x 128 bytes) stays in L1 while
    /// every row panel above the diagonal is multiplied with it.
    struct PackedLayout {
        let ld: Int
        let capacity: Int
        var panelCount: Int { (ld + 31) / 32 }
        @inline(__always) func width(_ panel: Int) -> Int { min(32, ld - 32 * panel) }
        @inline(__always) func base(_ panel: Int) -> Int { 32 * panel * capacity }
        /// Where column c of row r lives.
        @inline(__always) func offset(row r: Int, column c: Int) -> Int {
            let panel = c >> 5
            return base(panel) + r * width(panel) + (c & 31)
        }
    }

    /// `syrkFloat` over a chunk in `PackedLayout`, for the C rows of `panels` (units of 8).
    static func syrkPacked(_ x: UnsafePointer<Float>, layout: PackedLayout, rows: Int, panels: Range<Int>,
                           into c: UnsafeMutablePointer<Double>) {
        let ld = layout.ld
        for jp in 0..<layout.panelCount {
            let j0 = 32 * jp, jw = layout.width(jp)
            let xj = x + layout.base(jp)
            for panel in panels {
                let i0 = panel * tileRows
                if i0 >= j0 + jw { break }
                let ip = i0 >> 5
                let xi = x + layout.base(ip) + (i0 & 31)
                let si = layout.width(ip)
                let out = c + i0 * ld + j0
                if jw == 32 && i0 < j0 + 16 {
                    tileFloat(xi, si, xj, 32, rows, out, ld)
                } else if jw == 32 {
                    halfTileFloat(xi, si, xj + 16, 32, rows, out + 16, ld)
                } else {
                    halfTileFloat(xi, si, xj, jw, rows, out, ld)
                }
            }
        }
    }

    @inline(__always)
    private static func tileFloat(_ x: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ i0: Int, _ j0: Int,
                                  _ c: UnsafeMutablePointer<Double>) {
        tileFloat(x + i0, ld, x + j0, ld, rows, c + i0 * ld + j0, ld)
    }

    /// C[0..<8][0..<32] += sum over rows of xi[r][0..<8]^T xj[r][0..<32] (row strides si, sj).
    @inline(__always)
    private static func tileFloat(_ xi: UnsafePointer<Float>, _ si: Int, _ xj: UnsafePointer<Float>, _ sj: Int,
                                  _ rows: Int, _ c: UnsafeMutablePointer<Double>, _ ld: Int) {
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
            p += sj
            q += si
        }
        var tile = (a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71)
        flushTile(&tile, rows: 8, width: 32, into: c, ld)
    }

    /// Adds a register tile, spilled to memory as `rows` x `width` float32, into float64
    /// accumulators. A plain loop over memory compiles to packed conversions and adds; SIMD
    /// type conversions here became out-of-line calls that spilled every accumulator.
    @inline(__always)
    private static func flushTile<T>(_ tile: inout T, rows: Int, width: Int, into c: UnsafeMutablePointer<Double>,
                                     _ ld: Int) {
        withUnsafeBytes(of: &tile) { raw in
            let f = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                let dst = c + r * ld, src = f + r * width
                for l in 0..<width { dst[l] += Double(src[l]) }
            }
        }
    }

    /// `tileFloat` for the last 16 columns.
    @inline(__always)
    private static func halfTileFloat(_ x: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ i0: Int, _ j0: Int,
                                      _ c: UnsafeMutablePointer<Double>) {
        halfTileFloat(x + i0, ld, x + j0, ld, rows, c + i0 * ld + j0, ld)
    }

    @inline(__always)
    private static func halfTileFloat(_ xi: UnsafePointer<Float>, _ si: Int, _ xj: UnsafePointer<Float>, _ sj: Int,
                                      _ rows: Int, _ c: UnsafeMutablePointer<Double>, _ ld: Int) {
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
            p += sj
            q += si
        }
        var tile = (a0, a1, a2, a3, a4, a5, a6, a7)
        flushTile(&tile, rows: 8, width: 16, into: c, ld)
    }

    /// The float64 kernel: as `syrkFloat`, for centered float64 rows (tiles 8 x 16).
    static func syrkDouble(_ x: UnsafePointer<Double>, ld: Int, rows: Int, panels: Range<Int>,
                           into c: UnsafeMutablePointer<Double>) {
        for panel in panels {
            let i0 = panel * tileRows
            var j0 = (i0 / 16) * 16
            while j0 < ld {
                tileDouble(x, ld, rows, i0, j0, c)
                j0 += 16
            }
        }
    }

    @inline(__always)
    private static func tileDouble(_ x: UnsafePointer<Double>, _ ld: Int, _ rows: Int, _ i0: Int, _ j0: Int,
                                   _ c: UnsafeMutablePointer<Double>) {
        var a00 = D8(), a01 = D8(), a10 = D8(), a11 = D8(), a20 = D8(), a21 = D8()
        var a30 = D8(), a31 = D8(), a40 = D8(), a41 = D8(), a50 = D8(), a51 = D8()
        var a60 = D8(), a61 = D8(), a70 = D8(), a71 = D8()
        var p = x
        for _ in 0..<rows {
            let raw = UnsafeRawPointer(p + j0)
            let y0 = raw.loadUnaligned(as: D8.self)
            let y1 = raw.loadUnaligned(fromByteOffset: 64, as: D8.self)
            let q = p + i0
            var b = D8(repeating: q[0]); a00 += b * y0; a01 += b * y1
            b = D8(repeating: q[1]); a10 += b * y0; a11 += b * y1
            b = D8(repeating: q[2]); a20 += b * y0; a21 += b * y1
            b = D8(repeating: q[3]); a30 += b * y0; a31 += b * y1
            b = D8(repeating: q[4]); a40 += b * y0; a41 += b * y1
            b = D8(repeating: q[5]); a50 += b * y0; a51 += b * y1
            b = D8(repeating: q[6]); a60 += b * y0; a61 += b * y1
            b = D8(repeating: q[7]); a70 += b * y0; a71 += b * y1
            p += ld
        }
        let base = c + i0 * ld + j0
        flushDouble(a00, a01, base)
        flushDouble(a10, a11, base + ld)
        flushDouble(a20, a21, base + 2 * ld)
        flushDouble(a30, a31, base + 3 * ld)
        flushDouble(a40, a41, base + 4 * ld)
        flushDouble(a50, a51, base + 5 * ld)
        flushDouble(a60, a61, base + 6 * ld)
        flushDouble(a70, a71, base + 7 * ld)
    }

    @inline(__always)
    private static func flushDouble(_ lo: D8, _ hi: D8, _ c: UnsafeMutablePointer<Double>) {
        let raw = UnsafeMutableRawPointer(c)
        raw.storeBytes(of: raw.loadUnaligned(as: D8.self) + lo, as: D8.self)
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: 64, as: D8.self) + hi, toByteOffset: 64, as: D8.self)
    }

    /// Copies the upper triangle of an ld-strided matrix into a dense d x d symmetric one.
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
