#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Grove
import SwiftProtobuf

/// The element type an exported model takes as input.
public enum ONNXInputType: String, CaseIterable, Sendable {
    case uint8, float32, float64

    var tensorType: Onnx_TensorProto.DataType {
        switch self {
        case .uint8: return .uint8
        case .float32: return .float
        case .float64: return .double
        }
    }
}

/// Grove models as ONNX models that onnxruntime (and any runtime with the `ai.onnx.ml` domain)
/// runs with the same results as `rf-predict` and `pca-project | rf-predict`.
///
/// Graph of a forest: `input` -> [Cast to float] -> TreeEnsembleClassifier (per-class sums of
/// the trees' leaf distributions, in tree order) -> Mul(1/trees) = `probabilities` ->
/// ArgMax (first maximum) -> Gather(class ids) = `label`. A pipeline puts the PCA projection
/// first: Cast to double -> MatMul(axes^T) -> Sub(mean . axis) -> Cast to float.
///
/// Why not the classifier's own label and averaging: `rf-predict` sums float32 leaf values in
/// tree order, scales by the float32 1/trees, and takes the first maximum of the scaled values.
/// onnxruntime sums the same float32 weights in the same order (for more than one row, or up to
/// its tree-parallel threshold for one row), so the sums are bit-identical; doing the scaling
/// and the argmax as explicit nodes makes probabilities and ties (smallest class wins) identical
/// too, where the classifier's label would compare the unscaled sums.
public enum ONNXExport {
    /// ONNX IR version and opsets written: IR 8 with opset 17 and `ai.onnx.ml` 3 (the last
    /// `ai.onnx.ml` opset before TreeEnsembleClassifier was deprecated; onnxruntime runs it).
    public static let irVersion: Int64 = 8
    public static let opset: Int64 = 17
    public static let mlOpset: Int64 = 3

    /// A forest as an ONNX model: `input` (N x features) in, `label` (int64, N) and
    /// `probabilities` (float, N x classes) out. Serialized bytes.
    public static func forestModel(_ forest: Forest, input: ONNXInputType, producer: String) throws -> [UInt8] {
        try checkExportable(forest)
        guard input != .float64 else {
            throw GroveError(file: forest.header.name, "a forest alone takes uint8 or float32 input: its thresholds are float32, and float64 rows rounded to float32 could take other branches than rf-predict takes")
        }
        var graph = GraphBuilder(name: "grove_forest")
        graph.input("input", input.tensorType, columns: forest.features)
        let features = input == .float32 ? "input" : graph.cast("input", to: .float, output: "features")
        classify(forest, features: features, graph: &graph)
        var metadata = [("grove.forest.hash", XXH64.hex(forest.contentHash))]
        if let space = forest.header.featureSpace { metadata.append(("grove.feature-space", space)) }
        return try model(graph, producer: producer, metadata: metadata,
                         doc: "Grove random forest (\(forest.treeCount) trees, \(forest.features) features, classes \(ForestLayout.list(forest.classes))): label and probabilities as rf-predict computes them.")
    }

