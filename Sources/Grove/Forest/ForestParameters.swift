/// How a split's quality is measured.
public enum SplitCriterion: String, CaseIterable, Sendable {
    /// Gini impurity, 1 - sum p_k^2 (scikit-learn's default).
    case gini
    /// Shannon entropy, -sum p_k log2 p_k (information gain).
    case entropy

    /// The impurity of a node with these (weighted) class counts.
    public func impurity<C: Collection>(_ counts: C) -> Double where C.Element == Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        switch self {
        case .gini:
            var s = 0.0
            for c in counts { s += (c / total) * (c / total) }
            return 1 - s
        case .entropy:
            var h = 0.0
            for c in counts where c > 0 { let p = c / total; h -= p * log2(p) }
            return h
        }
    }
}

/// How many features each node considers (drawn at random, as in random forests).
public enum MaxFeatures: Equatable, Sendable, CustomStringConvertible {
    case sqrt, log2, all
    case count(Int)
    case fraction(Double)

    /// Parses `sqrt`, `log2`, `all`, an integer N >= 1, or a fraction in (0, 1).
    public init?(_ text: String) {
        switch text {
        case "sqrt": self = .sqrt
        case "log2": self = .log2
        case "all": self = .all
        default:
            if let n = Int(text), n >= 1 { self = .count(n); return }
            if let f = Double(text), f > 0, f < 1 { self = .fraction(f); return }
            if let f = Double(text), f == 1 { self = .all; return }
            return nil
        }
    }

    public var description: String {
        switch self {
        case .sqrt: return "sqrt"
        case .log2: return "log2"
        case .all: return "all"
        case .count(let n): return String(n)
        case .fraction(let f): return "\(f)"
        }
    }

    /// The number of features per node for `features` columns (scikit-learn's rounding).
    public func resolve(features d: Int) -> Int {
        switch self {
        case .sqrt: return max(1, Int(Double(d).squareRoot()))
        case .log2: return max(1, Int(Glibc.log2(Double(d))))
        case .all: return d
        case .count(let n): return min(n, d)
        case .fraction(let f): return max(1, Int(f * Double(d)))
        }
    }
}

/// Everything that decides how trees grow. Defaults are scikit-learn's RandomForestClassifier.
public struct ForestParameters: Equatable, Sendable {
    public var criterion = SplitCriterion.gini
    /// Nodes at this depth become leaves (root is depth 0); nil: grow until pure.
    public var maxDepth: Int? = nil
    /// A node with fewer distinct training rows is not split.
    public var minSamplesSplit = 2
    /// Each child must keep at least this many distinct training rows.
    public var minSamplesLeaf = 1
    public var maxFeatures = MaxFeatures.sqrt
    /// Draw each tree's rows with replacement (counts become row weights).
    public var bootstrap = true
    /// Rows drawn per tree, as a fraction of the training rows.
    public var sampleFraction = 1.0
    public var seed: UInt64 = 0

    public init() {}

    /// The parameters as `param.*` metadata entries, in a fixed order.
    public var metadata: [(String, String)] {
        [("param.criterion", criterion.rawValue),
         ("param.max-depth", maxDepth.map(String.init) ?? "none"),
         ("param.min-samples-split", String(minSamplesSplit)),
         ("param.min-samples-leaf", String(minSamplesLeaf)),
         ("param.max-features", maxFeatures.description),
         ("param.bootstrap", bootstrap ? "true" : "false"),
         ("param.sample-fraction", "\(sampleFraction)"),
         ("param.seed", String(seed))]
    }
}

#if canImport(Glibc)
import Glibc
#endif

