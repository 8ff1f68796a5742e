import Foundation
import Grove
import XCTest

/// PNG inputs end to end through the library: ImageFolder listing and order, labels, batches
/// and threads, resize, normalize, shard, limit, bad files with and without --skip-bad, and the
/// exactness of the shipped datasets against their CSV source.
final class DecodeFolderTests: DecodeTestCase {
    func png(_ w: Int, _ h: Int, _ seed: Int) -> [UInt8] {
        PNGWriter.encode(width: w, height: h, colorType: .gray, bitDepth: 8,
                         samples: (0..<w * h).map { UInt16(($0 * 31 + seed * 7) % 256) })
    }

    func pixels(_ w: Int, _ h: Int, _ seed: Int) -> [UInt8] {
        (0..<w * h).map { UInt8(($0 * 31 + seed * 7) % 256) }
    }

    /// A folder with labels 0, 2, 10 (numeric order, not byte order) and mixed flavours.
    func makeFolder() throws -> String {
        let root = dir + "/imgs"
        try write("imgs/10/a.png", png(4, 3, 1))
        try write("imgs/2/b.png", png(4, 3, 2))
        try write("imgs/2/a.png", png(4, 3, 3))
        try write("imgs/0/z.PNG", png(4, 3, 4))
        // RGB of gray values decodes to the same gray.
        try write("imgs/0/y.png", PNGWriter.encode(width: 4, height: 3, colorType: .rgb, bitDepth: 8,
                                                   samples: pixels(4, 3, 5).flatMap { [UInt16($0), UInt16($0), UInt16($0)] }))
        try write("imgs/2/notes.txt", Array("not an image".utf8))
        try write("imgs/.hidden/x.png", png(4, 3, 6))
        return root
    }

