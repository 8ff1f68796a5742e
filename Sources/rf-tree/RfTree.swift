import ArgumentParser
import Grove
import GroveCLI
#if canImport(Glibc)
import Glibc
#endif

@main
struct RfTree: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rf-tree",
        abstract: "Train random-forest classification trees on labelled rows.",
        discussion: """
        Reads a zmat stream with labels (FILE, or standard input when FILE is absent or -) and \
        writes a tree or forest model. Defaults follow scikit-learn's RandomForestClassifier \
        (gini, grown until pure, sqrt(features) per node, bootstrap), except --trees, which \
        defaults to 1 so that a workflow can train one tree per task and merge them.

        Tree I's random numbers depend only on --seed and I, so trees 0..7 trained by eight \
        processes with --tree-index 0..7 and merged with rf-merge are byte for byte the forest \
        that one process writes with --trees 8. The thread count never changes the output.

        Examples:
          rf-tree train.zmat --trees 100 -o forest.zmat
          mnist-decode train-images.gz train-labels.gz | rf-tree --trees 100 --oob > forest.zmat
          for i in 0 1 2 3; do rf-tree train.zmat --tree-index $i --seed 7 -o tree$i.zmat & done; wait
          rf-merge tree0.zmat tree1.zmat tree2.zmat tree3.zmat -o forest.zmat
          rf-tree train.zmat --preset opencv -o forest.zmat
        """)

    static func main() { ToolMain.run(Self.self) }

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case sklearn, opencv
    }

    @Argument(help: "Training rows with labels (zmat). Standard input when absent or -.")
    var input: String?

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: "Trees to grow (default: 1; 100 with --preset opencv).")
    var trees: Int?

    @Option(help: "Forest seed; each tree's random numbers derive from it and the tree's index.")
    var seed: UInt64 = 0

    @Option(help: "Global index of the first tree grown here (trees I, I+1, ... I+N-1).")
    var treeIndex: Int = 0

    @Option(help: "Split quality: gini or entropy (default: gini).")
    var criterion: SplitCriterionArgument?

    @Option(help: "Deepest level a node may be at (root: 0), or 'none' (default: none; 10 with --preset opencv).")
    var maxDepth: String?

    @Option(help: "A node with fewer distinct rows is a leaf (default: 2; 6 with --preset opencv).")
    var minSamplesSplit: Int?

    @Option(help: "Each child keeps at least this many distinct rows (default: 1).")
    var minSamplesLeaf: Int?

    @Option(help: "Features tried per node: sqrt, log2, all, a count N, or a fraction in (0,1) (default: sqrt).")
    var maxFeatures: String?

    @Flag(inversion: .prefixedNo, help: "Draw each tree's rows with replacement (default: on).")
    var bootstrap: Bool = true

    @Option(help: "Rows drawn per tree as a fraction of the rows, in (0,1] (default: 1).")
    var sampleFraction: Double = 1

    @Flag(help: "Report the out-of-bag accuracy on standard error and in the model's metadata.")
    var oob = false

    @Option(help: "Settings of another library: sklearn (the defaults) or opencv (RTrees as in the original workflow: 100 trees, depth 10, min split 6).")
    var preset: Preset = .sklearn

    @Option(help: "The model's classes: N (labels 0..N-1) or a comma list. Default: the labels seen. Give it when shards may miss a class, so their trees merge.")
    var classes: String?

    struct SplitCriterionArgument: ExpressibleByArgument {
        var value: SplitCriterion
        init?(argument: String) {
            guard let v = SplitCriterion(rawValue: argument) else { return nil }
            value = v
        }
        static var allValueStrings: [String] { SplitCriterion.allCases.map(\.rawValue) }
    }

    func validate() throws {
        if let trees, trees < 1 { throw ValidationError("--trees must be at least 1") }
        if treeIndex < 0 { throw ValidationError("--tree-index must not be negative") }
        if let maxFeatures, MaxFeatures(maxFeatures) == nil {
            throw ValidationError("--max-features must be sqrt, log2, all, a count N >= 1 or a fraction in (0,1), not '\(maxFeatures)'")
        }
        if let maxDepth, maxDepth != "none", (Int(maxDepth) ?? -1) < 0 {
            throw ValidationError("--max-depth must be a number >= 0 or 'none', not '\(maxDepth)'")
        }
        if let v = minSamplesSplit, v < 2 { throw ValidationError("--min-samples-split must be at least 2") }
        if let v = minSamplesLeaf, v < 1 { throw ValidationError("--min-samples-leaf must be at least 1") }
        if !(sampleFraction > 0 && sampleFraction <= 1) { throw ValidationError("--sample-fraction must be in (0, 1]") }
        if let classes, parseClasses(classes) == nil {
            throw ValidationError("--classes must be a count N >= 1 or a comma list of labels 0...\(TrainingSet.maxLabel), not '\(classes)'")
        }
    }

    private func parseClasses(_ text: String) -> [Int32]? {
        if !text.contains(","), let n = Int(text) {
            guard n >= 1, n <= Int(TrainingSet.maxLabel) + 1 else { return nil }
            return (0..<n).map { Int32($0) }
        }
        guard let list = ForestLayout.integers(text), !list.isEmpty,
              list.allSatisfy({ $0 >= 0 && $0 <= Int(TrainingSet.maxLabel) }) else { return nil }
        let sorted = Array(Set(list)).sorted()
        return sorted.map { Int32($0) }
    }

    func run() throws {
        var params = ForestParameters()
        var treeCount = trees ?? 1
        if preset == .opencv {
            params.maxDepth = 10
            params.minSamplesSplit = 6
            treeCount = trees ?? 100
        }
        if let criterion { params.criterion = criterion.value }
        if let maxDepth { params.maxDepth = maxDepth == "none" ? nil : Int(maxDepth) }
        if let minSamplesSplit { params.minSamplesSplit = minSamplesSplit }
        if let minSamplesLeaf { params.minSamplesLeaf = minSamplesLeaf }
        if let maxFeatures { params.maxFeatures = MaxFeatures(maxFeatures)! }
        params.bootstrap = bootstrap
        params.sampleFraction = sampleFraction
        params.seed = seed

        let threads = threadOptions.count
        // ZmatReader refuses a terminal as standard input.
        let file = try InputFile(path: input)
        let reader = try ZmatReader(file)
        let reading = progressOptions.line("rf-tree", "reading", reading: [file])
        let data = try TrainingSet.load(reader, classes: classes.flatMap(parseClasses), threads: threads,
                                        budget: memoryOptions.budget())
        reading.finish(.none)
        let trainer = try ForestTrainer(data: data, params: params)
        let output = try outputOptions.open()
        let growing = progressOptions.line("rf-tree", "growing", unit: "trees", total: treeCount)
        let grown = trainer.train(indices: treeIndex..<(treeIndex + treeCount), threads: threads,
                                  progress: growing.style == .off ? nil : { growing.update($0) })
        growing.finish()
        var metadata = ForestWriter.metadata(producer: "rf-tree \(GroveVersion.string)", data: data,
                                             params: params, trees: grown)
        if oob {
            if let (accuracy, rows) = trainer.outOfBagAccuracy(grown, threads: threads) {
                metadata["oob.accuracy"] = formatFixed(accuracy, 4)
                metadata["oob.rows"] = String(rows)
                progressOptions.note("rf-tree: out-of-bag accuracy: \(formatFixed(accuracy, 4)) (\(rows) rows)")
            } else {
                progressOptions.note("rf-tree: out-of-bag accuracy: no row was left out of every tree's sample")
            }
        }
        try ForestWriter.write(grown, classes: data.classes.count, criterion: params.criterion,
                               elementType: ForestWriter.elementType(forTrainingInput: data.header.elementType),
                               metadata: metadata, to: output)
        try output.commit()
    }
}
