#if canImport(Glibc)
import Glibc
#endif
// No Foundation here: String(contentsOfFile:) and trimmingCharacters(in:) pull ICU's tables
// into every statically linked tool (their images grew from 9 to 28 MB).

/// One DAG task as pipelines/stage-time.bash records it:
/// `STAGE <TAB> start <TAB> end <TAB> status <TAB> where <TAB> command` (epoch seconds).
/// Runners may append more columns; they are kept, unnamed, in `extra`.
public struct TaskRecord: Equatable, Sendable {
    public var stage: String
    public var start: Double
    public var end: Double
    /// The task's exit status (0 when the record has no status column).
    public var status: Int
    /// Host, node or container the runner names ("" when unknown).
    public var location: String
    public var command: String
    public var extra: [String]

    public init(stage: String, start: Double, end: Double, status: Int = 0, location: String = "",
                command: String = "", extra: [String] = []) {
        self.stage = stage; self.start = start; self.end = end; self.status = status
        self.location = location; self.command = command; self.extra = extra
    }

    public var seconds: Double { max(0, end - start) }
    public var succeeded: Bool { status == 0 }

    /// Parses a task log; errors name `name` and the line. Blank lines are skipped.
    public static func parse(_ text: String, name: String) throws -> [TaskRecord] {
        var records = [TaskRecord]()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func fail(_ what: String) -> GroveError { GroveError(file: name, "line \(i + 1): \(what)") }
            guard f.count >= 3 else {
                throw fail("\(f.count) field\(f.count == 1 ? "" : "s"), expected STAGE<TAB>start<TAB>end[<TAB>status<TAB>where<TAB>command...]")
            }
            guard let start = Double(f[1]), start.isFinite, let end = Double(f[2]), end.isFinite else {
                throw fail("start '\(f[1])' and end '\(f[2])' must be epoch seconds")
            }
            var status = 0
            if f.count > 3, !f[3].isEmpty {
                guard let s = Int(f[3]) else { throw fail("status '\(f[3])' is not an integer exit status") }
                status = s
            }
            records.append(TaskRecord(stage: f[0], start: start, end: end, status: status,
                                      location: f.count > 4 ? f[4] : "", command: f.count > 5 ? f[5] : "",
                                      extra: f.count > 6 ? Array(f[6...]) : []))
        }
        return records
    }

    /// For each record, whether it failed and no later record of the same stage and command
    /// succeeded (a lost task: every attempt failed).
    public static func lost(_ records: [TaskRecord]) -> [Bool] {
        var succeededLater = Set<String>()
        var out = [Bool](repeating: false, count: records.count)
        for i in records.indices.reversed() {
            let key = records[i].stage + "\t" + records[i].command
            if records[i].succeeded { succeededLater.insert(key) } else { out[i] = !succeededLater.contains(key) }
        }
        return out
    }

    /// For each record, whether it repeats the command of an earlier record (a retry).
    public static func retries(_ records: [TaskRecord]) -> [Bool] {
        var seen = Set<String>()
        return records.map { r in
            let key = r.stage + "\t" + r.command
            defer { seen.insert(key) }
            return !r.command.isEmpty && seen.contains(key)
        }
    }
}

/// One row of the stage table: over the stage's tasks that succeeded, their count, the wall
/// span (first start to last end) and summed task time, as pipelines/stage-report prints it.
public struct StageSummary: Equatable, Sendable {
    public var stage: String
    public var tasks: Int
    public var failed: Int
    public var wall: Double
    public var busy: Double

    /// Stages in the order they first started (by record order, as stage-report does).
    public static func summarize(_ records: [TaskRecord]) -> [StageSummary] {
        var order = [String](), rows = [String: StageSummary](), first = [String: Double](), last = [String: Double]()
        for r in records {
            if rows[r.stage] == nil { order.append(r.stage); rows[r.stage] = StageSummary(stage: r.stage, tasks: 0, failed: 0, wall: 0, busy: 0) }
            if !r.succeeded { rows[r.stage]!.failed += 1; continue }
            rows[r.stage]!.tasks += 1
            rows[r.stage]!.busy += r.end - r.start
            first[r.stage] = min(first[r.stage] ?? r.start, r.start)
            last[r.stage] = max(last[r.stage] ?? r.end, r.end)
        }
        return order.map { s in
            var row = rows[s]!
            if let a = first[s], let b = last[s] { row.wall = b - a }
            return row
        }
    }
}

