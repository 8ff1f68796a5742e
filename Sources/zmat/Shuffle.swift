import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat shuffle`: rows in a seeded random order.
    struct Shuffle: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the rows in a seeded random order (holds the whole input in memory).")

        @Option(help: "Seed: the same seed and input give the same order.")
        var seed: UInt64 = 0

        @Argument(help: "Input stream (default: standard input).")
        var input: String?

        @OptionGroup var output: OutputOptions
        @OptionGroup var memory: MemoryOptions
        @OptionGroup var progress: ProgressOptions

        func run() throws {
            let file = try InputFile(path: input)
            // Measured while the input is read (the shuffled rows are written from memory after).
            let line = progress.line("zmat shuffle", "reading", reading: [file])
            let reader = try ZmatReader(file)
            let budget = memory.budget()
            let all = try reader.readAll(budget: budget)
            try budget.charge(all.rows * all.header.rowBytes, holding: "a shuffled copy of \(all.rows) rows", file: reader.name)
            line.update(all.rows)
            let order = RowOrder.permutation(count: all.rows, seed: seed)
            let out = try output.open()
            let meta = derivedMetadata(all.header.metadata, command: "shuffle", params: [("shuffle-seed", "\(seed)")])
            try RowOrder.gather(all, rows: order).write(to: out, metadata: meta)
            try out.commit()
            line.finish()
        }
    }
}
