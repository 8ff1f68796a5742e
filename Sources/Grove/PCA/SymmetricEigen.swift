/// The largest eigenvalues and their eigenvectors of a real symmetric matrix.
///
/// Method (as LAPACK's dsytrd + dstebz + dstein, unblocked): Householder reduction to
/// tridiagonal form T = Q^T A Q; each wanted eigenvalue of T by bisection on Sturm counts (to
/// full working accuracy, independently of the others); its eigenvector of T by inverse
/// iteration with a pivoted tridiagonal factorisation, re-orthogonalised against the vectors
/// of nearby eigenvalues; and back-transformation by the stored reflections. The reduction
/// costs (4/3) d^3 and dominates; everything after it is O(d^2 K). Deterministic: no random
/// starts (a fixed pseudo-random sequence per eigenvector), no thread-dependent sums.
public struct SymmetricEigen {
    /// The matrix order.
    public let order: Int
    /// Diagonal and off-diagonal of T.
    private var diagonal: [Double]
    private var offDiagonal: [Double]
    /// Householder vectors, kept in the reduced matrix's storage: reflection k acts on
    /// coordinates k+1..<n; row k of `reflectors`
    /// holds v (v[k+1] = 1) and `tau[k]` its scale (0: no reflection).
    private var reflectors: [Double]
    private var tau: [Double]
    /// A bound on ||T|| (Gershgorin), for tolerances.
    private let norm: Double
    private let lower: Double, upper: Double

    /// Reduces the symmetric `matrix` (row-major, order x order; only its values are used, it
    /// is not checked for symmetry) to tridiagonal form.
    public init(symmetric matrix: consuming [Double], order n: Int, threads: Int = 1) {
        precondition(matrix.count == n * n, "matrix size")
        order = n
        var a = matrix
        var diagonal = [Double](repeating: 0, count: n)
        var offDiagonal = [Double](repeating: 0, count: max(n - 1, 0))
        var tau = [Double](repeating: 0, count: n)
        if n > 0 {
            a.withUnsafeMutableBufferPointer { ab in
                // Row k's part right of the diagonal is not needed after step k: v_k goes there.
                SymmetricEigen.tridiagonalizeLower(ab.baseAddress!, n, &diagonal, &offDiagonal, &tau, threads)
            }
        }
        self.diagonal = diagonal
        self.offDiagonal = offDiagonal
        self.reflectors = a
        self.tau = tau
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0..<n {
            let r = (i > 0 ? abs(offDiagonal[i - 1]) : 0) + (i < n - 1 ? abs(offDiagonal[i]) : 0)
            lo = min(lo, diagonal[i] - r)
            hi = max(hi, diagonal[i] + r)
        }
        if n == 0 { lo = 0; hi = 0 }
        lower = lo
        upper = hi
        norm = max(abs(lo), abs(hi), Double.leastNormalMagnitude)
    }

    /// Householder tridiagonalisation that reads and writes only the lower triangle of the
    /// trailing block (half the memory traffic of working on full rows).
    ///
    /// Step k reflects column k below the subdiagonal: with v (v[k+1] = 1) and t,
    /// p = t A22 v, w = p - (t/2)(p.v) v, and A22 -= v w^T + w v^T. Column k+1 is updated
    /// first, so reflection k+1 is known before the pass over the trailing rows, which then
    /// both applies step k's update and forms step k+1's product with the symmetric matrix:
    /// each stored element contributes to its own row's dot product and, by symmetry, to
    /// its column's entry of the product (accumulated per partition). The rows are cut into
    /// partitions of equal area that depend only on the size, never on the thread count, and
    /// their partial products are added in partition order: results are the same for any
    /// number of threads. v_k is kept in row k right of the diagonal (unused storage).
    private static func tridiagonalizeLower(_ a: UnsafeMutablePointer<Double>, _ n: Int,
                                            _ d: inout [Double], _ e: inout [Double], _ tau: inout [Double],
                                            _ threads: Int) {
        if n == 1 { d[0] = a[0]; return }
        if n == 2 {
            d[0] = a[0]; d[1] = a[3]; e[0] = a[2]
            return
        }
        let partitions = 2
        let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let w = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: partitions * n)
        defer { p.deallocate(); w.deallocate(); partial.deallocate() }
        p.initialize(repeating: 0, count: n)
        w.initialize(repeating: 0, count: n)
        partial.initialize(repeating: 0, count: partitions * n)

