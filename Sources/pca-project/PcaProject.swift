import ArgumentParser
import Grove
import GroveCLI

@main
struct PcaProject: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pca-project", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("pca-project is not implemented yet")
    }
}
