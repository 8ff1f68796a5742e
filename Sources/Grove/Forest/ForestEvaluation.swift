/// Scores predictions against true labels, from either of the two inputs `rf-eval` takes.
public enum ForestEvaluation {
    /// Predicts every labelled row of `reader` with `forest` and tallies the results.
    public static func evaluate(forest: Forest, reader: ZmatReader, threads: Int) throws -> ClassificationReport {
        guard reader.header.hasLabels else {
            throw GroveError(file: reader.name, "rows have no labels to score the predictions against")
        }
        try forest.checkCompatible(reader.header, name: reader.name)
        var report = ClassificationReport(classes: forest.classes)
        let k = forest.classes.count
        var probs = [Float](), predicted = [Int32]()
        var first = 0
        var batches = BlockBatcher(reader)
        while let block = try batches.next() {
            if predicted.count < block.rows {
                probs = [Float](repeating: 0, count: block.rows * k)
                predicted = [Int32](repeating: 0, count: block.rows)
            }
            try probs.withUnsafeMutableBufferPointer { p in
                try predicted.withUnsafeMutableBufferPointer { l in
                    try forest.predict(block, name: reader.name, firstRow: first, threads: threads,
                                       probabilities: p.baseAddress!, labels: l.baseAddress!)
                }
            }
            let truth = block.labels!
            for r in 0..<block.rows { report.record(truth: truth[r], predicted: predicted[r]) }
            first += block.rows
        }
        return report
    }

    /// Tallies a stream that `rf-predict` wrote: int32 labels (`predictions`) or per-class
    /// probabilities (`probabilities`, scored by their most likely class), with the true
    /// labels as row labels.
    public static func evaluate(predictions reader: ZmatReader) throws -> ClassificationReport {
        let h = reader.header
        let name = reader.name
        guard h.hasLabels else {
            throw GroveError(file: name, "rows have no labels: expected rf-predict output of labelled rows (true label per row)")
        }
        let classes = h.metadata["classes"].flatMap(ForestLayout.integers)?.map { Int32($0) } ?? []
        let isProbabilities = h.metadata["kind"] == ContentKind.probabilities
        if isProbabilities {
            guard h.elementType == .float32 || h.elementType == .float64, h.columns == classes.count, !classes.isEmpty else {
                throw GroveError(file: name, "probabilities must be float32 or float64 with one column per class listed in 'classes', not \(h.shapeDescription)")
            }
        } else {
            guard h.elementType == .int32, h.columns == 1 else {
                throw GroveError(file: name, "expected predictions (int32 x 1 with labels, from rf-predict) or features with -m MODEL, not \(h.shapeDescription)")
            }
        }
        var report = ClassificationReport(classes: classes)
        while let block = try reader.nextBlock() {
            let truth = block.labels!
            if isProbabilities {
                // float32 from rf-predict, float64 possible from averaging tools.
                var v = [Double](repeating: 0, count: block.rows * block.columns)
                v.withUnsafeMutableBufferPointer { block.convertRows(0..<block.rows, into: $0) }
                let k = classes.count
                for r in 0..<block.rows {
                    var best = 0
                    for c in 1..<k where v[r * k + c] > v[r * k + best] { best = c }
                    report.record(truth: truth[r], predicted: classes[best])
                }
            } else {
                let v = block.values(as: Int32.self)
                for r in 0..<block.rows { report.record(truth: truth[r], predicted: v[r]) }
            }
        }
        return report
    }
}
