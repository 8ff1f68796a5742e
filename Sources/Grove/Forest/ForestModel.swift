/// The layout of tree and forest streams (docs/FOREST.md is the normative description).
///
/// A model is a float64 zmat stream with one row per node, trees one after another, each
/// tree's nodes in its own order (root first, children after their parent). Columns:
/// `feature, threshold, left, right, samples, impurity, p(class 0) ... p(class K-1)`.
/// A leaf has feature, left and right -1; internal nodes leave the class columns 0. `left`/`right` are node numbers within the tree.
/// Metadata says how many nodes each tree has (`tree.nodes`), its global index (`tree.index`),
/// the feature count, the classes, the feature space and how the trees were grown.
public enum ForestLayout {
    public static let feature = 0
    public static let threshold = 1
    public static let left = 2
    public static let right = 3
    public static let samples = 4
    public static let impurity = 5
    public static let firstClass = 6

    /// Columns of a model with `classes` classes.
    public static func columns(classes: Int) -> Int { firstClass + classes }
    /// The most nodes a model may hold, all trees together (node numbers are Int32).
    public static let maxNodes = Int(Int32.max) / 2

    /// Parses a comma-separated list of integers (metadata lists).
    public static func integers(_ text: String) -> [Int]? {
        if text.isEmpty { return [] }
        var out = [Int]()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Int(part) else { return nil }
            out.append(v)
        }
        return out
    }

    /// Writes a comma-separated list.
    public static func list<T: BinaryInteger>(_ values: [T]) -> String {
        values.map { String($0) }.joined(separator: ",")
    }
}

/// What every model stream's metadata must say, parsed and checked.
public struct ForestHeader {
    public let name: String
    /// float32 or float64.
    public let elementType: ElementType
    public let metadata: ZmatMetadata
    public let features: Int
    public let classes: [Int32]
    public let treeIndex: [Int]
    public let nodeCounts: [Int]
    public var featureSpace: String? { metadata["feature-space"] }
    public var criterion: SplitCriterion { SplitCriterion(rawValue: metadata["param.criterion"] ?? "") ?? .gini }

    /// Checks `header` (of the stream `name`) describes a tree or forest.
    public init(_ header: ZmatHeader, name: String) throws {
        let m = header.metadata
        guard let kind = m["kind"], kind == ContentKind.tree || kind == ContentKind.forest else {
            throw GroveError(file: name, "kind '\(m["kind"] ?? "none")' is not a model; expected a tree or forest from rf-tree or rf-merge")
        }
        guard let f = m["features"].flatMap(Int.init), f >= 1, f <= ZmatLayout.maxColumns else {
            throw GroveError(file: name, "metadata 'features' is missing or not an integer in 1...\(ZmatLayout.maxColumns) (the widest zmat stream)")
        }
        guard let cls = m["classes"].flatMap(ForestLayout.integers), !cls.isEmpty,
              cls.allSatisfy({ $0 >= 0 && $0 <= Int(TrainingSet.maxLabel) }) else {
            throw GroveError(file: name, "metadata 'classes' is missing or not a list of labels 0...\(TrainingSet.maxLabel)")
        }
        guard header.elementType == .float32 || header.elementType == .float64,
              header.columns == ForestLayout.columns(classes: cls.count) else {
            throw GroveError(file: name, "a model of \(cls.count) classes has float32 or float64 x \(ForestLayout.columns(classes: cls.count)) rows, this stream has \(header.shapeDescription)")
        }
        guard let trees = m["trees"].flatMap(Int.init), trees >= 0,
              let index = m["tree.index"].flatMap(ForestLayout.integers),
              let nodes = m["tree.nodes"].flatMap(ForestLayout.integers),
              index.count == trees, nodes.count == trees, nodes.allSatisfy({ $0 >= 1 }) else {
            throw GroveError(file: name, "metadata 'trees', 'tree.index' and 'tree.nodes' are missing or disagree")
        }
        guard trees > 0 else { throw GroveError(file: name, "a forest of zero trees cannot predict") }
        // Node numbers are Int32 in memory (`ForestNode`); the counts come from the file, so
        // bound them before anything is sized from them.
        var total = 0
        for n in nodes {
            total += n
            guard n <= ForestLayout.maxNodes, total <= ForestLayout.maxNodes else {
                throw GroveError(file: name, "metadata 'tree.nodes' lists more than \(ForestLayout.maxNodes) nodes in all, beyond what a model can hold")
            }
        }
        self.name = name
        elementType = header.elementType
        metadata = m
        features = f
        classes = cls.map { Int32($0) }
        treeIndex = index
        nodeCounts = nodes
    }
}

