import Foundation
import Grove
import XCTest

/// rf-tree, rf-merge, rf-predict and rf-eval through real pipes and files.
final class ForestToolTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = try Tool.temporaryDirectory(self)
    }

    /// Writes a stream of `rows` rows: `columns` byte features, label from features 0 and 3.
    @discardableResult
    func writeData(_ name: String, rows: Int = 400, columns: Int = 8, seed: UInt64 = 1, labels: Bool = true,
                   space: String? = "pixels:test", label: ((Int, [UInt8]) -> Int32)? = nil) throws -> String {
        var state = seed
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        var values = [UInt8](), labelValues = [Int32]()
        for r in 0..<rows {
            let row = (0..<columns).map { _ in next() }
            values += row
            labelValues.append(label?(r, row) ?? Int32((Int(row[0]) / 64 + (row[3] > 128 ? 1 : 0)) % 4))
        }
        var meta = ZmatMetadata()
        meta["kind"] = "features"
        if let space { meta["feature-space"] = space }
        let path = dir + "/" + name
        let out = try OutputFile(path: path)
        let w = try ZmatWriter(output: out, header: ZmatHeader(elementType: .uint8, columns: columns, hasLabels: labels, metadata: meta))
        try w.append(rows: rows, values: values, labels: labels ? labelValues : nil)
        try w.finish()
        try out.commit()
        return path
    }

    func writeFloats(_ name: String, _ values: [Float], columns: Int, labels: [Int32]) throws -> String {
        let path = dir + "/" + name
        let out = try OutputFile(path: path)
        let w = try ZmatWriter(output: out, header: ZmatHeader(elementType: .float32, columns: columns, hasLabels: true))
        try w.append(rows: labels.count, values: values, labels: labels)
        try w.finish()
        try out.commit()
        return path
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testTrainPredictEvaluate() throws {
        let train = try writeData("train.zmat")
        let test = try writeData("test.zmat", rows: 300, seed: 2)
        let model = dir + "/forest.zmat"
        var r = try Tool.run("rf-tree", [train, "--trees", "20", "--seed", "4", "-o", model])
        XCTAssertEqual(r.status, 0, r.stderr)

        let piped = try Tool.shell("rf-predict -m '\(model)' < '\(test)' | rf-eval")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        let first = piped.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertNotNil(first.range(of: #"^accuracy: [01]\.[0-9]{4}$"#, options: .regularExpression), first)
        XCTAssertGreaterThan(Double(first.dropFirst(10))!, 0.8)
        XCTAssertTrue(piped.stdoutText.contains("confusion matrix"), piped.stdoutText)
        XCTAssertTrue(piped.stdoutText.contains("precision"), piped.stdoutText)

        // The same numbers when rf-eval predicts itself, and from probabilities.
        let direct = try Tool.run("rf-eval", ["-m", model, test])
        XCTAssertEqual(direct.stdoutText, piped.stdoutText)
        let fromProba = try Tool.shell("rf-predict -m '\(model)' --proba '\(test)' | rf-eval")
        XCTAssertEqual(fromProba.stdoutText, piped.stdoutText, fromProba.stderr)

        // JSON, the heat map and importances.
        let png = dir + "/confusion.png"
        r = try Tool.run("rf-eval", ["-m", model, test, "--json", "--plot", png, "--importances"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        XCTAssertEqual(object["rows"] as? Int, 300)
        XCTAssertEqual(object["accuracy"] as! Double, Double(first.dropFirst(10))!, accuracy: 0.00005)
        let confusion = object["confusion"] as! [[Int]]
        XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), 300)
        let importances = object["importances"] as! [Double]
        XCTAssertEqual(importances.count, 8)
        XCTAssertEqual(importances.reduce(0, +), 1, accuracy: 1e-9)
        // Labels depend on features 0 and 3 only.
        XCTAssertGreaterThan(importances[0] + importances[3], 0.5)
        let image = try bytes(png)
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = image[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = image[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertGreaterThan(width, 4 * 30)
        XCTAssertGreaterThan(height, 4 * 30)
        // Class names widen the left margin; a bad list is a usage error.
        r = try Tool.run("rf-eval", ["-m", model, test, "--plot", png, "--class-names", "fashion"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let named = try bytes(png)
        XCTAssertGreaterThan(named[16..<20].reduce(0) { $0 << 8 | Int($1) }, width)
        r = try Tool.run("rf-eval", ["-m", model, test, "--plot", png, "--class-names", "a,,b"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--class-names"), r.stderr)

        // zmat info summarises the forest.
        let info = try Tool.run("zmat", ["info", model])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdoutText.contains("trees: 20"), info.stdoutText)
        XCTAssertTrue(info.stdoutText.contains("depth: min"), info.stdoutText)
        XCTAssertTrue(info.stdoutText.contains("nodes per tree: min"), info.stdoutText)
    }

    func testPredictionsKeepRowsAndLabels() throws {
        let train = try writeData("train.zmat")
        let test = try writeData("test.zmat", rows: 2500, seed: 3)
        let model = dir + "/forest.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "5", "-o", model]).status, 0)
        let proba = dir + "/proba.zmat", labels = dir + "/labels.zmat"
        var r = try Tool.shell("cat '\(test)' | rf-predict -m '\(model)' --proba > '\(proba)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tool.shell("rf-predict -m '\(model)' '\(test)' --threads 1 -o '\(labels)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        let p = try Matrix.load(path: proba), l = try Matrix.load(path: labels), t = try Matrix.load(path: test)
        XCTAssertEqual(p.rows, 2500)
        XCTAssertEqual(p.columns, 4)
        XCTAssertEqual(p.header.metadata["kind"], "probabilities")
        XCTAssertEqual(l.header.metadata["kind"], "predictions")
        XCTAssertEqual(Array(p.labels!), Array(t.labels!))
        XCTAssertEqual(Array(l.labels!), Array(t.labels!))
        let pv = p.values(as: Float.self), lv = l.values(as: Int32.self)
        for row in 0..<2500 {
            let probs = (0..<4).map { pv[row * 4 + $0] }
            XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(Int32(probs.firstIndex(of: probs.max()!)!), lv[row])
        }
        // Thread count does not change predictions.
        let again = dir + "/labels2.zmat"
        XCTAssertEqual(try Tool.run("rf-predict", ["-m", model, test, "--threads", "2", "-o", again]).status, 0)
        XCTAssertEqual(try bytes(again), try bytes(labels))
    }

    func testWideRowsStreamThroughManyBlocks() throws {
        // 20,000 rows of 300 bytes: several 1 MiB blocks, batched for prediction.
        let train = try writeData("train.zmat", rows: 500, columns: 300)
        let test = try writeData("test.zmat", rows: 20_000, columns: 300, seed: 8)
        let model = dir + "/forest.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "8", "-o", model]).status, 0)
        let out = dir + "/p.zmat", one = dir + "/p1.zmat"
        var r = try Tool.shell("rf-predict -m '\(model)' < '\(test)' > '\(out)'")
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tool.run("rf-predict", ["-m", model, test, "--threads", "1", "-o", one])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try bytes(out), try bytes(one))
        let p = try Matrix.load(path: out), t = try Matrix.load(path: test)
        XCTAssertEqual(p.rows, 20_000)
        XCTAssertEqual(Array(p.labels!), Array(t.labels!))
        // Row by row, the stream agrees with predicting each row alone.
        let forest = try Forest(path: model)
        let v = t.values(as: UInt8.self), predicted = p.values(as: Int32.self)
        var probs = [Float](repeating: 0, count: forest.classes.count), label: Int32 = 0
        for row in stride(from: 0, to: 20_000, by: 997) {
            probs.withUnsafeMutableBufferPointer { pb in
                forest.probabilities(v.baseAddress! + row * 300, rows: 1, into: pb.baseAddress!)
                label = forest.classes[pb.indices.max { pb[$0] < pb[$1] || (pb[$0] == pb[$1] && $0 > $1) }!]
            }
            XCTAssertEqual(predicted[row], label, "row \(row)")
        }
    }

    func testPerProcessTreesMergeIntoTheOneProcessForest() throws {
        let train = try writeData("train.zmat", rows: 600)
        let whole = dir + "/whole.zmat", wholeOneThread = dir + "/whole1.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "4", "--seed", "11", "--threads", "2", "-o", whole]).status, 0)
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "4", "--seed", "11", "--threads", "1", "-o", wholeOneThread]).status, 0)
        XCTAssertEqual(try bytes(whole), try bytes(wholeOneThread))
        var parts = [String]()
        for i in 0..<4 {
            let p = dir + "/tree\(i).zmat"
            let r = try Tool.run("rf-tree", [train, "--tree-index", "\(i)", "--seed", "11", "-o", p])
            XCTAssertEqual(r.status, 0, r.stderr)
            parts.append(p)
        }
        let merged = dir + "/merged.zmat"
        let r = try Tool.run("rf-merge", parts + ["-o", merged])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("merged 4 trees"), r.stderr)
        XCTAssertEqual(try bytes(merged), try bytes(whole))
        // Two shards of two trees merge the same way.
        let a = dir + "/a.zmat", b = dir + "/b.zmat", ab = dir + "/ab.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "2", "--seed", "11", "-o", a]).status, 0)
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "2", "--tree-index", "2", "--seed", "11", "-o", b]).status, 0)
        XCTAssertEqual(try Tool.run("rf-merge", [a, b, "-o", ab, "-q"]).status, 0)
        XCTAssertEqual(try bytes(ab), try bytes(whole))
        // One input may come from standard input.
        let piped = try Tool.shell("cat '\(a)' | rf-merge - '\(b)' -q > '\(dir!)/piped.zmat'")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(try bytes(dir + "/piped.zmat"), try bytes(whole))
    }

    func testMergeRefusesModelsThatDisagree() throws {
        let train = try writeData("train.zmat")
        let wide = try writeData("wide.zmat", columns: 9)
        let other = try writeData("other.zmat", space: "pca:0123456789abcdef")
        let twoClasses = try writeData("two.zmat", label: { r, _ in Int32(r % 2) })
        var models = [String: String]()
        for (name, data) in [("a", train), ("wide", wide), ("other", other), ("two", twoClasses)] {
            let m = dir + "/\(name).model"
            XCTAssertEqual(try Tool.run("rf-tree", [data, "--trees", "2", "-o", m]).status, 0)
            models[name] = m
        }
        for (name, expected) in [("wide", "9 features"), ("other", "feature space"), ("two", "classes")] {
            let r = try Tool.run("rf-merge", [models["a"]!, models[name]!, "-o", dir + "/x.zmat"])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("rf-merge: "), r.stderr)
            XCTAssertTrue(r.stderr.contains(models[name]!), r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.zmat"))
        }
        let short = try Tool.run("rf-merge", [models["a"]!, "--min-trees", "3", "-o", dir + "/x.zmat"])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("only 2 trees"), short.stderr)
        // With --classes the shards agree even though one saw two classes only.
        let fixed = dir + "/fixed.model"
        XCTAssertEqual(try Tool.run("rf-tree", [twoClasses, "--classes", "4", "-o", fixed]).status, 0)
        let ok = try Tool.run("rf-merge", [models["a"]!, fixed, "-o", dir + "/x.zmat"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testBadTrainingInputIsRefused() throws {
        let cases: [(String, String)] = [
            (try writeData("nolabels.zmat", labels: false), "no labels"),
            (try writeData("negative.zmat", label: { r, _ in r == 17 ? -1 : 0 }), "row 17: label -1 is out of range"),
            (try writeData("huge.zmat", label: { r, _ in r == 5 ? 1_000_000 : 1 }), "row 5: label 1000000 is out of range"),
            (try writeFloats("nan.zmat", [1, 2, 3, .nan, 5, 6], columns: 2, labels: [0, 1, 0]), "row 1, column 1: NaN"),
            (try writeData("empty.zmat", rows: 0), "no rows"),
        ]
        for (path, message) in cases {
            let r = try Tool.run("rf-tree", [path, "-o", dir + "/m.zmat"])
            XCTAssertEqual(r.status, 1, "\(path): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.zmat"))
        }
        let notZmat = dir + "/text.zmat"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: notZmat))
        XCTAssertEqual(try Tool.run("rf-tree", [notZmat, "-o", dir + "/m.zmat"]).status, 1)
        // Usage errors exit 64.
        let train = try writeData("train.zmat")
        for args in [["--max-features", "lots"], ["--criterion", "purity"], ["--trees", "0"], ["--sample-fraction", "1.5"],
                     ["--min-samples-split", "1"], ["--classes", "-3"]] {
            let r = try Tool.run("rf-tree", [train, "-o", dir + "/m.zmat"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
        let wrongClasses = try Tool.run("rf-tree", [train, "--classes", "0,1", "-o", dir + "/m.zmat"])
        XCTAssertEqual(wrongClasses.status, 1)
        XCTAssertTrue(wrongClasses.stderr.contains("is not one of the classes"), wrongClasses.stderr)
        let tooMany = try Tool.run("rf-tree", [train, "--max-features", "9", "-o", dir + "/m.zmat"])
        XCTAssertEqual(tooMany.status, 1)
        XCTAssertTrue(tooMany.stderr.contains("more than the 8 feature columns"), tooMany.stderr)
    }

    func testBadPredictionInputIsRefused() throws {
        let train = try writeData("train.zmat")
        let model = dir + "/forest.zmat"
        XCTAssertEqual(try Tool.run("rf-tree", [train, "--trees", "3", "-o", model]).status, 0)

        let wide = try writeData("wide.zmat", columns: 9)
        var r = try Tool.run("rf-predict", ["-m", model, wide])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("9 columns") && r.stderr.contains("trained on 8"), r.stderr)

        let pca = try writeData("pca.zmat", space: "pca:feedfacefeedface")
        r = try Tool.run("rf-predict", ["-m", model, pca])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("pca:feedfacefeedface") && r.stderr.contains("pixels:test"), r.stderr)

        // NaN rows: train a float model, then predict a NaN.
        let floats = try writeFloats("f.zmat", [0, 1, 1, 0, 0, 0, 1, 1], columns: 2, labels: [0, 1, 0, 1])
        let floatModel = dir + "/f.model"
        XCTAssertEqual(try Tool.run("rf-tree", [floats, "-o", floatModel]).status, 0)
        let nan = try writeFloats("nan.zmat", [0, 1, 1, .nan], columns: 2, labels: [0, 1])
        r = try Tool.run("rf-predict", ["-m", floatModel, nan])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("row 1, column 1: NaN"), r.stderr)

        // A truncated model, a model cut at every tenth of its length, features as a model.
        let whole = try bytes(model)
        for cut in stride(from: whole.count / 10, to: whole.count, by: whole.count / 10) {
            let damaged = dir + "/cut.zmat"
            try whole.prefix(cut).write(to: URL(fileURLWithPath: damaged))
            r = try Tool.run("rf-predict", ["-m", damaged, train, "-o", dir + "/p.zmat"])
            XCTAssertEqual(r.status, 1, "cut at \(cut): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("rf-predict: \(damaged)") && r.stderr.contains("truncated"), r.stderr)
        }
        r = try Tool.run("rf-predict", ["-m", train, train])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("not a model"), r.stderr)

        // A forest of zero trees.
        var meta = ZmatMetadata()
        for (k, v) in [("kind", "forest"), ("features", "8"), ("classes", "0,1"), ("trees", "0"), ("tree.index", ""), ("tree.nodes", "")] {
            meta[k] = v
        }
        let empty = dir + "/empty.zmat"
        let out = try OutputFile(path: empty)
        let w = try ZmatWriter(output: out, header: ZmatHeader(elementType: .float32, columns: 8, hasLabels: false, metadata: meta))
        try w.finish()
        try out.commit()
        r = try Tool.run("rf-predict", ["-m", empty, train])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("zero trees"), r.stderr)
        r = try Tool.run("rf-merge", [empty, "-o", dir + "/m.zmat"])
        XCTAssertEqual(r.status, 1, r.stderr)

        // Models whose nodes lie: a fractional feature, a child before its parent, a
        // probability above 1, more rows than 'tree.nodes' says.
        let lies: [([Float], String)] = [
            ([2.5, 0.5, 1, 2, 4, 0.5, 0, 0], "feature 2.5"),
            ([0, 0.5, 0, 1, 4, 0.5, 0, 0], "children 0.0, 1.0"),
            ([0, 0.5, 1, 2, 4, 0.5, 0, 0, -1, 0, -1, -1, 2, 0, 1.5, 0, -1, 0, -1, -1, 2, 0, 0, 1], "probability 1.5"),
            ([-1, 0, -1, -1, 2, 0, 1, 0, -1, 0, -1, -1, 2, 0, 0, 1], "more node rows"),
        ]
        for (values, message) in lies {
            var lieMeta = ZmatMetadata()
            for (k, v) in [("kind", "tree"), ("features", "8"), ("classes", "0,1"), ("trees", "1"), ("tree.index", "0"),
                           ("tree.nodes", values.count == 8 ? "3" : values.count == 16 ? "1" : "3")] {
                lieMeta[k] = v
            }
            let liar = dir + "/liar.zmat"
            let o = try OutputFile(path: liar)
            let lw = try ZmatWriter(output: o, header: ZmatHeader(elementType: .float32, columns: 8, hasLabels: false, metadata: lieMeta))
            try lw.append(rows: values.count / 8, values: values)
            try lw.finish()
            try o.commit()
            r = try Tool.run("rf-predict", ["-m", liar, train])
            XCTAssertEqual(r.status, 1, "\(message): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(message): \(r.stderr)")
        }

        // rf-eval needs labels to score.
        let unlabelled = try writeData("unlabelled.zmat", labels: false)
        r = try Tool.run("rf-eval", ["-m", model, unlabelled])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("no labels"), r.stderr)
        r = try Tool.shell("rf-eval < '\(train)'")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("expected predictions"), r.stderr)
    }

    func testOutOfBagAndPresets() throws {
        let train = try writeData("train.zmat", rows: 500)
        let model = dir + "/oob.zmat"
        var r = try Tool.run("rf-tree", [train, "--trees", "30", "--oob", "-o", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(r.stderr.range(of: #"out-of-bag accuracy: 0\.[0-9]{4} \(500 rows\)"#, options: .regularExpression), r.stderr)
        let m = try ZmatReader(path: model).header.metadata
        XCTAssertNotNil(m["oob.accuracy"])
        XCTAssertGreaterThan(Double(m["oob.accuracy"]!)!, 0.8)

        let opencv = dir + "/opencv.zmat"
        r = try Tool.run("rf-tree", [train, "--preset", "opencv", "--threads", "2", "-o", opencv])
        XCTAssertEqual(r.status, 0, r.stderr)
        let forest = try Forest(path: opencv)
        XCTAssertEqual(forest.treeCount, 100)
        XCTAssertTrue(forest.depths().allSatisfy { $0 <= 10 })
        XCTAssertEqual(forest.header.metadata["param.max-depth"], "10")
        XCTAssertEqual(forest.header.metadata["param.min-samples-split"], "6")

        // Entropy, no bootstrap and explicit feature counts all train and record themselves.
        let custom = dir + "/custom.zmat"
        r = try Tool.run("rf-tree", [train, "--criterion", "entropy", "--no-bootstrap", "--sample-fraction", "0.5",
                                     "--max-features", "log2", "--min-samples-leaf", "3", "--max-depth", "6", "-o", custom])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c = try ZmatReader(path: custom).header.metadata
        XCTAssertEqual(c["param.criterion"], "entropy")
        XCTAssertEqual(c["param.bootstrap"], "false")
        XCTAssertEqual(c["param.max-features"], "log2")
        XCTAssertEqual(c["kind"], "tree")
    }
}
