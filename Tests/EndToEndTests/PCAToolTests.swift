import Foundation
import Grove
import XCTest

/// `pca-fit` and `pca-project` through real pipes: models, partials and merges, projection,
/// bad input and exit codes.
final class PCAToolTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = try Tool.temporaryDirectory(self)
    }

    /// Writes a stream of `rows` x `columns` pseudo-random values (labels row % 4) and
    /// returns its path. Columns have different spreads so the components are well separated.
    @discardableResult
    func makeData(_ name: String, rows: Int, columns: Int, type: ElementType = .uint8, seed: UInt64 = 1,
                  labels: Bool = true, featureSpace: String? = "pixels:test",
                  edit: ((Int, Int, inout Double) -> Void)? = nil) throws -> String {
        let path = dir + "/" + name
        var meta = ZmatMetadata([("kind", "features")])
        if let featureSpace { meta["feature-space"] = featureSpace }
        let m = Matrix(header: ZmatHeader(elementType: type, columns: columns, hasLabels: labels, metadata: meta), rows: rows)
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for r in 0..<rows {
            let common = Double((s >> 40) % 64)
            for c in 0..<columns {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                var v = Double((s >> 33) % UInt64(8 + 200 * (c + 1) / columns)) + (c % 3 == 0 ? common : 0)
                edit?(r, c, &v)
                let i = r * columns + c
                switch type {
                case .uint8: m.values(as: UInt8.self)[i] = UInt8(min(255, v))
                case .int32: m.values(as: Int32.self)[i] = Int32(v)
                case .float32: m.values(as: Float.self)[i] = Float(v)
                case .float64: m.values(as: Double.self)[i] = v
                }
            }
            m.labels?[r] = Int32(r % 4)
        }
        let out = try OutputFile(path: path)
        try m.write(to: out)
        try out.commit()
        return path
    }

    func read(_ path: String) throws -> (Matrix, UInt64) {
        let reader = try ZmatReader(path: path)
        let m = try reader.readAll()
        return (m, reader.contentHash!)
    }

    func testFitThroughAPipeWritesADescribedModel() throws {
        let data = try makeData("data.zmat", rows: 500, columns: 12)
        let r = try Tool.shell("cat '\(data)' | pca-fit -k 3 | zmat info")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("PCA model: 3 components of 12 columns, fit on 500 rows"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("explained variance ratio: 0."), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("cumulative:"), r.stdoutText)

        let model = dir + "/model.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "3", data, "-o", model]).status, 0)
        let (m, _) = try read(model)
        let (_, dataHash) = try read(data)
        let meta = m.header.metadata
        XCTAssertEqual(meta["kind"], "pca-model")
        XCTAssertEqual(meta["producer"], "pca-fit \(GroveVersion.string)")
        XCTAssertEqual(meta["param.k"], "3")
        XCTAssertEqual(meta["param.whiten"], "false")
        XCTAssertEqual(meta["input.hash"], XXH64.hex(dataHash))
        XCTAssertEqual(meta["feature-space"], "pixels:test")
        XCTAssertEqual(meta["pca.n"], "500")
        XCTAssertEqual(m.rows, 4, "mean and 3 components")
        XCTAssertEqual(m.elementType, .float64)
        // Same model whatever the thread count, byte for byte.
        let single = dir + "/single.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "3", "--threads", "1", data, "-o", single]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), try Data(contentsOf: URL(fileURLWithPath: single)))
    }

    func testProjectStreamsLabelsAndMarksTheFeatureSpace() throws {
        let data = try makeData("data.zmat", rows: 3000, columns: 20)
        let model = dir + "/model.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "4", data, "-o", model]).status, 0)
        let out = dir + "/out.zmat"
        let r = try Tool.shell("cat '\(data)' | pca-project -m '\(model)' > '\(out)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        let (projected, _) = try read(out)
        let (modelMatrix, modelHash) = try read(model)
        XCTAssertEqual(projected.rows, 3000)
        XCTAssertEqual(projected.columns, 4)
        XCTAssertEqual(projected.elementType, .float32)
        XCTAssertEqual(projected.header.metadata["kind"], "features")
        XCTAssertEqual(projected.header.metadata["feature-space"], "pca:\(XXH64.hex(modelHash))")
        XCTAssertEqual(projected.header.metadata["param.model"], model)
        XCTAssertEqual(Array(projected.labels!.prefix(6)), [0, 1, 2, 3, 0, 1])
        // Against (x - mean) . components^T in float64.
        let (input, _) = try read(data)
        let x = input.doubles(), w = modelMatrix.doubles(), y = projected.floats()
        for row in stride(from: 0, to: 3000, by: 37) {
            for c in 0..<4 {
                var s = 0.0
                for j in 0..<20 { s += (x[row * 20 + j] - w[j]) * w[(c + 1) * 20 + j] }
                XCTAssertEqual(Double(y[row * 4 + c]), s, accuracy: 1e-4 * max(abs(s), 1e-3), "row \(row) coordinate \(c)")
            }
        }
        // A reader that stops early is not an error (pipefail is on in Tool.shell).
        let early = try Tool.shell("pca-project -m '\(model)' '\(data)' | head -c 10 > /dev/null")
        XCTAssertEqual(early.status, 0, early.stderr)
        XCTAssertEqual(early.stderr, "")
        // Deterministic whatever the thread count.
        let one = try Tool.run("pca-project", ["-m", model, "--threads", "1", data])
        let two = try Tool.run("pca-project", ["-m", model, "--threads", "2", data])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(one.stdout, two.stdout)
    }

    func testWhitenedProjectionHasUnitVariance() throws {
        let data = try makeData("data.zmat", rows: 2000, columns: 10, type: .float32)
        let r = try Tool.shell("pca-fit --whiten --variance 0.5 '\(data)' -o '\(dir!)/m.zmat' && pca-project -m '\(dir!)/m.zmat' '\(data)' -o '\(dir!)/w.zmat'")
        XCTAssertEqual(r.status, 0, r.stderr)
        let (m, _) = try read(dir + "/m.zmat")
        XCTAssertEqual(m.header.metadata["param.variance"], "0.5")
        XCTAssertEqual(m.header.metadata["pca.whiten"], "true")
        let (w, _) = try read(dir + "/w.zmat")
        let k = w.columns
        XCTAssertGreaterThanOrEqual(k, 1)
        let ratios = ZmatMetadata.decodeDoubles(m.header.metadata["pca.explained-variance-ratio"]!)!
        XCTAssertGreaterThan(ratios.reduce(0, +), 0.5)
        XCTAssertLessThanOrEqual(ratios.dropLast().reduce(0, +), 0.5, "the fewest components")
        let y = w.floats()
        for c in 0..<k {
            let col = (0..<w.rows).map { Double(y[$0 * k + c]) }
            let mean = col.reduce(0, +) / Double(col.count)
            let variance = col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(col.count - 1)
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(variance, 1, accuracy: 1e-5)
        }
    }

    func testMergedPartialsGiveTheOnePassModel() throws {
        // 7 uneven shards of one uint8 stream (cut with zmat-free means: separate files).
        let cuts = [0, 13, 100, 101, 640, 700, 1500, 2100]
        let full = try makeData("full.zmat", rows: 2100, columns: 30, seed: 5)
        let (all, _) = try read(full)
        var parts = [String]()
        for p in 0..<7 {
            let rows = cuts[p + 1] - cuts[p]
            let shard = Matrix(header: all.header, rows: rows)
            shard.elementBytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: all.elementBytes[cuts[p] * 30..<cuts[p + 1] * 30]))
            for i in 0..<rows { shard.labels![i] = all.labels![cuts[p] + i] }
            let shardPath = dir + "/shard\(p).zmat"
            let out = try OutputFile(path: shardPath)
            try shard.write(to: out)
            try out.commit()
            let partPath = dir + "/part\(p).zmat"
            let r = try Tool.shell("cat '\(shardPath)' | pca-fit --partial > '\(partPath)'")
            XCTAssertEqual(r.status, 0, r.stderr)
            parts.append(partPath)
        }
        let (partial, _) = try read(parts[0])
        XCTAssertEqual(partial.header.metadata["kind"], "pca-partial")
        XCTAssertEqual(partial.header.metadata["pca.accumulation"], "integer")
        XCTAssertEqual(partial.header.metadata["pca.n"], "13")
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "5", full, "-o", dir + "/one.zmat"]).status, 0)
        for set in [[parts[0]], Array(parts[0..<2]), parts] {
            let merged = dir + "/merged.zmat"
            let r = try Tool.run("pca-fit", ["--merge", "-k", "5"] + set + ["-o", merged])
            XCTAssertEqual(r.status, 0, r.stderr)
            let (m, _) = try read(merged)
            XCTAssertEqual(m.header.metadata["input.partials"]?.split(separator: ",").count, set.count)
            if set.count == 7 {
                // Integer statistics merge exactly: the very same numbers as one pass.
                let (one, _) = try read(dir + "/one.zmat")
                XCTAssertEqual(m.doubles(), one.doubles())
                XCTAssertEqual(m.header.metadata["pca.explained-variance"], one.header.metadata["pca.explained-variance"])
            } else {
                XCTAssertEqual(m.header.metadata["pca.n"], set.count == 1 ? "13" : "100")
            }
        }
    }

    func testBadInputIsRefusedClearly() throws {
        let data = try makeData("data.zmat", rows: 50, columns: 8)
        let wide = try makeData("wide.zmat", rows: 50, columns: 9)
        let model = dir + "/model.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "2", data, "-o", model]).status, 0)

        var r = try Tool.run("pca-project", ["-m", model, wide])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "pca-project: \(wide): rows of 9 columns, but the model \(model) was fit on 8 columns\n")

        let other = try makeData("other.zmat", rows: 50, columns: 8, featureSpace: "pixels:other")
        r = try Tool.run("pca-project", ["-m", model, other])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("feature space 'pixels:other', but the model \(model) was fit on 'pixels:test'"), r.stderr)

        let nan = try makeData("nan.zmat", rows: 50, columns: 8, type: .float32) { row, col, v in
            if row == 41 && col == 6 { v = .nan }
        }
        r = try Tool.run("pca-fit", ["-k", "2", nan])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "pca-fit: \(nan): row 42, column 7: nan, expected a finite number\n")
        let floatModel = dir + "/fm.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "2", try makeData("f.zmat", rows: 50, columns: 8, type: .float32), "-o", floatModel]).status, 0)
        r = try Tool.run("pca-project", ["-m", floatModel, nan])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("row 42, column 7: nan"), r.stderr)

        r = try Tool.run("pca-fit", ["-k", "9", data])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("-k 9 is out of range: with 50 rows of 8 columns at most min(n, d) = 8"), r.stderr)

        let empty = try makeData("empty.zmat", rows: 0, columns: 8)
        r = try Tool.run("pca-fit", ["-k", "1", empty])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "pca-fit: \(empty): empty input: the stream holds no rows to fit\n")
        r = try Tool.run("pca-fit", ["-k", "1"], stdin: Data())
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("<stdin>: empty input"), r.stderr)

        let p1 = dir + "/p1.zmat", p2 = dir + "/p2.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["--partial", data, "-o", p1]).status, 0)
        XCTAssertEqual(try Tool.run("pca-fit", ["--partial", wide, "-o", p2]).status, 0)
        r = try Tool.run("pca-fit", ["--merge", "-k", "2", p1, p2])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "pca-fit: \(p2): statistics of 9 columns, but \(p1) has 8: partials must come from data of the same width\n")
        r = try Tool.run("pca-fit", ["--merge", "-k", "2", p1, data])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(data): kind is 'features', expected a pca-partial"), r.stderr)
        r = try Tool.run("pca-project", ["-m", data, data])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(data): kind is 'features', expected a pca-model"), r.stderr)
        // A damaged stream is reported from the background reader, not swallowed.
        let big = try makeData("big.zmat", rows: 20000, columns: 50)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: big))
        let bigModel = dir + "/big-model.zmat"
        XCTAssertEqual(try Tool.run("pca-fit", ["-k", "2", big, "-o", bigModel]).status, 0)
        for tool in [["pca-fit", "-k", "2"], ["pca-project", "-m", bigModel]] {
            let cut = try Tool.run(tool[0], Array(tool.dropFirst()), stdin: bytes.prefix(bytes.count / 2))
            XCTAssertEqual(cut.status, 1, "\(tool[0]): \(cut.stderr)")
            XCTAssertTrue(cut.stderr.hasPrefix("\(tool[0]): <stdin>: "), cut.stderr)
            XCTAssertTrue(cut.stderr.contains("truncated"), cut.stderr)
        }

        // A width whose d x d matrices cannot fit is refused up front, not killed later.
        let huge = try makeData("huge.zmat", rows: 1, columns: 300_000)
        r = try Tool.run("pca-fit", ["-k", "1", huge])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(huge): 300000 columns need about"), r.stderr)
        XCTAssertTrue(r.stderr.contains("GiB for the 300000 x 300000 co-moment matrices"), r.stderr)

        // Nothing is left behind by a failed run.
        r = try Tool.run("pca-fit", ["-k", "9", data, "-o", dir + "/never.zmat"])
        XCTAssertEqual(r.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/never.zmat"))
    }

    func testUsageErrorsExit64() throws {
        let data = try makeData("data.zmat", rows: 10, columns: 4)
        for args in [[data], ["-k", "0", data], ["-k", "2", "--variance", "0.9", data], ["--variance", "1.5", data],
                     ["--partial", "-k", "2", data], ["-k", "2", data, data], ["--merge", "-k", "2"]] {
            let r = try Tool.run("pca-fit", args)
            XCTAssertEqual(r.status, 64, "pca-fit \(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage: pca-fit") || r.stderr.contains("Error:"), r.stderr)
        }
        let r = try Tool.run("pca-project", [data])
        XCTAssertEqual(r.status, 64, r.stderr)
        let help = try Tool.run("pca-fit", ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdoutText.contains("pca-fit --merge -k 10 part1.zmat part2.zmat -o pca.zmat"), help.stdoutText)
    }
}
