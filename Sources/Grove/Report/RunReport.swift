/// One run of the DAG as a single self-contained HTML page: parameters, machine, a timeline of
/// every task, the stage table, accuracy with a confusion heat map and per-class scores, the
/// PCA scree plot and the forest's summary. Inline CSS and SVG only: no script, font or URL.
public struct RunReport {
    public var title = "Grove run report"
    public var parameters: [(String, String)] = []
    public var runner = "local"
    public var machine = ""
    public var version = GroveVersion.string
    public var commit = ""
    public var tasks: [TaskRecord] = []
    public var classification: ClassificationReport?
    /// Names by label (label i is `classNames[i]`); labels without one show as numbers.
    public var classNames: [String] = []
    /// (model name, explained-variance ratios, largest first) per PCA model.
    public var pca: [(String, [Double])] = []
    public var forests: [ForestSummary] = []

    public init() {}

    /// Seconds from the first task's start to the last one's end (0 with no tasks).
    public var wallTime: Double {
        guard let a = tasks.map(\.start).min(), let b = tasks.map(\.end).max() else { return 0 }
        return b - a
    }

    public func html() -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>\(esc(title))</title>\n"
        h += "<style>\n\(Self.css)</style>\n</head>\n<body>\n<h1>\(esc(title))</h1>\n"
        h += overview()
        h += "<h2>Timeline</h2>\n" + (tasks.isEmpty ? "<p>No task ran (everything was up to date).</p>\n" : timeline())
        h += "<h2>Stages</h2>\n" + stageTable()
        if let c = classification { h += "<h2>Accuracy</h2>\n" + scores(c) }
        if !pca.isEmpty { h += "<h2>PCA: explained variance</h2>\n" + pca.map { scree($0.0, $0.1) }.joined() }
        if !forests.isEmpty { h += "<h2>Forest</h2>\n" + forestTable() }
        h += "</body>\n</html>\n"
        return h
    }

    // MARK: sections

    private func overview() -> String {
        var rows: [(String, String)] = [("runner", runner), ("machine", machine),
                                        ("Grove", version + (commit.isEmpty ? "" : " (commit \(commit))")),
                                        ("wall time", "\(formatFixed(wallTime, 3)) s over \(tasks.count) task\(tasks.count == 1 ? "" : "s")")]
        let failed = tasks.filter { !$0.succeeded }.count
        if failed > 0 { rows.append(("failed tasks", String(failed))) }
        let lostCount = TaskRecord.lost(tasks).filter { $0 }.count
        if lostCount > 0 { rows.append(("lost tasks", "\(lostCount) (every attempt failed)")) }
        if let c = classification { rows.append(("accuracy", formatFixed(c.accuracy, 4))) }
        if !forests.isEmpty { rows.append(("trees", String(forests.reduce(0) { $0 + $1.trees }))) }
        var h = "<table class=\"kv\">\n" + rows.map { "<tr><th>\(esc($0.0))</th><td>\(esc($0.1))</td></tr>\n" }.joined() + "</table>\n"
        if !parameters.isEmpty {
            h += "<h2>Parameters</h2>\n<table class=\"kv\">\n"
            h += parameters.map { "<tr><th>\(esc($0.0))</th><td>\(esc($0.1.isEmpty ? "(empty)" : $0.1))</td></tr>\n" }.joined()
            h += "</table>\n"
        }
        return h
    }

    /// Stages in order of first start, each with its colour.
    private var stageColours: [(String, String)] {
        var order = [String]()
        for t in tasks.sorted(by: { $0.start < $1.start }) where !order.contains(t.stage) { order.append(t.stage) }
        return order.enumerated().map { ($0.element, Self.palette[$0.offset % Self.palette.count]) }
    }

    private func timeline() -> String {
        let t0 = tasks.map(\.start).min()!, span = max(wallTime, 1e-3)
        let colours = Dictionary(stageColours, uniquingKeysWith: { a, _ in a })
        let retried = TaskRecord.retries(tasks)
        let lost = TaskRecord.lost(tasks)
        let order = tasks.indices.sorted { tasks[$0].start < tasks[$1].start || (tasks[$0].start == tasks[$1].start && $0 < $1) }
        let row = order.count <= 40 ? 16.0 : max(4.0, 640.0 / Double(order.count))
        let left = 90.0, plotW = 760.0, top = 8.0, plotH = row * Double(order.count)
        let width = left + plotW + 20, height = top + plotH + 40
        func x(_ t: Double) -> Double { left + (t - t0) / span * plotW }
        var s = "<svg class=\"timeline\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height.rounded(.up)))\" viewBox=\"0 0 \(Int(width.rounded(.up))) \(Int(height.rounded(.up)))\" role=\"img\" aria-label=\"timeline of \(order.count) tasks\">\n"
        let step = Self.tickStep(span)
        var tick = 0.0
        while tick <= span + 1e-9 {
            let tx = x(t0 + tick)
            s += "<line x1=\"\(n(tx))\" y1=\"\(n(top))\" x2=\"\(n(tx))\" y2=\"\(n(top + plotH + 4))\" class=\"grid\"/>"
            s += "<text x=\"\(n(tx))\" y=\"\(n(top + plotH + 16))\" text-anchor=\"middle\">\(Self.trim(tick))</text>\n"
            tick += step
        }
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(top + plotH + 34))\" text-anchor=\"middle\" class=\"axis\">seconds from the run's start</text>\n"
        var lastStage = ""
        for (i, k) in order.enumerated() {
            let t = tasks[k], y = top + Double(i) * row
            if t.stage != lastStage && row >= 10 {
                s += "<text x=\"\(n(left - 6))\" y=\"\(n(y + row * 0.75))\" text-anchor=\"end\">\(esc(t.stage))</text>"
            }
            lastStage = t.stage
            var hover = "\(t.stage): \(t.command.isEmpty ? "(no command recorded)" : t.command)\n\(formatFixed(t.seconds, 3)) s, exit status \(t.status)"
            if !t.location.isEmpty { hover += ", on \(t.location)" }
            if !t.extra.isEmpty { hover += "\nmore: " + t.extra.joined(separator: ", ") }
            var cls = "bar"
            if !t.succeeded { cls += " failed"; hover += lost[k] ? "\nFAILED: lost (no attempt succeeded)" : "\nFAILED" }
            if retried[k] { cls += " retry"; hover += "\nretry of an earlier attempt" }
            let bw = max(1.0, x(t.end) - x(t.start))
            s += "<rect class=\"\(cls)\" x=\"\(n(x(t.start)))\" y=\"\(n(y + 1))\" width=\"\(n(bw))\" height=\"\(n(max(1, row - 2)))\" fill=\"\(colours[t.stage]!)\"><title>\(esc(hover))</title></rect>\n"
            if row >= 10, !t.succeeded || retried[k] {
                // After the bar, or before it when the bar reaches the right edge.
                let after = x(t.end) + 70 <= width
                s += "<text x=\"\(n(after ? x(t.end) + 3 : x(t.start) - 3))\" y=\"\(n(y + row * 0.75))\" class=\"mark\"\(after ? "" : " text-anchor=\"end\"")>\(t.succeeded ? "↻ retry" : "✗ exit \(t.status)\(lost[k] ? ", lost" : "")")</text>\n"
            }
        }
        s += "</svg>\n<p class=\"legend\">" + stageColours.map { "<span><i style=\"background:\($0.1)\">&#160;</i>\(esc($0.0))</span>" }.joined(separator: " ")
        s += " <span><i class=\"failed\">&#160;</i>failed</span> <span><i class=\"retry\">&#160;</i>retry</span></p>\n"
        return s
    }

    private func stageTable() -> String {
        let rows = StageSummary.summarize(tasks)
        var h = "<table class=\"num\">\n<tr><th>stage</th><th>tasks</th><th>wall s</th><th>task s</th><th>failed</th></tr>\n"
        for r in rows {
            h += "<tr><td>\(esc(r.stage))</td><td>\(r.tasks)</td><td>\(formatFixed(r.wall, 3))</td><td>\(formatFixed(r.busy, 3))</td><td>\(r.failed)</td></tr>\n"
        }
        h += "<tr class=\"total\"><td>total</td><td>\(tasks.filter(\.succeeded).count)</td><td>\(formatFixed(wallTime, 3))</td><td></td><td>\(tasks.filter { !$0.succeeded }.count)</td></tr>\n</table>\n"
        return h
    }

    private func scores(_ c: ClassificationReport) -> String {
        let k = c.labels.count
        let names = c.labels.map { RunContext.name(of: $0, in: classNames) }
        var h = "<p class=\"big\">accuracy <b>\(formatFixed(c.accuracy, 4))</b> (\(c.correct) of \(c.total) rows)</p>\n<div class=\"row\">\n"
        // Heat map: rows true, columns predicted, shaded by the share of the true class's rows.
        let cell = k <= 12 ? 40.0 : max(4.0, 480.0 / Double(k))
        let labelW = min(120.0, 12 + 7 * Double(names.map(\.count).max() ?? 1)), showText = cell >= 24
        let left = 24 + labelW, top = 8.0, gridW = cell * Double(k)
        let width = left + gridW + 10, height = top + gridW + labelW + 30
        var s = "<svg class=\"confusion\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height.rounded(.up)))\" viewBox=\"0 0 \(Int(width.rounded(.up))) \(Int(height.rounded(.up)))\" role=\"img\" aria-label=\"confusion matrix\">\n"
        for t in 0..<k {
            let support = max(1, c.support(t))
            for p in 0..<k {
                let count = c.confusion[t * k + p], share = Double(count) / Double(support)
                let fill = "rgb(\(Int(255 - share * 247)),\(Int(255 - share * 207)),\(Int(255 - share * 148)))"
                let x = left + Double(p) * cell, y = top + Double(t) * cell
                s += "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(cell - 1))\" height=\"\(n(cell - 1))\" fill=\"\(fill)\"><title>true \(esc(names[t])), predicted \(esc(names[p])): \(count) (\(formatFixed(share * 100, 1))% of the true class)</title></rect>"
                if showText && count > 0 {
                    s += "<text x=\"\(n(x + cell / 2))\" y=\"\(n(y + cell / 2 + 4))\" text-anchor=\"middle\"\(share > 0.5 ? " class=\"on\"" : "")>\(count)</text>"
                }
                s += "\n"
            }
            if cell >= 10 {
                s += "<text x=\"\(n(left - 4))\" y=\"\(n(top + Double(t) * cell + cell / 2 + 4))\" text-anchor=\"end\">\(esc(names[t]))</text>"
                let cx = left + Double(t) * cell + cell / 2, cy = top + gridW + 6
                s += "<text transform=\"translate(\(n(cx + 4)),\(n(cy))) rotate(-90)\" text-anchor=\"end\">\(esc(names[t]))</text>\n"
            }
        }
        s += "<text class=\"axis\" transform=\"translate(12,\(n(top + gridW / 2))) rotate(-90)\" text-anchor=\"middle\">true</text>\n"
        s += "<text class=\"axis\" x=\"\(n(left + gridW / 2))\" y=\"\(n(height - 6))\" text-anchor=\"middle\">predicted</text>\n</svg>\n"
        h += s
        h += "<table class=\"num\">\n<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n"
        for i in 0..<k {
            let label = names[i] == String(c.labels[i]) ? names[i] : "\(c.labels[i]) \(names[i])"
            h += "<tr><td>\(esc(label))</td><td>\(formatFixed(c.precision(i), 4))</td><td>\(formatFixed(c.recall(i), 4))</td><td>\(formatFixed(c.f1(i), 4))</td><td>\(c.support(i))</td></tr>\n"
        }
        for (name, weighted) in [("macro avg", false), ("weighted avg", true)] {
            let a = c.average(weighted: weighted)
            h += "<tr class=\"total\"><td>\(name)</td><td>\(formatFixed(a.precision, 4))</td><td>\(formatFixed(a.recall, 4))</td><td>\(formatFixed(a.f1, 4))</td><td>\(c.total)</td></tr>\n"
        }
        return h + "</table>\n</div>\n"
    }

    private func scree(_ name: String, _ ratios: [Double]) -> String {
        let k = ratios.count
        let left = 50.0, top = 10.0, plotH = 180.0, bar = k <= 40 ? 24.0 : max(2.0, 960.0 / Double(k))
        let plotW = bar * Double(k), width = left + plotW + 20, height = top + plotH + 42
        func y(_ v: Double) -> Double { top + plotH * (1 - min(1, max(0, v))) }
        var s = "<svg class=\"scree\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height.rounded(.up)))\" viewBox=\"0 0 \(Int(width.rounded(.up))) \(Int(height.rounded(.up)))\" role=\"img\" aria-label=\"scree plot of \(esc(name))\">\n"
        for v in stride(from: 0.0, through: 1.0, by: 0.25) {
            s += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y(v)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(v)))\"/><text x=\"\(n(left - 4))\" y=\"\(n(y(v) + 4))\" text-anchor=\"end\">\(Self.trim(v))</text>\n"
        }
        var cumulative = 0.0, points = [String]()
        for (i, r) in ratios.enumerated() {
            cumulative += r
            let x = left + Double(i) * bar
            s += "<rect x=\"\(n(x + 1))\" y=\"\(n(y(r)))\" width=\"\(n(max(1, bar - 2)))\" height=\"\(n(top + plotH - y(r)))\" fill=\"#4c78a8\"><title>component \(i + 1): \(formatFixed(r, 4)) (cumulative \(formatFixed(cumulative, 4)))</title></rect>\n"
            points.append("\(n(x + bar / 2)),\(n(y(cumulative)))")
            if bar >= 14 { s += "<text x=\"\(n(x + bar / 2))\" y=\"\(n(top + plotH + 14))\" text-anchor=\"middle\">\(i + 1)</text>" }
        }
        s += "<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#e45756\" stroke-width=\"2\"/>\n"
        s += "<text class=\"axis\" x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 6))\" text-anchor=\"middle\">component</text>\n"
        s += "<text class=\"axis\" transform=\"translate(12,\(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">explained variance ratio</text>\n</svg>\n"
        return "<p>\(esc(name)): \(k) component\(k == 1 ? "" : "s") explain \(formatFixed(cumulative, 4)) of the variance (bars: each component; red line: cumulative).</p>\n" + s
    }

    private func forestTable() -> String {
        var h = "<table class=\"num\">\n<tr><th>model</th><th>trees</th><th>classes</th><th>features</th><th>depth min / median / max</th><th>nodes</th><th>leaves</th><th>bytes</th></tr>\n"
        for f in forests {
            h += "<tr><td>\(esc(f.name))</td><td>\(f.trees)</td><td>\(f.classes)</td><td>\(f.features)</td><td>\(f.depth.min) / \(f.depth.median) / \(f.depth.max)</td><td>\(f.nodes)</td><td>\(f.leaves)</td><td>\(f.bytes)</td></tr>\n"
        }
        return h + "</table>\n"
    }

    // MARK: helpers

    static let palette = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#eeca3b", "#72b7b2", "#9d755d", "#ff9da6", "#bab0ac", "#e45756"]

    static let css = """
    body { font: 14px/1.4 sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
    h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
    table { border-collapse: collapse; margin: 0.5em 0; }
    th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
    table.num td { text-align: right; } table.num td:first-child { text-align: left; }
    table.kv th { font-weight: normal; color: #555; }
    tr.total td { font-weight: bold; border-top: 1px solid #999; }
    svg text { font: 11px sans-serif; fill: #333; } svg text.axis { font-size: 12px; font-weight: bold; }
    svg .grid { stroke: #ddd; stroke-width: 1; } svg text.on { fill: #fff; }
    rect.failed { stroke: #c00; stroke-width: 2; fill-opacity: 0.45; }
    rect.retry { stroke: #000; stroke-width: 1; stroke-dasharray: 3 2; }
    text.mark { fill: #c00; font-weight: bold; }
    .legend span { margin-right: 1em; white-space: nowrap; }
    .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; border: 1px solid #888; }
    .legend i.failed { border: 2px solid #c00; } .legend i.retry { border: 1px dashed #000; }
    .big { font-size: 1.3em; } .row { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }

    """

    /// A round step giving 4 to 10 ticks over `span`.
    static func tickStep(_ span: Double) -> Double {
        var step = 1e-3
        while span / step > 10 {
            if span / (step * 2) <= 10 { return step * 2 }
            if span / (step * 5) <= 10 { return step * 5 }
            step *= 10
        }
        return step
    }

    /// A number without trailing zeros (up to 3 decimals).
    static func trim(_ v: Double) -> String {
        var s = formatFixed(v, 3)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// Escapes text for HTML element content and attribute values.
private func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}

/// A coordinate with one decimal.
private func n(_ v: Double) -> String { formatFixed(v, 1) }