    /// A PCA model and a forest trained on its projections as one ONNX model: `input` (N x the
    /// PCA model's columns, e.g. pixels) in, `label` and `probabilities` out.
    /// - Parameter pcaHash: the PCA model stream's content hash; the forest's `feature-space`
    ///   must be `pca:<hash>` when it has one (it was trained on that model's projections).
    public static func pipelineModel(pca: PCAModel, pcaName: String, pcaHash: UInt64, forest: Forest,
                                     input: ONNXInputType, producer: String) throws -> [UInt8] {
        try checkExportable(forest)
        guard pca.componentCount == forest.features else {
            throw GroveError(file: pcaName, "the PCA model makes \(pca.componentCount) components, the forest \(forest.header.name) reads \(forest.features) features")
        }
        let space = "pca:\(XXH64.hex(pcaHash))"
        if let trained = forest.header.featureSpace, trained != space {
            throw GroveError(file: pcaName, "the forest \(forest.header.name) was trained on feature space '\(trained)', not on this PCA model's projections ('\(space)')")
        }
        var graph = GraphBuilder(name: "grove_pca_forest")
        graph.input("input", input.tensorType, columns: pca.columns)
        let components = project(pca, input: input == .float64 ? "input" : graph.cast("input", to: .double, output: "input_f64"),
                                 graph: &graph)
        classify(forest, features: components, graph: &graph)
        let metadata = [("grove.forest.hash", XXH64.hex(forest.contentHash)), ("grove.pca.hash", XXH64.hex(pcaHash)),
                        ("grove.feature-space", space)]
        return try model(graph, producer: producer, metadata: metadata,
                         doc: "Grove PCA (\(pca.columns) columns to \(pca.componentCount) components\(pca.whiten ? ", whitened" : "")) and random forest (\(forest.treeCount) trees, classes \(ForestLayout.list(forest.classes))): label and probabilities as pca-project | rf-predict computes them.")
    }

    /// Refuses forests whose decisions a float32 TreeEnsembleClassifier cannot reproduce.
    static func checkExportable(_ forest: Forest) throws {
        guard forest.header.elementType == .float32 else {
            throw GroveError(file: forest.header.name, "a \(forest.header.elementType) forest (trained on int32 or float64 rows) cannot be exported: ONNX's TreeEnsembleClassifier compares float32 thresholds, which would move some of its float64 ones; export forests trained on uint8 or float32 rows")
        }
        guard !forest.classes.isEmpty else { throw GroveError(file: forest.header.name, "the forest has no classes") }
    }

    /// pca-project's arithmetic: float64 rows dotted with the (whitening-scaled) axes, minus each
    /// axis's dot product with the mean, rounded to float32. The axes and offsets are computed as
    /// PCAProjector.init computes them (keep the two in step; test-onnx compares the labels).
    static func project(_ pca: PCAModel, input: String, graph: inout GraphBuilder) -> String {
        let d = pca.columns, k = pca.componentCount
        var axes = pca.components
        if pca.whiten {
            for c in 0..<k {
                let s = 1 / pca.explainedVariance[c].squareRoot()
                for j in 0..<d { axes[c * d + j] *= s }
            }
        }
        // Summed in the same order as PCAProjector's offsets, so they are the same doubles.
        let offsets = (0..<k).map { c in
            var s = 0.0
            for j in 0..<d { s += pca.mean[j] * axes[c * d + j] }
            return s
        }
        var transposed = [Double](repeating: 0, count: d * k)
        for c in 0..<k { for j in 0..<d { transposed[j * k + c] = axes[c * d + j] } }
        graph.initializer(doubles: transposed, dims: [d, k], name: "pca_axes_t")
        graph.initializer(doubles: offsets, dims: [k], name: "pca_offsets")
        graph.node("MatMul", [input, "pca_axes_t"], ["pca_dots"])
        graph.node("Sub", ["pca_dots", "pca_offsets"], ["pca_f64"])
        return graph.cast("pca_f64", to: .float, output: "components")
    }

