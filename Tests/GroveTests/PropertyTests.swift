import Foundation
import Grove
import XCTest

/// Property tests over seeded random inputs (issue 12): each property is checked on many
/// generated cases; a failure names the case's seed so it can be replayed alone.
final class PropertyTests: XCTestCase {
    static let types: [ElementType] = [.uint8, .int32, .float32, .float64]

    /// A random matrix: `rows` x `columns` of `type`, labels or not, random metadata.
    static func randomMatrix(_ rng: inout TestRandom, rows: Int, columns: Int, type: ElementType,
                             labels: Bool) -> Matrix {
        var meta = ZmatMetadata()
        for i in 0..<rng.below(4) {
            // Keys and values with spaces, '=', newlines and non-ASCII text.
            let value = (0..<rng.below(12)).map { _ in ["a", "=", " ", "\n", "é", "7", "\u{1F332}"][rng.below(7)] }.joined()
            meta["key.\(i).\(rng.below(1000))"] = value
        }
        let m = Matrix(header: ZmatHeader(elementType: type, columns: columns, hasLabels: labels, metadata: meta),
                       rows: rows)
        let n = rows * columns
        switch type {
        case .uint8: let v = m.values(as: UInt8.self); for i in 0..<n { v[i] = UInt8(truncatingIfNeeded: rng.next()) }
        case .int32: let v = m.values(as: Int32.self); for i in 0..<n { v[i] = Int32(truncatingIfNeeded: rng.next()) }
        case .float32:
            let v = m.values(as: Float.self)
            for i in 0..<n { v[i] = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        case .float64: let v = m.values(as: Double.self); for i in 0..<n { v[i] = Double(bitPattern: rng.next()) }
        }
        if let l = m.labels { for i in 0..<rows { l[i] = Int32(truncatingIfNeeded: rng.next()) } }
        return m
    }

    /// `rows` rows of uniform [0, 1) features, labelled by `label`.
    static func labelledRows(_ rng: inout TestRandom, rows: Int, columns: Int,
                             label: ([Float]) -> Int32) -> (values: [Float], labels: [Int32]) {
        var values = [Float](), labels = [Int32]()
        for _ in 0..<rows {
            let x = (0..<columns).map { _ in Float(rng.unit()) }
            values += x
            labels.append(label(x))
        }
        return (values, labels)
    }

    static func temporaryDirectory(_ test: XCTestCase) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-prop-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// The stream bytes of `m` as the writer makes them.
    static func streamBytes(_ m: Matrix, dir: String) throws -> [UInt8] {
        let path = dir + "/m.zmat"
        let out = try OutputFile(path: path)
        _ = try m.write(to: out)
        try out.commit()
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Reads `bytes` through a pipe in exactly the given pieces: each piece is written only
    /// once the reader has drained the pipe, so each of its reads returns at most one piece.
    static func readThroughPipe(_ bytes: [UInt8], pieces: [Int]) throws -> (Matrix, UInt64?) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let writer = Thread {
            var at = 0
            for size in pieces where size > 0 {
                // Wait (at most 10 s) until the reader has taken everything written so far.
                let deadline = Date().addingTimeInterval(10)
                var pending: Int32 = 1
                while Date() < deadline, ioctl(writeEnd, UInt(FIONREAD), &pending) == 0, pending > 0 { usleep(50) }
                let n = bytes.withUnsafeBytes { write(writeEnd, $0.baseAddress! + at, size) }
                if n != size { break }
                at += size
            }
            close(writeEnd)
        }
        writer.start()
        let reader = try ZmatReader(InputFile(path: "/proc/self/fd/\(readEnd)"))
        let m = try reader.readAll()
        return (m, reader.contentHash)
    }

    static func assertSame(_ a: Matrix, _ b: Matrix, _ context: String) {
        XCTAssertEqual(a.header.elementType, b.header.elementType, context)
        XCTAssertEqual(a.header.columns, b.header.columns, context)
        XCTAssertEqual(a.header.hasLabels, b.header.hasLabels, context)
        XCTAssertEqual(a.header.metadata, b.header.metadata, context)
        XCTAssertEqual(a.rows, b.rows, context)
        XCTAssertEqual(Array(a.elementBytes), Array(b.elementBytes), context)
        XCTAssertEqual(a.labels.map(Array.init), b.labels.map(Array.init), context)
    }

    /// Write then read gives back the same matrix, bit for bit (NaN payloads included), for
    /// random shapes, types, labels and metadata, however the bytes are cut into reads.
    func testZmatRoundTripUnderAnySplitOfReads() throws {
        let dir = Self.temporaryDirectory(self)
        for seed in 1...40 as ClosedRange<UInt64> {
            var rng = TestRandom(state: seed)
            let type = Self.types[rng.below(4)]
            // Mostly small, sometimes more than one block (1 MiB blocks).
            let columns = [0, 1, 3, 17, 784][rng.below(5)]
            let rows = seed % 10 == 0 ? (1 << 20) / max(columns * type.size, 1) + rng.below(50) : rng.below(40)
            let m = Self.randomMatrix(&rng, rows: rows, columns: columns, type: type, labels: rng.below(2) == 1)
            let bytes = try Self.streamBytes(m, dir: dir)
            let context = "seed \(seed): \(rows) x \(columns) \(type), \(bytes.count) bytes"
            var splits: [[Int]] = [[bytes.count]]
            // Random cuts; every cut point for small streams; one byte per read for small ones.
            var cuts = [Int](), rest = bytes.count
            while rest > 0 { let c = min(rest, 1 + rng.below(max(1, bytes.count / 3))); cuts.append(c); rest -= c }
            splits.append(cuts)
            if bytes.count <= 200 {
                splits.append([Int](repeating: 1, count: bytes.count))
                for cut in 1..<bytes.count { splits.append([cut, bytes.count - cut]) }
            }
            for pieces in splits {
                let (back, hash) = try Self.readThroughPipe(bytes, pieces: pieces)
                Self.assertSame(back, m, context + ", reads \(pieces.prefix(8))")
                XCTAssertNotNil(hash, context)
            }
        }
    }

    /// Cutting a stream anywhere before its end is reported as truncation, never accepted.
    func testEveryTruncationIsAnError() throws {
        let dir = Self.temporaryDirectory(self)
        var rng = TestRandom(state: 99)
        let m = Self.randomMatrix(&rng, rows: 5, columns: 3, type: .float32, labels: true)
        let bytes = try Self.streamBytes(m, dir: dir)
        for cut in 0..<bytes.count {
            let path = dir + "/cut.zmat"
            FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<cut]))
            XCTAssertThrowsError(try ZmatReader(path: path).readAll(), "cut at \(cut) of \(bytes.count)") { error in
                XCTAssertTrue((error as? GroveError)?.message.contains(path) ?? false, "\(error)")
            }
        }
    }

    /// npy: encode then decode gives back type, shape and bytes, for every element type.
    func testNpyRoundTrip() throws {
        for seed in 1...60 as ClosedRange<UInt64> {
            var rng = TestRandom(state: seed)
            let type = Self.types[rng.below(4)]
            let rows = rng.below(30), columns = rng.below(2) == 0 ? nil : rng.below(20)
            let m = Self.randomMatrix(&rng, rows: rows, columns: columns ?? 1, type: type, labels: false)
            let encoded = Npy.encode(elementType: type, rows: rows, columns: columns,
                                     body: UnsafeRawBufferPointer(m.elementBytes))
            let back = try Npy.decode(encoded, name: "x.npy")
            XCTAssertEqual(back.elementType, type, "seed \(seed)")
            XCTAssertEqual(back.rows, rows, "seed \(seed)")
            XCTAssertEqual(back.columns, columns ?? 1, "seed \(seed)")
            XCTAssertEqual(back.bytes, Array(m.elementBytes), "seed \(seed)")
        }
    }

    /// CSV: the lines Csv writes read back to the same values (labels first) for every type;
    /// float NaN and infinities excepted from the generator, as CSV has no NaN payloads.
    func testCsvRoundTrip() throws {
        let dir = Self.temporaryDirectory(self)
        for seed in 1...40 as ClosedRange<UInt64> {
            var rng = TestRandom(state: seed)
            let type = Self.types[rng.below(4)]
            let rows = 1 + rng.below(30), columns = 1 + rng.below(12)
            let labels = rng.below(2) == 1
            let m = Self.randomMatrix(&rng, rows: rows, columns: columns, type: type, labels: labels)
            if type == .float32 { let v = m.values(as: Float.self); for i in 0..<v.count where !v[i].isFinite { v[i] = -0.5 } }
            if type == .float64 { let v = m.values(as: Double.self); for i in 0..<v.count where !v[i].isFinite { v[i] = 1e-300 } }
            let text = Csv.headerLine(columns: columns, labels: labels) + "\n" + Csv.lines(m.block)
            let csvPath = dir + "/t.csv", zPath = dir + "/t.zmat"
            try text.write(toFile: csvPath, atomically: false, encoding: .utf8)
            let out = try OutputFile(path: zPath)
            let reader = Csv.Reader(input: try InputFile(path: csvPath), elementType: type, labelColumn: labels ? .first : .none)
            _ = try reader.read { try ZmatWriter(output: out, header: $0) }.finish()
            try out.commit()
            let back = try Matrix.load(path: zPath)
            XCTAssertEqual(back.rows, rows, "seed \(seed)")
            XCTAssertEqual(back.columns, columns, "seed \(seed)")
            XCTAssertEqual(Array(back.elementBytes), Array(m.elementBytes), "seed \(seed) \(type)")
            XCTAssertEqual(back.labels.map(Array.init), m.labels.map(Array.init), "seed \(seed)")
        }
    }

    /// All groupings of a list of shards: ((a b) c), (a (b c)), ... as nested merges.
    static func groupings(_ n: Int) -> [[Range<Int>]] {
        // Split points into contiguous groups: every subset of the n - 1 gaps.
        (0..<(1 << max(n - 1, 0))).map { mask in
            var groups = [Range<Int>](), start = 0
            for gap in 0..<(n - 1) where mask & (1 << gap) != 0 { groups.append(start..<(gap + 1)); start = gap + 1 }
            groups.append(start..<n)
            return groups
        }
    }

    /// PCA partial statistics merged in any grouping and order equal one pass over all rows:
    /// exactly for uint8 (integer accumulation), to 1e-9 relative for floats.
    func testPCAPartialsMergeInAnyGrouping() throws {
        for (seed, type) in [(1, ElementType.uint8), (2, .float32), (3, .float64), (4, .int32)] as [(UInt64, ElementType)] {
            var rng = TestRandom(state: seed)
            let columns = 2 + rng.below(6), shards = 4
            var parts = [Matrix]()
            var all = [Double]()
            for _ in 0..<shards {
                let rows = 1 + rng.below(30)
                let values = (0..<rows * columns).map { _ in type == .uint8 ? Double(rng.below(256)) : (rng.unit() - 0.5) * 100 }
                all += values
                parts.append(PCATests.matrix(values, columns: columns, type: type))
            }
            let onePass = try PCATests.statistics(PCATests.matrix(all, columns: columns, type: type), threads: 1)
            let partials = try parts.map { try PCATests.statistics($0, threads: 1 + rng.below(3)) }
            for grouping in Self.groupings(shards) {
                var groups = try grouping.map { range -> CoMoments in
                    var s = partials[range.lowerBound]
                    for i in range.dropFirst() { try s.merge(partials[i]) }
                    return s
                }
                if rng.below(2) == 1 { groups.reverse() }   // order of merging
                var merged = groups[0]
                for g in groups.dropFirst() { try merged.merge(g) }
                let context = "seed \(seed) \(type), grouping \(grouping)"
                XCTAssertEqual(merged.count, onePass.count, context)
                if type == .uint8 {
                    XCTAssertEqual(merged, onePass, context)
                } else {
                    let a = merged.centered(), b = onePass.centered()
                    for (x, y) in zip(a.first + a.second, b.first + b.second) {
                        XCTAssertEqual(x, y, accuracy: 1e-9 * max(1, abs(y)), context)
                    }
                }
            }
        }
    }

    /// Trees trained apart and merged in any grouping predict exactly as one forest.
    func testForestsMergeInAnyGrouping() throws {
        var rng = TestRandom(state: 5)
        let rows = 120, columns = 5
        let (values, labels) = Self.labelledRows(&rng, rows: rows, columns: columns) {
            Int32(($0[0] > 0.5 ? 1 : 0) + ($0[1] > 0.3 ? 2 : 0))
        }
        let data = try TrainingSet.make(ForestFixtures.matrix(values, columns: columns, labels: labels), threads: 1)
        var params = ForestParameters()
        params.seed = 11
        let trees = 4
        let dir = Self.temporaryDirectory(self)
        try ForestFixtures.train(self, data, params, trees: trees, threads: 2).bytes
            .write(to: URL(fileURLWithPath: dir + "/all.zmat"))
        for i in 0..<trees {
            try ForestFixtures.train(self, data, params, trees: 1, firstIndex: i).bytes
                .write(to: URL(fileURLWithPath: dir + "/t\(i).zmat"))
        }
        let test = ForestFixtures.matrix(values, columns: columns, labels: nil)
        func probabilities(_ path: String) throws -> [Float] {
            let forest = try Forest(path: path)
            var p = [Float](repeating: 0, count: rows * forest.classes.count)
            var l = [Int32](repeating: 0, count: rows)
            try p.withUnsafeMutableBufferPointer { p in
                try l.withUnsafeMutableBufferPointer { l in
                    try forest.predict(test.block, name: "t", firstRow: 0, threads: 1,
                                       probabilities: p.baseAddress!, labels: l.baseAddress!)
                }
            }
            return p
        }
        let expected = try probabilities(dir + "/all.zmat")
        for (g, grouping) in Self.groupings(trees).enumerated() {
            var groupPaths = [String]()
            for (k, range) in grouping.enumerated() {
                let path = dir + "/g\(g)-\(k).zmat"
                let out = try OutputFile(path: path)
                _ = try ForestMerge.merge(range.map { dir + "/t\($0).zmat" }, to: out)
                try out.commit()
                groupPaths.append(path)
            }
            let final = dir + "/g\(g).zmat"
            let out = try OutputFile(path: final)
            _ = try ForestMerge.merge(groupPaths, to: out)
            try out.commit()
            XCTAssertEqual(try probabilities(final), expected, "grouping \(grouping)")
            // The merge is also byte for byte the forest trained at once (rf-merge's promise).
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: final)),
                           try Data(contentsOf: URL(fileURLWithPath: dir + "/all.zmat")), "grouping \(grouping)")
        }
    }
}
