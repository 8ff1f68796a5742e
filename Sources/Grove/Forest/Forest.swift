/// A model loaded for prediction: every tree's nodes in flat arrays, walked with plain
/// integer indices.
///
/// Nodes of all trees share one array (`ForestNode`); `roots` says where each tree starts.
public final class Forest {
    public let header: ForestHeader
    /// XXH64 content hash of the model stream (for provenance of predictions).
    public private(set) var contentHash: UInt64 = 0
    public var features: Int { header.features }
    public var classes: [Int32] { header.classes }
    public var treeCount: Int { header.nodeCounts.count }

    /// All trees' nodes, 16 bytes each so a walk touches one cache line per level.
    public private(set) var nodes: [ForestNode] = []
    /// Weighted training rows and impurity of each node (for importances and summaries).
    public private(set) var samples: [Float] = []
    public private(set) var impurity: [Float] = []
    public private(set) var leafProbabilities: [Float] = []
    /// Index of each tree's root node.
    public private(set) var roots: [Int32] = []

    /// Reads and checks a model stream block by block (never the whole matrix at once).
    /// - Parameter statistics: keep `samples` and `impurity` (for importances and summaries);
    ///   prediction does not need them.
    public convenience init(_ reader: ZmatReader, statistics: Bool = true) throws {
        try self.init(header: reader.header, name: reader.name, statistics: statistics,
                      next: { try reader.nextBlock() }, hash: { reader.contentHash ?? 0 })
    }

    /// Builds a forest from a model matrix in memory.
    public convenience init(matrix: Matrix, name: String = "model") throws {
        var done = false
        try self.init(header: matrix.header, name: name, statistics: true, next: {
            if done { return nil }
            done = true
            return matrix.block
        }, hash: { 0 })
    }

    private init(header zmatHeader: ZmatHeader, name: String, statistics: Bool, next: () throws -> RowBlock?,
                 hash: () -> UInt64) throws {
        header = try ForestHeader(zmatHeader, name: name)
        var checker = ForestRowChecker(header)
        // Reserve what the metadata promises, up to what a stream of plausible size holds: the
        // arrays still grow past that if the rows really are there.
        let total = min(header.nodeCounts.reduce(0, +), 1 << 22)
        nodes.reserveCapacity(total)
        if statistics {
            samples.reserveCapacity(total)
            impurity.reserveCapacity(total)
        }
        leafProbabilities.reserveCapacity(min((total / 2 + header.nodeCounts.count) * header.classes.count, 1 << 24))
        var start = 0
        for n in header.nodeCounts {
            roots.append(Int32(start))
            start += n
        }
        var treeInfo = (tree: 0, end: header.nodeCounts[0])
        while let block = try next() {
            if block.elementType == .float32 {
                try ingest(UnsafePointer(block.values(as: Float.self).baseAddress!), rows: block.rows,
                           statistics: statistics, checker: &checker, tree: &treeInfo)
            } else {
                try ingest(UnsafePointer(block.values(as: Double.self).baseAddress!), rows: block.rows,
                           statistics: statistics, checker: &checker, tree: &treeInfo)
            }
        }
        try checker.finish()
        contentHash = hash()
    }

    /// Checks and appends `rows` model rows (of float32 or float64, read in place).
    private func ingest<T: BinaryFloatingPoint>(_ v: UnsafePointer<T>, rows: Int, statistics: Bool,
                                                checker: inout ForestRowChecker,
                                                tree: inout (tree: Int, end: Int)) throws {
        let k = header.classes.count
        let columns = ForestLayout.columns(classes: k)
        for r in 0..<rows {
            let row = v + r * columns
            try checker.check(row)
            // Rows arrive in order: the tree is the one whose node range holds this row.
            while nodes.count >= tree.end {
                tree.tree += 1
                tree.end += header.nodeCounts[tree.tree]
            }
            if row[ForestLayout.feature] < 0 {
                nodes.append(ForestNode(threshold: 0, feature: -1, child: Int32(leafProbabilities.count / k)))
                for c in 0..<k { leafProbabilities.append(Float(row[ForestLayout.firstClass + c])) }
            } else {
                nodes.append(ForestNode(threshold: Double(row[ForestLayout.threshold]),
                                        feature: Int32(Int64(Double(row[ForestLayout.feature]))),
                                        child: roots[tree.tree] + Int32(Int64(Double(row[ForestLayout.left])))))
            }
            if statistics {
                samples.append(Float(row[ForestLayout.samples]))
                impurity.append(Float(row[ForestLayout.impurity]))
            }
        }
    }

