import Foundation
import Grove
import XCTest

/// Accuracy, confusion matrix and per-class scores against counts worked out by hand.
final class ForestReportTests: XCTestCase {
    func report() -> ClassificationReport {
        // Class 0: 3 rows, 2 right, 1 called 1. Class 1: 2 rows, both right.
        // Class 2: 1 row, called 1. Class 3 (model class) never seen.
        var r = ClassificationReport(classes: [0, 1, 2, 3])
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (2, 1)] as [(Int32, Int32)] {
            r.record(truth: t, predicted: p)
        }
        return r
    }

    func testScores() {
        let r = report()
        XCTAssertEqual(r.labels, [0, 1, 2, 3])
        XCTAssertEqual(r.total, 6)
        XCTAssertEqual(r.correct, 4)
        XCTAssertEqual(r.accuracy, 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(r.confusion, [2, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(r.precision(0), 1, accuracy: 1e-12)
        XCTAssertEqual(r.recall(0), 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(r.f1(0), 0.8, accuracy: 1e-12)
        XCTAssertEqual(r.precision(1), 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.recall(1), 1, accuracy: 1e-12)
        XCTAssertEqual(r.precision(2), 0)  // nothing predicted as 2: 0, as scikit-learn reports
        XCTAssertEqual(r.f1(2), 0)
        XCTAssertEqual(r.support(3), 0)
        let weighted = r.average(weighted: true)
        XCTAssertEqual(weighted.recall, r.accuracy, accuracy: 1e-12)  // weighted recall = accuracy
    }

    func testUnknownLabelsJoinTheTable() {
        var r = ClassificationReport(classes: [1, 2])
        r.record(truth: 7, predicted: 1)
        r.record(truth: 1, predicted: 1)
        XCTAssertEqual(r.labels, [1, 2, 7])
        XCTAssertEqual(r.confusion, [1, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    func testTextAndJSON() throws {
        let r = report()
        let text = r.text()
        XCTAssertTrue(text.hasPrefix("accuracy: 0.6667\nrows: 6 (4 correct)\n"), text)
        XCTAssertTrue(text.contains("   macro avg"), text)
        let object = try JSONSerialization.jsonObject(with: Data(r.json(extra: [("note", "1")]).utf8)) as! [String: Any]
        XCTAssertEqual(object["accuracy"] as! Double, 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(object["confusion"] as! [[Int]], [[2, 1, 0, 0], [0, 2, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
        XCTAssertEqual(object["note"] as? Int, 1)
        XCTAssertEqual(((object["classes"] as! [[String: Any]])[0]["recall"] as! Double), 2.0 / 3.0, accuracy: 1e-12)
    }

    func testHeatMapIsAPNGOfTheRightSize() throws {
        let png = try ConfusionPlot.png(report())
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 40 + 4 * 44 + 4)
        XCTAssertEqual(height, width)
        XCTAssertEqual(png[25], 2)  // colour type: RGB
        // Many classes: the image stays a few thousand pixels wide.
        var big = ClassificationReport(classes: (0..<1500).map { Int32($0) })
        big.record(truth: 3, predicted: 4)
        let bigPNG = try ConfusionPlot.png(big)
        let bigWidth = bigPNG[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertLessThanOrEqual(bigWidth, 40 + 1500 * 2 + 4)
    }

    func testFormatFixed() {
        XCTAssertEqual(formatFixed(0.91234, 4), "0.9123")
        XCTAssertEqual(formatFixed(0.99996, 4), "1.0000")
        XCTAssertEqual(formatFixed(1, 4), "1.0000")
        XCTAssertEqual(formatFixed(-0.5, 2), "-0.50")
        XCTAssertEqual(formatFixed(0.00005, 4), "0.0001")
    }
}
