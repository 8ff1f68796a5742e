/// The largest eigenpairs of a dense symmetric matrix by block Lanczos with full
/// reorthogonalisation and thick restart (Rayleigh-Ritz on the block Krylov space).
///
/// The basis V (orthonormal, n-vectors) and W = A V are kept. Each step: Ritz pairs of the
/// projected matrix H = V^T W (a small dense eigenproblem, `SymmetricEigen`), residuals
/// r = W y - theta V y of the top `block` Ritz pairs; these span the next block of the block
/// Krylov space, so they are orthogonalised against V (classical Gram-Schmidt, twice),
/// orthonormalised among themselves, multiplied by A (one pass over A for the whole block)
/// and appended. When the basis is full it is contracted to the leading Ritz vectors (thick
/// restart: V Y, W Y, H = diag(theta)), which keeps a Krylov space. It stops when the
/// wanted pairs' residuals are below `tolerance` times the largest Ritz value: eigenvalue
/// errors are then below ||r||^2 / gap, vector angles below ||r|| / gap.
///
/// Deterministic: the start block is a fixed pseudo-random sequence, every sum has a fixed
/// order, and work is split across threads by output element only, so the result is the same
/// for any thread count.
public struct BlockLanczos {
    /// Default residual tolerance, relative to the largest eigenvalue.
    public static let defaultTolerance = 1e-11

    /// The `count` largest eigenvalues (descending) and unit eigenvectors (row-major,
    /// count x order) of the symmetric `matrix` (row-major order x order).
    ///
    /// `grow`, when given, is asked after the wanted pairs converge whether more are needed
    /// (it gets the converged values and returns the new count, or nil when enough): the
    /// space is extended, not restarted.
    public static func largest(_ matrix: UnsafePointer<Double>, order n: Int, count k0: Int, threads: Int = 1,
                               tolerance: Double = defaultTolerance,
                               grow: (([Double]) -> Int?)? = nil) -> (values: [Double], vectors: [Double]) {
        precondition(k0 >= 1 && k0 <= n, "eigenpair count out of range")
        var k = k0
        let threads = max(1, threads)
        while true {
            let b = blockSize(k, n)
            let maxBasis = basisLimit(k, b, n)
            if maxBasis >= n || n <= 3 * b {
                // The Krylov space would be (nearly) the whole space: solve densely.
                return dense(matrix, n, k, threads: threads, grow: grow)
            }
            var solver = State(matrix, n, block: b, maxBasis: maxBasis, threads: threads)
            let before = k
            if let result = solver.run(k, tolerance: tolerance, grow: grow, newCount: &k) { return result }
            // Not converged within the bound (not seen in practice): the dense solver.
            if k == before { return dense(matrix, n, k, threads: threads, grow: grow) }
            // `grow` asked for more than this basis size suits: start over, sized for k.
        }
    }

    /// Four dot products of `x` with the consecutive n-vectors at `y` (fixed lane order):
    /// x is loaded once for the four.
    @inline(__always)
    static func dot4(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int) -> SIMD4<Double> {
        var a0 = SIMD8<Double>(), a1 = SIMD8<Double>(), a2 = SIMD8<Double>(), a3 = SIMD8<Double>()
        let rx = UnsafeRawPointer(x)
        let r0 = UnsafeRawPointer(y), r1 = UnsafeRawPointer(y + n), r2 = UnsafeRawPointer(y + 2 * n)
        let r3 = UnsafeRawPointer(y + 3 * n)
        var i = 0
        while i + 8 <= n {
            let o = i * 8
            let xv = rx.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            a0 += xv * r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            a1 += xv * r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            a2 += xv * r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            a3 += xv * r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            i += 8
        }
        var out = SIMD4<Double>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
        while i < n {
            out += SIMD4(y[i], y[n + i], y[2 * n + i], y[3 * n + i]) * x[i]
            i += 1
        }
        return out
    }

    static func blockSize(_ k: Int, _ n: Int) -> Int { min(n, max(8, k + (k + 1) / 2)) }
    static func basisLimit(_ k: Int, _ b: Int, _ n: Int) -> Int { min(n, max(8 * b, 2 * k + 6 * b)) }

    /// The dense solver for orders too small for a Krylov space to pay.
    static func dense(_ a: UnsafePointer<Double>, _ n: Int, _ k0: Int, threads: Int,
                      grow: (([Double]) -> Int?)?) -> (values: [Double], vectors: [Double]) {
        let eigen = SymmetricEigen(symmetric: Array(UnsafeBufferPointer(start: a, count: n * n)), order: n, threads: threads)
        var k = k0
        var values = eigen.eigenvalues(ranks: 0..<k, threads: threads)
        while let more = grow?(values), more > k {
            let extra = min(more, n)
            values += eigen.eigenvalues(ranks: k..<extra, threads: threads)
            k = extra
            if k == n { break }
        }
        return (values, eigen.eigenvectors(for: values, threads: threads))
    }