/// What a report says about the machine and the names of classes.
public enum RunContext {
    /// "CPU model, N cores" from /proc/cpuinfo and the online processor count.
    public static func machine() -> String {
        var model = "unknown CPU"
        if let text = readText("/proc/cpuinfo"),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = trimmed(line[line.index(after: colon)...])
        }
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return "\(model), \(cores) core\(cores == 1 ? "" : "s")"
    }

    /// Every file in `directory` as (name, first line), by name; empty when there is none.
    public static func parameters(directory: String) -> [(String, String)] {
        guard let dir = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            names.append(name)
        }
        closedir(dir)
        return names.filter { !$0.hasPrefix(".") && !$0.contains(".tmp") }.sorted().compactMap { name in
            guard let text = readText(directory + "/" + name) else { return nil }
            return (name, String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""))
        }
    }

    /// Fashion-MNIST's classes, label 0 to 9.
    public static let fashionMNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Names from a comma-separated list (label i is the i-th name), or `fashion` for
    /// Fashion-MNIST's; errors say what was expected.
    public static func classNames(_ spec: String) throws -> [String] {
        if spec.lowercased() == "fashion" || spec.lowercased() == "fashion-mnist" { return fashionMNIST }
        let names = spec.split(separator: ",", omittingEmptySubsequences: false).map { trimmed($0) }
        guard !names.contains(where: \.isEmpty) else {
            throw GroveError("--class-names '\(spec)': expected comma-separated names (label 0 first) or 'fashion'")
        }
        return names
    }

    /// Fashion-MNIST's names when a dataset path names Fashion-MNIST, else none.
    public static func classNames(dataset: String) -> [String]? {
        dataset.lowercased().contains("fashion") ? fashionMNIST : nil
    }

    /// `names[label]` when there is one, else the label itself.
    public static func name(of label: Int32, in names: [String]) -> String {
        label >= 0 && Int(label) < names.count ? names[Int(label)] : String(label)
    }
}

/// A forest's shape as the report shows it (what `zmat info` summarises).
public struct ForestSummary: Equatable, Sendable {
    public var name: String
    public var trees: Int
    public var classes: Int
    public var features: Int
    public var depth: (min: Int, median: Int, max: Int)
    public var nodes: Int
    public var leaves: Int
    public var bytes: Int

    public static func == (a: ForestSummary, b: ForestSummary) -> Bool {
        a.name == b.name && a.trees == b.trees && a.classes == b.classes && a.features == b.features
            && a.depth == b.depth && a.nodes == b.nodes && a.leaves == b.leaves && a.bytes == b.bytes
    }

    public init(name: String, trees: Int, classes: Int, features: Int, depth: (min: Int, median: Int, max: Int),
                nodes: Int, leaves: Int, bytes: Int) {
        self.name = name; self.trees = trees; self.classes = classes; self.features = features
        self.depth = depth; self.nodes = nodes; self.leaves = leaves; self.bytes = bytes
    }

    public init(_ forest: Forest, name: String, bytes: Int) {
        let d = forest.depths().sorted()
        self.init(name: name, trees: forest.treeCount, classes: forest.classes.count, features: forest.features,
                  depth: (d.first ?? 0, d.isEmpty ? 0 : d[d.count / 2], d.last ?? 0),
                  nodes: forest.nodes.count, leaves: forest.nodes.filter { $0.feature < 0 }.count, bytes: bytes)
    }

    /// Loads the forest at `path` (without training statistics) and summarises it.
    public init(path: String) throws {
        let forest = try Forest(path: path, statistics: false)
        var st = stat()
        let size = stat(path, &st) == 0 ? Int(st.st_size) : 0
        self.init(forest, name: path, bytes: size)
    }
}

/// A small text file's contents (nil when it cannot be read).
private func readText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
        bytes.append(contentsOf: chunk[0..<n])
    }
}

/// Without leading and trailing spaces and tabs.
private func trimmed<S: StringProtocol>(_ s: S) -> String {
    let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = s.firstIndex(where: { !isBlank($0) }), let last = s.lastIndex(where: { !isBlank($0) }) else { return "" }
    return String(s[first...last])
}
