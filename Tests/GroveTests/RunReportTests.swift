import Foundation
import Grove
import XCTest

/// The run report page (grove-report): task log parsing, the stage table, and the page's
/// structure and content.
final class RunReportTests: XCTestCase {
    /// A run: decode, partition, two PCA tasks, three tree tasks of which one failed and was
    /// retried (an extra column, as a runner may append), merge, validate.
    let log = """
    decode\t100.0\t100.5\t0\thostA\tmnist-decode datasets/x -o out/train.zmat
    partition\t100.5\t100.75\t0\thostA\tzmat split -n 2
    pca\t100.75\t101.25\t0\thostA\tpca-fit --partial out/shard-0.zmat
    pca\t100.75\t101.5\t0\thostB\tpca-fit --partial out/shard-1.zmat
    rf\t101.5\t102.5\t0\thostA\trf-tree out/features-0.zmat
    rf\t101.5\t102.0\t137\thostB\trf-tree out/features-1.zmat\tattempt 1
    rf\t102.0\t103.0\t0\thostB\trf-tree out/features-1.zmat\tattempt 2
    merge\t103.0\t103.25\t0\thostA\trf-merge out/trees-0.zmat out/trees-1.zmat
    validate\t103.25\t104.0\t0\thostA\trf-predict -m out/forest.zmat

    """