        // Reflection k from column k below the diagonal (already updated); v_k goes to row k.
        func reflect(_ k: Int) -> Double {
            d[k] = a[k * n + k]
            let alpha = a[(k + 1) * n + k]
            var xnorm2 = 0.0
            for r in (k + 2)..<n { xnorm2 += a[r * n + k] * a[r * n + k] }
            if xnorm2 == 0 {
                e[k] = alpha
                tau[k] = 0
                return 0
            }
            let beta = -(alpha >= 0 ? 1.0 : -1.0) * (alpha * alpha + xnorm2).squareRoot()
            let t = (beta - alpha) / beta
            let scale = 1 / (alpha - beta)
            let v = a + k * n
            v[k + 1] = 1
            for r in (k + 2)..<n { v[r] = a[r * n + k] * scale }
            e[k] = beta
            tau[k] = t
            return t
        }

        /// One pass over rows from..<n, columns from...r: optionally A -= v w^T + w v^T,
        /// optionally out = t' * A vNext (over indices from..<n).
        func pass(from: Int, update: Bool, v: UnsafePointer<Double>, w: UnsafePointer<Double>,
                  next: UnsafePointer<Double>?, tNext: Double, out: UnsafeMutablePointer<Double>) {
            let rows = n - from
            // Equal-area cut of the lower triangle: row from + rows/sqrt(2).
            let cuts = rows >= 256 ? [from, from + Int(Double(rows) * 0.7071067811865476), n] : [from, n]
            let parts = cuts.count - 1
            Parallel.forEach(parts, threads: threads) { part in
                let scatter = partial + part * n
                if next != nil { (scatter + from).update(repeating: 0, count: rows) }
                for r in cuts[part]..<cuts[part + 1] {
                    let row = a + r * n
                    let s = lowerRow(row, from: from, diagonal: r, update: update, v[r], w[r], v, w,
                                     next: next, scatter: scatter)
                    if next != nil { scatter[r] += s }
                }
            }
            if let _ = next {
                for j in from..<n {
                    var s = 0.0
                    for part in 0..<parts { s += partial[part * n + j] }
                    out[j] = tNext * s
                }
            }
        }

