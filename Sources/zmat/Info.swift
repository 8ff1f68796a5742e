import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat info`: what a stream holds, in words (or JSON).
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a stream: shape, type, labels, sizes, hash, metadata, model summary.",
            discussion: "Reads the whole stream (checking it) in bounded memory; models are summarised.")

        @Argument(help: "Input stream (default: standard input).")
        var input: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let reader = try ZmatReader(path: input)
            let h = reader.header
            var labelCounts = [Int32: Int]()
            var summary = [String]()
            let kind = h.metadata["kind"] ?? ""
            let isModel = [ContentKind.pcaModel, ContentKind.pcaPartial, ContentKind.tree, ContentKind.forest].contains(kind)
            var rows = 0
            if isModel {
                let m = try reader.readAll()
                rows = m.rows
                summary = try ContentKind.summaryLines(for: m)
            } else {
                while let block = try reader.nextBlock() {
                    rows += block.rows
                    if let labels = block.labels {
                        for l in labels { labelCounts[l, default: 0] += 1 }
                    }
                }
            }
            let raw = rows * h.rowBytes + (h.hasLabels ? rows * 4 : 0)
            let compressed = reader.compressedBytes
            let hash = XXH64.hex(reader.contentHash ?? 0)
            let name = reader.name
            let out = try OutputFile(path: nil, binary: false)
            if json {
                var fields = [String]()
                fields.append("\"file\": \(jsonString(name))")
                fields.append("\"rows\": \(rows)")
                fields.append("\"columns\": \(h.columns)")
                fields.append("\"element_type\": \"\(h.elementType)\"")
                fields.append("\"labels\": \(h.hasLabels)")
                if h.hasLabels {
                    let counts = labelCounts.keys.sorted().map { "\"\($0)\": \(labelCounts[$0]!)" }
                    fields.append("\"label_counts\": {\(counts.joined(separator: ", "))}")
                }
                fields.append("\"raw_bytes\": \(raw)")
                fields.append("\"compressed_bytes\": \(compressed)")
                fields.append("\"content_hash\": \"xxh64:\(hash)\"")
                let meta = h.metadata.map { "\(jsonString($0.key)): \(jsonString($0.value))" }
                fields.append("\"metadata\": {\(meta.joined(separator: ", "))}")
                if !summary.isEmpty {
                    fields.append("\"summary\": [\(summary.map(jsonString).joined(separator: ", "))]")
                }
                try out.write("{" + fields.joined(separator: ", ") + "}\n")
            } else {
                var lines = [String]()
                lines.append("file:          \(name)")
                lines.append("shape:         \(rows) rows x \(h.columns) columns")
                lines.append("element type:  \(h.elementType)")
                if h.hasLabels {
                    let classes = labelCounts.keys.sorted()
                    let shown = classes.prefix(20).map { "\($0):\(labelCounts[$0]!)" }.joined(separator: " ")
                    lines.append("labels:        yes, \(classes.count) distinct (\(shown)\(classes.count > 20 ? " ..." : ""))")
                } else {
                    lines.append("labels:        no")
                }
                let ratio = compressed > 0 ? Double(raw) / Double(compressed) : 0
                lines.append("raw size:      \(raw) bytes")
                lines.append("compressed:    \(compressed) bytes (ratio \(fixed(ratio, 2)))")
                lines.append("content hash:  xxh64:\(hash)")
                if h.metadata.count > 0 {
                    lines.append("metadata:")
                    for (k, v) in h.metadata { lines.append("  \(k): \(v)") }
                }
                if !summary.isEmpty {
                    lines.append("summary:")
                    lines += summary.map { "  " + $0 }
                }
                try out.write(lines.joined(separator: "\n") + "\n")
            }
            try out.commit()
        }
    }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (value * scale).rounded() / scale
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}