    /// The classifier nodes on float32 `features`: writes the graph outputs `label` and
    /// `probabilities`.
    static func classify(_ forest: Forest, features: String, graph: inout GraphBuilder) {
        let k = forest.classes.count
        var ensemble = TreeEnsembleAttributes()
        // With two classes onnxruntime treats a model whose weights name one class only as a
        // binary one (it then outputs 1 - p for the other); naming both keeps it multiclass.
        let keepZeros = k <= 2
        forest.nodes.withUnsafeBufferPointer { nodes in
            forest.leafProbabilities.withUnsafeBufferPointer { leaves in
                for t in 0..<forest.treeCount {
                    let root = Int(forest.roots[t])
                    for i in 0..<forest.header.nodeCounts[t] {
                        let node = nodes[root + i]
                        if node.feature >= 0 {
                            // Grove sends `value <= threshold` left; float32 models' thresholds
                            // are float32 values, so Float(threshold) is exact.
                            ensemble.branch(tree: t, node: i, feature: Int(node.feature), threshold: Float(node.threshold),
                                            left: Int(node.child) - root, right: Int(node.child) + 1 - root)
                        } else {
                            ensemble.leaf(tree: t, node: i)
                            let leaf = leaves.baseAddress! + Int(node.child) * k
                            for c in 0..<k where keepZeros || leaf[c] != 0 {
                                ensemble.vote(tree: t, node: i, classIndex: c, weight: leaf[c])
                            }
                        }
                    }
                }
            }
        }
        let classIDs = forest.classes.map(Int64.init)
        var attributes = ensemble.attributes()
        attributes.append(.ints("classlabels_int64s", classIDs))
        attributes.append(.string("post_transform", "NONE"))
        graph.node("TreeEnsembleClassifier", [features], ["tree_label", "vote_sums"], domain: "ai.onnx.ml",
                   attributes: attributes)
        graph.initializer(floats: [1 / Float(forest.treeCount)], dims: [], name: "tree_scale")
        graph.node("Mul", ["vote_sums", "tree_scale"], ["probabilities"])
        graph.node("ArgMax", ["probabilities"], ["class_index"],
                   attributes: [.int("axis", 1), .int("keepdims", 0), .int("select_last_index", 0)])
        graph.initializer(int64s: classIDs, dims: [k], name: "class_ids")
        graph.node("Gather", ["class_ids", "class_index"], ["label"], attributes: [.int("axis", 0)])
        graph.output("label", .int64, columns: nil)
        graph.output("probabilities", .float, columns: k)
    }

    static func model(_ graph: GraphBuilder, producer: String, metadata: [(String, String)], doc: String) throws -> [UInt8] {
        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.opsetImport = [("", opset), ("ai.onnx.ml", mlOpset)].map { domain, version in
            var set = Onnx_OperatorSetIdProto()
            set.domain = domain
            set.version = version
            return set
        }
        let parts = producer.split(separator: " ", maxSplits: 1).map(String.init)
        model.producerName = parts[0]
        if parts.count > 1 { model.producerVersion = parts[1] }
        model.domain = "org.grove"
        model.modelVersion = 1
        model.docString = doc
        model.graph = graph.graph
        model.metadataProps = metadata.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return try model.serializedBytes()
    }
}

/// The TreeEnsembleClassifier node attributes, one parallel-array entry per node and per vote.
struct TreeEnsembleAttributes {
    private var treeIDs = [Int64](), nodeIDs = [Int64](), featureIDs = [Int64](), modes = [Data]()
    private var trueIDs = [Int64](), falseIDs = [Int64](), values = [Float]()
    private var voteTrees = [Int64](), voteNodes = [Int64](), voteClasses = [Int64](), voteWeights = [Float]()
    private static let branchMode = Data("BRANCH_LEQ".utf8), leafMode = Data("LEAF".utf8)

    mutating func branch(tree: Int, node: Int, feature: Int, threshold: Float, left: Int, right: Int) {
        append(tree, node, feature: feature, mode: Self.branchMode, value: threshold, left: left, right: right)
    }

    mutating func leaf(tree: Int, node: Int) {
        append(tree, node, feature: 0, mode: Self.leafMode, value: 0, left: 0, right: 0)
    }

    mutating func vote(tree: Int, node: Int, classIndex: Int, weight: Float) {
        voteTrees.append(Int64(tree))
        voteNodes.append(Int64(node))
        voteClasses.append(Int64(classIndex))
        voteWeights.append(weight)
    }

    private mutating func append(_ tree: Int, _ node: Int, feature: Int, mode: Data, value: Float, left: Int, right: Int) {
        treeIDs.append(Int64(tree))
        nodeIDs.append(Int64(node))
        featureIDs.append(Int64(feature))
        modes.append(mode)
        values.append(value)
        trueIDs.append(Int64(left))
        falseIDs.append(Int64(right))
    }

