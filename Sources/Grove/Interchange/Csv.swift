/// CSV interchange: a header line, then one row per line, the label first when there is one.
///
/// Numbers are written in their shortest round-trip form, so float32/float64 survive a round
/// trip exactly.
public enum Csv {
    /// The header line (without newline) for `columns` values, with a leading label column.
    public static func headerLine(columns: Int, labels: Bool) -> String {
        var names = labels ? ["label"] : []
        names += (0..<columns).map { "x\($0)" }
        return names.joined(separator: ",")
    }

    /// The text of every row of `block`, one line each.
    public static func lines(_ block: RowBlock, labelsOnly: Bool = false) -> String {
        var text = ""
        text.reserveCapacity(block.rows * (labelsOnly ? 4 : block.columns * 4))
        for r in 0..<block.rows {
            var fields = [String]()
            if let labels = block.labels { fields.append(String(labels[r])) }
            if !labelsOnly {
                let range = r * block.columns..<(r + 1) * block.columns
                switch block.elementType {
                case .uint8: for i in range { fields.append(String(block.values(as: UInt8.self)[i])) }
                case .int32: for i in range { fields.append(String(block.values(as: Int32.self)[i])) }
                case .float32: for i in range { fields.append("\(block.values(as: Float.self)[i])") }
                case .float64: for i in range { fields.append("\(block.values(as: Double.self)[i])") }
                }
            }
            text += fields.joined(separator: ",")
            text += "\n"
        }
        return text
    }

    /// Where the label is in a CSV being read.
    public enum LabelColumn: Equatable {
        /// A header column named `label` (any case) if there is one, else none.
        case automatic
        case none
        case first
        case last
        case index(Int)
    }

    /// Reads CSV text into a zmat writer's rows, streaming, in bounded memory.
    public struct Reader {
        public let input: InputFile
        public let elementType: ElementType
        public let labelColumn: LabelColumn

        public init(input: InputFile, elementType: ElementType, labelColumn: LabelColumn) {
            self.input = input
            self.elementType = elementType
            self.labelColumn = labelColumn
        }

        /// Calls `makeWriter` once the width is known, then appends every row to the writer.
        public func read(makeWriter: (ZmatHeader) throws -> ZmatWriter) throws -> ZmatWriter {
            var lines = LineReader(input: input)
            var lineNumber = 0
            var writer: ZmatWriter?
            var labelIndex: Int? = nil
            var fieldCount = 0
            var rowValues = [Double]()
            var labels = [Int32]()
            var pending = 0
            var blockBytes = [UInt8]()

            func flush() throws {
                guard let w = writer, pending > 0 else { return }
                try blockBytes.withUnsafeBytes { raw in
                    try labels.withUnsafeBufferPointer { l in
                        try w.append(rows: pending, elements: raw, labels: labelIndex == nil ? nil : l)
                    }
                }
                pending = 0
                blockBytes.removeAll(keepingCapacity: true)
                labels.removeAll(keepingCapacity: true)
            }

            while let line = try lines.next() {
                lineNumber += 1
                let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]
                if trimmed.isEmpty { continue }
                let fields = trimmed.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
                if writer == nil {
                    // The first line: a header when any field is not a number.
                    let texts = fields.map { String(decoding: $0, as: UTF8.self).trimming(" \"") }
                    let isHeader = texts.contains { Double($0) == nil }
                    fieldCount = texts.count
                    switch labelColumn {
                    case .automatic: labelIndex = isHeader ? texts.firstIndex { $0.lowercased() == "label" } : nil
                    case .none: labelIndex = nil
                    case .first: labelIndex = 0
                    case .last: labelIndex = fieldCount - 1
                    case .index(let i):
                        guard i >= 0 && i < fieldCount else {
                            throw GroveError(file: input.name, "line 1: label column \(i) does not exist (\(fieldCount) fields)")
                        }
                        labelIndex = i
                    }
                    let columns = fieldCount - (labelIndex == nil ? 0 : 1)
                    var meta = ZmatMetadata()
                    meta["kind"] = ContentKind.features
                    writer = try makeWriter(ZmatHeader(elementType: elementType, columns: columns,
                                                       hasLabels: labelIndex != nil, metadata: meta))
                    rowValues = [Double](repeating: 0, count: columns)
                    if isHeader { continue }
                }
                guard fields.count == fieldCount else {
                    throw GroveError(file: input.name, "line \(lineNumber): \(fields.count) fields, expected \(fieldCount) like the first line")
                }
                var c = 0
                for (f, field) in fields.enumerated() {
                    let text = String(decoding: field, as: UTF8.self).trimming(" \"")
                    guard let v = Double(text) else {
                        throw GroveError(file: input.name, "line \(lineNumber), field \(f + 1): '\(text)' is not a number")
                    }
                    if f == labelIndex {
                        guard let l = Int32(exactly: v) else {
                            throw GroveError(file: input.name, "line \(lineNumber), field \(f + 1): label '\(text)' is not an int32")
                        }
                        labels.append(l)
                    } else {
                        rowValues[c] = v
                        c += 1
                    }
                }
                try Csv.appendConverted(rowValues, as: elementType, to: &blockBytes,
                                        where: "\(input.name): line \(lineNumber)")
                pending += 1
                if pending == 4096 { try flush() }
            }
            guard writer != nil else { throw GroveError(file: input.name, "empty CSV, expected a header or a row") }
            try flush()
            return writer!
        }
    }

    /// Appends `values` converted to `type`, refusing values the type cannot hold.
    static func appendConverted(_ values: [Double], as type: ElementType, to bytes: inout [UInt8], where place: String) throws {
        for (i, v) in values.enumerated() {
            switch type {
            case .uint8:
                guard let x = UInt8(exactly: v) else { throw GroveError("\(place): value \(i) \(v) is not a uint8 (0-255 integer)") }
                bytes.append(x)
            case .int32:
                guard let x = Int32(exactly: v) else { throw GroveError("\(place): value \(i) \(v) is not an int32") }
                withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
            case .float32:
                withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            case .float64:
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
    }
}

/// Splits an input into lines (without the newline), in bounded memory.
public struct LineReader {
    let input: InputFile
    var buffer = [UInt8]()
    var start = 0
    var eof = false

    public init(input: InputFile) {
        self.input = input
    }

    /// The next line, or nil at the end; a last line without newline counts.
    public mutating func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<nl]
                start = nl + 1
                return line
            }
            if eof {
                if start < buffer.count {
                    let line = buffer[start...]
                    start = buffer.count
                    return line
                }
                return nil
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { eof = true } else { buffer += chunk[0..<n] }
        }
    }
}
