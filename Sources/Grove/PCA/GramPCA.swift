/// PCA of fewer rows than columns through the n x n Gram matrix of the centred rows.
///
/// With X_c the centred n x d rows, the covariance X_c^T X_c / (n - 1) and the scaled Gram
/// matrix X_c X_c^T / (n - 1) have the same nonzero eigenvalues, and a component is
/// v = X_c^T u / ||X_c^T u|| for a Gram eigenvector u. For uint8 rows everything up to one
/// rounding is exact: X X^T is accumulated in integers (the co-moment kernels run over the
/// transposed rows), and n^2 (n - 1) times the scaled centred Gram is the integer
/// n^2 G_ij - n (t_i + t_j) + S, with t_i = x_i . s, s the column sums and S = s . s. The
/// total variance is the exact integer sum over the columns of n Q_j - s_j^2 over n (n - 1).
public enum GramPCA {
    /// Whether `solver` takes the Gram path for rows of this shape: uint8, fewer rows than
    /// columns, and (for `auto`) columns enough for the Krylov solver to pay.
    public static func applies(rows n: Int, columns d: Int, elementType: ElementType, solver: EigenSolver) -> Bool {
        mayApply(columns: d, elementType: elementType, solver: solver) && n >= 2 && n < d
    }

    /// Whether rows of this width and type may take the Gram path (if fewer than d arrive).
    public static func mayApply(columns d: Int, elementType: ElementType, solver: EigenSolver) -> Bool {
        switch solver {
        case .full: return false
        case .krylov: return elementType == .uint8
        case .auto: return elementType == .uint8 && d >= EigenSolver.krylovMinimumOrder
        }
    }

    /// n^2 G_ij - n (t_i + t_j) + S exactly, in 64 bits while it fits, else 128.
    @inline(__always)
    static func centred(_ g: Double, _ ti: Int64, _ tj: Int64, n: Int, nn: Int128, nn64: Int64, big: Int128,
                        big64: Int64?) -> Double {
        if let big64 {
            let (a, o1) = nn64.multipliedReportingOverflow(by: Int64(g))
            let (tt, o2) = ti.addingReportingOverflow(tj)
            let (b, o3) = Int64(n).multipliedReportingOverflow(by: tt)
            let (c, o4) = a.subtractingReportingOverflow(b)
            let (e, o5) = c.addingReportingOverflow(big64)
            if !(o1 || o2 || o3 || o4 || o5) { return Double(e) }
        }
        return Double(nn * Int128(Int64(g)) - Int128(n) * (Int128(ti) + Int128(tj)) + big)
    }