    /// The iteration's storage: basis vectors and their images, row-major (one n-vector a row).
    struct State {
        let a: UnsafePointer<Double>
        let n: Int, b: Int, maxBasis: Int, threads: Int
        var v: [Double], w: [Double], h: [Double]
        var size = 0
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15

        init(_ a: UnsafePointer<Double>, _ n: Int, block: Int, maxBasis: Int, threads: Int) {
            self.a = a
            self.n = n
            b = block
            self.maxBasis = maxBasis
            self.threads = threads
            v = [Double](repeating: 0, count: (maxBasis + block) * n)
            w = v
            h = [Double](repeating: 0, count: (maxBasis + block) * (maxBasis + block))
        }

        mutating func random() -> Double {
            // SplitMix64: a fixed sequence, uniform in [-1, 1).
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) * 0x1p-52 - 1
        }

        /// Orthonormalises rows size..<size+count of v against the basis and each other;
        /// a row that vanishes is replaced by a fixed pseudo-random one. Returns the rows kept.
        mutating func orthonormalise(count: Int) {
            let n = n
            for r in size..<size + count {
                var attempts = 0
                while true {
                    let before = rowNorm(r)
                    for _ in 0..<2 { project(row: r, against: 0..<r) }
                    let after = rowNorm(r)
                    if after > 1e-10 * before && after > 0 {
                        let s = 1 / after
                        for j in 0..<n { v[r * n + j] *= s }
                        break
                    }
                    attempts += 1
                    precondition(attempts < 8, "Krylov basis: cannot find a new direction")
                    for j in 0..<n { v[r * n + j] = random() }
                }
            }
        }

        func rowNorm(_ r: Int) -> Double {
            v.withUnsafeBufferPointer { SymmetricEigen.dot($0.baseAddress! + r * n, $0.baseAddress! + r * n, n).squareRoot() }
        }

        /// Classical Gram-Schmidt of row r against rows `others` (coefficients first, then the update).
        mutating func project(row r: Int, against others: Range<Int>) {
            if others.isEmpty { return }
            let n = n
            v.withUnsafeMutableBufferPointer { vb in
                let p = vb.baseAddress!
                let x = p + r * n
                var c = [Double](repeating: 0, count: others.count)
                for (i, o) in others.enumerated() { c[i] = SymmetricEigen.dot(p + o * n, x, n) }
                for (i, o) in others.enumerated() {
                    let q = p + o * n, ci = c[i]
                    for j in 0..<n { x[j] -= ci * q[j] }
                }
            }
        }

        /// w[rows] = A v[rows]: one pass over A, its rows split across the threads.
        mutating func multiply(rows: Range<Int>) {
            let n = n, a = a
            let parts = Parallel.ranges(n, parts: max(1, threads) * 4)
            v.withUnsafeBufferPointer { vb in
                w.withUnsafeMutableBufferPointer { wb in
                    let vp = vb.baseAddress!, wp = wb.baseAddress!
                    Parallel.forEach(parts.count, threads: threads) { part in
                        for i in parts[part] {
                            let row = a + i * n
                            var r = rows.lowerBound
                            while r + 4 <= rows.upperBound {
                                let d4 = BlockLanczos.dot4(row, vp + r * n, n)
                                for l in 0..<4 { wp[(r + l) * n + i] = d4[l] }
                                r += 4
                            }
                            while r < rows.upperBound {
                                wp[r * n + i] = SymmetricEigen.dot(row, vp + r * n, n)
                                r += 1
                            }
                        }
                    }
                }
            }
        }

        /// Appends H's entries for the new rows `rows` (H = V^T W, symmetrised from the upper side).
        mutating func extendProjection(rows: Range<Int>) {
            let n = n, ld = maxBasis + b
            let pairs = (0..<rows.upperBound).flatMap { i in rows.filter { $0 >= i }.map { (i, $0) } }
            var out = [Double](repeating: 0, count: pairs.count)
            v.withUnsafeBufferPointer { vb in
                w.withUnsafeBufferPointer { wb in
                    out.withUnsafeMutableBufferPointer { ob in
                        let vp = vb.baseAddress!, wp = wb.baseAddress!, o = ob.baseAddress!
                        let parts = Parallel.ranges(pairs.count, parts: max(1, threads) * 4)
                        Parallel.forEach(parts.count, threads: threads) { part in
                            for t in parts[part] {
                                let (i, j) = pairs[t]
                                o[t] = SymmetricEigen.dot(vp + i * n, wp + j * n, n)
                            }
                        }
                    }
                }
            }
            for (t, (i, j)) in pairs.enumerated() {
                h[i * ld + j] = out[t]
                h[j * ld + i] = out[t]
            }
        }

