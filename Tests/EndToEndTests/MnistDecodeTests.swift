import Foundation
import Grove
import XCTest

/// `mnist-decode` as users run it: real processes, real pipes, exit codes and messages.
final class MnistDecodeTests: XCTestCase {
    let root = Tool.repositoryRoot
    var mnist2k: String { root + "/datasets/mnist-images-2k" }
    let fashion = "/usr/share/datasets/fashion-mnist"

    /// Loads a zmat stream from bytes (through a file, with the library's reader).
    func load(_ data: Data, _ dir: String) throws -> Matrix {
        let path = dir + "/loaded-\(UUID().uuidString).zmat"
        try data.write(to: URL(fileURLWithPath: path))
        return try Matrix.load(path: path)
    }

    func sha256(_ bytes: [UInt8], _ dir: String) throws -> String {
        let path = dir + "/sha-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return String(try Tool.shell("sha256sum '\(path)'").stdoutText.prefix(64))
    }

    func manifest(_ name: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in try String(contentsOfFile: root + "/datasets/\(name).pixels.sha256", encoding: .utf8)
            .split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    func testFolderToStdoutMatchesTheCSVSource() throws {
        let dir = try Tool.temporaryDirectory(self)
        let r = try Tool.run("mnist-decode", [mnist2k])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let m = try load(r.stdout, dir)
        XCTAssertEqual(m.rows, 2000)
        XCTAssertEqual(m.columns, 784)
        XCTAssertEqual(m.header.metadata["feature-space"], "pixels:28x28")
        XCTAssertEqual(m.header.metadata["kind"], "features")
        let expected = try manifest("mnist-images-2k")
        XCTAssertEqual(try sha256(Array(m.elementBytes), dir), expected["pixels"])
        XCTAssertEqual(try sha256(m.labels!.map { UInt8($0) }, dir), expected["labels"])
    }

    func testOutputFileAndThreadsGiveIdenticalBytes() throws {
        let dir = try Tool.temporaryDirectory(self)
        let one = try Tool.run("mnist-decode", [mnist2k, "--threads", "1", "-o", dir + "/one.zmat"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let four = try Tool.shell("mnist-decode '\(mnist2k)' --threads 4 | cat > '\(dir)/four.zmat'")
        XCTAssertEqual(four.status, 0, four.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/one.zmat")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/four.zmat")))
    }

    func testPathListOnStdinKeepsItsOrder() throws {
        let dir = try Tool.temporaryDirectory(self)
        let list = "\(mnist2k)/7/03502.png\n\(mnist2k)/0/00001.png\n"
        let listed = try Tool.run("mnist-decode", ["--paths", "-"], stdin: Data(list.utf8))
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let m = try load(listed.stdout, dir)
        XCTAssertEqual(Array(m.labels!), [7, 0])
        // The same two files as arguments give the same rows.
        let args = try Tool.run("mnist-decode", ["\(mnist2k)/7/03502.png", "\(mnist2k)/0/00001.png"])
        XCTAssertEqual(args.status, 0, args.stderr)
        let fromArguments = try load(args.stdout, dir)
        XCTAssertEqual(Array(fromArguments.elementBytes), Array(m.elementBytes))
    }

    func testHeadEndingEarlyIsNotAFailure() throws {
        let r = try Tool.shell("mnist-decode '\(mnist2k)' | head -c 100 > /dev/null")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "")
    }

    func testPipelinesWithZmatWhenItIsBuilt() throws {
        let probe = try Tool.shell("mnist-decode '\(mnist2k)' --limit 3 | zmat info -")
        guard probe.status == 0 else { throw XCTSkip("zmat info is not available yet: \(probe.stderr)") }
        XCTAssertTrue(probe.stdoutText.contains("784"), probe.stdoutText)
    }

