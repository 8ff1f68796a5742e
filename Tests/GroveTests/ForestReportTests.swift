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
        // Left: 20 for "TRUE", one label digit at scale 2 (6) + 8; top: accuracy, title, labels.
        XCTAssertEqual(width, 20 + 14 + 4 * 44 + 4)
        XCTAssertEqual(height, 20 + 16 + 16 + 4 * 44 + 4)
        XCTAssertEqual(png[25], 2)  // colour type: RGB
        // Many classes: the image stays a few thousand pixels wide.
        var big = ClassificationReport(classes: (0..<1500).map { Int32($0) })
        big.record(truth: 3, predicted: 4)
        let bigPNG = try ConfusionPlot.png(big)
        let bigWidth = bigPNG[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertLessThanOrEqual(bigWidth, 40 + 1500 * 2 + 4)
    }

    /// The accuracy line, the axis titles and the class names are drawn (dark pixels where
    /// each goes), and longer names widen the left margin.
    func testHeatMapHasAccuracyTitlesAndNames() throws {
        func gray(_ bytes: [UInt8]) throws -> GrayImage {
            try bytes.withUnsafeBytes { try PNGCodec.decodeGray($0, name: "plot") }
        }
        func dark(_ image: GrayImage, _ xs: Range<Int>, _ ys: Range<Int>) -> Int {
            var count = 0
            for y in ys { for x in xs where image.pixels[y * image.width + x] < 100 { count += 1 } }
            return count
        }
        let plain = try gray(ConfusionPlot.png(report()))
        let named = try gray(ConfusionPlot.png(report(), classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress"]))
        XCTAssertEqual(named.width - plain.width, ConfusionPlot.textWidth("T-SHIRT/TOP", scale: 2) - ConfusionPlot.textWidth("0", scale: 2))
        for image in [plain, named] {
            let left = image.width - 4 - 4 * 44
            XCTAssertGreaterThan(dark(image, 4..<126, 4..<14), 100, "accuracy line")
            XCTAssertGreaterThan(dark(image, left..<image.width, 21..<35), 60, "PREDICTED")
            XCTAssertGreaterThan(dark(image, 4..<10, 52..<image.height), 30, "TRUE")
            XCTAssertGreaterThan(dark(image, 20..<left - 4, 52..<image.height), 20, "row names")
        }
        // "ACCURACY 0.6667" differs from a perfect score's line.
        var perfect = ClassificationReport(classes: [0, 1, 2, 3])
        for l in 0..<4 { perfect.record(truth: Int32(l), predicted: Int32(l)) }
        let p = try gray(ConfusionPlot.png(perfect))
        XCTAssertNotEqual(p.pixels[0..<(14 * p.width)], plain.pixels[0..<(14 * plain.width)])
    }

    func testFormatFixed() {
        XCTAssertEqual(formatFixed(0.91234, 4), "0.9123")
        XCTAssertEqual(formatFixed(0.99996, 4), "1.0000")
        XCTAssertEqual(formatFixed(1, 4), "1.0000")
        XCTAssertEqual(formatFixed(-0.5, 2), "-0.50")
        XCTAssertEqual(formatFixed(0.00005, 4), "0.0001")
    }
}
