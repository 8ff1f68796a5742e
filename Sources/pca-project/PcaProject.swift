import ArgumentParser
import Grove
import GroveCLI

/// `pca-project`: rows in, their coordinates on a pca-model's components out (float32),
/// block by block in constant memory, labels passed through.
@main
struct PcaProject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pca-project",
        abstract: "Project the rows of a zmat stream onto a PCA model's components (K float32 columns).",
        discussion: """
        Computes (x - mean) . components^T in float64 for every row (divided by
        the components' standard deviations when the model whitens) and writes
        it as float32, keeping the rows' labels. Streams block by block on all
        cores: memory does not grow with the row count. The output's
        feature-space is pca:<model content hash>, so later stages can tell
        which model made the features. Input of another width or feature space
        than the model's is refused.

        Examples:
          pca-project -m pca.zmat train.zmat -o train.pca.zmat
          mnist-decode t10k-images-idx3-ubyte.gz | pca-project -m pca.zmat \\
            > test.pca.zmat
        """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The pca-model to project onto (made by pca-fit).", valueName: "MODEL"))
    var model: String

    @Argument(help: ArgumentHelp("Input zmat stream ('-' or none: standard input).", valueName: "FILE"))
    var input: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var progress: ProgressOptions

    static func main() { ToolMain.run(Self.self) }

    func validate() throws {
        if model == "-" && (input == nil || input == "-") {
            throw ValidationError("the model and the input cannot both be standard input")
        }
    }

    func run() throws {
        let (pca, modelHeader, modelHash) = try PCAModel.read(path: model)
        let modelName = model == "-" ? "<stdin>" : model
        let file = try InputFile(path: input)
        let reader = try ZmatReader(file)
        let inputHeader = reader.header
        guard inputHeader.columns == pca.columns else {
            throw GroveError(file: reader.name,
                "rows of \(inputHeader.columns) columns, but the model \(modelName) was fit on \(pca.columns) columns")
        }
        if let dataSpace = inputHeader.metadata["feature-space"],
           let modelSpace = modelHeader.metadata["feature-space"], dataSpace != modelSpace {
            throw GroveError(file: reader.name,
                "feature space '\(dataSpace)', but the model \(modelName) was fit on '\(modelSpace)'")
        }
        var meta = ZmatMetadata()
        meta["kind"] = ContentKind.features
        meta["producer"] = "pca-project \(GroveVersion.string)"
        meta["feature-space"] = "pca:\(XXH64.hex(modelHash))"
        meta["param.model"] = modelName
        if let space = inputHeader.metadata["feature-space"] { meta["input.feature-space"] = space }
        let k = pca.componentCount
        let out = try output.open()
        let writer = try ZmatWriter(output: out, header: ZmatHeader(elementType: .float32, columns: k,
                                                                    hasLabels: inputHeader.hasLabels, metadata: meta))
        let projector = PCAProjector(model: pca, threads: threads.count)
        var buffer = [Float]()
        var rows = 0
        let line = progress.line("pca-project", "projecting", reading: [file])
        // Decompression and hashing of the next blocks overlap with the projection.
        let blocks = BlockPrefetcher(reader)
        defer { blocks.close() }
        while let block = try blocks.nextBlock() {
            if buffer.count < block.rows * k { buffer = [Float](repeating: 0, count: block.rows * k) }
            try buffer.withUnsafeMutableBufferPointer { b in
                try projector.project(block, into: b.baseAddress!, firstRow: rows, name: reader.name)
                try writer.append(rows: block.rows,
                                  elements: UnsafeRawBufferPointer(start: b.baseAddress, count: block.rows * k * 4),
                                  labels: block.labels.map { UnsafeBufferPointer($0) })
            }
            rows += block.rows
            line.update(rows)
        }
        try writer.finish()
        try out.commit()
        line.finish()
    }
}
