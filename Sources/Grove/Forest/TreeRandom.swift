/// The random number generator one tree draws from: xoshiro256** seeded through SplitMix64.
///
/// A tree's stream depends only on the forest seed and the tree's global index, so a tree
/// comes out the same whether it is trained alone (`rf-tree --tree-index 5`) or as the sixth
/// tree of one run, on any thread.
public struct TreeRandom {
    private var s0, s1, s2, s3: UInt64

    /// SplitMix64's step: a strong 64-bit mixer, used to spread nearby seeds far apart.
    @inline(__always)
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The generator of tree `treeIndex` in a forest seeded with `seed`.
    public init(seed: UInt64, treeIndex: Int) {
        var a = seed
        let mixedSeed = TreeRandom.splitMix64(&a)
        // Index and seed go through separate mixing rounds so (seed, i) and (seed', i') collide
        // only by chance.
        var b = mixedSeed ^ (UInt64(truncatingIfNeeded: treeIndex) &* 0xD1B5_4A32_D192_ED03)
        s0 = TreeRandom.splitMix64(&b)
        s1 = TreeRandom.splitMix64(&b)
        s2 = TreeRandom.splitMix64(&b)
        s3 = TreeRandom.splitMix64(&b)
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
