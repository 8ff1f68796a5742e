import Foundation
import Grove
import XCTest

/// The threaded code with more threads than this machine has cores (2): `make test-tsan` runs
/// these under ThreadSanitizer. Each also checks the result does not depend on the thread count.
final class ThreadingTests: XCTestCase {
    static let many = max(8, 4 * Parallel.availableCores)

    func testParallelForEachGivesEveryIndexOnce() {
        for count in [0, 1, 7, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { slots in
                Parallel.forEach(count, threads: Self.many) { i in slots[i] += i + 1 }
            }
            XCTAssertEqual(hits, (0..<count).map { $0 + 1 })
        }
    }

    /// The prefetcher reads ahead on its own thread: the blocks come out as a plain reader
    /// gives them, and closing it early (a consumer that stops) is safe.
    func testBlockPrefetcherMatchesPlainReading() throws {
        let path = ForestFixtures.temporaryPath(self, "many-blocks.zmat")
        var rng = TestRandom(state: 3)
        // 3 MiB of uint8 rows: several 1 MiB blocks.
        let m = PropertyTests.randomMatrix(&rng, rows: 3 * 4096 + 17, columns: 256, type: .uint8, labels: true)
        let out = try OutputFile(path: path)
        _ = try m.write(to: out)
        try out.commit()
        for depth in [1, 2, 5] {
            let prefetcher = BlockPrefetcher(try ZmatReader(path: path), depth: depth)
            var bytes = [UInt8](), labels = [Int32]()
            while let b = try prefetcher.nextBlock() {
                bytes += b.elementBytes
                labels += b.labels!
            }
            prefetcher.close()
            XCTAssertEqual(bytes, Array(m.elementBytes), "depth \(depth)")
            XCTAssertEqual(labels, Array(m.labels!), "depth \(depth)")
        }
        for stopAfter in 0..<3 {
            let prefetcher = BlockPrefetcher(try ZmatReader(path: path), depth: 3)
            for _ in 0..<stopAfter { _ = try prefetcher.nextBlock() }
            prefetcher.close()
        }
    }

    func testCoMomentsEigenAndProjectionWithManyThreads() throws {
        var rng = TestRandom(state: 4)
        let columns = 40, rows = 300
        let values = (0..<rows * columns).map { _ in Double(rng.below(256)) }
        let m = PCATests.matrix(values, columns: columns, type: .uint8)
        let one = try PCATests.statistics(m, threads: 1)
        let many = try PCATests.statistics(m, threads: Self.many)
        XCTAssertEqual(one, many)
        let model1 = try PCAModel.fit(one, selection: .count(5), whiten: false, threads: 1)
        let modelN = try PCAModel.fit(many, selection: .count(5), whiten: false, threads: Self.many)
        XCTAssertEqual(model1.components, modelN.components)
        func project(_ threads: Int) throws -> [Float] {
            var out = [Float](repeating: 0, count: rows * 5)
            try out.withUnsafeMutableBufferPointer {
                try PCAProjector(model: model1, threads: threads).project(m.block, into: $0.baseAddress!, firstRow: 0, name: "m")
            }
            return out
        }
        XCTAssertEqual(try project(1), try project(Self.many))
    }

    func testTreeTrainingAndPredictionWithManyThreads() throws {
        var rng = TestRandom(state: 6)
        let rows = 200, columns = 6
        let (values, labels) = PropertyTests.labelledRows(&rng, rows: rows, columns: columns) { $0[0] + $0[1] > 1 ? 1 : 0 }
        let m = ForestFixtures.matrix(values, columns: columns, labels: labels)
        let data = try TrainingSet.make(m, threads: Self.many)
        XCTAssertEqual(try TrainingSet.make(m, threads: 1).classes, data.classes)
        let one = try ForestFixtures.train(self, data, ForestParameters(), trees: 12, threads: 1)
        let many = try ForestFixtures.train(self, data, ForestParameters(), trees: 12, threads: Self.many)
        XCTAssertEqual(one.bytes, many.bytes)
        XCTAssertEqual(try ForestFixtures.predict(many.forest, m, threads: 1),
                       try ForestFixtures.predict(many.forest, m, threads: Self.many))
    }

    func testParallelPNGDecodeWithManyThreads() throws {
        let dir = PropertyTests.temporaryDirectory(self)
        for i in 0..<40 {
            let folder = "\(dir)/png/\(i % 4)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let samples = (0..<36).map { UInt16(($0 * 7 + i) % 256) }
            let bytes = PNGWriter.encode(width: 6, height: 6, colorType: .gray, bitDepth: 8, samples: samples)
            FileManager.default.createFile(atPath: "\(folder)/\(i).png", contents: Data(bytes))
        }
        var outputs = Set<Data>()
        for (threads, batch, resize) in [(1, 256, false), (Self.many, 3, false), (Self.many, 5, true), (1, 7, true)] {
            var options = DecodeOptions()
            options.threads = threads
            options.batchSize = batch
            if resize { options.resize = ImageSize(width: 4, height: 4) }
            let path = "\(dir)/out-\(threads)-\(batch).zmat"
            let out = try OutputFile(path: path)
            _ = try MnistDecoder.run(.pngFolder(dir + "/png"), options: options, output: out)
            try out.commit()
            if !resize { outputs.insert(try Data(contentsOf: URL(fileURLWithPath: path))) }
        }
        XCTAssertEqual(outputs.count, 1, "the output depends on the thread count")
    }
}