    /// Fits `selection` from uint8 `blocks` (n rows in all, n < d). Returns nil when a wanted
    /// component has (numerically) no variance, so it cannot be recovered from the Gram
    /// side: the caller then takes the co-moment path.
    public static func fit(_ blocks: [RowBlock], columns d: Int, selection: ComponentSelection, whiten: Bool,
                           solver: EigenSolver, threads: Int, name: String) throws -> PCAModel? {
        let n = blocks.reduce(0) { $0 + $1.rows }
        precondition(n >= 2 && n < d, "Gram path shape")
        if case .count(let k) = selection, k < 1 || k > n {
            throw GroveError("-k \(k) is out of range: with \(n) rows of \(d) columns at most min(n, d) = \(n) components exist")
        }
        // The rows in one buffer, and transposed (one Gram "row" per column).
        var x = [UInt8](repeating: 0, count: n * d)
        var at = 0
        for block in blocks {
            let src = block.values(as: UInt8.self)
            x.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: at * d).update(from: src.baseAddress!, count: block.rows * d) }
            at += block.rows
        }
        let transposed = RowBlock(rows: d, columns: n, elementType: .uint8, hasLabels: false)
        let tv = transposed.values(as: UInt8.self)
        x.withUnsafeBufferPointer { xb in
            let tile = 64
            for i0 in stride(from: 0, to: n, by: tile) {
                for j0 in stride(from: 0, to: d, by: tile) {
                    for i in i0..<min(i0 + tile, n) {
                        for j in j0..<min(j0 + tile, d) { tv[j * n + i] = xb[i * d + j] }
                    }
                }
            }
        }
        try CoMomentAccumulator.checkMemory(columns: n, threads: threads, name: name)
        let accumulator = CoMomentAccumulator(columns: n, elementType: .uint8, threads: threads, name: name)
        try accumulator.add(transposed)
        let gram = try accumulator.finish().second  // X X^T, exact integers

        // Column sums s, t = X s, S = s . s, and the exact total-variance numerator.
        var s = [Int64](repeating: 0, count: d), q = [Int64](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d {
                let v = Int64(x[i * d + j])
                s[j] += v
                q[j] += v * v
            }
        }
        var t = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            var acc: Int64 = 0
            for j in 0..<d { acc += Int64(x[i * d + j]) * s[j] }
            t[i] = acc
        }
        var bigS = Int128(0), totalNumerator = Int128(0)
        for j in 0..<d {
            bigS += Int128(s[j]) * Int128(s[j])
            totalNumerator += Int128(n) * Int128(q[j]) - Int128(s[j]) * Int128(s[j])
        }
        let total = Double(totalNumerator) / (Double(n) * Double(n - 1))
        guard total > 0 else {
            throw GroveError("every column is constant over the \(n) rows: there is no variance to explain")
        }
        let nn = Int128(n) * Int128(n)
        let nn64 = Int64(n) * Int64(n)
        let big64: Int64? = bigS <= Int128(Int64.max) ? Int64(bigS) : nil
        let divisor = Double(n) * Double(n) * Double(n - 1)
        var scaled = [Double](repeating: 0, count: n * n)
        let parts = Parallel.ranges(n, parts: max(1, threads) * 4)
        scaled.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            Parallel.forEach(parts.count, threads: threads) { part in
                for i in parts[part] {
                    for j in i..<n {
                        let v = GramPCA.centred(gram[i * n + j], t[i], t[j], n: n, nn: nn, nn64: nn64,
                                                big: bigS, big64: big64) / divisor
                        o[i * n + j] = v
                        o[j * n + i] = v
                    }
                }
            }
        }

        // Eigenpairs of the scaled Gram matrix: the covariance's eigenvalues.
        let limit = n
        let (values, u): ([Double], [Double])
        if solver.usesKrylov(order: n, selection: selection) {
            (values, u) = PCAModel.krylovPairs(scaled, order: n, selection: selection, total: total, limit: limit,
                                               threads: threads, fallback: solver == .auto)
                ?? PCAModel.fullPairs(scaled, order: n, selection: selection, total: total, limit: limit, threads: threads)
        } else {
            (values, u) = PCAModel.fullPairs(consume scaled, order: n, selection: selection, total: total, limit: limit,
                                             threads: threads)
        }
        let k = values.count
        // A component of (numerically) zero variance has no direction on this side.
        let negligible = total * Double(n) * 64 * Double.ulpOfOne
        if values.contains(where: { $0 <= negligible }) { return nil }

        // Components: v = X^T u - mean (1 . u), normalised; columns split across the threads.
        var vectors = [Double](repeating: 0, count: k * d)
        let mean = s.map { Double($0) / Double(n) }
        var uSums = [Double](repeating: 0, count: k)
        for c in 0..<k { for i in 0..<n { uSums[c] += u[c * n + i] } }
        let columnParts = Parallel.ranges(d, parts: max(1, threads) * 4)
        x.withUnsafeBufferPointer { xb in
            u.withUnsafeBufferPointer { ub in
                vectors.withUnsafeMutableBufferPointer { vb in
                    let xp = xb.baseAddress!, up = ub.baseAddress!, vp = vb.baseAddress!
                    Parallel.forEach(columnParts.count, threads: threads) { part in
                        let range = columnParts[part]
                        for i in 0..<n {
                            let row = xp + i * d
                            for c in 0..<k {
                                let ui = up[c * n + i], dst = vp + c * d
                                for j in range { dst[j] += Double(row[j]) * ui }
                            }
                        }
                        for c in 0..<k {
                            let dst = vp + c * d
                            for j in range { dst[j] -= mean[j] * uSums[c] }
                        }
                    }
                }
            }
        }
        for c in 0..<k {
            let norm = vectors.withUnsafeBufferPointer {
                SymmetricEigen.dot($0.baseAddress! + c * d, $0.baseAddress! + c * d, d).squareRoot()
            }
            guard norm > 0 else { return nil }
            for j in 0..<d { vectors[c * d + j] /= norm }
        }
        return try PCAModel.assemble(columns: d, count: n, mean: mean, values: values, vectors: vectors,
                                     total: total, whiten: whiten)
    }
}
