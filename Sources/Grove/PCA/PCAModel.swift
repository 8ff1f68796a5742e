/// How many components to keep.
public enum ComponentSelection: Equatable, Sendable {
    /// Exactly this many.
    case count(Int)
    /// The fewest whose cumulative explained-variance ratio exceeds this fraction (0 < f < 1),
    /// as scikit-learn's `PCA(n_components=0.95)`.
    case varianceFraction(Double)
}

/// A fitted PCA: the mean, the top K principal axes (unit vectors, largest variance first),
/// their explained variance, and whether projections are whitened.
///
/// Conventions follow scikit-learn's `PCA`: the covariance divisor is n - 1; explained
/// variance is its eigenvalues; the ratio divides by the total variance (the trace); each
/// component's sign makes its largest-magnitude loading positive (the first such loading
/// on a tie); whitening divides each projected coordinate by sqrt(explained variance).
/// Which eigensolver `PCAModel.fit` uses (`pca-fit --solver`).
public enum EigenSolver: String, Sendable, CaseIterable {
    /// Householder reduction of the whole matrix (O(d^3)), then the wanted pairs.
    case full
    /// Block Lanczos (`BlockLanczos`): only the wanted pairs, O(d^2) per block step.
    case krylov
    /// Krylov where it pays (`krylovPays`), else full.
    case auto

    /// Orders below this are solved fully by `auto`: the reduction is cheap there.
    public static let krylovMinimumOrder = 256

    /// Whether the Krylov solver beats the full one: a large enough matrix and few enough
    /// components (its basis grows with K; past about d / 8 the full reduction is cheaper).
    public static func krylovPays(order d: Int, components k: Int) -> Bool {
        d >= krylovMinimumOrder && 8 * k <= d
    }

    /// Whether this choice takes the Krylov solver for `selection` on an order-d matrix.
    public func usesKrylov(order d: Int, selection: ComponentSelection) -> Bool {
        switch self {
        case .full: return false
        case .krylov: return true
        case .auto:
            switch selection {
            case .count(let k): return EigenSolver.krylovPays(order: d, components: k)
            case .varianceFraction: return EigenSolver.krylovPays(order: d, components: 16)
            }
        }
    }
}

public struct PCAModel: Equatable, Sendable {
    /// Input width d.
    public let columns: Int
    /// Rows the model was fit on.
    public let count: Int
    /// Column means of the rows fit (d values).
    public let mean: [Double]
    /// K x d, row-major, one unit component per row.
    public let components: [Double]
    /// Each component's variance: the covariance's eigenvalues, largest first (K values).
    public let explainedVariance: [Double]
    /// `explainedVariance` divided by `totalVariance`.
    public let explainedVarianceRatio: [Double]
    /// The sum of all the covariance's eigenvalues (its trace).
    public let totalVariance: Double
    /// Whether projections are divided by sqrt(explained variance).
    public let whiten: Bool

    /// K.
    public var componentCount: Int { explainedVariance.count }

    /// A model from its parts (as `fit` and the stream reader make it).
    public init(columns: Int, count: Int, mean: [Double], components: [Double], explainedVariance: [Double],
                explainedVarianceRatio: [Double], totalVariance: Double, whiten: Bool) {
        self.columns = columns
        self.count = count
        self.mean = mean
        self.components = components
        self.explainedVariance = explainedVariance
        self.explainedVarianceRatio = explainedVarianceRatio
        self.totalVariance = totalVariance
        self.whiten = whiten
    }

    /// Fits the model from accumulated statistics.
    ///
    /// Throws when there are fewer than 2 rows, when K is not in 1...min(n, d), when all the
    /// columns are constant, or when whitening would divide by a zero variance.
    public static func fit(_ statistics: CoMoments, selection: ComponentSelection, whiten: Bool,
                           threads: Int = 1, solver: EigenSolver = .full) throws -> PCAModel {
        let n = statistics.count, d = statistics.columns
        guard n >= 2 else {
            throw GroveError("\(n) row\(n == 1 ? "" : "s"): PCA needs at least 2 rows to estimate a covariance")
        }
        guard d >= 1 else { throw GroveError("0 columns: nothing to fit") }
        let limit = min(n, d)
        if case .count(let k) = selection, k < 1 || k > limit {
            throw GroveError("-k \(k) is out of range: with \(n) rows of \(d) columns at most min(n, d) = \(limit) components exist")
        }
        let covariance = statistics.covariance(threads: threads)
        var total = 0.0
        for i in 0..<d { total += covariance[i * d + i] }
        guard total > 0 else {
            throw GroveError("every column is constant over the \(n) rows: there is no variance to explain")
        }
        var values: [Double], vectors: [Double]
        if solver.usesKrylov(order: d, selection: selection) {
            (values, vectors) = PCAModel.krylovPairs(covariance, order: d, selection: selection, total: total,
                                                     limit: limit, threads: threads, fallback: solver == .auto)
                ?? PCAModel.fullPairs(covariance, order: d, selection: selection, total: total, limit: limit,
                                      threads: threads)
        } else {
            (values, vectors) = PCAModel.fullPairs(consume covariance, order: d, selection: selection, total: total,
                                                   limit: limit, threads: threads)
        }
        return try assemble(columns: d, count: n, mean: statistics.mean, values: values, vectors: vectors,
                            total: total, whiten: whiten)
    }

