import Foundation
import XCTest
@testable import GroveStage

final class StageTemplateTests: XCTestCase {
    let rfTree = try! StageTemplate(["rf-tree", "{input}", "--classes", "{ints}", "--trees", "{int}", "--seed", "{int}",
                                     "--tree-index", "{int:tree-index}", "-o", "{output}"])

    func testMatchBindsEverySlotToItsArgument() throws {
        let b = try rfTree.match(["/usr/bin/rf-tree", "out/f-0.zmat", "--classes", "0,1,2", "--trees", "16", "--seed", "1",
                                  "--tree-index", "32", "-o", "out/trees-2.zmat"])
        XCTAssertEqual(b.count, 11)
        XCTAssertEqual(b[0], .init(index: 1, slot: .input, value: "out/f-0.zmat"))
        XCTAssertEqual(b[4], .init(index: 5, slot: .int, value: "16"))
        XCTAssertEqual(b[10], .init(index: 11, slot: .output, value: "out/trees-2.zmat"))
        XCTAssertTrue(rfTree.streams)
    }

    func testARequestCannotAddFlagsOrChangeLiterals() {
        let base = ["rf-tree", "f", "--classes", "0,1", "--trees", "4", "--seed", "1", "--tree-index", "0", "-o", "t"]
        var extra = base; extra.insert("--threads", at: 2)
        XCTAssertThrowsError(try rfTree.match(extra))
        var changed = base; changed[4] = "--max-depth"
        XCTAssertThrowsError(try rfTree.match(changed)) { XCTAssertTrue("\($0)".contains("--trees")) }
        var flagAsFile = base; flagAsFile[1] = "--help"
        XCTAssertThrowsError(try rfTree.match(flagAsFile))
        var notInt = base; notInt[5] = "4;rm"
        XCTAssertThrowsError(try rfTree.match(notInt))
        var notInts = base; notInts[3] = "0,,1"
        XCTAssertThrowsError(try rfTree.match(notInts))
        var otherTool = base; otherTool[0] = "bash"
        XCTAssertThrowsError(try rfTree.match(otherTool)) { XCTAssertTrue("\($0)".contains("rf-tree")) }
        XCTAssertThrowsError(try rfTree.match(Array(base.dropLast())))
    }

    func testInputsTakeWhatIsLeftBetweenFixedParts() throws {
        let merge = try StageTemplate(["pca-fit", "--merge", "{inputs}", "-k", "{int}", "-o", "{output}"])
        let b = try merge.match(["pca-fit", "--merge", "a", "b", "c", "-k", "10", "-o", "m"])
        XCTAssertEqual(b.filter { $0.slot == .inputs }.map(\.index), [2, 3, 4])
        XCTAssertEqual(b.last, .init(index: 8, slot: .output, value: "m"))
        XCTAssertThrowsError(try merge.match(["pca-fit", "--merge", "-k", "10", "-o", "m"]))
        XCTAssertFalse(merge.streams)
        XCTAssertThrowsError(try StageTemplate(["rf-merge", "{inputs}", "{inputs}"]))
        XCTAssertThrowsError(try StageTemplate(["rf-merge", "{nope}"]))
    }

    func testPatternsAndValues() throws {
        let split = try StageTemplate(["zmat", "split", "-n", "{int}", "{input}", "--pattern", "{pattern}"])
        XCTAssertNoThrow(try split.match(["zmat", "split", "-n", "2", "x", "--pattern", "out/s-{i}.zmat"]))
        XCTAssertThrowsError(try split.match(["zmat", "split", "-n", "2", "x", "--pattern", "out/s.zmat"]))
        XCTAssertTrue(StageTemplate.accepts(.number, "1e-3"))
        XCTAssertFalse(StageTemplate.accepts(.number, "nan"))
        XCTAssertTrue(StageTemplate.accepts(.int, "-5"))
        XCTAssertFalse(StageTemplate.accepts(.word, "-x"))
        XCTAssertFalse(StageTemplate.accepts(.input, "a\nb"))
    }

    func testDefaultCommandLineOnlyWithoutValueSlots() throws {
        XCTAssertEqual(try StageTemplate(["rf-eval", "--json", "{input}"]).defaultArgv(), ["rf-eval", "--json", "{input}"])
        XCTAssertThrowsError(try rfTree.defaultArgv())
    }

    func testArgvHeaderRoundTripsAnyArgument() throws {
        let argv = ["rf-tree", "a b", "100%", "é", "{i}", "x\ty", "-o", "out/t.zmat"]
        let header = ArgvHeader.encode(argv)
        XCTAssertFalse(header.contains("\t"))
        XCTAssertEqual(try ArgvHeader.decode(header), argv)
        XCTAssertThrowsError(try ArgvHeader.decode("a%G1"))
        XCTAssertThrowsError(try ArgvHeader.decode("a%FF"))
    }
}

