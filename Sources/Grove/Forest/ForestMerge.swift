/// Joins tree and forest streams into one forest without retraining.
///
/// The merged metadata is the first input's with the tree lists (`trees`, `tree.index`,
/// `tree.nodes`) joined in input order and the out-of-bag score dropped (it described one
/// input's trees only). Parameters or input hashes that differ between inputs become a comma
/// list of the distinct values. So merging the single-tree files that
/// `rf-tree --tree-index i` wrote gives byte for byte the file one `rf-tree --trees N` writes.
public enum ForestMerge {
    /// Splits `paths` into the inputs that open as a tree or forest and the ones that do not
    /// (missing, unreadable, or not a model), each with the reason, in input order. A workflow
    /// that tolerates lost tree tasks (`rf-merge --min-trees`) merges the first list.
    public static func readable(_ paths: [String]) -> (usable: [String], skipped: [(path: String, reason: String)]) {
        var usable = [String](), skipped = [(path: String, reason: String)]()
        for p in paths {
            do {
                _ = try ForestHeader(ZmatReader(path: p).header, name: p)
                usable.append(p)
            } catch {
                skipped.append((p, "\(error)"))
            }
        }
        return (usable, skipped)
    }

    /// Opens every input, checks they agree on features, classes and feature space, and
    /// streams their node rows into `output` (not committed). Returns the number of trees.
    public static func merge(_ paths: [String], to output: OutputFile) throws -> Int {
        var readers = [ZmatReader]()
        var headers = [ForestHeader]()
        for p in paths {
            let reader = try ZmatReader(path: p)
            headers.append(try ForestHeader(reader.header, name: reader.name))
            readers.append(reader)
        }
        let first = headers[0]
        for h in headers.dropFirst() {
            guard h.features == first.features else {
                throw GroveError(file: h.name, "has \(h.features) features, \(first.name) has \(first.features)")
            }
            guard h.classes == first.classes else {
                throw GroveError(file: h.name, "classes \(ForestLayout.list(h.classes)) differ from \(first.name)'s \(ForestLayout.list(first.classes)); train every shard with the same --classes")
            }
            guard h.elementType == first.elementType else {
                throw GroveError(file: h.name, "holds \(h.elementType) nodes, \(first.name) \(first.elementType) (models of float32 and float64 training data do not mix)")
            }
            guard h.featureSpace == first.featureSpace else {
                throw GroveError(file: h.name, "feature space '\(h.featureSpace ?? "none")' differs from \(first.name)'s '\(first.featureSpace ?? "none")'")
            }
        }
        var metadata = first.metadata
        let trees = headers.reduce(0) { $0 + $1.nodeCounts.count }
        metadata["kind"] = trees == 1 ? ContentKind.tree : ContentKind.forest
        metadata["trees"] = String(trees)
        metadata["tree.index"] = ForestLayout.list(headers.flatMap(\.treeIndex))
        metadata["tree.nodes"] = ForestLayout.list(headers.flatMap(\.nodeCounts))
        metadata["oob.accuracy"] = nil
        metadata["oob.rows"] = nil
        for (key, _) in first.metadata where key.hasPrefix("param.") || key == "input.hash" {
            var values = [String]()
            for h in headers {
                let v = h.metadata[key] ?? "none"
                if !values.contains(v) { values.append(v) }
            }
            metadata[key] = values.joined(separator: ",")
        }
        let writer = try ZmatWriter(output: output, header: ZmatHeader(
            elementType: first.elementType, columns: ForestLayout.columns(classes: first.classes.count),
            hasLabels: false, metadata: metadata), level: ForestWriter.compressionLevel)
        for (reader, header) in zip(readers, headers) {
            var checker = ForestRowChecker(header)
            while let block = try reader.nextBlock() {
                try checker.check(block)
                try writer.append(block)
            }
            try checker.finish()
        }
        try writer.finish()
        return trees
    }
}
