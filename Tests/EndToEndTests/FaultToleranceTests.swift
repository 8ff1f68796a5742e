import Foundation
import Grove
import XCTest

/// Failed tasks in the ml-training DAG (issue 10): retries, MIN_TREES, the fault injector
/// (pipelines/stage-time.bash), and rf-merge --min-trees skipping unreadable inputs.
final class FaultToleranceTests: XCTestCase {
    var out: String!
    /// 10 tree tasks of 4 trees: 10% of the tasks is one task.
    let small = ["RF=10", "TREES=4", "RETRY_DELAY=0.05"]

    override func setUpWithError() throws {
        out = try Tool.temporaryDirectory(self)
        guard FileManager.default.fileExists(atPath: Tool.repositoryRoot + "/datasets/mnist-images-2k") else {
            throw XCTSkip("the shipped dataset is missing")
        }
    }

    func dag(_ variables: [String]) throws -> Tool.Result {
        try Tool.exec("/usr/bin/make", ["-C", Tool.repositoryRoot, "--no-print-directory", "-j2", "dag",
                                        "BIN=\(Tool.binDir.path)"] + small + variables, stdin: nil, cwd: nil)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// (stage, status) of every attempt in the run's task records.
    func attempts(_ dir: String) throws -> [(String, String)] {
        try String(contentsOfFile: dir + "/stage-times.tsv", encoding: .utf8).split(separator: "\n").map {
            let f = $0.split(separator: "\t", omittingEmptySubsequences: false)
            return (String(f[0]), String(f[3]))
        }
    }

    func lost(_ dir: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: dir + "/lost-tasks.txt", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { URL(fileURLWithPath: String($0.split(separator: "\t")[1])).lastPathComponent }.sorted()
    }

    func testSeventyPercentKilledWithRetriesGivesTheSameForest() throws {
        let clean = out + "/clean", killed = out + "/killed"
        let c = try dag(["OUT=\(clean)"])
        XCTAssertEqual(c.status, 0, c.stderr)
        // 7 of 10 tree tasks are killed (kill -9 while running) on their first two attempts.
        let r = try dag(["OUT=\(killed)", "RETRIES=2", "FAIL_TASKS=rf:0,rf:2,rf:3,rf:5,rf:6,rf:8,rf:9", "FAIL_ATTEMPTS=2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("fault injector killed attempt 2"), r.stderr)
        let rf = try attempts(killed).filter { $0.0 == "rf" }
        XCTAssertEqual(rf.filter { $0.1 == "137" }.count, 14)
        XCTAssertEqual(rf.filter { $0.1 == "0" }.count, 10)
        XCTAssertEqual(try lost(killed), [])
        XCTAssertEqual(try bytes(clean + "/forest.zmat"), try bytes(killed + "/forest.zmat"))
        XCTAssertEqual(try bytes(clean + "/report.txt"), try bytes(killed + "/report.txt"))
    }

    func testThirtyPercentLostUnderMinTreesStillGivesAForestAndSaysWhichWereLost() throws {
        let dir = out + "/lost"
        let r = try dag(["OUT=\(dir)", "MIN_TREES=20", "FAIL_TASKS=rf:1,rf:4,rf:7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lost(dir), ["trees-1.zmat", "trees-4.zmat", "trees-7.zmat"])
        for j in [1, 4, 7] { XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/trees-\(j).zmat")) }
        let forest = try Matrix.load(path: dir + "/forest.zmat")
        XCTAssertEqual(forest.header.metadata["trees"], "28")
        let index = Set(try XCTUnwrap(forest.header.metadata["tree.index"]).split(separator: ",").compactMap { Int($0) })
        XCTAssertEqual(index, Set((0..<40).filter { ![1, 4, 7].contains($0 / 4) }))
        XCTAssertTrue(r.stderr.contains("skipping"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/report.txt"))

        // A rerun retries only the lost tasks (their files are missing) and completes the forest.
        let again = try dag(["OUT=\(dir)", "MIN_TREES=20"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(Set(try attempts(dir).suffix(6).map(\.0)), ["rf", "merge", "validate", "report"])
        XCTAssertEqual(try Matrix.load(path: dir + "/forest.zmat").header.metadata["trees"], "40")
    }

    func testAFailureRateWithASeedIsReproducibleAndBoundedByMinTrees() throws {
        var lostSets = [[String]]()
        for run in ["a", "b"] {
            let dir = out + "/" + run
            let r = try dag(["OUT=\(dir)", "MIN_TREES=20", "FAIL_RATE=0.3", "FAIL_SEED=1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let l = try lost(dir)
            XCTAssertGreaterThan(l.count, 0)
            XCTAssertLessThanOrEqual(l.count, 5)
            XCTAssertEqual(try Matrix.load(path: dir + "/forest.zmat").header.metadata["trees"], String((10 - l.count) * 4))
            lostSets.append(l)
        }
        XCTAssertEqual(lostSets[0], lostSets[1])
    }

    func testLostTasksFailTheRunWithoutMinTreesOrBelowIt() throws {
        let plain = try dag(["OUT=\(out!)/plain", "FAIL_TASKS=rf:3"])
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertTrue(plain.stderr.contains("trees-3.zmat"), plain.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/plain/forest.zmat"))

        let short = try dag(["OUT=\(out!)/short", "MIN_TREES=36", "FAIL_TASKS=rf:3,rf:5"])
        XCTAssertNotEqual(short.status, 0)
        XCTAssertTrue(short.stderr.contains("only 32 trees"), short.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/short/forest.zmat"))
    }

    func testPcaFailureFailsEvenUnderMinTreesAndRetries() throws {
        let r = try dag(["OUT=\(out!)/pca", "MIN_TREES=4", "RETRIES=1", "FAIL_TASKS=pca:pca-part-1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(try attempts(out + "/pca").filter { $0.0 == "pca" && $0.1 == "137" }.count, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/pca/pca.zmat"))
        XCTAssertEqual(try lost(out + "/pca"), [])
    }

    func testRfMergeMinTreesSkipsUnreadableInputs() throws {
        let data = out + "/d.zmat", a = out + "/a.zmat", b = out + "/b.zmat", junk = out + "/junk.zmat"
        let f = out + "/f.zmat"
        XCTAssertEqual(try Tool.shell("mnist-decode '\(Tool.repositoryRoot)/datasets/mnist-test-3k' -o '\(data)'").status, 0)
        XCTAssertEqual(try Tool.run("rf-tree", [data, "--trees", "2", "--max-depth", "3", "-o", a]).status, 0)
        XCTAssertEqual(try Tool.run("rf-tree", [data, "--trees", "2", "--max-depth", "3", "--tree-index", "2", "-o", b]).status, 0)
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: junk))
        let missing = out + "/missing.zmat"

        let ok = try Tool.run("rf-merge", [a, missing, junk, b, "--min-trees", "4", "-o", f])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("skipping \(missing)") && ok.stderr.contains("skipping \(junk)"), ok.stderr)
        let all = try Tool.run("rf-merge", [a, b, "-o", out + "/g.zmat"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try bytes(f), try bytes(out + "/g.zmat"))

        let short = try Tool.run("rf-merge", [a, missing, "--min-trees", "3", "-o", out + "/h.zmat"])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("only 2 trees"), short.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/h.zmat"))
        let none = try Tool.run("rf-merge", [missing, junk, "--min-trees", "1", "-o", out + "/h.zmat"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("none of the 2 inputs"), none.stderr)
        // Without --min-trees every input must be readable, as before.
        let strict = try Tool.run("rf-merge", [a, missing, "-o", out + "/h.zmat"])
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stderr.contains(missing), strict.stderr)
    }
}
