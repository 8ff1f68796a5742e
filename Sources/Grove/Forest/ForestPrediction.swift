/// Streams rows through a forest: one block in, one block of predictions out.
public enum ForestPrediction {
    /// The metadata of a predictions (or probabilities) stream.
    public static func metadata(forest: Forest, input: ZmatHeader, probabilities: Bool,
                                producer: String) -> ZmatMetadata {
        var m = ZmatMetadata()
        m["kind"] = probabilities ? ContentKind.probabilities : ContentKind.predictions
        m["producer"] = producer
        m["classes"] = ForestLayout.list(forest.classes)
        m["model.hash"] = XXH64.hex(forest.contentHash)
        if let space = input.metadata["feature-space"] { m["feature-space"] = space }
        return m
    }

    /// Predicts every row of `reader` into `output` (not committed): int32 labels, or float32
    /// probabilities with `probabilities`. Labels of the input are kept as row labels.
    public static func run(forest: Forest, reader: ZmatReader, output: OutputFile, probabilities: Bool,
                           threads: Int, producer: String) throws {
        let k = forest.classes.count
        let header = ZmatHeader(elementType: probabilities ? .float32 : .int32,
                                columns: probabilities ? k : 1, hasLabels: reader.header.hasLabels,
                                metadata: metadata(forest: forest, input: reader.header,
                                                   probabilities: probabilities, producer: producer))
        let writer = try ZmatWriter(output: output, header: header)
        var probs = [Float]()
        var labels = [Int32]()
        var first = 0
        while let block = try reader.nextBlock() {
            let rows = block.rows
            if probs.count < rows * k {
                probs = [Float](repeating: 0, count: rows * k)
                labels = [Int32](repeating: 0, count: rows)
            }
            try probs.withUnsafeMutableBufferPointer { p in
                try labels.withUnsafeMutableBufferPointer { l in
                    try forest.predict(block, name: reader.name, firstRow: first, threads: threads,
                                       probabilities: p.baseAddress!, labels: l.baseAddress!)
                    let passLabels = block.labels.map { UnsafeBufferPointer($0) }
                    if probabilities {
                        try writer.append(rows: rows, elements: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[0..<rows * k * 4]),
                                          labels: passLabels)
                    } else {
                        try writer.append(rows: rows, elements: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(l)[0..<rows * 4]),
                                          labels: passLabels)
                    }
                }
            }
            first += rows
        }
        try writer.finish()
    }
}
