// Fuzz target: reading a pca-model (pca-project, zmat info) or a pca-partial (pca-fit
// --merge) from a zmat stream; the control byte's bit 7 picks which. A partial that reads is
// merged with itself and, when small, fit; a model that reads projects a row.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: count)
    return Fuzz.run {
        let reader = try ZmatReader(Fuzz.zmatInput(bytes))
        let matrix = try reader.readAll()
        if let c = bytes.first, c & 0x80 != 0 {
            var statistics = try CoMoments(partial: matrix, name: reader.name)
            try statistics.merge(statistics)
            if statistics.columns <= 32 {
                _ = try PCAModel.fit(statistics, selection: .count(1), whiten: c & 0x40 != 0)
            }
        } else {
            let model = try PCAModel(matrix: matrix, name: reader.name)
            _ = try PCAModel.summaryLines(for: matrix)
            let projector = PCAProjector(model: model, threads: 1)
            let block = RowBlock(rows: 1, columns: model.columns, elementType: .float32, hasLabels: false)
            let x = block.values(as: Float.self)
            for i in 0..<x.count { x[i] = Float(i % 7) }
            var out = [Float](repeating: 0, count: model.componentCount)
            try out.withUnsafeMutableBufferPointer {
                try projector.project(block, into: $0.baseAddress!, firstRow: 0, name: "row")
            }
        }
    }
}
