import ArgumentParser
import Grove
import GroveCLI

@main
struct RfPredict: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rf-predict", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("rf-predict is not implemented yet")
    }
}
