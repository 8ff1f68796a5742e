/// The pca-partial stream: one shard's `CoMoments`, so shards can be fit apart and merged.
///
/// Layout (docs/PCA.md): float64, d columns, no labels, d + 1 rows: row 0 holds the column
/// sums (integer accumulation) or means (float), rows 1...d the matrix X^T X (integer) or
/// the centered co-moments M2 (float). Metadata: `kind` pca-partial, `pca.n` (row count),
/// `pca.accumulation` (`integer` or `float`), plus the usual provenance.
extension CoMoments {
    /// Metadata keys of the pca-partial stream.
    public enum PartialKey {
        public static let count = "pca.n"
        public static let accumulation = "pca.accumulation"
    }

    /// Writes the statistics as a pca-partial stream to `output` (not committed).
    @discardableResult
    public func writePartial(to output: OutputFile, metadata base: ZmatMetadata) throws -> UInt64 {
        var meta = ZmatMetadata()
        meta["kind"] = ContentKind.pcaPartial
        for (k, v) in base where k != "kind" { meta[k] = v }
        meta[PartialKey.count] = String(count)
        meta[PartialKey.accumulation] = accumulation.rawValue
        let writer = try ZmatWriter(output: output, header: ZmatHeader(elementType: .float64, columns: columns,
                                                                       hasLabels: false, metadata: meta))
        try writer.append(rows: 1, values: first)
        try writer.append(rows: columns, values: second)
        return try writer.finish()
    }

    /// Reads statistics back from a whole pca-partial matrix; errors name `name`.
    public init(partial matrix: Matrix, name: String) throws {
        let meta = matrix.header.metadata
        func fail(_ what: String) -> GroveError { GroveError(file: name, what) }
        guard meta["kind"] == ContentKind.pcaPartial else {
            throw fail("kind is '\(meta["kind"] ?? "(none)")', expected a \(ContentKind.pcaPartial) (made by pca-fit --partial)")
        }
        guard matrix.elementType == .float64, !matrix.header.hasLabels else {
            throw fail("a pca-partial holds float64 rows without labels, this is \(matrix.header.shapeDescription)")
        }
        let d = matrix.columns
        guard d >= 1 else { throw fail("0 columns") }
        guard let nText = meta[PartialKey.count], let n = Int(nText), n >= 1 else {
            throw fail("metadata '\(PartialKey.count)' is missing or not a positive row count")
        }
        guard let accText = meta[PartialKey.accumulation], let acc = Accumulation(rawValue: accText) else {
            throw fail("metadata '\(PartialKey.accumulation)' is missing or not 'integer' or 'float'")
        }
        guard matrix.rows == d + 1 else {
            throw fail("\(matrix.rows) rows, expected \(d + 1) (one row of \(acc == .integer ? "sums" : "means") and \(d) of co-moments)")
        }
        let values = matrix.doubles()
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw fail("row \(bad / d + 1), column \(bad % d + 1): \(values[bad]), expected a finite number")
        }
        if acc == .integer,
           let bad = values.firstIndex(where: { $0 != $0.rounded() || abs($0) >= CoMoments.exactIntegerLimit }) {
            throw fail("row \(bad / d + 1), column \(bad % d + 1): \(values[bad]) in integer statistics, expected an integer below 2^53")
        }
        let second = Array(values[d...])
        for i in 0..<d {
            for j in (i + 1)..<d where second[i * d + j] != second[j * d + i] {
                throw fail("co-moment rows \(i + 2) and \(j + 2) disagree: the matrix must be symmetric")
            }
        }
        self.init(columns: d, count: n, accumulation: acc, first: Array(values[0..<d]), second: second)
    }
}
