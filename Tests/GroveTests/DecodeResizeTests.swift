import Grove
import XCTest

/// The resize filter, checked against values worked out by hand from its definition (area
/// average when shrinking, as OpenCV's INTER_AREA; bilinear between pixel centres when
/// enlarging, as OpenCV's INTER_LINEAR).
final class DecodeResizeTests: XCTestCase {
    func resize(_ pixels: [UInt8], _ w: Int, _ h: Int, to tw: Int, _ th: Int) -> [UInt8] {
        ImageResizer(sourceWidth: w, sourceHeight: h, width: tw, height: th)
            .resize(GrayImage(width: w, height: h, pixels: pixels)).pixels
    }

    func testSameSizeIsACopy() {
        let p = (0..<28 * 28).map { UInt8(($0 * 97) % 256) }
        XCTAssertEqual(resize(p, 28, 28, to: 28, 28), p)
    }

    func testHalvingAveragesExactBlocks() {
        let p: [UInt8] = (0..<28 * 28).map { (i: Int) -> UInt8 in UInt8((i * 97 + i / 28) % 256) }
        let out = resize(p, 28, 28, to: 14, 14)
        for y in 0..<14 {
            for x in 0..<14 {
                let top: Int = (2 * y) * 28 + 2 * x
                let bottom: Int = top + 28
                let s: Int = Int(p[top]) + Int(p[top + 1]) + Int(p[bottom]) + Int(p[bottom + 1])
                XCTAssertEqual(Int(out[y * 14 + x]), (s + 2) / 4, "(\(x), \(y))")
            }
        }
    }

    func testFractionalAreaWeights() {
        // 3 -> 2: output 0 covers source [0, 1.5): weights 2/3, 1/3.
        XCTAssertEqual(resize([0, 90, 180], 3, 1, to: 2, 1), [30, 150])
        // 5 -> 1: the mean.
        XCTAssertEqual(resize([10, 20, 30, 40, 51], 5, 1, to: 1, 1), [30])
        XCTAssertEqual(resize([10, 20, 30, 40, 51], 1, 5, to: 1, 1), [30])
    }

    func testBilinearUpscaleBetweenCentres() {
        // 2 -> 4: sample points -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        XCTAssertEqual(resize([0, 255], 2, 1, to: 4, 1), [0, 64, 191, 255])
        XCTAssertEqual(resize([0, 255], 1, 2, to: 1, 4), [0, 64, 191, 255])
        // 1 -> n: constant.
        XCTAssertEqual(resize([77], 1, 1, to: 3, 5), [UInt8](repeating: 77, count: 15))
        // 28 -> 64 keeps a constant image constant and stays within the source range.
        let flat = [UInt8](repeating: 200, count: 784)
        XCTAssertEqual(resize(flat, 28, 28, to: 64, 64), [UInt8](repeating: 200, count: 4096))
    }

    func testMixedAxesAndDeterminism() {
        let p = (0..<10 * 6).map { UInt8(($0 * 41) % 256) }
        let a = resize(p, 10, 6, to: 4, 9)
        XCTAssertEqual(a.count, 36)
        XCTAssertEqual(a, resize(p, 10, 6, to: 4, 9))
        // Separable: shrinking x only then y only equals doing both.
        let xOnly = resize(p, 10, 6, to: 5, 6)
        XCTAssertEqual(xOnly[0], UInt8((Int(p[0]) + Int(p[1]) + 1) / 2))
    }
}
