/// Reordering and partitioning rows: the workflow's partition stage.
public enum RowOrder {
    /// A seeded uniform permutation of `0..<count` (Fisher–Yates over SplitMix64).
    public static func permutation(count: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        var rng = SplitMix64(seed: seed)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                order.swapAt(i, rng.below(i + 1))
            }
        }
        return order
    }

    /// The rows of `matrix` listed in `order`, as a new matrix of the same header.
    public static func gather(_ matrix: Matrix, rows order: [Int]) -> Matrix {
        let out = Matrix(header: matrix.header, rows: order.count)
        let rowBytes = matrix.header.rowBytes
        let src = UnsafeRawBufferPointer(matrix.elementBytes)
        let dst = out.elementBytes
        for (i, r) in order.enumerated() {
            if rowBytes > 0 {
                dst.baseAddress!.advanced(by: i * rowBytes)
                    .copyMemory(from: src.baseAddress! + r * rowBytes, byteCount: rowBytes)
            }
            if let l = matrix.labels, let o = out.labels { o[i] = l[r] }
        }
        return out
    }

    /// The rows of shard `index` of `count` under round-robin: rows index, index+count, ...
    public static func roundRobin(rows: Int, shard index: Int, of count: Int) -> [Int] {
        Array(stride(from: index, to: rows, by: count))
    }
}