    /// Opens and reads the model at `path`.
    public convenience init(path: String?, statistics: Bool = true) throws {
        try self.init(ZmatReader(path: path), statistics: statistics)
    }

    /// Checks an input stream's shape and feature space against the model.
    /// A missing feature space on either side is accepted (nothing to compare).
    public func checkCompatible(_ input: ZmatHeader, name: String) throws {
        guard input.columns == features else {
            throw GroveError(file: name, "rows have \(input.columns) columns, the model \(header.name) was trained on \(features)")
        }
        if let mine = header.featureSpace, let theirs = input.metadata["feature-space"], mine != theirs {
            throw GroveError(file: name, "feature space '\(theirs)' differs from the model's '\(mine)' (\(header.name)); project the rows the way the training rows were")
        }
    }

    /// Averages the trees' class probabilities for `rows` rows of `values` (row-major,
    /// `features` columns), writing `classes.count` floats per row to `out`.
    /// Trees are the outer loop so each stays in cache while the rows go through it; each row
    /// still sums its trees in tree order, so the result does not depend on threading.
    public func probabilities<T: ZmatScalar>(_ values: UnsafePointer<T>, rows: Int,
                                             into out: UnsafeMutablePointer<Float>) {
        let k = classes.count
        let d = features
        let scale = 1 / Float(treeCount)
        for i in 0..<rows * k { out[i] = 0 }
        nodes.withUnsafeBufferPointer { nodes in
            leafProbabilities.withUnsafeBufferPointer { leaves in
                let nodes = nodes.baseAddress!
                // Rows walk a tree in groups, one level per pass: the groups' node loads are
                // independent, so their cache misses overlap instead of queueing.
                let group = 32
                var at = [Int](repeating: 0, count: group)
                at.withUnsafeMutableBufferPointer { at in
                    for root in roots {
                        var r0 = 0
                        while r0 < rows {
                            let g = min(group, rows - r0)
                            for j in 0..<g { at[j] = Int(root) }
                            var walking = true
                            while walking {
                                walking = false
                                for j in 0..<g {
                                    let node = nodes[at[j]]
                                    if node.feature >= 0 {
                                        let x = values[(r0 + j) * d + Int(node.feature)].doubleValue
                                        at[j] = Int(node.child) + (x <= node.threshold ? 0 : 1)
                                        walking = true
                                    }
                                }
                            }
                            for j in 0..<g {
                                let leaf = leaves.baseAddress! + Int(nodes[at[j]].child) * k
                                let o = out + (r0 + j) * k
                                for c in 0..<k { o[c] += leaf[c] }
                            }
                            r0 += g
                        }
                    }
                }
            }
        }
        for i in 0..<rows * k { out[i] *= scale }
    }

    /// Predicts a block: class probabilities (`rows x classes`) and labels, on all cores.
    /// Throws on a NaN feature, naming `name` and the row (`firstRow` = rows before this block).
    public func predict(_ block: RowBlock, name: String, firstRow: Int, threads: Int,
                        probabilities out: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) throws {
        let rows = block.rows, k = classes.count
        if block.elementType == .float32 || block.elementType == .float64 {
            let d = block.columns
            var bad = -1
            switch block.elementType {
            case .float32:
                let v = block.values(as: Float.self)
                for i in 0..<rows * d where v[i].isNaN { bad = i / d; break }
            default:
                let v = block.values(as: Double.self)
                for i in 0..<rows * d where v[i].isNaN { bad = i / d; break }
            }
            if bad >= 0 {
                let col = (0..<d).first { c in
                    block.elementType == .float32 ? block.values(as: Float.self)[bad * d + c].isNaN
                        : block.values(as: Double.self)[bad * d + c].isNaN
                } ?? 0
                throw GroveError(file: name, "row \(firstRow + bad), column \(col): NaN feature value; trees need numbers")
            }
        }
        // One chunk per thread: each tree's nodes are then fetched once per chunk of rows, not
        // once per small group (a 100-tree forest is tens of MiB of nodes).
        let chunk = max(64, (rows + max(1, threads) - 1) / max(1, threads))
        let parts = (rows + chunk - 1) / chunk
        Parallel.forEach(parts, threads: threads) { p in
            let lo = p * chunk, hi = min(rows, lo + chunk)
            switch block.elementType {
            case .uint8: probabilities(UnsafePointer(block.values(as: UInt8.self).baseAddress! + lo * features), rows: hi - lo, into: out + lo * k)
            case .int32: probabilities(UnsafePointer(block.values(as: Int32.self).baseAddress! + lo * features), rows: hi - lo, into: out + lo * k)
            case .float32: probabilities(UnsafePointer(block.values(as: Float.self).baseAddress! + lo * features), rows: hi - lo, into: out + lo * k)
            case .float64: probabilities(UnsafePointer(block.values(as: Double.self).baseAddress! + lo * features), rows: hi - lo, into: out + lo * k)
            }
            for r in lo..<hi {
                let o = out + r * k
                var best = 0
                for c in 1..<max(k, 1) where o[c] > o[best] { best = c }
                labels[r] = classes[best]
            }
        }
    }

