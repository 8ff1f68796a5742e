/// SplitMix64 (Steele, Lea, Flood): a small, fast, well-mixed 64-bit generator.
///
/// Grove derives every random stream from an explicit seed with it, so results never depend
/// on the platform's generator, the thread count, or the order tasks run in.
public struct SplitMix64: RandomNumberGenerator {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// A seed for the `index`-th independent stream under `seed` (tree i, shard j, ...).
    public static func derive(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (index &* 0xD1B54A32D192ED03))
        _ = g.next()
        return g.next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift; `bound` > 0).
    @inline(__always)
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
