import Grove
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Progress on standard error, as zstd shows it: on a terminal one line redrawn in place (what,
/// done/total, percentage, rate, time left), at most 8 times a second, cut to the terminal's
/// width and erased at the end, where one summary line may stay; with `--progress` into a file
/// or pipe, a plain line a second; otherwise nothing.
///
/// Work reports its count with `update`/`add`, an atomic store that any thread may make in a
/// loop without locking; a ticker thread draws. The total is a count (trees, images), or the
/// byte size of the inputs being read, in which case the position is asked of the files
/// themselves (`InputFile.readOffset`), so phases without a hook (a whole-stream read) move too.
/// `ToolMain` erases a line left open by an error, and `ToolMain.printError` clears it before a
/// diagnostic so the two never share a line.
public final class ProgressLine: @unchecked Sendable {
    public enum Style: Sendable {
        case off
        /// Redrawn in place with `\r` and erase-to-end-of-line.
        case terminal
        /// One complete line now and then (a log file).
        case lines
    }

    /// What `finish` leaves on standard error.
    public enum Summary {
        /// The count, the bytes read, the time taken and the rate.
        case measured
        /// This line.
        case text(String)
        /// Nothing: the line is erased.
        case none
    }

    /// Seconds between redraws: under zstd's and pv's 10 a second; plain lines once a second.
    static let terminalInterval = 0.125
    static let linesInterval = 1.0

    public let style: Style
    private let tool: String
    private let task: String
    private let unit: String
    /// The count's total; -1 while unknown.
    private let total = Atomic<Int>(-1)
    private let inputs: [InputFile]
    private let byteTotal: Int?
    private let count = Atomic<Int>(0)
    private let started: Double
    // Guarded by `mutex`: the ticker's state and every write to standard error.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private var stopping = false
    private var onScreen = false
    private var lastText = ""
    private var ticker: pthread_t?
    private var finished = false

    /// A line for `task` (e.g. "growing trees") counting `unit`s out of `total` (nil: unknown),
    /// or, with `inputs`, measured in bytes of those files when their sizes are known.
    init(style: Style, tool: String, task: String, unit: String, total: Int?, inputs: [InputFile] = []) {
        self.style = style
        self.tool = tool
        self.task = task
        self.unit = unit
        if let total { self.total.store(total, ordering: .relaxed) }
        self.inputs = inputs
        let sizes = inputs.map(\.regularFileSize)
        byteTotal = inputs.isEmpty || sizes.contains(where: { $0 == nil }) ? nil : sizes.reduce(0) { $0 + $1! }
        started = ProgressLine.now()
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        wake = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wake, &attributes)
        pthread_condattr_destroy(&attributes)
        if style != .off { startTicker() }
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    /// Sets the count done so far.
    @inline(__always) public func update(_ done: Int) {
        if style != .off { count.store(done, ordering: .relaxed) }
    }

    /// Sets the count done so far and its total, for work that learns its total as it goes.
    public func update(_ done: Int, of total: Int?) {
        guard style != .off else { return }
        self.total.store(total ?? -1, ordering: .relaxed)
        count.store(done, ordering: .relaxed)
    }

    /// Adds to the count done so far.
    @inline(__always) public func add(_ done: Int) {
        if style != .off { count.add(done, ordering: .relaxed) }
    }

    /// Stops the redraws, erases the line, and leaves `summary`.
    public func finish(_ summary: Summary = .measured) {
        guard style != .off else { return }
        stopTicker()
        pthread_mutex_lock(mutex)
        let again = finished
        finished = true
        pthread_mutex_unlock(mutex)
        if again { return }
        let line: String?
        switch summary {
        case .measured: line = measuredSummary()
        case .text(let text): line = text
        case .none: line = nil
        }
        pthread_mutex_lock(mutex)
        var out = onScreen ? "\r\u{1B}[K" : ""
        onScreen = false
        if let line { out += line + "\n" }
        ProgressLine.writeStderr(out)
        pthread_mutex_unlock(mutex)
    }

    /// Writes `text` (whole lines) to standard error with the line cleared first; the next
    /// redraw puts it back below.
    func writeAbove(_ text: String) {
        pthread_mutex_lock(mutex)
        ProgressLine.writeStderr((onScreen ? "\r\u{1B}[K" : "") + text)
        onScreen = false
        lastText = ""
        pthread_mutex_unlock(mutex)
    }

    // MARK: The ticker

    private func startTicker() {
        ProgressLine.register(self)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<ProgressLine>.fromOpaque(raw!).takeRetainedValue()
            me.tick()
            return nil
        }, context)
        if rc == 0 {
            ticker = thread
        } else {
            Unmanaged<ProgressLine>.fromOpaque(context).release()  // no thread: no redraws
        }
    }

    private func stopTicker() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        if let ticker { pthread_join(ticker, nil) }
        ticker = nil
        ProgressLine.unregister(self)
    }

    private func tick() {
        let interval = style == .terminal ? ProgressLine.terminalInterval : ProgressLine.linesInterval
        var deadline = started + interval
        pthread_mutex_lock(mutex)
        while !stopping {
            var until = timespec(tv_sec: Int(deadline), tv_nsec: Int((deadline - deadline.rounded(.down)) * 1e9))
            _ = pthread_cond_timedwait(wake, mutex, &until)
            if stopping { break }
            let now = ProgressLine.now()
            guard now >= deadline else { continue }
            deadline = now + interval
            draw(at: now)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Called with `mutex` held.
    private func draw(at now: Double) {
        let text = describe(elapsed: now - started)
        switch style {
        case .terminal:
            let shown = String(text.prefix(max(10, ProgressLine.terminalColumns() - 1)))
            if shown == lastText && onScreen { return }
            lastText = shown
            onScreen = true
            ProgressLine.writeStderr("\r" + shown + "\u{1B}[K")
        case .lines:
            ProgressLine.writeStderr(text + "\n")
        case .off:
            break
        }
    }

    // MARK: Text

    /// Bytes read so far from the inputs, when they can tell.
    private var bytesRead: Int? {
        guard byteTotal != nil else { return nil }
        var sum = 0
        for input in inputs {
            guard let offset = input.readOffset else { return nil }
            sum += offset
        }
        return min(sum, byteTotal!)
    }

    /// "rf-tree: growing trees 37/100 (37%), 12.3 trees/s, 0:05 left" or, by bytes,
    /// "pca-fit: reading 23.1/98.0 MB (24%), 45.2 MB/s, 120k rows, 0:02 left".
    func describe(elapsed: Double) -> String {
        let done = count.load(ordering: .relaxed)
        let total = self.total.load(ordering: .relaxed)
        var parts = ["\(tool): \(task)"]
        var fraction: Double?
        if let byteTotal, let bytes = bytesRead {
            parts[0] += " \(ProgressLine.megabytes(bytes))/\(ProgressLine.megabytes(byteTotal)) MB"
            fraction = byteTotal > 0 ? Double(bytes) / Double(byteTotal) : 1
            parts.append(ProgressLine.rate(Double(bytes) / 1e6, elapsed, "MB"))
            if done > 0 { parts.append("\(ProgressLine.scaled(Double(done))) \(unit)") }
        } else if total >= 0 {
            parts[0] += " \(done)/\(total) \(unit)"
            fraction = total > 0 ? Double(done) / Double(total) : 1
            parts.append(ProgressLine.rate(Double(done), elapsed, unit))
        } else {
            parts[0] += " \(ProgressLine.scaled(Double(done))) \(unit)"
            parts.append(ProgressLine.rate(Double(done), elapsed, unit))
        }
        if let fraction {
            let f = min(1, max(0, fraction))
            parts[0] += " (\(Int((f * 100).rounded(.down)))%)"
            if f > 0.005 && elapsed > 0.5 {
                parts.append("\(ProgressLine.clock(elapsed * (1 - f) / f)) left")
            }
        }
        return parts.joined(separator: ", ")
    }

    /// "rf-tree: 100 trees in 3.21 s (31.2 trees/s)", "pca-project: 60000 rows, 47.0 MB in ...".
    func measuredSummary() -> String {
        let elapsed = ProgressLine.now() - started
        let done = count.load(ordering: .relaxed)
        var text = "\(tool):"
        if let byteTotal {
            text += done > 0 ? " \(done) \(unit)," : ""
            text += " \(ProgressLine.megabytes(byteTotal)) MB in \(ProgressLine.duration(elapsed)) (\(ProgressLine.rate(Double(byteTotal) / 1e6, elapsed, "MB")))"
        } else if done == 0 {
            text += " done in \(ProgressLine.duration(elapsed))"
        } else {
            text += " \(done) \(unit) in \(ProgressLine.duration(elapsed)) (\(ProgressLine.rate(Double(done), elapsed, unit)))"
        }
        return text
    }

    static func rate(_ amount: Double, _ seconds: Double, _ unit: String) -> String {
        "\(scaled(seconds > 0 ? amount / seconds : 0)) \(unit)/s"
    }

    static func megabytes(_ bytes: Int) -> String { formatFixed(Double(bytes) / 1e6, 1) }

    /// Three significant digits or so: 0.52, 12.3, 3400, 45.2k, 1.2M.
    static func scaled(_ x: Double) -> String {
        switch x {
        case ..<10: return formatFixed(x, 2)
        case ..<100: return formatFixed(x, 1)
        case ..<10_000: return String(Int(x.rounded()))
        case ..<1e6: return formatFixed(x / 1e3, x < 1e5 ? 1 : 0) + "k"
        default: return formatFixed(x / 1e6, x < 1e8 ? 1 : 0) + "M"
        }
    }

    /// "0:05", "12:34", "1:02:03".
    static func clock(_ seconds: Double) -> String {
        let s = Int(min(seconds, 359_999).rounded(.up))
        let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
    }

    /// "0.42 s", "3.21 s", "2:05".
    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? "\(formatFixed(seconds, 2)) s" : clock(seconds)
    }

    // MARK: The process's lines

    private static let registry = Mutex<[ProgressLine]>([])

    private static func register(_ line: ProgressLine) {
        registry.withLock { $0.append(line) }
    }

    private static func unregister(_ line: ProgressLine) {
        registry.withLock { lines in lines.removeAll { $0 === line } }
    }

    /// Erases every line still drawing (an error ends the run).
    static func abandonAll() {
        for line in registry.withLock({ $0 }) { line.finish(.none) }
    }

    /// Writes whole lines to standard error, above the progress line if one is drawn.
    static func writeAboveAll(_ text: String) {
        if let line = registry.withLock({ $0.last }) { line.writeAbove(text) } else { writeStderr(text) }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func terminalColumns() -> Int {
        var size = winsize()
        let rc = withUnsafeMutablePointer(to: &size) { ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), $0) }
        guard rc == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    static func writeStderr(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var at = 0
            while at < bytes.count {
                let n = write(STDERR_FILENO, bytes.baseAddress! + at, bytes.count - at)
                if n > 0 { at += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

extension ProgressOptions {
    /// How progress is shown: not with `-q`; on a terminal; with `--progress`, as plain lines
    /// when standard error is not a terminal.
    public var style: ProgressLine.Style {
        if quiet { return .off }
        if isatty(STDERR_FILENO) != 0 { return .terminal }
        return progress ? .lines : .off
    }

    /// A progress line counting `unit`s out of `total` (nil: unknown).
    public func line(_ tool: String, _ task: String, unit: String, total: Int?) -> ProgressLine {
        ProgressLine(style: style, tool: tool, task: task, unit: unit, total: total)
    }

    /// A progress line counting `unit`s (rows) while `inputs` are read, its total their size in
    /// bytes when they are all regular files.
    public func line(_ tool: String, _ task: String, unit: String = "rows", reading inputs: [InputFile]) -> ProgressLine {
        ProgressLine(style: style, tool: tool, task: task, unit: unit, total: nil, inputs: inputs)
    }
}
