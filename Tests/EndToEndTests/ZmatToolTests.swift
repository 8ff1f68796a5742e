import Foundation
import Grove
import XCTest

/// `zmat` through real pipes: conversions, slicing, shards, damage, and Unix manners.
final class ZmatToolTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = try Tool.temporaryDirectory(self)
    }

    /// A CSV of `rows` rows: label = row % 10, then 6 values.
    func csv(rows: Int) -> Data {
        var text = "label,a,b,c,d,e,f\n"
        for r in 0..<rows {
            text += "\(r % 10)," + (0..<6).map { "\((r * 7 + $0 * 13) % 256)" }.joined(separator: ",") + "\n"
        }
        return Data(text.utf8)
    }

    func makeStream(rows: Int, name: String = "data.zmat") throws -> String {
        let path = dir + "/" + name
        let r = try Tool.run("zmat", ["convert", "--from", "csv", "--type", "uint8", "-o", path], stdin: csv(rows: rows))
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testCsvRoundTripThroughPipes() throws {
        let input = csv(rows: 25)
        let r = try Tool.shell("zmat convert --from csv --type uint8 | zmat cat | zmat convert --to csv", stdin: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutText, String(decoding: input, as: UTF8.self).replacingOccurrences(of: "a,b,c,d,e,f", with: "x0,x1,x2,x3,x4,x5"))
    }

    func testInfoDescribesTheStream() throws {
        let path = try makeStream(rows: 30)
        let r = try Tool.run("zmat", ["info", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("30 rows x 6 columns"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("element type:  uint8"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("yes, 10 distinct (0:3 1:3"), r.stdoutText)
        let j = try Tool.run("zmat", ["info", "--json", path])
        let object = try JSONSerialization.jsonObject(with: j.stdout) as! [String: Any]
        XCTAssertEqual(object["rows"] as? Int, 30)
        XCTAssertEqual((object["metadata"] as? [String: String])?["kind"], "features")
    }

    func testHeadAndNpyExport() throws {
        let path = try makeStream(rows: 100)
        let npy = dir + "/h.npy"
        let r = try Tool.shell("zmat head -n 4 '\(path)' | zmat convert --to npy > '\(npy)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try Npy.decode(Array(try Data(contentsOf: URL(fileURLWithPath: npy))), name: npy)
        XCTAssertEqual(a.rows, 4)
        XCTAssertEqual(a.columns, 6)
        XCTAssertEqual(a.elementType, .uint8)
        XCTAssertEqual(Array(a.bytes[6..<12]), (0..<6).map { UInt8((7 + $0 * 13) % 256) })
        // Labels alone, as a 1-D int32 array.
        let y = dir + "/y.npy"
        XCTAssertEqual(try Tool.run("zmat", ["convert", path, "--labels", "-o", y]).status, 0)
        let labels = try Npy.decode(Array(try Data(contentsOf: URL(fileURLWithPath: y))), name: y)
        XCTAssertEqual(labels.elementType, .int32)
        XCTAssertEqual(labels.rows, 100)
        // And back, with the labels attached.
        let back = dir + "/back.zmat"
        let x = dir + "/x.npy"
        XCTAssertEqual(try Tool.run("zmat", ["convert", path, "-o", x]).status, 0)
        XCTAssertEqual(try Tool.run("zmat", ["convert", x, "--labels-from", y, "-o", back]).status, 0)
        let m1 = try Matrix.load(path: path), m2 = try Matrix.load(path: back)
        XCTAssertEqual(Array(m1.elementBytes), Array(m2.elementBytes))
        XCTAssertEqual(Array(m1.labels!), Array(m2.labels!))
    }

    func testShardsPartitionEveryRowOnce() throws {
        let path = try makeStream(rows: 103)
        for shuffle in [false, true] {
            var rows = [[UInt8]]()
            for i in 0..<3 {
                let out = dir + "/s\(i).zmat"
                var args = ["split", "-n", "3", "--index", "\(i)", path, "-o", out]
                if shuffle { args += ["--shuffle", "--seed", "42"] }
                let r = try Tool.run("zmat", args)
                XCTAssertEqual(r.status, 0, r.stderr)
                let m = try Matrix.load(path: out)
                XCTAssertEqual(m.rows, 103 / 3 + (i < 103 % 3 ? 1 : 0))
                for k in 0..<m.rows { rows.append(Array(m.elementBytes[k * 6..<(k + 1) * 6])) }
            }
            let all = try Matrix.load(path: path)
            let expected = (0..<103).map { Array(all.elementBytes[$0 * 6..<($0 + 1) * 6]) }
            XCTAssertEqual(rows.sorted { $0.lexicographicallyPrecedes($1) }, expected.sorted { $0.lexicographicallyPrecedes($1) })
            if !shuffle { XCTAssertEqual(rows[0], expected[0]); XCTAssertEqual(rows[1], expected[3]) }
        }
        // --pattern writes all shards at once, identical to --index runs.
        let r = try Tool.run("zmat", ["split", "-n", "3", "--shuffle", "--seed", "42", path, "--pattern", dir + "/p{i}.zmat"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/p2.zmat")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/s2.zmat")))
        // Shuffle then round-robin equals split --shuffle.
        let s = try Tool.shell("zmat shuffle --seed 42 '\(path)' | zmat split -n 3 --index 2 | zmat convert --to csv")
        let t = try Tool.shell("zmat convert --to csv '\(dir!)/p2.zmat'")
        XCTAssertEqual(s.stdoutText, t.stdoutText)
    }

    func testVerifyFindsDamage() throws {
        let path = try makeStream(rows: 500)
        XCTAssertEqual(try Tool.run("zmat", ["verify", path]).status, 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir + "/cut.zmat"
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: cut))
        let r = try Tool.run("zmat", ["verify", path, cut])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cut.zmat: truncated"), r.stderr)
        XCTAssertTrue(r.stdoutText.contains("data.zmat: ok, 500 rows"), r.stdoutText)
        bytes[bytes.count / 2] ^= 0xFF
        let flipped = dir + "/flip.zmat"
        try bytes.write(to: URL(fileURLWithPath: flipped))
        XCTAssertEqual(try Tool.run("zmat", ["verify", flipped]).status, 1)
        let junk = try Tool.run("zmat", ["info"], stdin: Data("not a matrix".utf8))
        XCTAssertEqual(junk.status, 1)
        XCTAssertTrue(junk.stderr.hasPrefix("zmat: <stdin>: not a zmat stream"), junk.stderr)
    }

    func testEarlyClosedPipeIsNotAFailure() throws {
        let path = try makeStream(rows: 20000)
        let r = try Tool.shell("zmat cat '\(path)' | head -c 100 > /dev/null; echo \"status ${PIPESTATUS:-}\"", stdin: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let s = try Tool.exec("/bin/bash", ["-c", "set -o pipefail; '\(Tool.path("zmat"))' cat '\(path)' | head -c 100 > /dev/null"], stdin: nil, cwd: nil)
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(s.stderr, "")
    }

    func testRefusesToWriteBinaryToATerminal() throws {
        let path = try makeStream(rows: 5)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw XCTSkip("util-linux 'script' is needed to give the tool a terminal")
        }
        let r = try Tool.exec("/usr/bin/script", ["-qec", "'\(Tool.path("zmat"))' head '\(path)'", "/dev/null"], stdin: nil, cwd: nil)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdoutText.contains("refusing to write binary data to a terminal"), r.stdoutText)
        let forced = try Tool.exec("/usr/bin/script", ["-qec", "'\(Tool.path("zmat"))' head --force '\(path)' > /dev/null", "/dev/null"], stdin: nil, cwd: nil)
        XCTAssertEqual(forced.status, 0)
    }

    func testUsageErrorsExit64WithUsage() throws {
        let r = try Tool.run("zmat", ["split", "-n", "0", "--index", "0"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("Usage:"), r.stderr)
        XCTAssertEqual(try Tool.run("zmat", ["frobnicate"]).status, 64)
        XCTAssertEqual(try Tool.run("zmat", ["--help"]).status, 0)
    }

    func testFailedWriteLeavesNoFile() throws {
        let a = try makeStream(rows: 5)
        let b = dir + "/other.zmat"
        XCTAssertEqual(try Tool.run("zmat", ["convert", "--from", "csv", "-o", b], stdin: Data("x,y\n1,2\n".utf8)).status, 0)
        let out = dir + "/joined.zmat"
        let r = try Tool.run("zmat", ["cat", a, b, "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("other.zmat: is float32 x 2"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp.") }
        XCTAssertEqual(leftovers, [])
        // A CSV with a bad row: error names the line, no output left.
        let bad = try Tool.run("zmat", ["convert", "--from", "csv", "-o", dir + "/bad.zmat"], stdin: Data("a,b\n1,2\n3,x\n".utf8))
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("line 3, field 2: 'x' is not a number"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.zmat"))
    }

    func testMeanAveragesStreamsWithTheSameRows() throws {
        let a = dir + "/a.zmat", b = dir + "/b.zmat", c = dir + "/c.zmat"
        XCTAssertEqual(try Tool.run("zmat", ["convert", "--from", "csv", "-o", a], stdin: Data("label,p,q\n1,0.5,0.25\n2,1,0\n".utf8)).status, 0)
        XCTAssertEqual(try Tool.run("zmat", ["convert", "--from", "csv", "-o", b], stdin: Data("label,p,q\n1,0.25,0.75\n2,0,1\n".utf8)).status, 0)
        let r = try Tool.shell("zmat mean '\(a)' '\(b)' | zmat convert --to csv")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutText, "label,x0,x1\n1,0.375,0.5\n2,0.5,0.5\n")
        // Rows that are not the same rows (labels differ) are refused, naming the row.
        XCTAssertEqual(try Tool.run("zmat", ["convert", "--from", "csv", "-o", c], stdin: Data("label,p,q\n1,0,0\n3,0,0\n".utf8)).status, 0)
        let bad = try Tool.run("zmat", ["mean", a, c, "-o", dir + "/m.zmat"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("c.zmat: row 1: label 3 differs"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.zmat"))
    }

    /// `-o` naming a FIFO or device writes into it: renaming a temporary over it would replace
    /// the node (once, `-o /dev/null` turned /dev/null into a plain file).
    func testOutputToAFifoWritesIntoIt() throws {
        let path = try makeStream(rows: 50)
        let fifo = dir + "/pipe"
        let r = try Tool.shell("mkfifo '\(fifo)' && { cat '\(fifo)' > '\(dir!)/got.zmat' & } && zmat head -n 7 '\(path)' -o '\(fifo)' && wait && test -p '\(fifo)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Matrix.load(path: dir + "/got.zmat").rows, 7)
    }
}
