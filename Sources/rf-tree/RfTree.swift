import ArgumentParser
import Grove
import GroveCLI

@main
struct RfTree: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rf-tree", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("rf-tree is not implemented yet")
    }
}
