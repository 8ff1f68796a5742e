import Foundation
import XCTest

/// Two `make run` on one OUT: the second refuses while the first holds the lock, touches
/// nothing of the first's, and the lock does not outlive its holder.
final class RunLockTests: XCTestCase {
    func testASecondRunOnTheSameOutRefusesUntilTheFirstEnds() throws {
        guard FileManager.default.fileExists(atPath: Tool.repositoryRoot + "/datasets/mnist-images-2k") else {
            throw XCTSkip("the shipped dataset is missing")
        }
        let out = try Tool.temporaryDirectory(self) + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        func run() throws -> Tool.Result {
            try Tool.exec("/usr/bin/make", ["-C", Tool.repositoryRoot, "--no-print-directory", "run-built",
                                            "BIN=\(Tool.binDir.path)", "OUT=\(out)"], stdin: nil, cwd: nil)
        }
        // A first run, stood in for by this process holding the run's lock as make's flock(1)
        // does (flock(2) on the same file; O_CLOEXEC so no child of ours inherits it).
        let lock = open(out + "/.run.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        XCTAssertGreaterThanOrEqual(lock, 0)
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)
        var closed = false
        defer { if !closed { close(lock) } }
        let probe = try Tool.exec("/usr/bin/flock", ["-n", out + "/.run.lock", "true"], stdin: nil, cwd: nil)
        XCTAssertEqual(probe.status, 1, "flock(1) must see this process's lock")

        let refused = try run()
        XCTAssertEqual(refused.status, 2, "make reports the failed recipe: \(refused.stderr)")
        XCTAssertTrue(refused.stderr.contains("make run: another run holds \(out)/.run.lock; not starting a second one on OUT=\(out)"),
                      refused.stderr)
        let written = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0 != ".run.lock" }
        XCTAssertEqual(written, [], "the refused run wrote into the first run's OUT")

        // Once the first run is gone (its descriptor closed, as when a run dies), the lock is free.
        close(lock)
        closed = true
        let next = try run()
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertTrue(next.stdoutText.contains("accuracy: "), next.stdoutText)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/forest.zmat"))
    }
}