    func testFolderOrderLabelsAndMetadata() throws {
        let root = try makeFolder()
        var notes: [String] = []
        let path = dir + "/o.zmat"
        let out = try OutputFile(path: path)
        _ = try MnistDecoder.run(.pngFolder(root), options: DecodeOptions(), output: out, note: { notes.append($0) })
        try out.commit()
        let m = try Matrix.load(path: path)
        XCTAssertEqual(m.rows, 5)
        XCTAssertEqual(m.columns, 12)
        XCTAssertEqual(Array(m.labels!), [0, 0, 2, 2, 10])
        XCTAssertEqual(Array(m.elementBytes), [5, 4, 3, 2, 1].flatMap { pixels(4, 3, $0) })
        XCTAssertEqual(m.header.metadata["feature-space"], "pixels:4x3")
        XCTAssertEqual(m.header.metadata["source.format"], "png-folder")
        XCTAssertEqual(m.header.metadata["param.alpha-background"], "black")
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("notes.txt"), notes[0])
    }

    func testThreadsAndBatchSizesDoNotChangeTheOutput() throws {
        for i in 0..<37 { try write("many/\(i % 3)/\(String(format: "%03d", i)).png", png(5, 5, i)) }
        var hashes = Set<String>()
        for (threads, batch) in [(1, 256), (2, 1), (4, 3), (3, 7)] {
            var options = DecodeOptions()
            options.threads = threads
            options.batchSize = batch
            let path = dir + "/t\(threads).zmat"
            let out = try OutputFile(path: path)
            let summary = try MnistDecoder.run(.pngFolder(dir + "/many"), options: options, output: out)
            try out.commit()
            XCTAssertEqual(summary.rows, 37)
            hashes.insert(Array(try Data(contentsOf: URL(fileURLWithPath: path))).description)
        }
        XCTAssertEqual(hashes.count, 1, "output depends on threads or batch size")
    }

    func testShardLimitNormalizeResize() throws {
        for i in 0..<10 { try write("s/\(i % 2)/\(i).png", png(4, 4, i)) }
        // Folder order: label 0: 0,2,4,6,8; label 1: 1,3,5,7,9.
        let order = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
        var options = DecodeOptions()
        options.shard = Shard(index: 1, count: 3)
        options.limit = 2
        let m = try decode(.pngFolder(dir + "/s"), options)
        XCTAssertEqual(Array(m.elementBytes), [order[1], order[4]].flatMap { pixels(4, 4, $0) })
        options = DecodeOptions()
        options.limit = 0
        let none = try decode(.pngFolder(dir + "/s"), options)
        XCTAssertEqual(none.rows, 0)
        XCTAssertEqual(none.columns, 16)
        options = DecodeOptions()
        options.normalize = true
        let n = try decode(.pngFolder(dir + "/s"), options)
        XCTAssertEqual(n.elementType, .float32)
        XCTAssertEqual(Array(n.values(as: Float.self)), order.flatMap { pixels(4, 4, $0) }.map { Float($0) / 255 })
        XCTAssertEqual(n.header.metadata["feature-space"], "pixels:4x4/255")
        XCTAssertEqual(n.header.metadata["param.normalize"], "true")
        options = DecodeOptions()
        options.resize = ImageSize(width: 2, height: 2)
        let r = try decode(.pngFolder(dir + "/s"), options)
        XCTAssertEqual(r.columns, 4)
        XCTAssertEqual(r.header.metadata["feature-space"], "pixels:2x2")
        XCTAssertEqual(r.header.metadata["source.size"], "4x4")
        let expected = order.flatMap {
            ImageResizer(sourceWidth: 4, sourceHeight: 4, width: 2, height: 2)
                .resize(GrayImage(width: 4, height: 4, pixels: pixels(4, 4, $0))).pixels
        }
        XCTAssertEqual(Array(r.elementBytes), expected)
    }

    func testMixedSizesNeedResize() throws {
        try write("mix/1/a.png", png(4, 4, 1))
        try write("mix/1/b.png", png(6, 2, 2))
        assertFails(try decode(.pngFolder(dir + "/mix")), containing: ["mix/1/b.png", "6x2, expected 4x4", "--resize"])
        var options = DecodeOptions()
        options.resize = ImageSize(width: 3, height: 3)
        XCTAssertEqual(try decode(.pngFolder(dir + "/mix"), options).rows, 2)
        options = DecodeOptions()
        options.skipBad = true
        var warnings: [String] = []
        let m = try decode(.pngFolder(dir + "/mix"), options, warnings: &warnings)
        XCTAssertEqual(m.rows, 1)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("b.png"))
    }

    func testBadFilesFailOrAreSkipped() throws {
        try write("bad/3/a.png", png(4, 4, 1))
        var truncated = png(4, 4, 2)
        truncated.removeLast(20)
        try write("bad/3/b.png", truncated)
        try write("bad/3/c.png", Array("GIF89a not a png".utf8))
        try write("bad/4/d.png", png(4, 4, 3))
        assertFails(try decode(.pngFolder(dir + "/bad")), containing: ["bad/3/b.png"])
        var options = DecodeOptions()
        options.skipBad = true
        var warnings: [String] = []
        let m = try decode(.pngFolder(dir + "/bad"), options, warnings: &warnings)
        XCTAssertEqual(Array(m.labels!), [3, 4])
        XCTAssertEqual(Array(m.elementBytes), pixels(4, 4, 1) + pixels(4, 4, 3))
        XCTAssertEqual(warnings.count, 2)
        XCTAssertTrue(warnings[0].contains("b.png") && warnings[1].contains("c.png: not a PNG"), "\(warnings)")
    }

    func testLabelFoldersMustBeNumbers() throws {
        try write("named/cat/a.png", png(2, 2, 1))
        assertFails(try decode(.pngFolder(dir + "/named")), containing: ["named/cat", "label folder 'cat' is not a number"])
        var options = DecodeOptions()
        options.labels = false
        let m = try decode(.pngFolder(dir + "/named"), options)
        XCTAssertNil(m.labels)
        XCTAssertEqual(m.rows, 1)
        try write("flat/a.png", png(2, 2, 1))
        assertFails(try decode(.pngFolder(dir + "/flat")), containing: ["flat/a.png", "not inside a label folder"])
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        assertFails(try decode(.pngFolder(dir + "/empty")), containing: ["empty", "no PNG images"])
    }

    func testPathListKeepsItsOrderAndTakesLabelsFromParents() throws {
        let a = try write("p/7/a.png", png(3, 3, 1))
        let b = try write("p/-2/b.png", png(3, 3, 2))
        let m = try decode(.pngFiles([b, a, b], from: "test"))
        XCTAssertEqual(Array(m.labels!), [-2, 7, -2])
        XCTAssertEqual(Array(m.elementBytes), pixels(3, 3, 2) + pixels(3, 3, 1) + pixels(3, 3, 2))
        let c = try write("p/x/c.png", png(3, 3, 3))
        assertFails(try decode(.pngFiles([a, c], from: "test")), containing: ["p/x/c.png", "'x' is not a number"])
        assertFails(try decode(.pngFiles([a, dir + "/p/7/missing.png"], from: "test")), containing: ["missing.png", "cannot open"])
    }

    // MARK: - The shipped datasets decode exactly to their CSV source

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// SHA-256 by the system's `sha256sum` (independent of Grove and of the dataset script).
    func sha256(_ bytes: [UInt8]) throws -> String {
        let input = try write("sha-\(UUID().uuidString)", bytes)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "sha256sum '\(input)'"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
    }

    func checkDataset(_ name: String, rows: Int) throws {
        let root = Self.repositoryRoot + "/datasets/" + name
        let manifest = try String(contentsOfFile: root + ".pixels.sha256", encoding: .utf8)
        var expected: [String: String] = [:]
        for line in manifest.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { expected[String(parts[0])] = String(parts[1]) }
        }
        let m = try decode(.pngFolder(root))
        XCTAssertEqual(m.rows, rows)
        XCTAssertEqual(expected["rows"], "\(rows)")
        XCTAssertEqual(m.columns, 784)
        XCTAssertEqual(try sha256(Array(m.elementBytes)), expected["pixels"], "\(name): pixels differ from the CSV")
        XCTAssertEqual(try sha256(m.labels!.map { UInt8($0) }), expected["labels"], "\(name): labels differ from the CSV")
    }

    func testShippedTrainingImagesMatchTheCSV() throws {
        try checkDataset("mnist-images-2k", rows: 2000)
    }

    func testShippedTestImagesMatchTheCSV() throws {
        try checkDataset("mnist-test-3k", rows: 3000)
    }
}