/// Checks model rows one at a time as they stream past: node numbers in range and after their
/// parent (so walks always end), features within the feature count, finite numbers.
struct ForestRowChecker {
    let header: ForestHeader
    private(set) var tree = 0
    private(set) var node = 0
    private(set) var row = 0

    init(_ header: ForestHeader) { self.header = header }

    @inline(__always)
    mutating func check<T: BinaryFloatingPoint>(_ values: UnsafePointer<T>) throws {
        // Float32 rows are read in place, as Doubles (exact).
        @inline(__always) func v(_ i: Int) -> Double { Double(values[i]) }
        guard tree < header.nodeCounts.count else {
            throw GroveError(file: header.name, "row \(row): more node rows than 'tree.nodes' lists")
        }
        let count = header.nodeCounts[tree]
        func bad(_ what: String) -> GroveError {
            GroveError(file: header.name, "row \(row) (tree \(tree), node \(node)): \(what)")
        }
        // Range first, then whole numbers (a plain conversion, no libm call per row).
        let f = v(ForestLayout.feature)
        guard f >= -1, f < Double(header.features), f == Double(Int64(f)) else {
            throw bad("feature \(f) is not -1 (leaf) or a column 0..<\(header.features)")
        }
        let l = v(ForestLayout.left), r = v(ForestLayout.right)
        if f < 0 {
            guard l == -1, r == -1 else { throw bad("a leaf must have children -1, not \(l), \(r)") }
        } else {
            guard l > Double(node), r == l + 1, r < Double(count), l == Double(Int64(l)) else {
                throw bad("children \(l), \(r) must be consecutive nodes after this one and before \(count)")
            }
            guard !v(ForestLayout.threshold).isNaN else { throw bad("threshold is NaN") }
        }
        guard v(ForestLayout.samples).isFinite, v(ForestLayout.samples) >= 0,
              v(ForestLayout.impurity).isFinite, v(ForestLayout.impurity) >= 0 else {
            throw bad("samples and impurity must be finite and not negative")
        }
        for c in 0..<header.classes.count {
            let p = v(ForestLayout.firstClass + c)
            guard p >= 0, p <= 1.000001 else { throw bad("probability \(p) of class \(header.classes[c]) is not in [0, 1]") }
        }
        row += 1
        node += 1
        if node == count {
            tree += 1
            node = 0
        }
    }

    /// Checks every row of a block of this model, calling `body` with each row.
    mutating func check(_ block: RowBlock, _ body: (UnsafePointer<Double>) -> Void = { _ in }) throws {
        let columns = block.columns
        if block.elementType == .float32 {
            let v = UnsafePointer(block.values(as: Float.self).baseAddress!)
            var row = [Double](repeating: 0, count: columns)
            try row.withUnsafeMutableBufferPointer { row in
                for r in 0..<block.rows {
                    let p = v + r * columns
                    try check(p)
                    for c in 0..<columns { row[c] = Double(p[c]) }
                    body(UnsafePointer(row.baseAddress!))
                }
            }
        } else {
            let v = UnsafePointer(block.values(as: Double.self).baseAddress!)
            for r in 0..<block.rows {
                try check(v + r * columns)
                body(v + r * columns)
            }
        }
    }

    /// Checks the stream ended after the last tree's last node.
    func finish() throws {
        guard tree == header.nodeCounts.count else {
            throw GroveError(file: header.name, "\(row) node rows, 'tree.nodes' lists \(header.nodeCounts.reduce(0, +))")
        }
    }
}

