/// Accuracy, confusion matrix and per-class precision / recall / F1 of predicted labels.
public struct ClassificationReport {
    /// Every label that occurs (model classes, true labels, predictions), ascending.
    public private(set) var labels: [Int32]
    /// `confusion[t * labels.count + p]`: rows with true label `labels[t]` predicted `labels[p]`.
    public private(set) var confusion: [Int]
    private var index: [Int32: Int] = [:]

    /// An empty tally over `classes` (more labels are added as they are seen).
    public init(classes: [Int32]) {
        labels = Array(Set(classes)).sorted()
        for (i, l) in labels.enumerated() { index[l] = i }
        confusion = [Int](repeating: 0, count: labels.count * labels.count)
    }

    private mutating func add(label: Int32) {
        if index[label] != nil { return }
        let old = labels, oldConfusion = confusion, n = old.count
        labels = (old + [label]).sorted()
        for (i, l) in labels.enumerated() { index[l] = i }
        confusion = [Int](repeating: 0, count: labels.count * labels.count)
        for t in 0..<n {
            for p in 0..<n {
                confusion[index[old[t]]! * labels.count + index[old[p]]!] = oldConfusion[t * n + p]
            }
        }
    }

    /// Counts one row.
    public mutating func record(truth: Int32, predicted: Int32) {
        if index[truth] == nil { add(label: truth) }
        if index[predicted] == nil { add(label: predicted) }
        confusion[index[truth]! * labels.count + index[predicted]!] += 1
    }

    public var total: Int { confusion.reduce(0, +) }
    public var correct: Int { (0..<labels.count).reduce(0) { $0 + confusion[$1 * labels.count + $1] } }
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// Rows whose true label is `labels[i]`.
    public func support(_ i: Int) -> Int {
        (0..<labels.count).reduce(0) { $0 + confusion[i * labels.count + $1] }
    }
    /// Rows predicted as `labels[i]`.
    public func predictedCount(_ i: Int) -> Int {
        (0..<labels.count).reduce(0) { $0 + confusion[$1 * labels.count + i] }
    }
    /// Precision of class `i` (0 when nothing was predicted as it, as scikit-learn reports).
    public func precision(_ i: Int) -> Double {
        let p = predictedCount(i)
        return p == 0 ? 0 : Double(confusion[i * labels.count + i]) / Double(p)
    }
    /// Recall of class `i` (0 when no row has it).
    public func recall(_ i: Int) -> Double {
        let s = support(i)
        return s == 0 ? 0 : Double(confusion[i * labels.count + i]) / Double(s)
    }
    public func f1(_ i: Int) -> Double {
        let p = precision(i), r = recall(i)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// (precision, recall, F1) averaged over classes, unweighted or weighted by support.
    public func average(weighted: Bool) -> (precision: Double, recall: Double, f1: Double) {
        var p = 0.0, r = 0.0, f = 0.0, w = 0.0
        for i in 0..<labels.count {
            let weight = weighted ? Double(support(i)) : 1
            p += weight * precision(i); r += weight * recall(i); f += weight * f1(i); w += weight
        }
        return w == 0 ? (0, 0, 0) : (p / w, r / w, f / w)
    }

    /// The human-readable report; its first line is exactly `accuracy: 0.XXXX`.
    public func text() -> String {
        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
        }
        let n = labels.count
        var out = "accuracy: \(formatFixed(accuracy, 4))\n"
        out += "rows: \(total) (\(correct) correct)\n\n"
        out += "confusion matrix (rows: true label, columns: predicted label)\n"
        let width = max(6, String(total).count + 1, labels.map { String($0).count + 1 }.max() ?? 0)
        out += pad("true\\pred", 10) + labels.map { pad(String($0), width) }.joined() + "\n"
        for t in 0..<n {
            out += pad(String(labels[t]), 10)
            for p in 0..<n { out += pad(String(confusion[t * n + p]), width) }
            out += "\n"
        }
        out += "\n" + pad("class", 12) + pad("precision", 11) + pad("recall", 9) + pad("f1", 9) + pad("support", 9) + "\n"
        for i in 0..<n {
            out += pad(String(labels[i]), 12) + pad(formatFixed(precision(i), 4), 11)
                + pad(formatFixed(recall(i), 4), 9) + pad(formatFixed(f1(i), 4), 9) + pad(String(support(i)), 9) + "\n"
        }
        for (name, weighted) in [("macro avg", false), ("weighted avg", true)] {
            let a = average(weighted: weighted)
            out += pad(name, 12) + pad(formatFixed(a.precision, 4), 11) + pad(formatFixed(a.recall, 4), 9)
                + pad(formatFixed(a.f1, 4), 9) + pad(String(total), 9) + "\n"
        }
        return out
    }

    /// The report as one JSON object (numbers unrounded); `extra` adds raw JSON members.
    public func json(extra: [(String, String)] = []) -> String {
        func num(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
        let n = labels.count
        var parts = [String]()
        parts.append("\"accuracy\": \(num(accuracy))")
        parts.append("\"rows\": \(total)")
        parts.append("\"correct\": \(correct)")
        parts.append("\"labels\": [\(labels.map(String.init).joined(separator: ", "))]")
        let rows = (0..<n).map { t in "[" + (0..<n).map { String(confusion[t * n + $0]) }.joined(separator: ", ") + "]" }
        parts.append("\"confusion\": [\(rows.joined(separator: ", "))]")
        let classes = (0..<n).map { i in
            "{\"label\": \(labels[i]), \"precision\": \(num(precision(i))), \"recall\": \(num(recall(i))), \"f1\": \(num(f1(i))), \"support\": \(support(i))}"
        }
        parts.append("\"classes\": [\(classes.joined(separator: ", "))]")
        for (name, weighted) in [("macro", false), ("weighted", true)] {
            let a = average(weighted: weighted)
            parts.append("\"\(name)\": {\"precision\": \(num(a.precision)), \"recall\": \(num(a.recall)), \"f1\": \(num(a.f1))}")
        }
        for (k, v) in extra { parts.append("\"\(k)\": \(v)") }
        return "{" + parts.joined(separator: ", ") + "}\n"
    }
}
