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
        named. With --min-trees, fewer trees than that is an error, so a workflow can tolerate \
        a few failed tree tasks and still know how many were merged (reported on stderr).

        Examples:
          rf-merge tree0.zmat tree1.zmat tree2.zmat -o forest.zmat
          rf-merge trees/*.zmat --min-trees 90 -o forest.zmat
        """)

    static func main() { ToolMain.run(Self.self) }

    @Argument(help: "Tree or forest models (zmat files from rf-tree or rf-merge; - for standard input, once).")
    var inputs: [String]

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "Fail unless the inputs hold at least this many trees in all (default: 1).")
    var minTrees: Int = 1

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one model to merge") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if minTrees < 1 { throw ValidationError("--min-trees must be at least 1") }
    }

    func run() throws {
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
