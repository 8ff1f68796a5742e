import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat cat`: rows of several streams, one after another.
    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Concatenate the rows of compatible streams (same type, width, labels, feature space).",
            discussion: "The first input's metadata is kept. '-' names standard input (once).")

        @Argument(help: "Input streams, in order (default: standard input).")
        var inputs: [String] = []

        @OptionGroup var output: OutputOptions
        @OptionGroup var progress: ProgressOptions

        func validate() throws {
            if inputs.filter({ $0 == "-" }).count > 1 {
                throw ValidationError("standard input ('-') can be read only once")
            }
        }

        func run() throws {
            let names = inputs.isEmpty ? ["-"] : inputs
            // Check every header before writing a byte, so a mismatch leaves nothing behind.
            let files = try names.map { try InputFile(path: $0) }
            let readers = try files.map { try ZmatReader($0) }
            let first = readers[0].header
            for r in readers.dropFirst() {
                guard r.header.isCompatible(with: first) else {
                    throw GroveError(file: r.name, "is \(r.header.shapeDescription), but \(readers[0].name) is \(first.shapeDescription)")
                }
                let a = first.metadata["feature-space"], b = r.header.metadata["feature-space"]
                if let a, let b, a != b {
                    throw GroveError(file: r.name, "feature space \(b) differs from \(readers[0].name)'s \(a)")
                }
            }
            let out = try output.open()
            var header = first
            header.metadata = derivedMetadata(first.metadata, command: "cat", params: [("inputs", "\(names.count)")])
            let writer = try ZmatWriter(output: out, header: header)
            let line = progress.line("zmat cat", "concatenating", reading: files)
            for r in readers {
                while let block = try r.nextBlock() {
                    try writer.append(block)
                    line.add(block.rows)
                }
            }
            try writer.finish()
            try out.commit()
            line.finish()
        }
    }
}
