/// The `kind` metadata values Grove writes, and where a readable summary of each comes from.
public enum ContentKind {
    public static let features = "features"
    public static let pcaModel = "pca-model"
    public static let pcaPartial = "pca-partial"
    public static let tree = "tree"
    public static let forest = "forest"
    public static let predictions = "predictions"
    public static let probabilities = "probabilities"

    /// Extra lines `zmat info` prints for a model, by kind; empty for plain data.
    /// Each model family contributes its own summary function here.
    public static func summaryLines(for matrix: Matrix) throws -> [String] {
        switch matrix.header.metadata["kind"] {
        case pcaModel: return try PCAModel.summaryLines(for: matrix)
        case tree, forest: return try Forest.summaryLines(for: matrix)
        default:
            return []
        }
    }
}