    func attributes() -> [Onnx_AttributeProto] {
        [.ints("nodes_treeids", treeIDs), .ints("nodes_nodeids", nodeIDs), .ints("nodes_featureids", featureIDs),
         .strings("nodes_modes", modes), .floats("nodes_values", values),
         .ints("nodes_truenodeids", trueIDs), .ints("nodes_falsenodeids", falseIDs),
         .ints("class_treeids", voteTrees), .ints("class_nodeids", voteNodes), .ints("class_ids", voteClasses),
         .floats("class_weights", voteWeights)]
    }
}

/// Accumulates an ONNX graph's nodes, initializers, inputs and outputs (rows: a symbolic `N`).
struct GraphBuilder {
    private(set) var graph = Onnx_GraphProto()

    init(name: String) { graph.name = name }

    mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], domain: String = "",
                       attributes: [Onnx_AttributeProto] = []) {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = "\(op.lowercased())_\(graph.node.count)"
        if !domain.isEmpty { node.domain = domain }
        node.input = inputs
        node.output = outputs
        node.attribute = attributes
        graph.node.append(node)
    }

    /// A Cast node; returns its output's name.
    mutating func cast(_ input: String, to type: Onnx_TensorProto.DataType, output: String) -> String {
        node("Cast", [input], [output], attributes: [.int("to", Int64(type.rawValue))])
        return output
    }

    mutating func input(_ name: String, _ type: Onnx_TensorProto.DataType, columns: Int) {
        graph.input.append(Self.valueInfo(name, type, columns: columns))
    }

    /// A graph output of N rows, with `columns` columns or one dimension when nil.
    mutating func output(_ name: String, _ type: Onnx_TensorProto.DataType, columns: Int?) {
        graph.output.append(Self.valueInfo(name, type, columns: columns))
    }

    mutating func initializer(doubles: [Double], dims: [Int], name: String) {
        var t = tensor(.double, dims: dims, name: name)
        t.doubleData = doubles
        graph.initializer.append(t)
    }

    mutating func initializer(floats: [Float], dims: [Int], name: String) {
        var t = tensor(.float, dims: dims, name: name)
        t.floatData = floats
        graph.initializer.append(t)
    }

    mutating func initializer(int64s: [Int64], dims: [Int], name: String) {
        var t = tensor(.int64, dims: dims, name: name)
        t.int64Data = int64s
        graph.initializer.append(t)
    }

    private func tensor(_ type: Onnx_TensorProto.DataType, dims: [Int], name: String) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = Int32(type.rawValue)
        t.dims = dims.map(Int64.init)
        return t
    }

    private static func valueInfo(_ name: String, _ type: Onnx_TensorProto.DataType, columns: Int?) -> Onnx_ValueInfoProto {
        var rows = Onnx_TensorShapeProto.Dimension()
        rows.dimParam = "N"
        var shape = Onnx_TensorShapeProto()
        shape.dim = [rows]
        if let columns {
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(columns)
            shape.dim.append(dim)
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(type.rawValue)
        tensor.shape = shape
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensor
        return info
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int64) -> Self {
        var a = Self(name, .int)
        a.i = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Self {
        var a = Self(name, .string)
        a.s = Data(value.utf8)
        return a
    }

    static func ints(_ name: String, _ values: [Int64]) -> Self {
        var a = Self(name, .ints)
        a.ints = values
        return a
    }

    static func floats(_ name: String, _ values: [Float]) -> Self {
        var a = Self(name, .floats)
        a.floats = values
        return a
    }

    static func strings(_ name: String, _ values: [Data]) -> Self {
        var a = Self(name, .strings)
        a.strings = values
        return a
    }

    private init(_ name: String, _ type: AttributeType) {
        self.init()
        self.name = name
        self.type = type
    }
}
