import Foundation
import Grove
import XCTest

/// The ml-training DAG (pipelines/ml-training.mk) on the shipped MNIST digits.
final class WorkflowTests: XCTestCase {
    var out: String!

    override func setUpWithError() throws {
        out = try Tool.temporaryDirectory(self)
        guard FileManager.default.fileExists(atPath: Tool.repositoryRoot + "/datasets/mnist-images-2k") else {
            throw XCTSkip("the shipped dataset is missing")
        }
    }

    /// Runs `make dag` in the repository with the given variables.
    @discardableResult
    func dag(_ variables: [String], jobs: Int = 2, target: String = "dag") throws -> Tool.Result {
        let r = try Tool.exec("/usr/bin/make", ["-C", Tool.repositoryRoot, "--no-print-directory", "-j\(jobs)", target,
                                                "BIN=\(Tool.binDir.path)"] + variables, stdin: nil, cwd: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    func accuracy(_ report: String) throws -> Double {
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("accuracy: ") })
        return try XCTUnwrap(Double(line.dropFirst("accuracy: ".count)))
    }

    func bytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func testDefaultDagIsAccurateDeterministicAndIncremental() throws {
        let a = out + "/a", b = out + "/b"
        try dag(["OUT=\(a)"], jobs: 2)
        XCTAssertGreaterThanOrEqual(try accuracy(a + "/report.txt"), 0.80)
        let forest = try Matrix.load(path: a + "/forest.zmat")
        XCTAssertEqual(forest.header.metadata["kind"], "forest")
        XCTAssertEqual(forest.header.metadata["trees"], "128")
        let json = try JSONSerialization.jsonObject(with: try bytes(a + "/report.json")) as? [String: Any]
        XCTAssertNotNil(json?["accuracy"])
        XCTAssertEqual(try bytes(a + "/confusion.png").prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))
        // The run page: every stage, the accuracy and the tree count; no URL.
        let page = String(decoding: try bytes(a + "/report.html"), as: UTF8.self)
        let accuracyLine = try String(contentsOfFile: a + "/report.txt", encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(page.contains("accuracy <b>\(accuracyLine.dropFirst("accuracy: ".count))</b>"))
        XCTAssertTrue(page.contains("<th>trees</th><td>128</td>"))
        for stage in ["decode", "partition", "pca", "project", "rf", "merge", "validate", "report"] {
            XCTAssertTrue(page.contains("<td>\(stage)</td>"), stage)
        }
        XCTAssertFalse(page.contains("http"))
        // A broken task log is refused with its line.
        try "decode\t1\t2\t0\nrf\tsoon\t3\n".write(toFile: out + "/bad.tsv", atomically: true, encoding: .utf8)
        let bad = try Tool.run("grove-report", ["--times", out + "/bad.tsv"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("bad.tsv") && bad.stderr.contains("line 2"), bad.stderr)

        // Another run, one job at a time: the same forest, byte for byte.
        try dag(["OUT=\(b)"], jobs: 1)
        XCTAssertEqual(try bytes(a + "/forest.zmat"), try bytes(b + "/forest.zmat"))
        XCTAssertEqual(try bytes(a + "/predictions.zmat"), try bytes(b + "/predictions.zmat"))

        // Nothing to do when nothing changed; a new SEED retrains trees and what follows only.
        try? FileManager.default.removeItem(atPath: a + "/stage-times.tsv")
        try dag(["OUT=\(a)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: a + "/stage-times.tsv"))
        try dag(["OUT=\(a)", "SEED=2"])
        let stages = Set(try String(contentsOfFile: a + "/stage-times.tsv", encoding: .utf8)
            .split(separator: "\n").map { String($0.split(separator: "\t")[0]) })
        XCTAssertEqual(stages, ["rf", "merge", "validate", "report"])
        XCTAssertNotEqual(try bytes(a + "/forest.zmat"), try bytes(b + "/forest.zmat"))
    }

    func testShardModeAndRawFeatures() throws {
        let s = out + "/s"
        try dag(["OUT=\(s)", "PCA_MODE=shard", "RF_DATA=chunk"])
        XCTAssertGreaterThanOrEqual(try accuracy(s + "/report.txt"), 0.75)
        XCTAssertTrue(FileManager.default.fileExists(atPath: s + "/forest-1.zmat"))
        let r = out + "/r"
        try dag(["OUT=\(r)", "FEATURES=raw", "RF=2", "TREES=25"])
        XCTAssertGreaterThanOrEqual(try accuracy(r + "/report.txt"), 0.85)
    }

    func testInferenceWorkflowMatchesValidation() throws {
        let a = out + "/a"
        try dag(["OUT=\(a)"])
        let r = try dag(["OUT=\(a)", "INFER=3"], target: "infer")
        XCTAssertTrue(r.stdoutText.contains("accuracy: "), r.stdoutText)
        // Partitioned prediction gathers the same predictions as one rf-predict over all rows.
        let gathered = try Matrix.load(path: a + "/infer/predictions.zmat")
        let whole = try Matrix.load(path: a + "/predictions.zmat")
        XCTAssertEqual(gathered.rows, whole.rows)
        // The gathered rows are shard 0 (rows 0, 3, 6, ...), then shard 1, then shard 2.
        let order = (0..<3).flatMap { RowOrder.roundRobin(rows: whole.rows, shard: $0, of: 3) }
        let expected = order.map { whole.values(as: Int32.self)[$0] }
        let expectedLabels = order.map { whole.labels![$0] }
        XCTAssertEqual(Array(gathered.values(as: Int32.self)), expected)
        XCTAssertEqual(Array(gathered.labels!), expectedLabels)
    }

    func testKilledTreeTaskLeavesNoHalfWrittenFile() throws {
        let a = out + "/a"
        try dag(["OUT=\(a)", "FEATURES=raw", "RF=1", "TREES=1"])
        for signal in ["TERM", "KILL"] {
            let target = a + "/killed-\(signal).zmat"
            let script = "rf-tree '\(a)/shard-0.zmat' --trees 5000 -o '\(target)' & pid=$!; sleep 0.3; kill -\(signal) $pid; wait $pid; echo $?"
            let r = try Tool.shell(script)
            XCTAssertNotEqual(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines), "0", "the task was not killed")
            XCTAssertFalse(FileManager.default.fileExists(atPath: target), "a killed task left \(target)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: a).filter { $0.contains("killed-\(signal)") }
            if signal == "TERM" { XCTAssertEqual(leftovers, [], "SIGTERM must remove the temporary file") }
        }
    }

    func testShellPipelineVersion() throws {
        let s = out + "/sh"
        let r = try Tool.shell("cd '\(Tool.repositoryRoot)' && OUT='\(s)' RF=4 TREES=8 sh pipelines/ml-training.sh")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThanOrEqual(try accuracy(s + "/report.txt"), 0.78)
    }
}
