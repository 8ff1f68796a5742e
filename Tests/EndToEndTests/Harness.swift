import Foundation
import XCTest

/// Runs the built Grove executables through real pipes.
///
/// Binaries are found in `GROVE_BIN_DIR` when set, else beside the test bundle (SwiftPM puts
/// executables and the `.xctest` bundle in the same products folder).
enum Tool {
    static let binDir: URL = {
        if let dir = ProcessInfo.processInfo.environment["GROVE_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        // On Linux the test bundle is an executable run as argv[0].
        return URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
            .resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    static func path(_ name: String) -> String {
        binDir.appendingPathComponent(name).path
    }

    /// The result of one run.
    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `bash -c script` (with pipefail) with the tools' folder first on PATH, feeding `stdin`.
    /// Use for pipelines: `run("mnist-decode x | zmat info")`.
    @discardableResult
    static func shell(_ script: String, stdin: Data? = nil, cwd: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try exec("/bin/bash", ["-c", "set -o pipefail; " + script], stdin: stdin, cwd: cwd)
    }

    /// Runs one tool directly with `arguments`.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], stdin: Data? = nil, cwd: String? = nil) throws -> Result {
        try exec(path(name), arguments, stdin: stdin, cwd: cwd)
    }

    /// A tool that exits before reading all its input must not kill the test run.
    static let ignoreSigpipe: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Output collected on another thread.
    final class Collected: @unchecked Sendable {
        var data = Data()
    }

    static func exec(_ executable: String, _ arguments: [String], stdin: Data?, cwd: String?) throws -> Result {
        _ = ignoreSigpipe
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = binDir.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        // Feed stdin and drain both outputs concurrently so no pipe fills and blocks.
        let group = DispatchGroup()
        let out = Collected(), err = Collected()
        group.enter()
        DispatchQueue.global().async { out.data = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if let stdin { try? inPipe.fileHandleForWriting.write(contentsOf: stdin) }
        try? inPipe.fileHandleForWriting.close()
        p.waitUntilExit()
        group.wait()
        return Result(status: p.terminationStatus, stdout: out.data, stderr: String(decoding: err.data, as: UTF8.self))
    }

    /// A fresh temporary folder, removed when the test ends.
    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("grove-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// The repository root (for shipped datasets and ../shared/reference).
    static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()
}
