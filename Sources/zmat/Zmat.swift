import ArgumentParser
import Grove
import GroveCLI

@main
struct Zmat: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zmat", abstract: "Not built yet.")

    static func main() { ToolMain.run(Self.self) }

    func run() throws {
        throw GroveError("zmat is not implemented yet")
    }
}
