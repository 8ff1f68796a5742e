import ArgumentParser
import Grove
import GroveCLI

@main
struct RfEval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rf-eval", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("rf-eval is not implemented yet")
    }
}
