import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat convert`: to and from NumPy `.npy` and CSV.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert between zmat and .npy or CSV (formats from file extensions or --from/--to).",
            discussion: """
                zmat -> npy: a 2-D array of the stream's type (rows x columns); with --labels the
                int32 label column alone, 1-D. zmat -> csv: a header line (label,x0,x1,...) then
                one row per line. npy -> zmat: uint8/int32/float32/float64 (other integer types
                become int32 when they fit); --labels-from attaches labels from a 1-D .npy.
                csv -> zmat: --type chooses the element type; a header column named 'label'
                becomes the labels (or --label-column).

                Examples:
                  zmat convert pred.zmat -o pred.npy          # numpy.load('pred.npy')
                  zmat convert test.zmat --labels -o y.npy
                  zmat convert X.npy --labels-from y.npy -o data.zmat
                  zmat head -n 3 data.zmat | zmat convert --to csv
                  zmat convert table.csv --type uint8 -o table.zmat
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case zmat, npy, csv
        }

        @Argument(help: "Input (default: standard input, read as --from, default zmat).")
        var input: String?

        @Option(help: "Input format (default: from the input's extension, else zmat).")
        var from: Format?

        @Option(help: "Output format (default: from -o's extension; zmat for npy/csv input).")
        var to: Format?

        @Flag(help: "Export only the label column (zmat -> npy/csv).")
        var labels = false

        @Option(help: "Attach labels from this 1-D integer .npy (npy/csv -> zmat).")
        var labelsFrom: String?

        @Option(help: "Element type for CSV input: uint8, int32, float32, float64.")
        var type: ElementType = .float32

        @Option(help: "CSV label column: auto (a header named 'label'), none, first, last, or a 0-based index.")
        var labelColumn = "auto"

        @OptionGroup var output: OutputOptions
        @OptionGroup var progress: ProgressOptions

        /// The progress line of a conversion reading `file`.
        func progressLine(_ file: InputFile) -> ProgressLine {
            progress.line("zmat convert", "converting", reading: [file])
        }

        static func format(ofPath path: String?) -> Format? {
            guard let path else { return nil }
            if path.hasSuffix(".npy") { return .npy }
            if path.hasSuffix(".csv") { return .csv }
            if path.hasSuffix(".zmat") || path.hasSuffix(".zst") { return .zmat }
            return nil
        }

        var sourceFormat: Format { from ?? Convert.format(ofPath: input) ?? .zmat }
        var targetFormat: Format? {
            to ?? Convert.format(ofPath: output.output) ?? (sourceFormat == .zmat ? nil : .zmat)
        }

        func validate() throws {
            guard let target = targetFormat else {
                throw ValidationError("say the output format with --to, or give -o a .npy, .csv or .zmat name")
            }
            if target == sourceFormat { throw ValidationError("input and output are both \(target)") }
            if sourceFormat != .zmat && target != .zmat { throw ValidationError("convert to or from zmat") }
            if labels && sourceFormat != .zmat { throw ValidationError("--labels exports labels from a zmat stream") }
            if labelsFrom != nil && target != .zmat { throw ValidationError("--labels-from goes with conversion to zmat") }
            _ = try csvLabelColumn()
        }

        func csvLabelColumn() throws -> Csv.LabelColumn {
            switch labelColumn {
            case "auto": return .automatic
            case "none": return .none
            case "first": return .first
            case "last": return .last
            default:
                guard let i = Int(labelColumn), i >= 0 else {
                    throw ValidationError("--label-column must be auto, none, first, last or an index")
                }
                return .index(i)
            }
        }

        func run() throws {
            switch (sourceFormat, targetFormat!) {
            case (.zmat, .npy): try zmatToNpy()
            case (.zmat, .csv): try zmatToCsv()
            case (.npy, .zmat): try npyToZmat()
            case (.csv, .zmat): try csvToZmat()
            default: break
            }
        }

        func zmatToNpy() throws {
            let file = try InputFile(path: input)
            let line = progressLine(file)
            let m = try ZmatReader(file).readAll()
            line.update(m.rows)
            if labels && !m.header.hasLabels {
                throw GroveError(file: input ?? "<stdin>", "has no labels to export")
            }
            let out = try output.open()
            let bytes: [UInt8]
            if labels {
                bytes = Npy.encode(elementType: .int32, rows: m.rows, columns: nil,
                                   body: UnsafeRawBufferPointer(UnsafeMutableRawBufferPointer(m.labels!)))
            } else {
                bytes = Npy.encode(elementType: m.elementType, rows: m.rows, columns: m.columns,
                                   body: UnsafeRawBufferPointer(m.elementBytes))
            }
            try out.write(bytes)
            try out.commit()
            line.finish()
        }

        func zmatToCsv() throws {
            let file = try InputFile(path: input)
            let reader = try ZmatReader(file)
            let line = progressLine(file)
            if labels && !reader.header.hasLabels {
                throw GroveError(file: reader.name, "has no labels to export")
            }
            let out = try OutputFile(path: output.output, binary: false)
            let h = reader.header
            try out.write((labels ? "label" : Csv.headerLine(columns: h.columns, labels: h.hasLabels)) + "\n")
            while let block = try reader.nextBlock() {
                try out.write(Csv.lines(block, labelsOnly: labels))
                line.add(block.rows)
            }
            try out.commit()
            line.finish()
        }

        func attachedLabels(rows: Int) throws -> [Int32]? {
            guard let labelsFrom else { return nil }
            let file = try InputFile(path: labelsFrom)
            let a = try Npy.decode(try file.readAll(), name: file.name)
            guard a.elementType == .int32 || a.elementType == .uint8, a.columns == 1 else {
                throw GroveError(file: file.name, "labels must be a 1-D integer array, found \(a.elementType) \(a.rows)x\(a.columns)")
            }
            guard a.rows == rows else {
                throw GroveError(file: file.name, "has \(a.rows) labels for \(rows) rows")
            }
            return a.elementType == .uint8 ? a.bytes.map { Int32($0) }
                : a.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)).map { Int32(littleEndian: $0) } }
        }

        func npyToZmat() throws {
            let file = try InputFile(path: input)
            let line = progressLine(file)
            let a = try Npy.decode(try file.readAll(), name: file.name)
            line.update(a.rows)
            let labelValues = try attachedLabels(rows: a.rows)
            let out = try output.open()
            var meta = ZmatMetadata()
            meta["kind"] = ContentKind.features
            meta["producer"] = "zmat convert \(GroveVersion.string)"
            meta["source"] = file.name
            let w = try ZmatWriter(output: out, header: ZmatHeader(
                elementType: a.elementType, columns: a.columns, hasLabels: labelValues != nil, metadata: meta))
            try a.bytes.withUnsafeBytes { raw in
                if let labelValues {
                    try labelValues.withUnsafeBufferPointer { try w.append(rows: a.rows, elements: raw, labels: $0) }
                } else {
                    try w.append(rows: a.rows, elements: raw, labels: nil)
                }
            }
            try w.finish()
            try out.commit()
            line.finish()
        }

        func csvToZmat() throws {
            if labelsFrom != nil {
                throw GroveError("--labels-from is for .npy input; put CSV labels in a 'label' column")
            }
            let file = try InputFile(path: input)
            let out = try output.open()
            let reader = Csv.Reader(input: file, elementType: type, labelColumn: try csvLabelColumn())
            let line = progressLine(file)
            let w = try reader.read { header in
                var h = header
                h.metadata["producer"] = "zmat convert \(GroveVersion.string)"
                h.metadata["source"] = file.name
                return try ZmatWriter(output: out, header: h)
            }
            try w.finish()
            try out.commit()
            line.finish()
        }
    }
}