    func testIDXFromStdinAndWithLabels() throws {
        let images = fashion + "/t10k-images-idx3-ubyte.gz", labels = fashion + "/t10k-labels-idx1-ubyte.gz"
        guard FileManager.default.fileExists(atPath: images) else { throw XCTSkip("dataset-fashion-mnist not installed") }
        let dir = try Tool.temporaryDirectory(self)
        // Piped in whole (a --limit would close the pipe early and fail `cat` under pipefail).
        let piped = try Tool.shell("cat '\(images)' | mnist-decode > '\(dir)/a.zmat'")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        let a = try Matrix.load(path: dir + "/a.zmat")
        XCTAssertEqual(a.rows, 10000)
        let limited = try Tool.run("mnist-decode", ["--limit", "500", images])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertEqual(try load(limited.stdout, dir).rows, 500)
        XCTAssertNil(a.labels)
        let direct = try Tool.run("mnist-decode", [images, labels, "-o", dir + "/b.zmat"])
        XCTAssertEqual(direct.status, 0, direct.stderr)
        let b = try Matrix.load(path: dir + "/b.zmat")
        XCTAssertEqual(b.rows, 10000)
        XCTAssertEqual(Array(b.elementBytes), Array(a.elementBytes))
        // The pixels are the IDX data after its 16-byte header, byte for byte (checked with zcat).
        let idxHash = try Tool.shell("zcat '\(images)' | tail -c +17 | sha256sum").stdoutText.prefix(64)
        XCTAssertEqual(try sha256(Array(b.elementBytes), dir), String(idxHash))
        let labelHash = try Tool.shell("zcat '\(labels)' | tail -c +9 | sha256sum").stdoutText.prefix(64)
        XCTAssertEqual(try sha256(b.labels!.map { UInt8($0) }, dir), String(labelHash))
    }

    func testBadInputExitsOneNamingTheFileAndLeavesNoOutput() throws {
        let dir = try Tool.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/imgs/4", withIntermediateDirectories: true)
        let good = try Data(contentsOf: URL(fileURLWithPath: mnist2k + "/4/02001.png"))
        for i in 0..<300 { try good.write(to: URL(fileURLWithPath: dir + "/imgs/4/\(String(format: "%03d", i)).png")) }
        try good.prefix(good.count - 30).write(to: URL(fileURLWithPath: dir + "/imgs/4/299.png"))
        let r = try Tool.run("mnist-decode", [dir + "/imgs", "-o", dir + "/out.zmat"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("mnist-decode: \(dir)/imgs/4/299.png: "), r.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("out.zmat") }
        XCTAssertEqual(left, [], "output or temporary file left behind")
        // --skip-bad names the file and goes on.
        let skipped = try Tool.run("mnist-decode", [dir + "/imgs", "--skip-bad", "-o", dir + "/out.zmat"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("skipped \(dir)/imgs/4/299.png"), skipped.stderr)
        XCTAssertEqual(try Matrix.load(path: dir + "/out.zmat").rows, 299)

        try FileManager.default.createDirectory(atPath: dir + "/named/shoe", withIntermediateDirectories: true)
        try good.write(to: URL(fileURLWithPath: dir + "/named/shoe/a.png"))
        let named = try Tool.run("mnist-decode", [dir + "/named"])
        XCTAssertEqual(named.status, 1)
        XCTAssertTrue(named.stderr.contains("label folder 'shoe' is not a number"), named.stderr)

        let idx = Data([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 0, count: 784))
        try idx.write(to: URL(fileURLWithPath: dir + "/short.idx3"))
        let lying = try Tool.run("mnist-decode", [dir + "/short.idx3", "-o", dir + "/x.zmat"])
        XCTAssertEqual(lying.status, 1)
        XCTAssertTrue(lying.stderr.contains("short.idx3: IDX header declares 5 images"), lying.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.zmat"))
        let piped = try Tool.shell("cat '\(dir)/short.idx3' | mnist-decode > /dev/null")
        XCTAssertEqual(piped.status, 1)
        XCTAssertTrue(piped.stderr.contains("<stdin>: truncated"), piped.stderr)

        let missing = try Tool.run("mnist-decode", [dir + "/nope.idx3"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.idx3: cannot open"), missing.stderr)
    }

    func testUsageErrorsExit64WithUsage() throws {
        for args in [["--resize", "0x28", mnist2k], ["--shard", "2/2", mnist2k], ["--limit", "-1", mnist2k],
                     ["--paths", "-", mnist2k], ["--bogus"], [mnist2k, mnist2k]] {
            let r = try Tool.run("mnist-decode", args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage: mnist-decode"), "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.isEmpty)
        }
        let help = try Tool.run("mnist-decode", ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdoutText.contains("Examples:"))
    }
}
