import ArgumentParser
import Grove
import GroveCLI

@main
struct MnistDecode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mnist-decode", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("mnist-decode is not implemented yet")
    }
}
