/// The sufficient statistics of a set of rows for PCA: the row count, the mean, and the
/// co-moment matrix M2 = sum over rows of (x - mean)(x - mean)^T.
///
/// Two exact-as-possible representations:
/// - `.integer`: raw column sums and raw products X^T X of integer data (uint8 pixels), held
///   as integer-valued Doubles. Every value is exact while below 2^53 (about 1.4e11 rows of
///   uint8), so accumulating, merging and re-ordering rows changes nothing, bit for bit.
/// - `.float`: mean and centered M2 in float64, merged with Chan et al.'s pairwise update.
/// Converting integer statistics to the centered form takes one rounding per element
/// (n*S - s s^T is formed exactly in 128-bit integers).
public struct CoMoments: Equatable, Sendable {
    /// How `first` and `second` are to be read.
    public enum Accumulation: String, Sendable {
        /// `first` = column sums, `second` = X^T X, both exact integers.
        case integer
        /// `first` = column means, `second` = centered co-moments M2.
        case float
    }

    /// Row width d.
    public let columns: Int
    /// Rows summarised.
    public private(set) var count: Int
    /// How `first` and `second` are held.
    public private(set) var accumulation: Accumulation
    /// Column sums (integer) or means (float), `columns` values.
    public private(set) var first: [Double]
    /// X^T X (integer) or M2 (float), `columns * columns` values, row-major and symmetric.
    public private(set) var second: [Double]

    /// Largest integer a Double holds exactly: integer statistics must stay below it.
    public static let exactIntegerLimit = 9_007_199_254_740_992.0  // 2^53

    /// Statistics of no rows.
    public init(columns: Int, accumulation: Accumulation) {
        self.columns = columns
        self.count = 0
        self.accumulation = accumulation
        first = [Double](repeating: 0, count: columns)
        second = [Double](repeating: 0, count: columns * columns)
    }

    /// Statistics from their parts (e.g. read back from a pca-partial stream).
    public init(columns: Int, count: Int, accumulation: Accumulation, first: [Double], second: [Double]) {
        precondition(first.count == columns && second.count == columns * columns, "statistics shape")
        self.columns = columns
        self.count = count
        self.accumulation = accumulation
        self.first = first
        self.second = second
    }

    /// The column means.
    public var mean: [Double] {
        switch accumulation {
        case .float: return first
        case .integer:
            let n = Double(max(count, 1))
            return first.map { $0 / n }
        }
    }

    /// The same statistics in the centered (`.float`) form.
    public func centered() -> CoMoments {
        guard accumulation == .integer else { return self }
        let d = columns
        var m2 = [Double](repeating: 0, count: d * d)
        if count > 0 {
            let dn = Double(count)
            let sums = first.map { Int64($0) }  // exact: integer-valued, below 2^53
            second.withUnsafeBufferPointer { s in
                m2.withUnsafeMutableBufferPointer { out in
                    for i in 0..<d {
                        for j in i..<d {
                            // n * sum(x_i x_j) - sum(x_i) sum(x_j), exact, then one rounding.
                            let v = CoMoments.exactDifference(count, Int64(s[i * d + j]), sums[i], sums[j]) / dn
                            out[i * d + j] = v
                            out[j * d + i] = v
                        }
                    }
                }
            }
        }
        return CoMoments(columns: d, count: count, accumulation: .float, first: mean, second: m2)
    }

    /// n * s - a * b as a Double, computed exactly (in 64 bits while it fits, else 128).
    @inline(__always)
    static func exactDifference(_ n: Int, _ s: Int64, _ a: Int64, _ b: Int64) -> Double {
        let (ns, o1) = Int64(n).multipliedReportingOverflow(by: s)
        let (ab, o2) = a.multipliedReportingOverflow(by: b)
        if !o1 && !o2 {
            let (difference, o3) = ns.subtractingReportingOverflow(ab)
            if !o3 { return Double(difference) }
        }
        return Double(Int128(n) * Int128(s) - Int128(a) * Int128(b))
    }

    /// The sample covariance matrix (divisor n - 1, as scikit-learn), row-major d x d.
    /// From integer statistics each element is (n S_ij - s_i s_j) / (n (n - 1)), the numerator
    /// exact, so one rounding in the difference and one in the division.
    public func covariance(threads: Int = 1) -> [Double] {
        let d = columns
        guard accumulation == .integer else {
            let scale = 1 / Double(max(count - 1, 1))
            return second.map { $0 * scale }
        }
        var out = [Double](repeating: 0, count: d * d)
        guard count > 0 else { return out }
        let divisor = Double(count) * Double(max(count - 1, 1))
        let sums = first.map { Int64($0) }  // exact: integer-valued, below 2^53
        let n = count
        let parts = Parallel.ranges(d, parts: max(1, threads) * 4)
        second.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let o = o.baseAddress!
                Parallel.forEach(parts.count, threads: threads) { part in
                    for i in parts[part] {
                        for j in i..<d {
                            let v = CoMoments.exactDifference(n, Int64(s[i * d + j]), sums[i], sums[j]) / divisor
                            o[i * d + j] = v
                            o[j * d + i] = v
                        }
                    }
                }
            }
        }
        return out
    }

    /// Adds the statistics of other rows.
    ///
    /// Integer statistics add exactly; otherwise both sides are centered and combined with
    /// Chan, Golub and LeVeque's pairwise update
    /// M2 = M2a + M2b + (mean_b - mean_a)(mean_b - mean_a)^T * na nb / n, which never subtracts
    /// large raw sums and so keeps the precision of each part.
    public mutating func merge(_ other: CoMoments) throws {
        precondition(other.columns == columns, "merging statistics of different widths")
        if other.count == 0 { return }
        if count == 0 {
            self = other
            return
        }
        if accumulation == .integer && other.accumulation == .integer {
            let total = count + other.count
            var overflow = false
            for i in 0..<columns {
                first[i] += other.first[i]
            }
            second.withUnsafeMutableBufferPointer { s in
                other.second.withUnsafeBufferPointer { o in
                    for k in 0..<s.count {
                        s[k] += o[k]
                        if s[k] >= CoMoments.exactIntegerLimit { overflow = true }
                    }
                }
            }
            if overflow {
                throw GroveError("\(total) rows are beyond the exact integer accumulation limit (2^53 per co-moment)")
            }
            count = total
            return
        }
        let a = centered(), b = other.centered()
        let na = Double(a.count), nb = Double(b.count), n = na + nb
        var delta = [Double](repeating: 0, count: columns)
        var mean = a.first
        for i in 0..<columns {
            delta[i] = b.first[i] - a.first[i]
            mean[i] = a.first[i] + delta[i] * (nb / n)
        }
        let weight = na * nb / n
        var m2 = a.second
        let d = columns
        m2.withUnsafeMutableBufferPointer { m in
            b.second.withUnsafeBufferPointer { mb in
                for i in 0..<d {
                    let di = delta[i] * weight
                    for j in 0..<d {
                        m[i * d + j] += mb[i * d + j] + di * delta[j]
                    }
                }
            }
        }
        self = CoMoments(columns: d, count: a.count + b.count, accumulation: .float, first: mean, second: m2)
    }

    /// Replaces `self` (used by the accumulator after a block's statistics are combined).
    mutating func absorb(count: Int, first: [Double], second: [Double]) {
        self.count = count
        self.first = first
        self.second = second
    }
}
