import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat verify`: full structure and checksum check.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check streams completely (structure, row counts, zstd checksums, content hash).",
            discussion: "Prints 'FILE: ok ...' per good stream; exits 1 if any stream is damaged.")

        @Argument(help: "Streams to check (default: standard input).")
        var inputs: [String] = []

        @Flag(name: .shortAndLong, help: "Print only failures.")
        var quiet = false

        func run() throws {
            var failures = 0
            let out = try OutputFile(path: nil, binary: false)
            for name in inputs.isEmpty ? ["-"] : inputs {
                do {
                    let reader = try ZmatReader(path: name)
                    while try reader.nextBlock() != nil {}
                    if !quiet {
                        try out.write("\(reader.name): ok, \(reader.rowsRead) rows, \(reader.header.shapeDescription), xxh64:\(XXH64.hex(reader.contentHash ?? 0))\n")
                    }
                } catch let e as GroveError {
                    failures += 1
                    ToolMain.printError("zmat verify: \(e.message)")
                }
            }
            try out.commit()
            if failures > 0 { throw ExitCode(1) }
        }
    }
}
