/// Reads a zmat stream block by block, checking everything it reads.
///
/// A stream that ends anywhere but right after an end marker, a block count that disagrees
/// with the end marker, a bad magic, an unknown version or type, or dimensions beyond the
/// limits in `ZmatLayout` all throw a `GroveError` naming the file and the content byte
/// offset. Concatenated streams (`cat a.zmat b.zmat`) read as one matrix when their headers
/// are compatible; the first header's metadata is the one reported.
public final class ZmatReader {
    /// The first stream's header.
    public let header: ZmatHeader
    /// The input's name for messages.
    public var name: String { zstd.input.name }
    private let zstd: ZstdReader
    private var hasher = XXH64()
    /// The rows of the current stream alone, from the second stream of a concatenation on
    /// (the first stream's hash is `hasher`'s own): each end marker vouches for its stream.
    private var segmentHasher = XXH64()
    private var segmentRows = 0
    private var segments = 1
    /// Rows handed out so far.
    public private(set) var rowsRead = 0
    /// The content hash of all rows read, once the end has been reached.
    public private(set) var contentHash: UInt64?
    private var ended = false

    /// Opens `input` and reads its header.
    public init(_ input: InputFile) throws {
        if input.path == nil && input.isTerminal {
            throw GroveError("refusing to read binary data from a terminal; give a file or a pipe")
        }
        zstd = try ZstdReader(input: input)
        guard let h = try ZmatReader.readHeader(zstd, allowCleanEnd: false) else {
            throw GroveError(file: input.name, "empty input, expected a zmat stream")
        }
        header = h
    }

    /// Opens the file at `path` (`nil` or `-` for standard input).
    public convenience init(path: String?) throws {
        try self.init(InputFile(path: path))
    }

    /// Compressed bytes consumed so far (the whole input size once the end is reached).
    public var compressedBytes: Int { zstd.compressedOffset }

    /// Content bytes decoded so far.
    public var contentBytes: Int { zstd.contentOffset }

    private func fail(_ what: String, at offset: Int? = nil) -> GroveError {
        GroveError(file: name, "content byte \(offset ?? zstd.contentOffset): \(what)")
    }

    private func readExact(_ buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let start = zstd.contentOffset
        let n = try zstd.read(into: buffer)
        if n < buffer.count {
            throw GroveError(file: name,
                "truncated at content byte \(start + n): expected \(what) (\(buffer.count) bytes), the stream ends")
        }
    }

    private static func readHeader(_ zstd: ZstdReader, allowCleanEnd: Bool) throws -> ZmatHeader? {
        let name = zstd.input.name
        var fixed = [UInt8](repeating: 0, count: ZmatLayout.fixedHeaderSize)
        let start = zstd.contentOffset
        let n = try fixed.withUnsafeMutableBytes { try zstd.read(into: $0) }
        if n == 0 && allowCleanEnd { return nil }
        if n < 8 || Array(fixed[0..<8]) != ZmatLayout.magic {
            if n >= 8 || Array(fixed[0..<n]) != Array(ZmatLayout.magic[0..<n]) {
                throw GroveError(file: name, "content byte \(start): not a zmat stream (wrong magic)")
            }
        }
        if n < ZmatLayout.fixedHeaderSize {
            throw GroveError(file: name, "truncated at content byte \(start + n): expected a \(ZmatLayout.fixedHeaderSize)-byte header")
        }
        return try fixed.withUnsafeBytes { raw -> ZmatHeader in
            let version = ZmatLayout.readLE(raw, 8, as: UInt16.self)
            guard version == ZmatLayout.version else {
                throw GroveError(file: name, "content byte \(start + 8): format version \(version), this reader knows version \(ZmatLayout.version)")
            }
            guard let type = ElementType(rawValue: raw[10]) else {
                throw GroveError(file: name, "content byte \(start + 10): unknown element type code \(raw[10]), expected 1-4")
            }
            guard raw[11] <= 1 else {
                throw GroveError(file: name, "content byte \(start + 11): unknown flags \(raw[11])")
            }
            let columns = Int(ZmatLayout.readLE(raw, 12, as: UInt32.self))
            guard columns <= ZmatLayout.maxColumns else {
                throw GroveError(file: name, "content byte \(start + 12): \(columns) columns is beyond the limit of \(ZmatLayout.maxColumns)")
            }
            let metaBytes = Int(ZmatLayout.readLE(raw, 16, as: UInt32.self))
            guard metaBytes <= ZmatLayout.maxMetadataBytes else {
                throw GroveError(file: name, "content byte \(start + 16): metadata of \(metaBytes) bytes is beyond the limit of \(ZmatLayout.maxMetadataBytes)")
            }
            var meta = [UInt8](repeating: 0, count: ZmatLayout.padded(metaBytes))
            let got = try meta.withUnsafeMutableBytes { try zstd.read(into: $0) }
            if got < meta.count {
                throw GroveError(file: name, "truncated at content byte \(zstd.contentOffset): expected \(meta.count) bytes of metadata")
            }
            switch ZmatLayout.decodeMetadata(Array(meta[0..<metaBytes])) {
            case .failure(let e):
                throw GroveError(file: name, "content byte \(start + ZmatLayout.fixedHeaderSize): \(e.message)")
            case .success(let metadata):
                return ZmatHeader(elementType: type, columns: columns, hasLabels: raw[11] == 1, metadata: metadata)
            }
        }
    }