    /// The full solver: Householder reduction of the whole matrix, then the wanted pairs.
    static func fullPairs(_ matrix: consuming [Double], order d: Int, selection: ComponentSelection, total: Double,
                          limit: Int, threads: Int) -> (values: [Double], vectors: [Double]) {
        // The reduction works in place in the matrix's storage: hand it over, no copy.
        let eigen = SymmetricEigen(symmetric: matrix, order: d, threads: threads)
        var values = [Double]()
        switch selection {
        case .count(let k):
            values = eigen.eigenvalues(ranks: 0..<k, threads: threads).map { max(0, $0) }
        case .varianceFraction(let f):
            // In batches (a few more eigenvalues than needed cost little), then cut.
            var cumulative = 0.0
            search: while values.count < limit {
                let batch = values.count..<min(limit, values.count + 8 * max(1, threads))
                for v in eigen.eigenvalues(ranks: batch, threads: threads) {
                    values.append(max(0, v))
                    cumulative += max(0, v) / total
                    if cumulative > f { break search }
                }
            }
        }
        return (values, eigen.eigenvectors(for: values, threads: threads))
    }

    /// The Krylov solver (`BlockLanczos`): only the wanted pairs. For a variance fraction the
    /// space is extended until the converged values reach it, then cut to the fewest. With
    /// `fallback`, returns nil when so many components are needed that the full solver is
    /// cheaper.
    static func krylovPairs(_ matrix: [Double], order d: Int, selection: ComponentSelection, total: Double,
                            limit: Int, threads: Int, fallback: Bool) -> (values: [Double], vectors: [Double])? {
        var start = 0
        var tooMany = false
        var grow: (([Double]) -> Int?)?
        switch selection {
        case .count(let k): start = k
        case .varianceFraction(let f):
            start = min(limit, 16)
            grow = { values in
                var cumulative = 0.0
                for v in values {
                    cumulative += max(0, v) / total
                    if cumulative > f { return nil }
                }
                if values.count >= limit { return nil }
                let more = min(limit, 2 * values.count)
                if fallback && !EigenSolver.krylovPays(order: d, components: more) {
                    tooMany = true
                    return nil
                }
                return more
            }
        }
        var (values, vectors) = matrix.withUnsafeBufferPointer {
            BlockLanczos.largest($0.baseAddress!, order: d, count: start, threads: threads, grow: grow)
        }
        if tooMany { return nil }
        values = values.map { max(0, $0) }
        if case .varianceFraction(let f) = selection {
            var cumulative = 0.0, keep = values.count
            for (i, v) in values.enumerated() {
                cumulative += v / total
                if cumulative > f { keep = i + 1; break }
            }
            values.removeLast(values.count - keep)
            vectors.removeLast(vectors.count - keep * d)
        }
        return (values, vectors)
    }

    /// A model from eigenpairs of the covariance: the sign convention, the whitening check.
    static func assemble(columns d: Int, count n: Int, mean: [Double], values: [Double], vectors: consuming [Double],
                         total: Double, whiten: Bool) throws -> PCAModel {
        var vectors = vectors
        // Sign convention: the largest-magnitude loading of each component is positive.
        for c in 0..<values.count {
            var best = 0
            for j in 0..<d where abs(vectors[c * d + j]) > abs(vectors[c * d + best]) { best = j }
            if vectors[c * d + best] < 0 {
                for j in 0..<d { vectors[c * d + j] = -vectors[c * d + j] }
            }
        }
        // Below this an eigenvalue is rounding noise of a zero one: whitening would blow it up.
        let negligible = total * Double(d) * 4 * Double.ulpOfOne
        if whiten, let zero = values.firstIndex(where: { $0 <= negligible }) {
            throw GroveError("component \(zero + 1) has no variance: cannot whiten (keep fewer components)")
        }
        return PCAModel(columns: d, count: n, mean: mean, components: vectors,
                        explainedVariance: values, explainedVarianceRatio: values.map { $0 / total },
                        totalVariance: total, whiten: whiten)
    }

    // MARK: the pca-model stream

    /// Metadata keys of the pca-model stream (docs/PCA.md).
    public enum Key {
        public static let components = "pca.components"
        public static let count = "pca.n"
        public static let explainedVariance = "pca.explained-variance"
        public static let explainedVarianceRatio = "pca.explained-variance-ratio"
        public static let totalVariance = "pca.total-variance"
        public static let whiten = "pca.whiten"
    }

