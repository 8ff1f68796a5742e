import XCTest
@testable import Grove

final class MemoryBudgetTests: XCTestCase {
    func testSizesParseInPowersOf1024() {
        XCTAssertEqual(MemoryBudget.parseSize("1000000"), 1_000_000)
        XCTAssertEqual(MemoryBudget.parseSize("512K"), 512 << 10)
        XCTAssertEqual(MemoryBudget.parseSize("64M"), 64 << 20)
        XCTAssertEqual(MemoryBudget.parseSize("64MiB"), 64 << 20)
        XCTAssertEqual(MemoryBudget.parseSize("2GB"), 2 << 30)
        XCTAssertEqual(MemoryBudget.parseSize("1.5g"), 3 << 29)
        XCTAssertEqual(MemoryBudget.parseSize("1T"), 1 << 40)
        for bad in ["", "0", "-1", "M", "1.2.3M", "12Q", "1e3", " 5M", "1e400", "99999999999T"] {
            XCTAssertNil(MemoryBudget.parseSize(bad), bad)
        }
    }

    func testBytesFormatForPeople() {
        XCTAssertEqual(MemoryBudget.formatBytes(512), "512 bytes")
        XCTAssertEqual(MemoryBudget.formatBytes(1 << 20), "1 MiB")
        XCTAssertEqual(MemoryBudget.formatBytes(1_700_000_000), "1.6 GiB")
    }

    func testChargesAccumulateAndStopPastTheLimit() throws {
        let budget = MemoryBudget(limit: 1000, source: "--max-memory 1000 bytes")
        try budget.charge(600, holding: "a", file: "f")
        budget.release(100)
        try budget.charge(500, holding: "b", file: "f")
        XCTAssertEqual(budget.charged, 1000)
        XCTAssertThrowsError(try budget.charge(1, holding: "10 rows", file: "in.zmat")) { error in
            XCTAssertEqual("\(error)", "in.zmat: holding 10 rows needs 1001 bytes of memory, more than the 1000 bytes allowed by --max-memory 1000 bytes")
        }
        XCTAssertEqual(budget.charged, 1000, "a refused charge is not kept")
        XCTAssertThrowsError(try budget.charge(Int.max, holding: "everything", file: "f"))
    }

    func testMachineLimitsReadFromProcAndCgroupText() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n"
        XCTAssertEqual(MemoryBudget.memAvailable(meminfo: meminfo), 20_000_000 * 1024)
        XCTAssertNil(MemoryBudget.memAvailable(meminfo: "MemTotal: 5 kB\n"))
        XCTAssertEqual(MemoryBudget.cgroupHeadroom(max: "1073741824\n", current: "73741824\n"), 1_000_000_000)
        XCTAssertNil(MemoryBudget.cgroupHeadroom(max: "max\n", current: "5\n"))
        // On this machine some limit is known, and it is positive.
        let here = MemoryBudget.forTool(maxMemory: nil)
        XCTAssertGreaterThan(here.limit, 0)
        XCTAssertEqual(MemoryBudget.forTool(maxMemory: 5 << 20).source, "--max-memory 5 MiB")
    }
}
