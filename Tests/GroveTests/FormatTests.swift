import Foundation
import Grove
import XCTest

/// The zmat stream: round trips, limits, and every way a stream can be damaged.
final class FormatTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-format-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Writes a stream and returns its bytes.
    func write(_ header: ZmatHeader, chunks: [(Int, [UInt8], [Int32]?)]) throws -> [UInt8] {
        let path = dir + "/s-\(UUID().uuidString).zmat"
        let out = try OutputFile(path: path)
        let w = try ZmatWriter(output: out, header: header)
        for (rows, bytes, labels) in chunks {
            try bytes.withUnsafeBytes { raw in
                if let labels {
                    try labels.withUnsafeBufferPointer { try w.append(rows: rows, elements: raw, labels: $0) }
                } else {
                    try w.append(rows: rows, elements: raw, labels: nil)
                }
            }
        }
        try w.finish()
        try out.commit()
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func read(_ bytes: [UInt8]) throws -> Matrix {
        let path = dir + "/r-\(UUID().uuidString).zmat"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try Matrix.load(path: path)
    }

    func testRoundTripEveryElementType() throws {
        for type in ElementType.allCases {
            for columns in [1, 3, 7, 784] {
                for rows in [0, 1, 5, 1000] {
                    let count = rows * columns * type.size
                    let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ columns) }
                    let labels = (0..<rows).map { Int32($0 % 10) - 3 }
                    for withLabels in [false, true] {
                        let h = ZmatHeader(elementType: type, columns: columns, hasLabels: withLabels,
                                           metadata: ZmatMetadata([("kind", "features"), ("note", "é ✓")]))
                        let s = try write(h, chunks: [(rows, bytes, withLabels ? labels : nil)])
                        let m = try read(s)
                        XCTAssertEqual(m.header, h)
                        XCTAssertEqual(m.rows, rows)
                        XCTAssertEqual(Array(m.elementBytes), bytes, "\(type) \(columns)x\(rows)")
                        if withLabels { XCTAssertEqual(Array(m.labels!), labels) } else { XCTAssertNil(m.labels) }
                    }
                }
            }
        }
    }

    func testManyBlocksAndUnevenAppends() throws {
        // 784-byte rows: a block holds 1337 rows; 5000 rows in uneven appends cross several.
        let h = ZmatHeader(elementType: .uint8, columns: 784, hasLabels: true)
        var chunks = [(Int, [UInt8], [Int32]?)]()
        var all = [UInt8](), allLabels = [Int32]()
        var start = 0
        for n in [1, 999, 1500, 2, 2498] {
            let b = (0..<n * 784).map { UInt8(truncatingIfNeeded: ($0 + start * 784) % 251) }
            let l = (0..<n).map { Int32(($0 + start) % 10) }
            chunks.append((n, b, l))
            all += b
            allLabels += l
            start += n
        }
        let s = try write(h, chunks: chunks)
        let m = try read(s)
        XCTAssertEqual(m.rows, 5000)
        XCTAssertEqual(Array(m.elementBytes), all)
        XCTAssertEqual(Array(m.labels!), allLabels)
        // The content hash does not depend on how rows were appended.
        let one = try write(h, chunks: [(5000, all, allLabels)])
        XCTAssertEqual(one, s)
    }

    func testZeroColumns() throws {
        let h = ZmatHeader(elementType: .float32, columns: 0, hasLabels: true)
        let s = try write(h, chunks: [(3, [], [1, 2, 3])])
        let m = try read(s)
        XCTAssertEqual(m.rows, 3)
        XCTAssertEqual(Array(m.labels!), [1, 2, 3])
    }

    func testTruncationAtEveryOffsetIsAnError() throws {
        let h = ZmatHeader(elementType: .int32, columns: 3, hasLabels: true,
                           metadata: ZmatMetadata([("kind", "features")]))
        let values: [Int32] = [1, -2, 3, 4, 5, -6]
        let bytes = values.withUnsafeBytes { Array($0) }
        let s = try write(h, chunks: [(2, bytes, [7, 8])])
        for cut in 0..<s.count {
            XCTAssertThrowsError(try read(Array(s[0..<cut])), "cut at \(cut) of \(s.count)") { error in
                XCTAssertTrue(error is GroveError, "cut at \(cut): \(error)")
            }
        }
        XCTAssertEqual(try read(s).rows, 2)
    }

    /// Builds a stream from raw content bytes (to forge damaged content with a valid frame).
    func compress(_ content: [UInt8]) throws -> [UInt8] {
        let path = dir + "/c-\(UUID().uuidString)"
        try Data(content).write(to: URL(fileURLWithPath: path))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        p.arguments = ["-q", "-f", "--check", path, "-o", path + ".zst"]
        try p.run()
        p.waitUntilExit()
        return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".zst")))
    }

    func decompress(_ stream: [UInt8]) throws -> [UInt8] {
        let path = dir + "/d-\(UUID().uuidString)"
        try Data(stream).write(to: URL(fileURLWithPath: path + ".zst"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        p.arguments = ["-q", "-d", "-f", path + ".zst", "-o", path]
        try p.run()
        p.waitUntilExit()
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func assertError(_ content: [UInt8], contains text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let s = try compress(content)
        XCTAssertThrowsError(try read(s), file: file, line: line) { error in
            let message = (error as? GroveError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(text), "\(message) does not say '\(text)'", file: file, line: line)
        }
    }

    func validContent() throws -> [UInt8] {
        let h = ZmatHeader(elementType: .uint8, columns: 4, hasLabels: false)
        return try decompress(try write(h, chunks: [(2, [1, 2, 3, 4, 5, 6, 7, 8], nil)]))
    }

    func testWrongMagic() throws {
        var c = try validContent()
        c[0] = 0x41
        try assertError(c, contains: "wrong magic")
        // Not zstd at all.
        XCTAssertThrowsError(try read(Array("hello, world\n".utf8))) { error in
            XCTAssertTrue("\(error)".contains("not a zmat stream"), "\(error)")
        }
    }

    func testAbsurdDimensionsFailBeforeAllocating() throws {
        var c = try validContent()
        c[12] = 0xFF; c[13] = 0xFF; c[14] = 0xFF; c[15] = 0x7F  // columns ~ 2^31
        try assertError(c, contains: "columns is beyond the limit")
        var d = try validContent()
        // The first block's row count, just after the 24-byte header with empty metadata (4+pad).
        let blockAt = 24 + 8
        XCTAssertEqual(Array(d[blockAt..<blockAt + 4]), Array("ROWS".utf8))
        d[blockAt + 4] = 0xFF; d[blockAt + 5] = 0xFF; d[blockAt + 6] = 0xFF; d[blockAt + 7] = 0xFF
        try assertError(d, contains: "beyond the block limit")
    }

    func testLyingEndMarkerAndUnknownType() throws {
        var c = try validContent()
        let endAt = c.count - 24
        XCTAssertEqual(Array(c[endAt..<endAt + 4]), Array("END.".utf8))
        c[endAt + 8] = 9
        try assertError(c, contains: "end marker says 9 rows")
        var t = try validContent()
        t[10] = 9
        try assertError(t, contains: "unknown element type")
        var v = try validContent()
        v[8] = 2
        try assertError(v, contains: "format version 2")
    }

    func testCorruptFrameIsDetected() throws {
        let h = ZmatHeader(elementType: .uint8, columns: 64, hasLabels: false)
        var s = try write(h, chunks: [(64, (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7919 >> 3) }, nil)])
        s[s.count / 2] ^= 0x55
        XCTAssertThrowsError(try read(s)) { error in XCTAssertTrue(error is GroveError, "\(error)") }
    }

    func testConcatenatedStreamsReadAsOneMatrix() throws {
        let h = ZmatHeader(elementType: .uint8, columns: 2, hasLabels: true, metadata: ZmatMetadata([("part", "a")]))
        let a = try write(h, chunks: [(2, [1, 2, 3, 4], [0, 1])])
        var h2 = h
        h2.metadata["part"] = "b"
        let b = try write(h2, chunks: [(1, [5, 6], [2])])
        let m = try read(a + b)
        XCTAssertEqual(m.rows, 3)
        XCTAssertEqual(Array(m.elementBytes), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.header.metadata["part"], "a")
        // The combined content hash equals that of one stream holding all rows.
        let whole = try write(h, chunks: [(3, [1, 2, 3, 4, 5, 6], [0, 1, 2])])
        let r1 = try ZmatReader(path: { let p = dir + "/ab"; try! Data(a + b).write(to: URL(fileURLWithPath: p)); return p }())
        _ = try r1.readAll()
        let r2 = try ZmatReader(path: { let p = dir + "/w"; try! Data(whole).write(to: URL(fileURLWithPath: p)); return p }())
        _ = try r2.readAll()
        XCTAssertEqual(r1.contentHash, r2.contentHash)
        // Every stream's end marker vouches for its own rows: a wrong hash in the second
        // stream is refused at that marker, as in the first (found by python/'s reader).
        var damaged = try decompress(b)
        damaged[damaged.count - 1] ^= 0x01
        XCTAssertThrowsError(try read(a + (try compress(damaged)))) { error in
            XCTAssertTrue("\(error)".contains("content hash mismatch"), "\(error)")
        }
        XCTAssertThrowsError(try read((try compress(damaged)) + a)) { error in
            XCTAssertTrue("\(error)".contains("content hash mismatch"), "\(error)")
        }
        // Incompatible shapes cannot be concatenated.
        let c = try write(ZmatHeader(elementType: .uint8, columns: 3, hasLabels: true), chunks: [(1, [1, 2, 3], [0])])
        XCTAssertThrowsError(try read(a + c)) { error in
            XCTAssertTrue("\(error)".contains("cannot follow"), "\(error)")
        }
    }

    func testXXH64KnownValues() {
        // Reference values from the xxHash project.
        XCTAssertEqual([UInt8]().withUnsafeBytes { XXH64.hash($0) }, 0xEF46DB3751D8E999)
        XCTAssertEqual(Array("abc".utf8).withUnsafeBytes { XXH64.hash($0) }, 0x44BC2CF5AD770999)
        let long = Array("Nobody inspects the spammish repetition".utf8)
        XCTAssertEqual(long.withUnsafeBytes { XXH64.hash($0) }, 0xFBCEA83C8A378BF1)
        // Streaming in odd pieces equals one shot.
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 37) }
        var h = XXH64()
        var at = 0
        for n in [1, 3, 31, 32, 33, 100, 800] {
            data[at..<at + n].withUnsafeBytes { h.update($0) }
            at += n
        }
        XCTAssertEqual(h.finalize(), data.withUnsafeBytes { XXH64.hash($0) })
    }

    func testAtomicOutputLeavesNoFileOnAbandon() throws {
        let path = dir + "/never.zmat"
        let out = try OutputFile(path: path)
        try out.write([1, 2, 3])
        out.abandon()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
