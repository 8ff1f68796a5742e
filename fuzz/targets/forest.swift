// Fuzz target: loading a tree or forest model the way rf-predict does (streamed, checked row by
// row); a model that loads must also summarise (zmat info) and predict without fault.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.run {
        let reader = try ZmatReader(Fuzz.zmatInput(UnsafeRawBufferPointer(start: data, count: count)))
        let forest = try Forest(reader, statistics: true)
        precondition(forest.treeCount > 0)
        _ = forest.summaryLines()
        _ = forest.importances()
        _ = forest.depths()
        // Two rows of features: all zeros and all ones, through every tree.
        guard forest.features <= 1 << 16 else { return }
        let rows = 2
        var x = [Float](repeating: 0, count: rows * forest.features)
        for i in forest.features..<x.count { x[i] = 1 }
        var out = [Float](repeating: 0, count: rows * forest.classes.count)
        x.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { forest.probabilities(x.baseAddress!, rows: rows, into: $0.baseAddress!) }
        }
    }
}
