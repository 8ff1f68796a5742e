import ArgumentParser
import Grove
import GroveCLI

extension EigenSolver: ExpressibleByArgument {}

/// glibc's mallopt (malloc.h is not in Swift's Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// `pca-fit`: principal components of a zmat stream, in one streaming pass; or a shard's
/// sufficient statistics (`--partial`), and the merge of such partials into one model.
@main
struct PcaFit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pca-fit",
        abstract: "Fit a PCA model (mean and top principal components) to the rows of a zmat stream.",
        discussion: """
        Reads uint8 rows (accumulated exactly in integers), or int32, float32 or
        float64 rows (in float64), in one streaming pass: memory grows with the
        width squared, not with the row count. Writes a pca-model stream: the
        mean, the components, explained variance and its ratio (covariance
        divisor n - 1, as scikit-learn). Each component's largest-magnitude
        loading is positive. docs/PCA.md describes the model and partial streams.

        Examples:
          mnist-decode train-images-idx3-ubyte.gz | pca-fit -k 10 -o pca.zmat
          pca-fit --variance 0.95 --whiten pixels.zmat -o pca.zmat
          zmat info pca.zmat                  # explained-variance ratios

        Shards fit apart, one model for all (the one-pass covariance, to 1e-9):
          pca-fit --partial shard1.zmat -o part1.zmat
          pca-fit --partial shard2.zmat -o part2.zmat
          pca-fit --merge -k 10 part1.zmat part2.zmat -o pca.zmat
        """)

    @Option(name: [.customShort("k"), .customLong("components")],
            help: ArgumentHelp("Keep K components.", valueName: "K"))
    var components: Int?

    @Option(help: ArgumentHelp("Keep the fewest components whose cumulative explained-variance ratio exceeds F (0 < F < 1).",
                               valueName: "F"))
    var variance: Double?

    @Flag(help: "Whiten: pca-project divides each coordinate by its component's standard deviation.")
    var whiten = false

    @Option(help: ArgumentHelp("Eigensolver: full (Householder, every pair), krylov (block Lanczos, only the wanted pairs; fewer rows than columns: on the n x n Gram matrix), or auto (krylov where it pays, docs/PCA.md).",
                               valueName: "full|krylov|auto"))
    var solver: EigenSolver = .auto

    @Flag(help: "Write the input's sufficient statistics (a pca-partial stream) instead of a model.")
    var partial = false

    @Flag(help: "Merge the pca-partial files given as inputs into one model (needs -k or --variance).")
    var merge = false

    @Argument(help: ArgumentHelp("Input zmat stream ('-' or none: standard input); with --merge, the pca-partial files.",
                                 valueName: "FILE"))
    var inputs: [String] = []

    @OptionGroup var output: OutputOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var memory: MemoryOptions

    static func main() {
        // A fit allocates and frees several d x d matrices (megabytes each): serve them from
        // the heap rather than fresh mmaps, so freed pages are reused instead of faulted in
        // again (a 784-wide merge: 10.7k page faults -> 8.1k).
        _ = glibcMallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD (malloc.h)
        _ = glibcMallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD
        ToolMain.run(Self.self)
    }

    func validate() throws {
        if partial && merge { throw ValidationError("--partial and --merge exclude each other") }
        if partial {
            if components != nil || variance != nil || whiten {
                throw ValidationError("--partial writes statistics, not a model: -k, --variance and --whiten belong to the fit or the --merge")
            }
        } else {
            switch (components, variance) {
            case (nil, nil): throw ValidationError("give -k K or --variance F")
            case (.some, .some): throw ValidationError("-k and --variance exclude each other")
            case (.some(let k), nil) where k < 1: throw ValidationError("-k must be at least 1, got \(k)")
            case (nil, .some(let f)) where !(f > 0 && f < 1):
                throw ValidationError("--variance must be a fraction strictly between 0 and 1, got \(f)")
            default: break
            }
        }
        if merge {
            if inputs.isEmpty { throw ValidationError("--merge needs at least one pca-partial file") }
            if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
        } else if inputs.count > 1 {
            throw ValidationError("one input at a time (got \(inputs.count)); to combine shards use --partial and --merge")
        }
    }

    var selection: ComponentSelection {
        if let components { return .count(components) }
        return .varianceFraction(variance ?? 0)
    }

    func run() throws {
        // Open the output first: a refused terminal or an unwritable path fails before the read.
        let out = try output.open()
        let producer = "pca-fit \(GroveVersion.string)"
        var meta = ZmatMetadata()
        meta["producer"] = producer
        let statistics: CoMoments
        let sourceName: String
        if merge {
            (statistics, sourceName) = try mergePartials(into: &meta)
        } else {
            let file = try InputFile(path: inputs.first)
            let reader = try ZmatReader(file)
            sourceName = reader.name
            try CoMomentAccumulator.checkMemory(columns: reader.header.columns, threads: threads.count, name: reader.name)
            let columnCount = reader.header.columns
            try memory.budget().charge(Int(CoMomentAccumulator.estimatedBytes(columns: columnCount, threads: threads.count)),
                                       holding: "the \(columnCount) x \(columnCount) co-moment matrices (\(threads.count) threads)",
                                       file: reader.name)
            let accumulator = CoMomentAccumulator(columns: reader.header.columns, elementType: reader.header.elementType,
                                                  threads: threads.count, name: reader.name)
            // Decompression and hashing of the next blocks overlap with the arithmetic.
            let blocks = BlockPrefetcher(reader)
            defer { blocks.close() }
            // Fewer rows than columns may take the Gram path: hold rows while that is possible
            // (at most d rows of d, no more than the co-moment matrices take).
            let columns = reader.header.columns, type = reader.header.elementType
            var held = [RowBlock](), heldRows = 0
            let mayHold = !partial && GramPCA.mayApply(columns: columns, elementType: type, solver: solver)
            let line = progress.line("pca-fit", "reading", reading: [file])
            while let block = try blocks.nextBlock() {
                line.add(block.rows)
                if mayHold && heldRows + block.rows < columns && accumulator.rows == 0 {
                    held.append(block)
                    heldRows += block.rows
                    continue
                }
                for h in held { try accumulator.add(h) }
                held.removeAll()
                try accumulator.add(block)
            }
            // Erased: the summary comes with the model (below).
            line.finish(.none)
            if !held.isEmpty, GramPCA.applies(rows: heldRows, columns: columns, elementType: type, solver: solver) {
                var gramModel: PCAModel?
                do {
                    gramModel = try GramPCA.fit(held, columns: columns, selection: selection, whiten: whiten,
                                                solver: solver, threads: threads.count, name: reader.name)
                } catch let e as GroveError {
                    throw GroveError(file: reader.name, e.message)
                }
                if let gramModel {
                    meta["input.hash"] = XXH64.hex(reader.contentHash ?? 0)
                    meta["input.element-type"] = type.description
                    if let space = reader.header.metadata["feature-space"] { meta["feature-space"] = space }
                    try write(gramModel, meta, to: out)
                    return
                }
            }
            for h in held { try accumulator.add(h) }
            held.removeAll()
            guard accumulator.rows > 0 else {
                throw GroveError(file: reader.name, "empty input: the stream holds no rows to fit")
            }
            guard reader.header.columns > 0 else {
                throw GroveError(file: reader.name, "the rows have 0 columns: nothing to fit")
            }
            statistics = try accumulator.finish()
            meta["input.hash"] = XXH64.hex(reader.contentHash ?? 0)
            meta["input.element-type"] = reader.header.elementType.description
            if let space = reader.header.metadata["feature-space"] { meta["feature-space"] = space }
        }
        if partial {
            try statistics.writePartial(to: out, metadata: meta)
            try out.commit()
            if progress.showsProgress {
                progress.note("pca-fit: statistics of \(statistics.count) rows x \(statistics.columns) columns (\(statistics.accumulation.rawValue))")
            }
            return
        }
        let model: PCAModel
        do {
            model = try PCAModel.fit(statistics, selection: selection, whiten: whiten, threads: threads.count,
                                     solver: solver)
        } catch let e as GroveError {
            throw GroveError(file: sourceName, e.message)
        }
        try write(model, meta, to: out)
    }

    private func write(_ model: PCAModel, _ meta: ZmatMetadata, to out: OutputFile) throws {
        var params = ZmatMetadata()
        if let components { params["param.k"] = String(components) }
        if let variance { params["param.variance"] = "\(variance)" }
        params["param.whiten"] = whiten ? "true" : "false"
        for (k, v) in meta { params[k] = v }
        try model.write(to: out, metadata: params)
        try out.commit()
        if progress.showsProgress {
            let explained = model.explainedVarianceRatio.reduce(0, +)
            progress.note("pca-fit: \(model.componentCount) components of \(model.columns) columns from \(model.count) rows explain \(Int((explained * 1000).rounded()) / 10)% of the variance")
        }
    }

    /// Reads and merges the partials in the order given; records their provenance in `meta`.
    private func mergePartials(into meta: inout ZmatMetadata) throws -> (CoMoments, String) {
        var total: CoMoments?
        var firstName = ""
        var firstSpace: String?
        var hashes = [String]()
        let budget = memory.budget()
        for path in inputs {
            let reader = try ZmatReader(path: path)
            try CoMomentAccumulator.checkMemory(columns: reader.header.columns, threads: 1, name: reader.name)
            let held = budget.charged
            let matrix = try reader.readAll(budget: budget)
            let part = try CoMoments(partial: matrix, name: reader.name)
            budget.release(budget.charged - held)  // the partial's rows are done with; its sums stay small
            let space = matrix.header.metadata["feature-space"]
            if let sofar = total {
                guard part.columns == sofar.columns else {
                    throw GroveError(file: reader.name,
                        "statistics of \(part.columns) columns, but \(firstName) has \(sofar.columns): partials must come from data of the same width")
                }
                if let space, let firstSpace, space != firstSpace {
                    throw GroveError(file: reader.name,
                        "feature space '\(space)', but \(firstName) is '\(firstSpace)': partials must come from the same kind of data")
                }
                try total!.merge(part)
            } else {
                total = part
                firstName = reader.name
                firstSpace = space
            }
            hashes.append(matrix.header.metadata["input.hash"] ?? XXH64.hex(reader.contentHash ?? 0))
        }
        var joined = hashes.joined(separator: ",")
        meta["input.hash"] = joined.withUTF8 { XXH64.hex(XXH64.hash(UnsafeRawBufferPointer($0))) }
        meta["input.partials"] = joined
        if let firstSpace { meta["feature-space"] = firstSpace }
        return (total!, inputs.count == 1 ? firstName : "\(inputs.count) partials")
    }
}
