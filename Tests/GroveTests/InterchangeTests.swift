import Foundation
import Grove
import XCTest

/// `.npy` and CSV codecs, checked against arrays numpy itself wrote where numpy is present.
final class InterchangeTests: XCTestCase {
    func testNpyRoundTripEveryType() throws {
        for type in ElementType.allCases {
            let bytes = (0..<(3 * 5 * type.size)).map { UInt8(truncatingIfNeeded: $0 * 11) }
            let encoded = bytes.withUnsafeBytes { Npy.encode(elementType: type, rows: 3, columns: 5, body: $0) }
            XCTAssertEqual((encoded.count - bytes.count) % 64, 0, "data starts 64-aligned")
            let a = try Npy.decode(encoded, name: "t.npy")
            XCTAssertEqual(a.elementType, type)
            XCTAssertEqual(a.rows, 3)
            XCTAssertEqual(a.columns, 5)
            XCTAssertEqual(a.bytes, bytes)
        }
    }

    /// Arrays written by numpy: int64 (numpy's default integer), Fortran order, 1-D.
    func testReadsWhatNumpyWrites() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import numpy as np
            np.save('\(dir)/i8.npy', np.arange(6).reshape(2, 3))
            np.save('\(dir)/f.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
            np.save('\(dir)/v.npy', np.array([7, -1, 3], dtype=np.int32))
            np.save('\(dir)/big.npy', np.array([2**40]))
            """]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("numpy is not installed") }
        func load(_ name: String) throws -> Npy.Array2D {
            try Npy.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))), name: name)
        }
        let i8 = try load("i8.npy")
        XCTAssertEqual(i8.elementType, .int32)
        XCTAssertEqual(i8.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }, [0, 1, 2, 3, 4, 5])
        let f = try load("f.npy")
        XCTAssertEqual(f.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, [0, 1, 2, 3, 4, 5])
        let v = try load("v.npy")
        XCTAssertEqual([v.rows, v.columns], [3, 1])
        XCTAssertThrowsError(try load("big.npy")) { XCTAssertTrue("\($0)".contains("does not fit int32"), "\($0)") }
    }

    func testNpyDamageIsAnError() throws {
        let good = [UInt8](repeating: 1, count: 6).withUnsafeBytes { Npy.encode(elementType: .uint8, rows: 2, columns: 3, body: $0) }
        XCTAssertThrowsError(try Npy.decode(Array(good.dropLast()), name: "cut.npy")) {
            XCTAssertTrue("\($0)".contains("cut.npy"), "\($0)")
        }
        XCTAssertThrowsError(try Npy.decode(Array("hello".utf8), name: "x"))
        // Same header length, a complex dtype.
        var wrongType = good
        let at = good.firstRange(of: Array("|u1".utf8))!.lowerBound
        wrongType.replaceSubrange(at..<at + 3, with: Array("<c8".utf8))
        XCTAssertThrowsError(try Npy.decode(wrongType, name: "c.npy")) { XCTAssertTrue("\($0)".contains("dtype <c8"), "\($0)") }
    }

    func testCsvLinesRoundTripFloatsExactly() throws {
        let block = RowBlock(rows: 2, columns: 3, elementType: .float32, hasLabels: true)
        let v = block.values(as: Float.self)
        let values: [Float] = [0.1, -3.25e-7, 1e30, .pi, 0, 65535.5]
        for i in 0..<6 { v[i] = values[i] }
        block.labels![0] = 4
        block.labels![1] = -2
        let text = Csv.lines(block)
        let parsed = text.split(separator: "\n").map { $0.split(separator: ",").map { Double($0)! } }
        XCTAssertEqual(parsed.map { Int32($0[0]) }, [4, -2])
        XCTAssertEqual(parsed.flatMap { $0.dropFirst().map { Float($0) } }, values)
    }
}
