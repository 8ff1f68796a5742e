import Foundation
import XCTest

/// Resources and faults (issue 12): a full disk and signals mid-run. Each tool must fail with a
/// clear error and leave nothing behind: no output file, no temporary file.
final class FaultTests: XCTestCase {
    static var mnist2k: String { Tool.repositoryRoot + "/datasets/mnist-images-2k" }

    /// The files in `dir` (names only, hidden ones included), sorted.
    static func listing(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// Small inputs every tool can read: pixels, a model, a forest, predictions.
    static func fixtures(_ dir: String) throws -> [String: String] {
        var f = [String: String]()
        f["pixels"] = dir + "/pixels.zmat"
        XCTAssertEqual(try Tool.run("mnist-decode", [mnist2k, "--resize", "8x8", "--limit", "300", "-o", f["pixels"]!]).status, 0)
        f["pca"] = dir + "/pca.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "4", f["pixels"]!, "-o", f["pca"]!]).status, 0)
        f["tree"] = dir + "/tree.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", ["--seed", "1", f["pixels"]!, "-o", f["tree"]!]).status, 0)
        f["pred"] = dir + "/pred.zmat"
        XCTAssertEqual(try Tool.run("rf-predict", ["-m", f["tree"]!, f["pixels"]!, "-o", f["pred"]!]).status, 0)
        return f
    }

    /// Every tool that writes a file, as (name, arguments before `-o OUT`; rf-eval's file is
    /// its `--plot`).
    static func writers(_ f: [String: String]) -> [(String, [String])] {
        [
            ("mnist-decode", [mnist2k, "--limit", "500"]),
            ("zmat", ["head", "-n", "100", f["pixels"]!]),
            ("zmat", ["cat", f["pixels"]!, f["pixels"]!]),
            ("zmat", ["shuffle", "--seed", "3", f["pixels"]!]),
            ("zmat", ["split", "-n", "2", "--index", "1", f["pixels"]!]),
            ("zmat", ["convert", f["pixels"]!, "--to", "csv"]),
            ("zmat", ["convert", f["pixels"]!, "--to", "npy"]),
            ("pca-fit", ["-k", "3", f["pixels"]!]),
            ("pca-fit", ["--partial", f["pixels"]!]),
            ("pca-project", ["-m", f["pca"]!, f["pixels"]!]),
            ("rf-tree", ["--seed", "2", f["pixels"]!]),
            ("rf-merge", [f["tree"]!, f["tree"]!]),
            ("rf-predict", ["-m", f["tree"]!, f["pixels"]!]),
            ("rf-eval", [f["pred"]!]),
        ]
    }

    /// A 1 MiB tmpfs, filled up: every writing tool fails with "No space left on device"
    /// naming its output, exits 1, and leaves no output or temporary file.
    func testFullDiskFailsCleanlyForEveryWriter() throws {
        let dir = try Tool.temporaryDirectory(self)
        let mnt = dir + "/small"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = try Tool.shell("mount -t tmpfs -o size=1m grove-test-full '\(mnt)' 2>&1")
        guard mount.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(mount.stdoutText)")
        }
        defer { _ = try? Tool.shell("umount '\(mnt)'") }
        let f = try Self.fixtures(dir)
        // Fill it: the filler stops at ENOSPC; what is left is less than a page.
        _ = try Tool.shell("head -c 2M /dev/zero > '\(mnt)/filler' 2>/dev/null || true")
        XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: mnt + "/filler")[.size] as? Int) ?? 0, 900_000)
        var checked = 0
        for (tool, args) in Self.writers(f) {
            let out = mnt + "/out"
            let r = try Tool.run(tool, args + [tool == "rf-eval" ? "--plot" : "-o", out])
            let what = "\(tool) \(args.prefix(2).joined(separator: " "))"
            XCTAssertEqual(r.status, 1, "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("No space left on device"), "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(out), "\(what) does not name the file: \(r.stderr)")
            XCTAssertEqual(Self.listing(mnt), ["filler"], "\(what) left files behind")
            checked += 1
        }
        XCTAssertEqual(checked, 14)
    }

    /// SIGINT or SIGTERM at a random moment: the tool stops, the output is either absent or
    /// complete (it had finished), and no temporary file is left.
    func testInterruptAndTerminateLeaveNoPartialOutput() throws {
        let dir = try Tool.temporaryDirectory(self)
        let f = try Self.fixtures(dir)
        let big = dir + "/big.zmat"
        XCTAssertEqual(try Tool.run("mnist-decode", [Self.mnist2k, "-o", big]).status, 0)
        var state: UInt64 = 12   // a seeded LCG: the signal moments are the same every run
        let slow: [(String, [String])] = [
            ("rf-tree", ["--trees", "40", "--threads", "1", big]),
            ("pca-fit", ["-k", "10", big]),
            ("zmat", ["shuffle", "--seed", "1", big]),
            ("mnist-decode", [Self.mnist2k, "--resize", "56x56"]),
            ("zmat", ["convert", big, "--to", "csv"]),
            ("rf-predict", ["-m", f["tree"]!, f["pixels"]!]),
        ]
        let outDir = dir + "/out"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        for (tool, args) in slow {
            for sig in [SIGINT, SIGTERM] {
                let out = outDir + "/result"
                let p = Process()
                p.executableURL = URL(fileURLWithPath: Tool.path(tool))
                p.arguments = args + ["-o", out]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                state = state &* 6364136223846793005 &+ 1442695040888963407
                usleep(UInt32(20_000 + (state >> 33) % 400_000))
                kill(p.processIdentifier, sig)
                p.waitUntilExit()
                let files = Self.listing(outDir)
                let what = "\(tool) \(args.first!) signal \(sig), status \(p.terminationStatus)"
                if p.terminationReason == .uncaughtSignal {
                    XCTAssertEqual(files, [], what)
                } else {
                    // It had finished before the signal: a complete, valid output.
                    XCTAssertEqual(p.terminationStatus, 0, what)
                    XCTAssertEqual(files, ["result"], what)
                    if tool != "zmat" || !args.contains("csv") {
                        XCTAssertEqual(try Tool.run("zmat", ["info", out]).status, 0, what)
                    }
                }
                try? FileManager.default.removeItem(atPath: out)
            }
        }
    }

    /// SIGKILL cannot be caught: the temporary stays, but the next run into the same folder
    /// removes it (its process is gone) and the target is never a partial file.
    func testKillLeavesNoPartialTargetAndTheNextRunCleansUp() throws {
        let dir = try Tool.temporaryDirectory(self)
        let big = dir + "/big.zmat"
        XCTAssertEqual(try Tool.run("mnist-decode", [Self.mnist2k, "-o", big]).status, 0)
        let outDir = dir + "/out"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let out = outDir + "/result.zmat"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tool.path("rf-tree"))
        p.arguments = ["--trees", "50", "--threads", "1", big, "-o", out]
        try p.run()
        // Wait (at most 20 s) for its temporary to appear, then kill it.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, Self.listing(outDir).isEmpty { usleep(10_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(Self.listing(outDir).contains("result.zmat"), "a killed run left a target")
        XCTAssertEqual(Self.listing(outDir).count, 1, "expected the killed run's temporary")
        XCTAssertEqual(try Tool.run("zmat", ["head", "-n", "3", big, "-o", out]).status, 0)
        XCTAssertEqual(Self.listing(outDir), ["result.zmat"], "the stale temporary was not removed")
    }
}
