import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat head`: the first rows of a stream.
    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the first N rows of a stream.")

        @Option(name: .short, help: "How many rows.")
        var n = 10

        @Argument(help: "Input stream (default: standard input).")
        var input: String?

        @OptionGroup var output: OutputOptions

        func validate() throws {
            if n < 0 { throw ValidationError("-n must not be negative") }
        }

        func run() throws {
            let reader = try ZmatReader(path: input)
            let out = try output.open()
            var header = reader.header
            header.metadata = derivedMetadata(header.metadata, command: "head", params: [("head", "\(n)")])
            let writer = try ZmatWriter(output: out, header: header)
            var left = n
            while left > 0, let block = try reader.nextBlock() {
                let take = min(left, block.rows)
                try writer.append(rows: take,
                                  elements: UnsafeRawBufferPointer(rebasing: block.elementBytes[0..<take * header.rowBytes]),
                                  labels: block.labels.map { UnsafeBufferPointer(rebasing: $0[0..<take]) })
                left -= take
            }
            try writer.finish()
            try out.commit()
        }
    }
}
