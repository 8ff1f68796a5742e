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

        func run() throws {
            let reader = try ZmatReader(path: input)
            let budget = memory.budget()
            let all = try reader.readAll(budget: budget)
            try budget.charge(all.rows * all.header.rowBytes, holding: "a shuffled copy of \(all.rows) rows", file: reader.name)
            let order = RowOrder.permutation(count: all.rows, seed: seed)
            let out = try output.open()
            let meta = derivedMetadata(all.header.metadata, command: "shuffle", params: [("shuffle-seed", "\(seed)")])
            try RowOrder.gather(all, rows: order).write(to: out, metadata: meta)
            try out.commit()
        }
    }
}
