import ArgumentParser
import Grove
import GroveCLI

/// `zmat`: look into, cut, join, shuffle, check and convert zmat streams.
@main
struct Zmat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmat",
        abstract: "Inspect, slice, join, shuffle, verify and convert zmat matrix streams.",
        discussion: """
            Every subcommand reads standard input when no file (or '-') is given and writes
            standard output unless -o FILE is given. Files are written atomically.

            Examples:
              zmat info train.zmat
              mnist-decode datasets/mnist-images-2k | zmat head -n 5 | zmat convert --to csv
              zmat split -n 2 --index 0 --shuffle --seed 7 train.zmat -o shard0.zmat
              zmat cat shard0.zmat shard1.zmat -o all.zmat
              zmat convert train.zmat -o train.npy && zmat convert train.npy -o back.zmat
            """,
        version: GroveVersion.string,
        subcommands: [Info.self, Head.self, Cat.self, Split.self, Shuffle.self, Verify.self, Convert.self, Mean.self])

    static func main() { ToolMain.run(Self.self) }
}

/// Adds Grove's provenance keys for a stream `zmat` rewrites.
func derivedMetadata(_ metadata: ZmatMetadata, command: String, params: [(String, String)]) -> ZmatMetadata {
    var m = metadata
    m["producer"] = "zmat \(command) \(GroveVersion.string)"
    for (k, v) in params { m["param.\(k)"] = v }
    return m
}
