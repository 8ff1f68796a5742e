/// Joins a reader's blocks into batches of at least `minRows` rows (or `maxBytes` of
/// elements): prediction fetches every tree's nodes once per batch, so wide rows (784 pixels
/// make 1 MiB blocks of 1,337 rows) are predicted in bigger batches. Memory stays bounded.
struct BlockBatcher {
    let reader: ZmatReader
    var minRows = 8192
    var maxBytes = 16 << 20

    init(_ reader: ZmatReader) { self.reader = reader }

    mutating func next() throws -> RowBlock? {
        var parts = [RowBlock]()
        var rows = 0, bytes = 0
        while rows < minRows && bytes < maxBytes, let b = try reader.nextBlock() {
            parts.append(b)
            rows += b.rows
            bytes += b.elementBytes.count
        }
        if parts.count <= 1 { return parts.first }
        let h = reader.header
        let joined = RowBlock(rows: rows, columns: h.columns, elementType: h.elementType, hasLabels: h.hasLabels)
        var at = 0
        for p in parts {
            let n = p.elementBytes.count
            if n > 0 {
                joined.bytes.baseAddress!.advanced(by: at * h.rowBytes).copyMemory(from: p.bytes.baseAddress!, byteCount: n)
            }
            if let dst = joined.labels, let src = p.labels {
                for i in 0..<p.rows { dst[at + i] = src[i] }
            }
            at += p.rows
        }
        return joined
    }
}

/// Streams rows through a forest: one batch of blocks in, one block of predictions out.
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
    /// `progress` is called with the rows predicted so far after each batch.
    public static func run(forest: Forest, reader: ZmatReader, output: OutputFile, probabilities: Bool,
                           threads: Int, producer: String, progress: ((Int) -> Void)? = nil) throws {
        let k = forest.classes.count
        let header = ZmatHeader(elementType: probabilities ? .float32 : .int32,
                                columns: probabilities ? k : 1, hasLabels: reader.header.hasLabels,
                                metadata: metadata(forest: forest, input: reader.header,
                                                   probabilities: probabilities, producer: producer))
        let writer = try ZmatWriter(output: output, header: header)
        var probs = [Float]()
        var labels = [Int32]()
        var first = 0
        var batches = BlockBatcher(reader)
        while let block = try batches.next() {
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
            progress?(first)
        }
        try writer.finish()
    }
}
