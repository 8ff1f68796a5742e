import Foundation
import XCTest

/// Tools that must hold their input refuse, with the numbers, input beyond `--max-memory` (or
/// the machine's available memory), and leave no output behind.
final class MemoryLimitTests: XCTestCase {
    var dir = ""
    var train = ""

    override func setUpWithError() throws {
        dir = try Tool.temporaryDirectory(self)
        train = dir + "/train.zmat"  // 2,000 x 784 uint8 with labels: 1.5 MiB of rows
        let r = try Tool.run("mnist-decode", [Tool.repositoryRoot + "/datasets/mnist-images-2k", "-o", train])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testEachHoldingToolRefusesInputPastTheLimit() throws {
        let cases: [(tool: String, args: [String], holding: String)] = [
            ("rf-tree", [train, "--trees", "2", "--max-memory", "1M"], "training rows of 784 uint8 columns"),
            ("zmat", ["shuffle", "--seed", "1", train, "--max-memory", "1M"], "rows of 784 uint8 columns"),
            ("zmat", ["split", "-n", "2", "--index", "0", "--shuffle", train, "--max-memory", "1M"], "rows of 784 uint8 columns"),
            ("pca-fit", ["-k", "2", train, "--max-memory", "1M"], "the 784 x 784 co-moment matrices"),
        ]
        for c in cases {
            let out = dir + "/refused.zmat"
            let r = try Tool.run(c.tool, c.args + ["-o", out])
            let what = ([c.tool] + c.args).joined(separator: " ")
            XCTAssertEqual(r.status, 1, "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("\(c.tool): \(train): holding "), "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.holding), "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("more than the 1 MiB allowed by --max-memory 1 MiB"), "\(what): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(what) left its output")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "train.zmat" }
            XCTAssertEqual(leftovers, [], "\(what) left files")
        }
    }

    func testInputWithinTheLimitIsUnchanged() throws {
        // The limit only refuses: within it the output is the same bytes as without it.
        for (tool, args) in [("rf-tree", [train, "--trees", "2", "--seed", "3"]),
                             ("zmat", ["shuffle", "--seed", "4", train]),
                             ("pca-fit", ["-k", "3", train])] {
            let plain = try Tool.run(tool, args)
            let limited = try Tool.run(tool, args + ["--max-memory", "64M"])
            XCTAssertEqual(plain.status, 0, plain.stderr)
            XCTAssertEqual(limited.status, 0, limited.stderr)
            XCTAssertEqual(plain.stdout, limited.stdout, "\(tool) output changed under --max-memory")
        }
        // Streaming work has no limit to meet: an unshuffled split deals blocks out as they come.
        let r = try Tool.run("zmat", ["split", "-n", "2", "--index", "1", train, "--max-memory", "1K"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testBadSizesAreUsageErrors() throws {
        for bad in ["0", "-5M", "lots", "1X", "1e400"] {
            let r = try Tool.run("rf-tree", [train, "--max-memory", bad])
            XCTAssertEqual(r.status, 64, "--max-memory \(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--max-memory"), r.stderr)
        }
    }

    func testAStreamOnStandardInputIsRefusedBeforeItEnds() throws {
        // 40 MB of rows arrive on a pipe; the refusal comes as soon as the budget is passed,
        // naming the row count reached, without waiting for (or holding) the rest.
        let r = try Tool.shell("for i in $(seq 20); do cat '\(train)'; done | zmat shuffle --max-memory 4M")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("zmat: <stdin>: holding "), r.stderr)
        XCTAssertEqual(r.stdout.count, 0)
    }
}
