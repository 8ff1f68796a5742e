/// The random number generator one tree draws from: xoshiro256** seeded through SplitMix64.
///
/// A tree's stream depends only on the forest seed and the tree's global index, so a tree
/// comes out the same whether it is trained alone (`rf-tree --tree-index 5`) or as the sixth
/// tree of one run, on any thread.
public struct TreeRandom {
    private var s0, s1, s2, s3: UInt64

    /// The generator of tree `treeIndex` in a forest seeded with `seed`: the state comes from
    /// the project's SplitMix64 stream derived for (seed, tree index).
    public init(seed: UInt64, treeIndex: Int) {
        var g = SplitMix64(seed: SplitMix64.derive(seed, UInt64(truncatingIfNeeded: treeIndex)))
        s0 = g.next()
        s1 = g.next()
        s2 = g.next()
        s3 = g.next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift; bias below 2^-32 here).
    @inline(__always)
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: next()).high)
    }
}