        var t = reflect(0)
        if t != 0 {
            pass(from: 1, update: false, v: UnsafePointer(a), w: UnsafePointer(w), next: UnsafePointer(a), tNext: t, out: p)
        }
        for k in 0..<(n - 2) {
            let m0 = k + 1
            let v = UnsafePointer(a + k * n)
            if t != 0 {
                var pv = 0.0
                for j in m0..<n { pv += p[j] * v[j] }
                let half = 0.5 * t * pv
                for j in m0..<n { w[j] = p[j] - half * v[j] }
                // Column k+1 (and its diagonal) first: reflection k+1 is built from it.
                a[m0 * n + m0] -= 2 * v[m0] * w[m0]
                for r in (m0 + 1)..<n { a[r * n + m0] -= v[r] * w[m0] + w[r] * v[m0] }
            }
            let tNext = k + 1 < n - 2 ? reflect(k + 1) : 0
            if t != 0 || tNext != 0 {
                pass(from: k + 2, update: t != 0, v: v, w: UnsafePointer(w),
                     next: tNext != 0 ? UnsafePointer(a + (k + 1) * n) : nil, tNext: tNext, out: p)
            }
            t = tNext
        }
        d[n - 2] = a[(n - 2) * n + n - 2]
        d[n - 1] = a[(n - 1) * n + n - 1]
        e[n - 2] = a[(n - 1) * n + n - 2]
    }

    /// Row r of the lower triangle, columns from...r: optionally row -= vr w + wr v; returns
    /// the row's dot product with `next` and adds row[j] * next[r] to scatter[j] for j < r.
    /// Fixed lane order.
    @inline(__always)
    private static func lowerRow(_ row: UnsafeMutablePointer<Double>, from: Int, diagonal r: Int, update: Bool,
                                 _ vr: Double, _ wr: Double, _ v: UnsafePointer<Double>, _ w: UnsafePointer<Double>,
                                 next: UnsafePointer<Double>?, scatter: UnsafeMutablePointer<Double>) -> Double {
        typealias V = SIMD8<Double>
        let vr8 = V(repeating: vr), wr8 = V(repeating: wr)
        let rr = UnsafeMutableRawPointer(row), rv = UnsafeRawPointer(v), rw = UnsafeRawPointer(w)
        let rs = UnsafeMutableRawPointer(scatter)
        var j = from
        if let next {
            let rn = UnsafeRawPointer(next)
            let nr = next[r], nr8 = V(repeating: next[r])
            var acc = V()
            while j + 8 <= r {
                let o = j * 8
                var x = rr.loadUnaligned(fromByteOffset: o, as: V.self)
                if update {
                    x -= vr8 * rw.loadUnaligned(fromByteOffset: o, as: V.self) + wr8 * rv.loadUnaligned(fromByteOffset: o, as: V.self)
                    rr.storeBytes(of: x, toByteOffset: o, as: V.self)
                }
                acc += x * rn.loadUnaligned(fromByteOffset: o, as: V.self)
                rs.storeBytes(of: rs.loadUnaligned(fromByteOffset: o, as: V.self) + x * nr8, toByteOffset: o, as: V.self)
                j += 8
            }
            var s = acc.sum()
            while j < r {
                var x = row[j]
                if update {
                    x -= vr * w[j] + wr * v[j]
                    row[j] = x
                }
                s += x * next[j]
                scatter[j] += x * nr
                j += 1
            }
            var x = row[r]
            if update {
                x -= vr * w[r] + wr * v[r]
                row[r] = x
            }
            return s + x * nr
        }
        if update {
            while j + 8 <= r {
                let o = j * 8
                let x = rr.loadUnaligned(fromByteOffset: o, as: V.self)
                    - (vr8 * rw.loadUnaligned(fromByteOffset: o, as: V.self) + wr8 * rv.loadUnaligned(fromByteOffset: o, as: V.self))
                rr.storeBytes(of: x, toByteOffset: o, as: V.self)
                j += 8
            }
            while j <= r {
                row[j] -= vr * w[j] + wr * v[j]
                j += 1
            }
        }
        return 0
    }

    /// A dot product in fixed lane order (so the same on every run), SIMD-wide.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ count: Int) -> Double {
        var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>()
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while i + 16 <= count {
            acc0 += rx.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
                * ry.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
            acc1 += rx.loadUnaligned(fromByteOffset: i * 8 + 64, as: SIMD8<Double>.self)
                * ry.loadUnaligned(fromByteOffset: i * 8 + 64, as: SIMD8<Double>.self)
            i += 16
        }
        var s = (acc0 + acc1).sum()
        while i < count {
            s += x[i] * y[i]
            i += 1
        }
        return s
    }

    /// How many eigenvalues of T are less than `x` (Sturm sequence of the LDL^T factorisation).
    private func countBelow(_ x: Double, _ pivmin: Double) -> Int {
        var count = 0
        var q = diagonal[0] - x
        if abs(q) < pivmin { q = -pivmin }
        if q < 0 { count += 1 }
        for i in 1..<order {
            let e = offDiagonal[i - 1]
            q = diagonal[i] - x - e * e / q
            if abs(q) < pivmin { q = -pivmin }
            if q < 0 { count += 1 }
        }
        return count
    }

    private var pivmin: Double {
        var m = 1.0
        for e in offDiagonal { m = max(m, e * e) }
        return Double.leastNormalMagnitude * m
    }

    /// The `rank`-th largest eigenvalue (rank 0 is the largest), by bisection to working accuracy.
    public func eigenvalue(rank: Int) -> Double {
        precondition(rank >= 0 && rank < order, "eigenvalue rank out of range")
        if order == 1 { return diagonal[0] }
        let target = order - 1 - rank  // index in ascending order
        let pm = pivmin
        var lo = lower - 2 * Double.ulpOfOne * norm - pm
        var hi = upper + 2 * Double.ulpOfOne * norm + pm
        // Invariant: countBelow(lo) <= target < countBelow(hi).
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            let tol = 2 * Double.ulpOfOne * max(abs(lo), abs(hi)) + pm
            if hi - lo <= tol || mid == lo || mid == hi { break }
            if countBelow(mid, pm) > target { hi = mid } else { lo = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// The eigenvalues of `ranks` (0 is the largest), each by exactly the bisection of
    /// `eigenvalue(rank:)` and so with the same result, eight at a time in SIMD lanes: the
    /// Sturm recurrence is a chain of dependent divisions, and eight independent chains keep
    /// the divider busy. Batches of eight are spread across workers.
    public func eigenvalues(ranks: Range<Int>, threads: Int = 1) -> [Double] {
        precondition(ranks.lowerBound >= 0 && ranks.upperBound <= order, "eigenvalue ranks out of range")
        var out = [Double](repeating: 0, count: ranks.count)
        if ranks.isEmpty { return out }
        if order == 1 { return out.map { _ in diagonal[0] } }
        let squares = offDiagonal.map { $0 * $0 }
        let batches = (ranks.count + 7) / 8
        out.withUnsafeMutableBufferPointer { ob in
            squares.withUnsafeBufferPointer { sb in
                diagonal.withUnsafeBufferPointer { db in
                    let o = ob.baseAddress!
                    Parallel.forEach(batches, threads: threads) { b in
                        let first = ranks.lowerBound + 8 * b
                        let lanes = min(8, ranks.upperBound - first)
                        let values = bisect8(firstRank: first, lanes: lanes, db.baseAddress!, sb.baseAddress!)
                        for l in 0..<lanes { o[8 * b + l] = values[l] }
                    }
                }
            }
        }
        return out
    }

    private func bisect8(firstRank: Int, lanes: Int, _ d: UnsafePointer<Double>, _ e2: UnsafePointer<Double>) -> SIMD8<Double> {
        typealias V = SIMD8<Double>
        typealias I = SIMD8<Int64>
        var target = I()
        for l in 0..<8 { target[l] = Int64(order - 1 - (firstRank + min(l, lanes - 1))) }
        let pm = pivmin
        let pmv = V(repeating: pm)
        var lo = V(repeating: lower - 2 * Double.ulpOfOne * norm - pm)
        var hi = V(repeating: upper + 2 * Double.ulpOfOne * norm + pm)
        var done = SIMDMask<I>(repeating: false)
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            let alo = lo.replacing(with: -lo, where: lo .< 0), ahi = hi.replacing(with: -hi, where: hi .< 0)
            let tol = 2 * Double.ulpOfOne * pointwiseMax(alo, ahi) + pmv
            done = done .| (hi - lo .<= tol) .| (mid .== lo) .| (mid .== hi)
            if all(done) { break }
            // Sturm counts at the eight midpoints.
            var count = I()
            var q = V(repeating: d[0]) - mid
            q.replace(with: -pmv, where: (q .< pmv) .& (q .> -pmv))
            count.replace(with: count &+ 1, where: q .< 0)
            for i in 1..<order {
                q = (V(repeating: d[i]) - mid) - V(repeating: e2[i - 1]) / q
                q.replace(with: -pmv, where: (q .< pmv) .& (q .> -pmv))
                count.replace(with: count &+ 1, where: q .< 0)
            }
            let down = count .> target
            hi.replace(with: mid, where: down .& .!done)
            lo.replace(with: mid, where: .!down .& .!done)
        }
        return 0.5 * (lo + hi)
    }

    /// Unit eigenvectors of the original matrix for `values` (eigenvalues in descending
    /// order, from `eigenvalue(rank:)`), row-major values.count x order.
    public func eigenvectors(for values: [Double], threads: Int = 1) -> [Double] {
        let n = order
        let k = values.count
        var out = [Double](repeating: 0, count: k * n)
        if n == 0 || k == 0 { return out }
        if n == 1 {
            for i in 0..<k { out[i] = 1 }
            return out
        }
        let eps = Double.ulpOfOne
        let clusterGap = 1e-3 * norm
        var shifts = values
        // Equal eigenvalues get slightly separated shifts so their iterations differ (dstein).
        let separation = 10 * eps * norm
        for i in 1..<k where shifts[i] > shifts[i - 1] - separation {
            shifts[i] = shifts[i - 1] - separation
        }
        var z = [Double](repeating: 0, count: n)
        var dl = [Double](repeating: 0, count: n), dd = [Double](repeating: 0, count: n)
        var du = [Double](repeating: 0, count: n), du2 = [Double](repeating: 0, count: n)
        var swapped = [Bool](repeating: false, count: n)
        // Tridiagonal eigenvectors found so far, for re-orthogonalisation within clusters.
        var tridiagonalVectors = [Double]()
        tridiagonalVectors.reserveCapacity(k * n)
        var clusterStart = 0
        for idx in 0..<k {
            if idx > 0 && values[idx - 1] - values[idx] > clusterGap { clusterStart = idx }
            let lambda = shifts[idx]
            // Factor T - lambda I = P L U with partial pivoting (dgttrf).
            for i in 0..<n {
                dd[i] = diagonal[i] - lambda
                if i < n - 1 { dl[i] = offDiagonal[i]; du[i] = offDiagonal[i] }
                du2[i] = 0
                swapped[i] = false
            }
            for i in 0..<(n - 1) {
                if abs(dd[i]) >= abs(dl[i]) {
                    if dd[i] != 0 {
                        let f = dl[i] / dd[i]
                        dl[i] = f
                        dd[i + 1] -= f * du[i]
                    } else {
                        dl[i] = 0
                    }
                } else {
                    let f = dd[i] / dl[i]
                    dd[i] = dl[i]
                    dl[i] = f
                    let temp = du[i]
                    du[i] = dd[i + 1]
                    dd[i + 1] = temp - f * dd[i + 1]
                    if i < n - 2 {
                        du2[i] = du[i + 1]
                        du[i + 1] = -f * du[i + 1]
                    }
                    swapped[i] = true
                }
            }
            // A zero pivot means lambda is an exact eigenvalue of a leading block: perturb it.
            let tiny = eps * norm
            for i in 0..<n where abs(dd[i]) < tiny {
                dd[i] = dd[i] < 0 ? -tiny : tiny
            }
            // Deterministic pseudo-random start, different per eigenvector.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(idx + 1)
            for i in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                z[i] = Double(Int64(bitPattern: state >> 11) - (1 << 52)) / Double(1 << 52)
            }
            // Three steps, as LAPACK dstein takes once the first solve shows growth (a shift
            // from bisection always does): one to converge, two more to settle.
            for _ in 0..<3 {
                // Solve P L U y = z in place.
                for i in 0..<(n - 1) {
                    if swapped[i] {
                        let temp = z[i]
                        z[i] = z[i + 1]
                        z[i + 1] = temp - dl[i] * z[i]
                    } else {
                        z[i + 1] -= dl[i] * z[i]
                    }
                }
                z[n - 1] /= dd[n - 1]
                z[n - 2] = (z[n - 2] - du[n - 2] * z[n - 1]) / dd[n - 2]
                if n >= 3 {
                    for i in stride(from: n - 3, through: 0, by: -1) {
                        z[i] = (z[i] - du[i] * z[i + 1] - du2[i] * z[i + 2]) / dd[i]
                    }
                }
                // Orthogonalise against the tridiagonal eigenvectors of this cluster (modified
                // Gram-Schmidt; clusters can hold hundreds of vectors, so SIMD-wide).
                if clusterStart < idx {
                    z.withUnsafeMutableBufferPointer { zb in
                        tridiagonalVectors.withUnsafeBufferPointer { tb in
                            let zp = zb.baseAddress!
                            for j in clusterStart..<idx {
                                let q = tb.baseAddress! + j * n
                                let s = SymmetricEigen.dot(UnsafePointer(zp), q, n)
                                for i in 0..<n { zp[i] -= s * q[i] }
                            }
                        }
                    }
                }
                var scale = 0.0
                for i in 0..<n { scale = max(scale, abs(z[i])) }
                if scale == 0 { z[idx % n] = 1; scale = 1 }
                var s2 = 0.0
                for i in 0..<n { z[i] /= scale; s2 += z[i] * z[i] }
                let inv = 1 / s2.squareRoot()
                for i in 0..<n { z[i] *= inv }
            }
            tridiagonalVectors.append(contentsOf: z)
            for i in 0..<n { out[idx * n + i] = z[i] }
        }
        // Back-transform: x = H_0 H_1 ... H_{n-3} z.
        // Each vector independently, so spread across workers.
        out.withUnsafeMutableBufferPointer { ob in
            reflectors.withUnsafeBufferPointer { vb in
                tau.withUnsafeBufferPointer { tb in
                    let o = ob.baseAddress!, v0 = vb.baseAddress!, t = tb.baseAddress!
                    Parallel.forEach(k, threads: k >= 8 ? threads : 1) { idx in
                        let x = o + idx * n
                        for r in stride(from: n - 3, through: 0, by: -1) where t[r] != 0 {
                            let v = v0 + r * n
                            let s = t[r] * SymmetricEigen.dot(v + r + 1, UnsafePointer(x + r + 1), n - r - 1)
                            for j in (r + 1)..<n { x[j] -= s * v[j] }
                        }
                    }
                }
            }
        }
        return out
    }
}