/// Writes trained trees as a model stream.
public enum ForestWriter {
    /// The metadata of a model: provenance from the training set, the parameters, the trees.
    public static func metadata(producer: String, data: TrainingSet, params: ForestParameters,
                                trees: [TrainedTree]) -> ZmatMetadata {
        var m = ZmatMetadata()
        m["kind"] = trees.count == 1 ? ContentKind.tree : ContentKind.forest
        m["producer"] = producer
        m["features"] = String(data.features)
        m["classes"] = ForestLayout.list(data.classes)
        if let space = data.header.metadata["feature-space"] { m["feature-space"] = space }
        m["input.hash"] = XXH64.hex(data.inputHash)
        for (k, v) in params.metadata { m[k] = v }
        m["trees"] = String(trees.count)
        m["tree.index"] = ForestLayout.list(trees.map(\.index))
        m["tree.nodes"] = ForestLayout.list(trees.map(\.nodeCount))
        return m
    }

    /// The element type of a model trained on `input`: float32 when the training values are
    /// float32 or bytes (every threshold is then chosen exactly representable, see
    /// `TrainingSet.threshold`), float64 otherwise. Half the size to write and to load.
    public static func elementType(forTrainingInput input: ElementType) -> ElementType {
        input == .uint8 || input == .float32 ? .float32 : .float64
    }

    /// zstd level of model streams: fast, since a 100-tree forest is a million rows.
    public static let compressionLevel: Int32 = 1

    /// Writes `trees` to `output` (not committed); returns the content hash.
    @discardableResult
    public static func write(_ trees: [TrainedTree], classes k: Int, criterion: SplitCriterion,
                             elementType: ElementType, metadata: ZmatMetadata, to output: OutputFile) throws -> UInt64 {
        let columns = ForestLayout.columns(classes: k)
        let writer = try ZmatWriter(output: output, header: ZmatHeader(
            elementType: elementType, columns: columns, hasLabels: false, metadata: metadata),
            level: compressionLevel)
        var counts = [Double]()
        var rows = [Double]()
        var narrow = [Float]()
        var node = [Double](repeating: 0, count: k)
        for tree in trees {
            let nodes = tree.nodeCount
            // Internal nodes' class counts are the sums of their children's; children come
            // after parents, so one backward pass fills them.
            counts = [Double](repeating: 0, count: nodes * k)
            for i in stride(from: nodes - 1, through: 0, by: -1) {
                if tree.feature[i] < 0 {
                    let leaf = Int(tree.child[i]) * k
                    for c in 0..<k { counts[i * k + c] = Double(tree.leafCounts[leaf + c]) }
                } else {
                    let l = Int(tree.child[i])
                    for c in 0..<k { counts[i * k + c] = counts[l * k + c] + counts[(l + 1) * k + c] }
                }
            }
            rows = [Double](repeating: 0, count: nodes * columns)
            for i in 0..<nodes {
                let row = i * columns
                var total = 0.0
                for c in 0..<k { node[c] = counts[i * k + c]; total += node[c] }
                if tree.feature[i] < 0 {
                    rows[row + ForestLayout.feature] = -1
                    rows[row + ForestLayout.left] = -1
                    rows[row + ForestLayout.right] = -1
                } else {
                    rows[row + ForestLayout.feature] = Double(tree.feature[i])
                    rows[row + ForestLayout.threshold] = tree.threshold[i]
                    rows[row + ForestLayout.left] = Double(tree.child[i])
                    rows[row + ForestLayout.right] = Double(tree.child[i] + 1)
                }
                rows[row + ForestLayout.samples] = total
                rows[row + ForestLayout.impurity] = criterion.impurity(node)
                // Only leaves carry class shares (prediction reads nothing else; see docs/FOREST.md).
                if tree.feature[i] < 0 {
                    for c in 0..<k { rows[row + ForestLayout.firstClass + c] = total > 0 ? node[c] / total : 0 }
                }
            }
            if elementType == .float32 {
                narrow = rows.map { Float($0) }
                try writer.append(rows: nodes, values: narrow)
            } else {
                try writer.append(rows: nodes, values: rows)
            }
        }
        return try writer.finish()
    }
}
