/// How much memory a tool that must hold its data may take, and what it has taken so far.
///
/// Tools that keep rows in memory (`rf-tree`, `pca-fit`, `zmat shuffle`,
/// `zmat split --shuffle`) charge each block before they keep it, so a stream larger than the
/// machine (or than `--max-memory`) is refused with the numbers as soon as it passes the limit,
/// instead of being read to the end and killed by the kernel.
public final class MemoryBudget {
    /// The bytes allowed.
    public let limit: Int
    /// Where the limit comes from, for messages ("--max-memory 64M", "MemAvailable", ...).
    public let source: String
    /// Bytes charged so far.
    public private(set) var charged = 0

    public init(limit: Int, source: String) {
        self.limit = limit
        self.source = source
    }

    /// The given `--max-memory` when there is one, else what the machine has available now:
    /// the smaller of /proc/meminfo's MemAvailable and the cgroup's memory.max headroom (a
    /// container's limit is the one that kills it). No limit when neither can be read.
    public static func forTool(maxMemory: Int?) -> MemoryBudget {
        if let maxMemory {
            return MemoryBudget(limit: maxMemory, source: "--max-memory \(formatBytes(maxMemory))")
        }
        var best = MemoryBudget(limit: Int.max, source: "no known limit")
        if let text = text(of: "/proc/meminfo"), let available = memAvailable(meminfo: text) {
            best = MemoryBudget(limit: available, source: "the machine's available memory (MemAvailable)")
        }
        if let max = text(of: "/sys/fs/cgroup/memory.max"), let current = text(of: "/sys/fs/cgroup/memory.current"),
           let headroom = cgroupHeadroom(max: max, current: current), headroom < best.limit {
            best = MemoryBudget(limit: headroom, source: "the cgroup's memory.max less its current use")
        }
        return best
    }

    /// Adds `bytes` to what is held; throws, naming what was being held and the numbers, when
    /// the total passes the limit. `what` completes "holding ...", `file` the input's name.
    public func charge(_ bytes: Int, holding what: @autoclosure () -> String, file: String) throws {
        let (total, overflow) = charged.addingReportingOverflow(max(0, bytes))
        guard !overflow, total <= limit else {
            throw GroveError(file: file,
                "holding \(what()) needs \(MemoryBudget.formatBytes(overflow ? Int.max : total)) of memory, more than the \(MemoryBudget.formatBytes(limit)) allowed by \(source)")
        }
        charged = total
    }

    /// Returns `bytes` (for example a block freed once it has been converted).
    public func release(_ bytes: Int) {
        charged = max(0, charged - bytes)
    }

    /// MemAvailable in bytes from the text of /proc/meminfo.
    public static func memAvailable(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return kib.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kib * 1024
        }
        return nil
    }

    /// memory.max minus memory.current (cgroup v2), or nil for "max" or unreadable values.
    public static func cgroupHeadroom(max: String, current: String) -> Int? {
        let m = max.split(separator: "\n").first.map(String.init) ?? ""
        let c = current.split(separator: "\n").first.map(String.init) ?? ""
        guard let limit = Int(m), let used = Int(c) else { return nil }
        return Swift.max(0, limit - used)
    }

    /// Parses a size: a byte count with an optional K, M, G or T suffix (powers of 1024,
    /// optionally followed by "B" or "iB"), e.g. `512M`, `1.5G`, `2GiB`, `1000000`.
    public static func parseSize(_ text: String) -> Int? {
        var s = Substring(text)
        if s.hasSuffix("iB") { s = s.dropLast(2) } else if s.hasSuffix("B") { s = s.dropLast() }
        var scale = 1.0
        if let last = s.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last).uppercased()] {
            scale = Double(1 << (10 * power))
            s = s.dropLast()
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(s), value > 0 else { return nil }
        let bytes = value * scale
        guard bytes.isFinite, bytes < 9.0e18 else { return nil }
        return Int(bytes.rounded(.up))
    }

    /// A byte count for people: "812 KiB", "1.6 GiB".
    public static func formatBytes(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) bytes" }
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? "\(Int(tenths)) \(units[unit])" : "\(tenths) \(units[unit])"
    }

    /// A small kernel file's text, or nil when it cannot be read (no such cgroup, no /proc).
    private static func text(of path: String) -> String? {
        guard let bytes = try? InputFile(path: path).readAll() else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
