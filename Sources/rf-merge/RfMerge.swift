import ArgumentParser
import Grove
import GroveCLI

@main
struct RfMerge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rf-merge", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("rf-merge is not implemented yet")
    }
}