    /// The model's own metadata entries, added to `base` (kind, producer, provenance, ...).
    public func metadata(adding base: ZmatMetadata) -> ZmatMetadata {
        var m = ZmatMetadata()
        m["kind"] = ContentKind.pcaModel
        for (k, v) in base where k != "kind" { m[k] = v }
        m[Key.components] = String(componentCount)
        m[Key.count] = String(count)
        m[Key.whiten] = whiten ? "true" : "false"
        m[Key.totalVariance] = "\(totalVariance)"
        m[Key.explainedVariance] = ZmatMetadata.encode(explainedVariance)
        m[Key.explainedVarianceRatio] = ZmatMetadata.encode(explainedVarianceRatio)
        return m
    }

    /// Writes the model stream (float64, d columns, rows: the mean then the K components) to
    /// `output` (not committed). Returns its content hash.
    @discardableResult
    public func write(to output: OutputFile, metadata base: ZmatMetadata) throws -> UInt64 {
        let header = ZmatHeader(elementType: .float64, columns: columns, hasLabels: false,
                                metadata: metadata(adding: base))
        let writer = try ZmatWriter(output: output, header: header)
        try writer.append(rows: 1, values: mean)
        try writer.append(rows: componentCount, values: components)
        return try writer.finish()
    }

    /// Reads a pca-model from a whole matrix (as `zmat info` and `read(path:)` load it),
    /// checking every part; errors name `name`.
    public init(matrix: Matrix, name: String) throws {
        let meta = matrix.header.metadata
        func fail(_ what: String) -> GroveError { GroveError(file: name, what) }
        guard meta["kind"] == ContentKind.pcaModel else {
            throw fail("kind is '\(meta["kind"] ?? "(none)")', expected a \(ContentKind.pcaModel) (made by pca-fit)")
        }
        guard matrix.elementType == .float64, !matrix.header.hasLabels else {
            throw fail("a pca-model holds float64 rows without labels, this is \(matrix.header.shapeDescription)")
        }
        func number(_ key: String) throws -> Double {
            guard let text = meta[key], let v = Double(text), v.isFinite else {
                throw fail("metadata '\(key)' is missing or not a number")
            }
            return v
        }
        func list(_ key: String) throws -> [Double] {
            guard let text = meta[key], let v = ZmatMetadata.decodeDoubles(text), v.allSatisfy(\.isFinite) else {
                throw fail("metadata '\(key)' is missing or not a list of numbers")
            }
            return v
        }
        let k = try number(Key.components)
        let n = try number(Key.count)
        let d = matrix.columns
        guard k >= 1, k == k.rounded(), Int(k) <= d, n >= 2, n == n.rounded() else {
            throw fail("metadata says \(meta[Key.components] ?? "?") components fit on \(meta[Key.count] ?? "?") rows, which is impossible for \(d) columns")
        }
        let kk = Int(k)
        guard matrix.rows == kk + 1 else {
            throw fail("\(matrix.rows) rows, expected the mean and \(kk) components (\(kk + 1) rows)")
        }
        let variance = try list(Key.explainedVariance)
        let ratio = try list(Key.explainedVarianceRatio)
        guard variance.count == kk, ratio.count == kk else {
            throw fail("explained variance lists hold \(variance.count) and \(ratio.count) values, expected \(kk)")
        }
        guard let w = meta[Key.whiten], w == "true" || w == "false" else {
            throw fail("metadata '\(Key.whiten)' is missing or not true/false")
        }
        let values = matrix.doubles()
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw fail("row \(bad / max(d, 1) + 1), column \(bad % max(d, 1) + 1): \(values[bad]), expected a finite number")
        }
        if w == "true", let zero = variance.firstIndex(where: { $0 <= 0 }) {
            throw fail("component \(zero + 1) has zero variance but the model whitens")
        }
        self.init(columns: d, count: Int(n), mean: Array(values[0..<d]), components: Array(values[d...]),
                  explainedVariance: variance, explainedVarianceRatio: ratio,
                  totalVariance: try number(Key.totalVariance), whiten: w == "true")
    }

    /// Reads a pca-model stream; also returns its header and content hash.
    public static func read(path: String?) throws -> (model: PCAModel, header: ZmatHeader, contentHash: UInt64) {
        let reader = try ZmatReader(path: path)
        let matrix = try reader.readAll()
        let model = try PCAModel(matrix: matrix, name: reader.name)
        return (model, matrix.header, reader.contentHash ?? 0)
    }

    /// The lines `zmat info` prints for a pca-model.
    public static func summaryLines(for matrix: Matrix) throws -> [String] {
        let model = try PCAModel(matrix: matrix, name: "model")
        func fixed(_ v: Double) -> String {
            let s = String(Int((v * 1e4).rounded()))
            let padded = String(repeating: "0", count: max(0, 5 - s.count)) + s
            return padded.dropLast(4) + "." + padded.suffix(4)
        }
        var cumulative = 0.0
        let cumulativeRatios = model.explainedVarianceRatio.map { cumulative += $0; return cumulative }
        return [
            "PCA model: \(model.componentCount) components of \(model.columns) columns, fit on \(model.count) rows\(model.whiten ? ", whitened" : "")",
            "explained variance ratio: " + model.explainedVarianceRatio.map(fixed).joined(separator: " "),
            "cumulative:               " + cumulativeRatios.map(fixed).joined(separator: " "),
        ]
    }
}