    /// Mean decrease in impurity per feature: each split credits its feature with
    /// `w*I - wL*I(L) - wR*I(R)`, each tree's credits are normalised to sum 1, then averaged
    /// over trees and normalised again (scikit-learn's `feature_importances_`).
    public func importances() -> [Double] {
        precondition(samples.count == nodes.count, "importances need a forest loaded with statistics")
        var result = [Double](repeating: 0, count: features)
        var perTree = [Double](repeating: 0, count: features)
        for t in 0..<treeCount {
            for f in 0..<features { perTree[f] = 0 }
            let start = Int(roots[t]), end = start + header.nodeCounts[t]
            for i in start..<end where nodes[i].feature >= 0 {
                let l = Int(nodes[i].child), r = l + 1
                perTree[Int(nodes[i].feature)] += Double(samples[i]) * Double(impurity[i])
                    - Double(samples[l]) * Double(impurity[l]) - Double(samples[r]) * Double(impurity[r])
            }
            let sum = perTree.reduce(0, +)
            if sum > 0 { for f in 0..<features { result[f] += perTree[f] / sum } }
        }
        let sum = result.reduce(0, +)
        if sum > 0 { for f in 0..<features { result[f] /= sum } }
        return result
    }

    /// Depth (edges from root to deepest leaf) of each tree.
    public func depths() -> [Int] {
        var out = [Int]()
        var stack = [(Int, Int)]()
        for t in 0..<treeCount {
            var deepest = 0
            stack.append((Int(roots[t]), 0))
            while let (node, depth) = stack.popLast() {
                if nodes[node].feature < 0 { deepest = max(deepest, depth); continue }
                stack.append((Int(nodes[node].child), depth + 1))
                stack.append((Int(nodes[node].child) + 1, depth + 1))
            }
            out.append(deepest)
        }
        return out
    }

    /// Lines `zmat info` prints for a tree or forest.
    public func summaryLines() -> [String] {
        func stats(_ v: [Int]) -> String {
            let s = v.sorted()
            return "min \(s.first!), median \(s[s.count / 2]), max \(s.last!)"
        }
        let leaves = nodes.filter { $0.feature < 0 }.count
        var lines = [
            "trees: \(treeCount)",
            "classes: \(classes.map(String.init).joined(separator: ","))",
            "features: \(features)",
            "depth: \(stats(depths()))",
            "nodes per tree: \(stats(header.nodeCounts))",
            "nodes: \(nodes.count) (\(leaves) leaves)",
        ]
        if let space = header.featureSpace { lines.append("feature space: \(space)") }
        if let oob = header.metadata["oob.accuracy"] { lines.append("out-of-bag accuracy: \(oob)") }
        let imp = importances()
        let top = imp.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }.prefix(5)
        lines.append("top features: " + top.map { "\($0.offset) (\(formatFixed($0.element, 4)))" }.joined(separator: ", "))
        return lines
    }

    /// `zmat info`'s summary of a model matrix already in memory.
    public static func summaryLines(for matrix: Matrix) throws -> [String] {
        try Forest(matrix: matrix).summaryLines()
    }
}

/// One node of a loaded forest: an internal node sends a row to `child` when
/// `value <= threshold`, else to `child + 1` (indices into `Forest.nodes`); a leaf has
/// `feature == -1` and `child` = its leaf number in `Forest.leafProbabilities`.
public struct ForestNode {
    public var threshold: Double
    public var feature: Int32
    public var child: Int32
}

/// Formats `value` with `digits` decimals (no Foundation needed).
public func formatFixed(_ value: Double, _ digits: Int) -> String {
    if value.isNaN { return "nan" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let frac = Int(scaled - Double(whole) * scale)
    var fracText = String(frac)
    while fracText.count < digits { fracText = "0" + fracText }
    return (negative && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fracText : "")
}