    func classification() -> ClassificationReport {
        var r = ClassificationReport(classes: [0, 1, 2])
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 2), (2, 2), (2, 0), (1, 1)] as [(Int32, Int32)] {
            r.record(truth: t, predicted: p)
        }
        return r
    }

    func page() throws -> (RunReport, String) {
        var r = RunReport()
        r.parameters = [("SEED", "7"), ("TREES", "16")]
        r.runner = "local"
        r.machine = "Test CPU, 2 cores"
        r.commit = "abc1234"
        r.tasks = try TaskRecord.parse(log, name: "times.tsv")
        r.classification = classification()
        r.classNames = ["T-shirt/top", "Trouser", "Pullover"]
        r.pca = [("out/pca.zmat", [0.5, 0.25, 0.125])]
        r.forests = [ForestSummary(name: "out/forest.zmat", trees: 48, classes: 3, features: 3,
                                   depth: (4, 6, 9), nodes: 1234, leaves: 641, bytes: 56789)]
        return (r, r.html())
    }

    func testTaskLogParsesAndToleratesExtraColumns() throws {
        let tasks = try TaskRecord.parse(log, name: "times.tsv")
        XCTAssertEqual(tasks.count, 9)
        XCTAssertEqual(tasks[5].status, 137)
        XCTAssertEqual(tasks[5].location, "hostB")
        XCTAssertEqual(tasks[5].extra, ["attempt 1"])
        XCTAssertEqual(tasks[0].seconds, 0.5, accuracy: 1e-12)
        XCTAssertEqual(TaskRecord.retries(tasks), [false, false, false, false, false, false, true, false, false])
        XCTAssertEqual(TaskRecord.lost(tasks), [Bool](repeating: false, count: 9))  // the failed one was retried
        let lostLog = log + "rf\t104\t105\t137\thostB\trf-tree out/features-2.zmat\n"
        XCTAssertEqual(TaskRecord.lost(try TaskRecord.parse(lostLog, name: "t")).last, true)
        // Three columns are enough (older logs); fewer, or a bad number, name the line.
        XCTAssertEqual(try TaskRecord.parse("a\t1\t2\n", name: "t").first?.status, 0)
        XCTAssertThrowsError(try TaskRecord.parse("a\t1\t2\nb\t1\n", name: "t.tsv")) { e in
            XCTAssertTrue("\(e)".contains("t.tsv") && "\(e)".contains("line 2"), "\(e)")
        }
        XCTAssertThrowsError(try TaskRecord.parse("a\tx\t2\n", name: "t.tsv"))
        XCTAssertThrowsError(try TaskRecord.parse("a\t1\t2\tok\n", name: "t.tsv"))
    }

    /// The same numbers pipelines/stage-report prints: succeeded tasks only, wall span, task sum.
    func testStageTable() throws {
        let rows = StageSummary.summarize(try TaskRecord.parse(log, name: "t"))
        XCTAssertEqual(rows.map(\.stage), ["decode", "partition", "pca", "rf", "merge", "validate"])
        let rf = rows[3]
        XCTAssertEqual(rf.tasks, 2)
        XCTAssertEqual(rf.failed, 1)
        XCTAssertEqual(rf.wall, 1.5, accuracy: 1e-9)
        XCTAssertEqual(rf.busy, 2.0, accuracy: 1e-9)
        XCTAssertEqual(rows[2].wall, 0.75, accuracy: 1e-9)
    }

    func testPageStructureAndContent() throws {
        let (report, html) = try page()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        XCTAssertTrue(html.hasSuffix("</body>\n</html>\n"))
        XCTAssertEqual(report.wallTime, 4.0, accuracy: 1e-9)
        // Self-contained: no script, no fetch, no URL.
        for bad in ["<script", "http:", "https:", "url(", "@import", "src=", "href=", "<link"] {
            XCTAssertFalse(html.contains(bad), bad)
        }
        // One bar per task; the failed one and the retry marked.
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"bar").count - 1, 9)
        XCTAssertEqual(html.components(separatedBy: "class=\"bar failed\"").count - 1, 1)
        XCTAssertEqual(html.components(separatedBy: "class=\"bar retry\"").count - 1, 1)
        XCTAssertTrue(html.contains("exit status 137, on hostB"))
        XCTAssertTrue(html.contains("rf-tree out/features-1.zmat\n0.500 s, exit status 137"))
        XCTAssertTrue(html.contains("more: attempt 2"))
        for stage in ["decode", "partition", "pca", "rf", "merge", "validate"] {
            XCTAssertTrue(html.contains("<td>\(stage)</td>"), stage)
        }
        // Stage table row for rf: 2 tasks, 1.500 s wall, 2.000 s busy, 1 failed.
        XCTAssertTrue(html.contains("<tr><td>rf</td><td>2</td><td>1.500</td><td>2.000</td><td>1</td></tr>"))
        // Accuracy 6 of 8, names, axis titles, scores.
        XCTAssertTrue(html.contains("accuracy <b>0.7500</b> (6 of 8 rows)"))
        XCTAssertTrue(html.contains(">true</text>") && html.contains(">predicted</text>"))
        XCTAssertTrue(html.contains("T-shirt/top") && html.contains("Pullover"))
        XCTAssertTrue(html.contains("<td>0 T-shirt/top</td><td>0.6667</td><td>0.6667</td><td>0.6667</td><td>3</td>"))
        XCTAssertTrue(html.contains("true T-shirt/top, predicted Trouser: 1 (33.3% of the true class)"))
        // Scree: three bars, cumulative 0.875; forest summary.
        XCTAssertTrue(html.contains("3 components explain 0.8750"))
        XCTAssertTrue(html.contains("component 2: 0.2500 (cumulative 0.7500)"))
        XCTAssertTrue(html.contains("<td>out/forest.zmat</td><td>48</td><td>3</td><td>3</td><td>4 / 6 / 9</td><td>1234</td><td>641</td><td>56789</td>"))
        XCTAssertTrue(html.contains("<th>trees</th><td>48</td>"))
        XCTAssertTrue(html.contains("<th>SEED</th><td>7</td>"))
        XCTAssertTrue(html.contains("0.1.0 (commit abc1234)"))
    }

    func testLostTaskIsMarked() throws {
        var r = RunReport()
        r.tasks = try TaskRecord.parse(log + "rf\t104\t105\t137\thostB\trf-tree out/features-2.zmat\n", name: "t")
        let html = r.html()
        XCTAssertTrue(html.contains("<th>lost tasks</th><td>1 (every attempt failed)</td>"))
        XCTAssertTrue(html.contains("FAILED: lost (no attempt succeeded)"))
        XCTAssertTrue(html.contains("exit 137, lost</text>"))
        XCTAssertEqual(html.components(separatedBy: ", lost</text>").count - 1, 1)  // the retried failure is not lost
    }

    func testTextIsEscaped() throws {
        var r = RunReport()
        r.tasks = [TaskRecord(stage: "a<b", start: 0, end: 1, command: "x && y \"q\" > z")]
        let html = r.html()
        XCTAssertTrue(html.contains("a&lt;b: x &amp;&amp; y &quot;q&quot; &gt; z"))
        XCTAssertFalse(html.contains("a<b"))
        // Nothing ran: the page says so.
        XCTAssertTrue(RunReport().html().contains("No task ran"))
    }

    /// Python's html.parser, through the project's checker (Tests/report/html-check.py): well
    /// formed, no external reference, and the words in the page's text.
    func testPageIsValidHTML() throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let python = path.map { $0 + "/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python else { throw XCTSkip("python3 is not installed") }
        let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("report/html-check.py").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-report-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("report.html")
        func check(_ html: String, _ words: [String]) throws -> Int32 {
            try html.write(to: file, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [checker, file.path] + words
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        let html = try page().1
        XCTAssertEqual(try check(html, ["decode", "partition", "pca", "rf", "merge", "validate", "0.7500", "48", "true", "predicted"]), 0)
        // The checker is no rubber stamp: a stray tag, a script, an external image all fail.
        XCTAssertEqual(try check(html.replacingOccurrences(of: "</table>", with: "</div>"), []), 1)
        XCTAssertEqual(try check(html.replacingOccurrences(of: "</body>", with: "<script>x()</script></body>"), []), 1)
        XCTAssertEqual(try check(html.replacingOccurrences(of: "</body>", with: "<img src=\"https://x.example/a.png\"></body>"), []), 1)
        XCTAssertEqual(try check(html, ["no such word anywhere"]), 1)
    }
}