final class CloudEventTests: XCTestCase {
    func testBinaryModeAttributes() throws {
        XCTAssertNil(try CloudEvent.fromBinaryHeaders([("Content-Type", "application/x-zmat")]))
        let e = try CloudEvent.fromBinaryHeaders([("ce-id", "1"), ("CE-Source", "/driver"), ("ce-type", "t"), ("ce-specversion", "1.0")])
        XCTAssertEqual(e, CloudEvent(id: "1", source: "/driver", type: "t", specversion: "1.0", subject: nil))
        XCTAssertThrowsError(try CloudEvent.fromBinaryHeaders([("ce-id", "1"), ("ce-type", "t"), ("ce-specversion", "1.0")])) {
            XCTAssertTrue("\($0)".contains("ce-source"))
        }
        XCTAssertThrowsError(try CloudEvent.fromBinaryHeaders([("ce-id", "1"), ("ce-source", "s"), ("ce-type", "t"), ("ce-specversion", "0.3")])) {
            XCTAssertTrue("\($0)".contains("specversion"))
        }
    }

    func testStructuredMode() throws {
        let e = try CloudEvent.fromStructured(Array(#"{"specversion":"1.0","id":"a","source":"s","type":"t","data":{"k":1}}"#.utf8))
        XCTAssertEqual(e.id, "a")
        XCTAssertThrowsError(try CloudEvent.fromStructured(Array(#"{"specversion":"1.0","id":"a","source":"s"}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("type"))
        }
        XCTAssertThrowsError(try CloudEvent.fromStructured(Array(#"{"specversion":"1.0","id":7,"source":"s","type":"t"}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("'id'"))
        }
        XCTAssertThrowsError(try CloudEvent.fromStructured(Array("[1]".utf8)))
    }

    func testReplyIsANewEventFromTheStage() {
        let request = CloudEvent(id: "req-1", source: "/driver", type: "t", specversion: "1.0", subject: nil)
        let reply = Dictionary(uniqueKeysWithValues: CloudEvent.replyHeaders(stage: "rf-tree", request: request))
        XCTAssertEqual(reply["ce-specversion"], "1.0")
        XCTAssertEqual(reply["ce-source"], "/grove/stages/rf-tree")
        XCTAssertEqual(reply["ce-type"], "dev.grove.rf-tree.result")
        XCTAssertEqual(reply["ce-subject"], "req-1")
        XCTAssertNotEqual(reply["ce-id"], "req-1")
        XCTAssertNotEqual(CloudEvent.replyHeaders(stage: "x", request: request)[1].1, reply["ce-id"])
    }
}

final class TarTests: XCTestCase {
    var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "/grove-tar-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func testRoundTripIsDeterministicAndReadByGNUTar() throws {
        let a = write("a", Array(repeating: 7, count: 1000)), b = write("b", [])
        let long = String(repeating: "n", count: 150)
        try Tar.create(dir + "/x.tar", entries: [("3", a), ("stdout", b), ("4/" + long, a)])
        try Tar.create(dir + "/y.tar", entries: [("3", a), ("stdout", b), ("4/" + long, a)])
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/x.tar"), FileManager.default.contents(atPath: dir + "/y.tar"))
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: false)
        let names = try Tar.extract(dir + "/x.tar", into: dir + "/out")
        XCTAssertEqual(names, ["3", "stdout", "4"])
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/out/4/" + long), Data(Array(repeating: 7, count: 1000)))
        // GNU tar lists the same entries.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/tar")
        p.arguments = ["-tf", dir + "/x.tar"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(listing.split(separator: "\n").map(String.init), ["3", "stdout", "4/" + long])
    }

    func testHostileArchivesAreRefused() throws {
        let a = write("a", [1, 2, 3])
        for bad in ["../escape", "/abs", "x/../../y"] {
            try Tar.create(dir + "/bad.tar", entries: [(bad, a)])
            let out = dir + "/o-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
            XCTAssertThrowsError(try Tar.extract(dir + "/bad.tar", into: out), bad) { XCTAssertEqual(($0 as? StageError)?.status, 400) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/escape"))
        }
        // Cut short, and a corrupted header.
        try Tar.create(dir + "/ok.tar", entries: [("1", a)])
        var bytes = [UInt8](FileManager.default.contents(atPath: dir + "/ok.tar")!)
        _ = write("short.tar", Array(bytes.prefix(600)))
        let out = dir + "/o"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        XCTAssertThrowsError(try Tar.extract(dir + "/short.tar", into: out))
        bytes[10] ^= 0xFF
        _ = write("corrupt.tar", bytes)
        XCTAssertThrowsError(try Tar.extract(dir + "/corrupt.tar", into: dir + "/o")) { XCTAssertTrue("\($0)".contains("checksum")) }
        // A symbolic link made by GNU tar is refused.
        symlink("/etc/passwd", dir + "/link")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/tar")
        p.arguments = ["-cf", dir + "/link.tar", "-C", dir, "link"]
        try p.run(); p.waitUntilExit()
        XCTAssertThrowsError(try Tar.extract(dir + "/link.tar", into: dir + "/o")) { XCTAssertTrue("\($0)".contains("links")) }
    }
}
