import ArgumentParser
import Grove
import GroveCLI

@main
struct RfMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rf-merge",
        abstract: "Join trees and forests into one forest.",
        discussion: """
        Trees keep the order of the inputs (and each tree its global index). Inputs must agree \
        on the feature count, the classes and the feature space; the first one that does not is \
        named. With --min-trees, inputs that cannot be read as a model (a lost tree task's missing \
        file, say) are skipped and named on stderr, the readable ones are merged, and fewer \
        trees than N is an error: a workflow can tolerate a few failed tree tasks and still \
        know how many were merged (reported on stderr).

        Examples:
          rf-merge tree0.zmat tree1.zmat tree2.zmat -o forest.zmat
          rf-merge trees/*.zmat --min-trees 90 -o forest.zmat
        """)

    static func main() { ToolMain.run(Self.self) }

    @Argument(help: "Tree or forest models (zmat files from rf-tree or rf-merge; - for standard input, once).")
    var inputs: [String]

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "Skip unreadable inputs, and fail unless the readable ones hold at least this many trees (without it: every input must be readable, at least 1 tree).")
    var minTrees: Int?

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one model to merge") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if let m = minTrees, m < 1 { throw ValidationError("--min-trees must be at least 1") }
    }

    func run() throws {
        var inputs = self.inputs
        let minTrees = self.minTrees ?? 1
        if self.minTrees != nil {
            let (usable, skipped) = ForestMerge.readable(inputs.filter { $0 != "-" })
            for s in skipped { ToolMain.printError("rf-merge: skipping \(s.path): \(s.reason)") }
            inputs = inputs.filter { $0 == "-" || usable.contains($0) }
            if inputs.isEmpty {
                throw GroveError("none of the \(self.inputs.count) inputs is a readable model, --min-trees is \(minTrees)")
            }
        }
        // Count first, so a short merge fails before anything is written.
        var total = 0
        for p in inputs where p != "-" {
            let h = try ForestHeader(ZmatReader(path: p).header, name: p)
            total += h.nodeCounts.count
        }
        if !inputs.contains("-") && total < minTrees {
            throw GroveError("only \(total) trees in \(inputs.count) inputs, --min-trees is \(minTrees)")
        }
        let output = try outputOptions.open()
        let merged = try ForestMerge.merge(inputs, to: output)
        if merged < minTrees {
            output.abandon()
            throw GroveError("only \(merged) trees in \(inputs.count) inputs, --min-trees is \(minTrees)")
        }
        try output.commit()
        progressOptions.note("rf-merge: merged \(merged) trees from \(inputs.count) inputs")
    }
}
