import ArgumentParser
import Grove
import GroveCLI

@main
struct PcaFit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pca-fit", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("pca-fit is not implemented yet")
    }
}
