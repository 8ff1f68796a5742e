import ArgumentParser
import Grove
#if canImport(Glibc)
import Glibc
#endif

/// The one entry point every Grove tool uses, so they all behave alike:
/// exit 0 on success and on a closed pipe, 1 with `tool: message` on bad data or a runtime
/// failure, argument-parser's usage code (64) with the usage text on a usage error.
public enum ToolMain {
    public static func run<Command: ParsableCommand>(_ command: Command.Type) -> Never {
        // A closed pipe must become an EPIPE error we can turn into a quiet exit, not a kill.
        signal(SIGPIPE, SIG_IGN)
        let tool = command.configuration.commandName ?? String(describing: command)
        do {
            var parsed = try command.parseAsRoot()
            try parsed.run()
            ProgressLine.abandonAll()  // a line a run did not finish is erased, not left drawn
            exit(0)
        } catch is BrokenPipe {
            ProgressLine.abandonAll()
            TemporaryFiles.removeAll()
            exit(0)
        } catch let error as GroveError {
            ProgressLine.abandonAll()
            TemporaryFiles.removeAll()
            printError("\(tool): \(error.message)")
            exit(1)
        } catch {
            ProgressLine.abandonAll()
            TemporaryFiles.removeAll()
            command.exit(withError: error)
        }
    }

    /// Writes one line to standard error (above a progress line being drawn).
    public static func printError(_ line: String) {
        ProgressLine.writeAboveAll(line + "\n")
    }
}

/// `-o/--output` and `-f/--force`, shared by every tool that writes a stream.
public struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
    public var output: String?

    @Flag(name: .shortAndLong, help: "Write binary output even when standard output is a terminal.")
    public var force = false

    public init() {}

    /// Opens the chosen output for binary data.
    public func open() throws -> OutputFile {
        try OutputFile(path: output, binary: true, force: force)
    }
}

/// `--progress` and `-q`: progress goes to stderr only on a terminal or when asked.
public struct ProgressOptions: ParsableArguments {
    @Flag(help: "Report progress on standard error even when it is not a terminal (a line a second).")
    public var progress = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors on standard error.")
    public var quiet = false

    public init() {}

    /// Whether progress (and the summary lines that go with it) should be printed.
    public var showsProgress: Bool { style != .off }

    /// Prints an informational line (suppressed by `-q`).
    public func note(_ line: String) {
        if !quiet { ToolMain.printError(line) }
    }
}

/// `--threads N`: how many cores to use; the result never depends on it.
public struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all available cores). Results do not depend on it.")
    public var threads: Int?

    public init() {}

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    public var count: Int { threads ?? Parallel.availableCores }
}

extension ElementType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}