        /// out (rows x n) = Y^T (coefficients, m x rows, column r of Y is Ritz vector r) times
        /// the first m rows of `basis`.
        func combine(_ basis: [Double], _ y: [Double], m: Int, rows: Int) -> [Double] {
            let n = n
            var out = [Double](repeating: 0, count: rows * n)
            let parts = Parallel.ranges(n, parts: max(1, threads) * 4)
            basis.withUnsafeBufferPointer { bb in
                y.withUnsafeBufferPointer { yb in
                    out.withUnsafeMutableBufferPointer { ob in
                        let bp = bb.baseAddress!, yp = yb.baseAddress!, o = ob.baseAddress!
                        Parallel.forEach(parts.count, threads: threads) { part in
                            let range = parts[part]
                            for r in 0..<rows {
                                let dst = o + r * n
                                for i in 0..<m {
                                    let c = yp[r * m + i], src = bp + i * n
                                    for j in range { dst[j] += c * src[j] }
                                }
                            }
                        }
                    }
                }
            }
            return out
        }

        /// Ritz pairs of H (size x size): the `count` largest values and their coefficient
        /// vectors (row r: Ritz vector r's coefficients).
        func ritz(_ count: Int) -> (values: [Double], vectors: [Double]) {
            let m = size, ld = maxBasis + b
            var small = [Double](repeating: 0, count: m * m)
            for i in 0..<m { for j in 0..<m { small[i * m + j] = h[i * ld + j] } }
            let eigen = SymmetricEigen(symmetric: small, order: m, threads: 1)
            let values = eigen.eigenvalues(ranks: 0..<count, threads: 1)
            return (values, eigen.eigenvectors(for: values, threads: 1))
        }

        mutating func run(_ k0: Int, tolerance: Double, grow: (([Double]) -> Int?)?,
                          newCount: inout Int) -> (values: [Double], vectors: [Double])? {
            var k = k0
            let n = n
            for j in 0..<n * b { v[j] = random() }
            orthonormalise(count: b)
            multiply(rows: 0..<b)
            extendProjection(rows: 0..<b)
            size = b
            // Bounded: each step adds b directions; a generous cap on restarts.
            for _ in 0..<(40 * (n / b + 10)) {
                let want = min(size, max(k, b))
                // Before a restart, the Ritz vectors to keep (more than wanted: thick restart).
                let restart = size + b > maxBasis
                let keep = restart ? min(size, max(want, (maxBasis - b) / 2)) : want
                let (theta, y) = ritz(keep)
                let x = combine(v, y, m: size, rows: keep)
                let ay = combine(w, y, m: size, rows: keep)
                var residual = ay
                for r in 0..<keep { for j in 0..<n { residual[r * n + j] -= theta[r] * x[r * n + j] } }
                let scale = max(abs(theta[0]), Double.leastNormalMagnitude)
                var converged = true
                residual.withUnsafeBufferPointer { rb in
                    for r in 0..<k where converged {
                        let norm = SymmetricEigen.dot(rb.baseAddress! + r * n, rb.baseAddress! + r * n, n).squareRoot()
                        if norm > tolerance * scale { converged = false }
                    }
                }
                if converged {
                    if let more = grow?(Array(theta[0..<k])), more > k {
                        if basisLimit(more, blockSize(more, n), n) > maxBasis {
                            newCount = more
                            return nil
                        }
                        k = more
                        continue
                    }
                    var vectors = Array(x[0..<k * n])
                    for r in 0..<k {
                        let s = 1 / vectors.withUnsafeBufferPointer {
                            SymmetricEigen.dot($0.baseAddress! + r * n, $0.baseAddress! + r * n, n).squareRoot()
                        }
                        for j in 0..<n { vectors[r * n + j] *= s }
                    }
                    return (Array(theta[0..<k]), vectors)
                }
                if restart {
                    // Thick restart: keep the leading Ritz vectors.
                    let ld = maxBasis + b
                    v.replaceSubrange(0..<keep * n, with: x)
                    w.replaceSubrange(0..<keep * n, with: ay)
                    for i in 0..<ld * ld { h[i] = 0 }
                    for r in 0..<keep { h[r * ld + r] = theta[r] }
                    size = keep
                }
                // The next block: the residuals of the top b Ritz pairs.
                let expand = min(b, want)
                v.replaceSubrange(size * n..<(size + expand) * n, with: residual[0..<expand * n])
                orthonormalise(count: expand)
                multiply(rows: size..<size + expand)
                extendProjection(rows: size..<size + expand)
                size += expand
            }
            return nil
        }
    }
}