    /// The next block of rows, or nil after the end marker of the last stream.
    public func nextBlock() throws -> RowBlock? {
        while !ended {
            var tag = [UInt8](repeating: 0, count: 8)
            let tagOffset = zstd.contentOffset
            try tag.withUnsafeMutableBytes { try readExact($0, what: "a block or the end marker") }
            let tagBytes = Array(tag[0..<4])
            let value = tag.withUnsafeBytes { ZmatLayout.readLE($0, 4, as: UInt32.self) }
            if tagBytes == ZmatLayout.rowsTag {
                return try readBlock(rows: Int(value), at: tagOffset)
            }
            guard tagBytes == ZmatLayout.endTag else {
                throw fail("expected a block tag 'ROWS' or the end marker 'END.'", at: tagOffset)
            }
            var rest = [UInt8](repeating: 0, count: 16)
            try rest.withUnsafeMutableBytes { try readExact($0, what: "the end marker's row count and hash") }
            let (total, hash) = rest.withUnsafeBytes {
                (ZmatLayout.readLE($0, 0, as: UInt64.self), ZmatLayout.readLE($0, 8, as: UInt64.self))
            }
            guard total == UInt64(segmentRows) else {
                throw fail("end marker says \(total) rows but the stream held \(segmentRows)", at: tagOffset)
            }
            let rowsHash = segments == 1 ? hasher.finalize() : segmentHasher.finalize()
            guard hash == rowsHash else {
                throw fail("content hash mismatch: end marker \(XXH64.hex(hash)), rows hash to \(XXH64.hex(rowsHash))", at: tagOffset)
            }
            // Another stream may follow (`cat a.zmat b.zmat`).
            let nextOffset = zstd.contentOffset
            guard let next = try ZmatReader.readHeader(zstd, allowCleanEnd: true) else {
                ended = true
                contentHash = hasher.finalize()
                return nil
            }
            guard next.isCompatible(with: header) else {
                throw fail("a concatenated stream of \(next.shapeDescription) cannot follow \(header.shapeDescription)", at: nextOffset)
            }
            segments += 1
            segmentRows = 0
            segmentHasher = XXH64()
        }
        return nil
    }

    private func readBlock(rows: Int, at offset: Int) throws -> RowBlock {
        let rowBytes = header.rowBytes
        guard rows > 0 else { throw fail("a block of 0 rows", at: offset) }
        let bytes = rows.multipliedReportingOverflow(by: max(rowBytes, 1))
        guard !bytes.overflow, bytes.partialValue <= ZmatLayout.maxBlockBytes else {
            throw fail("a block of \(rows) rows x \(header.columns) \(header.elementType) is beyond the block limit of \(ZmatLayout.maxBlockBytes) bytes", at: offset)
        }
        // Filled by the reads below or thrown away: no need to zero it first.
        let block = RowBlock(unfilledRows: rows, columns: header.columns, elementType: header.elementType,
                             hasLabels: header.hasLabels)
        if let labels = block.labels {
            let raw = UnsafeMutableRawBufferPointer(labels)
            try readExact(raw, what: "\(rows) labels")
            let pad = ZmatLayout.padded(rows * 4) - rows * 4
            if pad > 0 {
                var skip = [UInt8](repeating: 0, count: pad)
                try skip.withUnsafeMutableBytes { try readExact($0, what: "label padding") }
            }
            for i in 0..<rows { labels[i] = Int32(littleEndian: labels[i]) }
        }
        let n = rows * rowBytes
        try readExact(UnsafeMutableRawBufferPointer(rebasing: block.bytes[0..<n]),
                      what: "\(rows) rows of \(header.columns) \(header.elementType)")
        let pad = ZmatLayout.padded(n) - n
        if pad > 0 {
            var skip = [UInt8](repeating: 0, count: pad)
            try skip.withUnsafeMutableBytes { try readExact($0, what: "row padding") }
        }
        ZmatLayout.hashRows(rows, rowBytes: rowBytes, labels: block.labels, elements: block.bytes, into: &hasher)
        if segments > 1 {
            ZmatLayout.hashRows(rows, rowBytes: rowBytes, labels: block.labels, elements: block.bytes, into: &segmentHasher)
        }
        segmentRows += rows
        rowsRead += rows
        return block
    }

    /// Reads every remaining row into one matrix.
    public func readAll(budget: MemoryBudget? = nil) throws -> Matrix {
        var blocks = [RowBlock]()
        var rows = 0
        while let b = try nextBlock() {
            // Each block is charged before it is kept: a stream past the limit stops here.
            try budget?.charge(b.rows * (header.rowBytes + (header.hasLabels ? 4 : 0)),
                               holding: "\(rows + b.rows) rows of \(header.columns) \(header.elementType) columns",
                               file: name)
            blocks.append(b)
            rows += b.rows
        }
        // Joining the blocks into one buffer holds both for a moment.
        if blocks.count > 1 {
            try budget?.charge(rows * (header.rowBytes + (header.hasLabels ? 4 : 0)),
                               holding: "\(rows) rows while joining them into one matrix", file: name)
        }
        return Matrix(header: header, rows: rows, blocks: blocks)
    }
}
