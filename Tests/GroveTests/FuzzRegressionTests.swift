import Foundation
import Grove
import XCTest

/// Inputs the fuzzers (fuzz/targets, `make fuzz`) or their hand-made neighbours crashed a
/// reader with, kept as tests: each must now be a clear `GroveError` naming the file.
final class FuzzRegressionTests: XCTestCase {
    /// A model stream of no rows whose metadata is `metadata` (a forest of 2 classes).
    static func modelFile(_ test: XCTestCase, _ metadata: [(String, String)]) throws -> String {
        let path = ForestFixtures.temporaryPath(test, "model.zmat")
        let out = try OutputFile(path: path)
        let header = ZmatHeader(elementType: .float32, columns: ForestLayout.columns(classes: 2), hasLabels: false,
                                metadata: ZmatMetadata([("kind", "forest"), ("features", "2"), ("classes", "0,1")] + metadata))
        _ = try ZmatWriter(output: out, header: header).finish()
        try out.commit()
        return path
    }

    static func assertRefused(_ path: String, mentioning key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Forest(path: path), file: file, line: line) { error in
            let message = (error as? GroveError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(path) && message.contains(key), message, file: file, line: line)
        }
    }

    /// Found by reading ForestHeader against the fuzz target `forest`: a 150-byte model whose
    /// 'tree.nodes' promised 10^15 nodes made the loader reserve 16 PB (an abort in
    /// rf-predict, rf-eval, rf-merge and zmat info).
    func testHugeNodeCountIsRefusedNotReserved() throws {
        let path = try Self.modelFile(self, [("trees", "1"), ("tree.index", "0"), ("tree.nodes", "1000000000000000")])
        Self.assertRefused(path, mentioning: "tree.nodes")
    }

    /// Two counts of 2^62 summed past Int.max: an overflow trap (undefined under -Ounchecked).
    func testNodeCountsThatOverflowWhenSummedAreRefused() throws {
        let path = try Self.modelFile(self, [("trees", "2"), ("tree.index", "0,1"),
                                             ("tree.nodes", "4611686018427387904,4611686018427387904")])
        Self.assertRefused(path, mentioning: "tree.nodes")
    }

    /// 'features' sizes per-feature arrays (importances): beyond the widest stream is refused.
    func testHugeFeatureCountIsRefused() throws {
        let path = try Self.modelFile(self, [("trees", "1"), ("tree.index", "0"), ("tree.nodes", "1")])
        XCTAssertThrowsError(try Forest(path: path))  // no rows: the stream ends before its node
        let wide = ForestFixtures.temporaryPath(self, "wide.zmat")
        let out = try OutputFile(path: wide)
        let header = ZmatHeader(elementType: .float32, columns: ForestLayout.columns(classes: 1), hasLabels: false,
                                metadata: ZmatMetadata([("kind", "tree"), ("features", "999999999999"), ("classes", "0"),
                                                        ("trees", "1"), ("tree.index", "0"), ("tree.nodes", "1")]))
        let writer = try ZmatWriter(output: out, header: header)
        try writer.append(rows: 1, values: [Float(-1), 0, -1, -1, 1, 0, 1])
        _ = try writer.finish()
        try out.commit()
        Self.assertRefused(wide, mentioning: "features")
    }
}
