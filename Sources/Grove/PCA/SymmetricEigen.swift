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
    /// Householder vectors: reflection k acts on coordinates k+1..<n; row k of `reflectors`
    /// holds v (v[k+1] = 1) and `tau[k]` its scale (0: no reflection).
    private var reflectors: [Double]
    private var tau: [Double]
    /// A bound on ||T|| (Gershgorin), for tolerances.
    private let norm: Double
    private let lower: Double, upper: Double

    /// Reduces the symmetric `matrix` (row-major, order x order; only its values are used, it
    /// is not checked for symmetry) to tridiagonal form.
    public init(symmetric matrix: [Double], order n: Int, threads: Int = 1) {
        order = n
        var a = matrix
        var diagonal = [Double](repeating: 0, count: n)
        var offDiagonal = [Double](repeating: 0, count: max(n - 1, 0))
        var reflectors = [Double](repeating: 0, count: n * n)
        var tau = [Double](repeating: 0, count: n)
        if n > 0 {
            a.withUnsafeMutableBufferPointer { ab in
                reflectors.withUnsafeMutableBufferPointer { vb in
                    SymmetricEigen.tridiagonalize(ab.baseAddress!, n, vb.baseAddress!, &diagonal, &offDiagonal, &tau, threads)
                }
            }
        }
        self.diagonal = diagonal
        self.offDiagonal = offDiagonal
        self.reflectors = reflectors
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

    private static func tridiagonalize(_ a: UnsafeMutablePointer<Double>, _ n: Int, _ vstore: UnsafeMutablePointer<Double>,
                                       _ d: inout [Double], _ e: inout [Double], _ tau: inout [Double], _ threads: Int) {
        var p = [Double](repeating: 0, count: n)
        var w = [Double](repeating: 0, count: n)
        for k in 0..<max(n - 2, 0) {
            let rowK = a + k * n
            d[k] = rowK[k]
            let alpha = rowK[k + 1]
            var xnorm2 = 0.0
            for j in (k + 2)..<n { xnorm2 += rowK[j] * rowK[j] }
            let v = vstore + k * n
            if xnorm2 == 0 {
                // Already in tridiagonal form in this column: no reflection.
                e[k] = alpha
                tau[k] = 0
                continue
            }
            let beta = -(alpha >= 0 ? 1.0 : -1.0) * (alpha * alpha + xnorm2).squareRoot()
            let t = (beta - alpha) / beta
            let scale = 1 / (alpha - beta)
            v[k + 1] = 1
            for j in (k + 2)..<n { v[j] = rowK[j] * scale }
            e[k] = beta
            tau[k] = t
            // p = t * A22 v over the trailing block (rows and columns k+1..<n).
            let m0 = k + 1
            let vv = UnsafePointer(v)
            p.withUnsafeMutableBufferPointer { pb in
                let pp = pb.baseAddress!
                let rows = Parallel.ranges(n - m0, parts: n - m0 > 256 ? threads : 1)
                Parallel.forEach(rows.count, threads: threads) { part in
                    for i in rows[part] {
                        let r = m0 + i
                        pp[r] = t * dot(UnsafePointer(a + r * n + m0), vv + m0, n - m0)
                    }
                }
            }
            let half = 0.5 * t * p.withUnsafeBufferPointer { dot($0.baseAddress! + m0, vv + m0, n - m0) }
            for j in m0..<n { w[j] = p[j] - half * v[j] }
            // A22 -= v w^T + w v^T, row by row (each row independent: split across workers).
            w.withUnsafeBufferPointer { wb in
                let ww = wb.baseAddress!
                let rows = Parallel.ranges(n - m0, parts: n - m0 > 256 ? threads : 1)
                Parallel.forEach(rows.count, threads: threads) { part in
                    for i in rows[part] {
                        let r = m0 + i
                        let row = a + r * n
                        let vr = vv[r], wr = ww[r]
                        for j in m0..<n {
                            row[j] -= vr * ww[j] + wr * vv[j]
                        }
                    }
                }
            }
        }
        if n >= 2 {
            d[n - 2] = a[(n - 2) * n + n - 2]
            d[n - 1] = a[(n - 1) * n + n - 1]
            e[n - 2] = a[(n - 2) * n + n - 1]
        } else if n == 1 {
            d[0] = a[0]
        }
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

    /// Unit eigenvectors of the original matrix for `values` (eigenvalues in descending
    /// order, from `eigenvalue(rank:)`), row-major values.count x order.
    public func eigenvectors(for values: [Double]) -> [Double] {
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
            for _ in 0..<5 {
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
                // Orthogonalise against the tridiagonal eigenvectors of this cluster.
                for j in clusterStart..<idx {
                    var s = 0.0
                    for i in 0..<n { s += z[i] * tridiagonalVectors[j * n + i] }
                    for i in 0..<n { z[i] -= s * tridiagonalVectors[j * n + i] }
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
        out.withUnsafeMutableBufferPointer { ob in
            reflectors.withUnsafeBufferPointer { vb in
                for idx in 0..<k {
                    let x = ob.baseAddress! + idx * n
                    for r in stride(from: n - 3, through: 0, by: -1) where tau[r] != 0 {
                        let v = vb.baseAddress! + r * n
                        let s = tau[r] * SymmetricEigen.dot(v + r + 1, UnsafePointer(x + r + 1), n - r - 1)
                        for j in (r + 1)..<n { x[j] -= s * v[j] }
                    }
                }
            }
        }
        return out
    }
}
