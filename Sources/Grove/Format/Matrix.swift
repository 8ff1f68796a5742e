/// A whole matrix in memory: contiguous, row-major, 64-byte aligned, with optional labels.
///
/// For tools that need every row at once (training); streaming tools use `ZmatReader`'s
/// blocks instead.
public final class Matrix {
    public let header: ZmatHeader
    public let rows: Int
    public var columns: Int { header.columns }
    public var elementType: ElementType { header.elementType }
    private let storage: RowBlock

    /// Joins blocks (all of `header`'s shape) into one buffer.
    public init(header: ZmatHeader, rows: Int, blocks: [RowBlock]) {
        self.header = header
        self.rows = rows
        storage = RowBlock(rows: rows, columns: header.columns, elementType: header.elementType,
                           hasLabels: header.hasLabels)
        var at = 0
        for b in blocks {
            let n = b.rows * header.rowBytes
            if n > 0 {
                storage.bytes.baseAddress!.advanced(by: at * header.rowBytes)
                    .copyMemory(from: b.bytes.baseAddress!, byteCount: n)
            }
            if let dst = storage.labels, let src = b.labels {
                for i in 0..<b.rows { dst[at + i] = src[i] }
            }
            at += b.rows
        }
    }

    /// A zeroed matrix to fill.
    public init(header: ZmatHeader, rows: Int) {
        self.header = header
        self.rows = rows
        storage = RowBlock(rows: rows, columns: header.columns, elementType: header.elementType,
                           hasLabels: header.hasLabels)
    }

    /// Reads the whole stream at `path` (`nil` or `-`: standard input).
    public static func load(path: String?) throws -> Matrix {
        try ZmatReader(path: path).readAll()
    }

    public var labels: UnsafeMutableBufferPointer<Int32>? { storage.labels }
    public var elementBytes: UnsafeMutableRawBufferPointer { storage.elementBytes }

    /// The elements as `T`, which must be the matrix's element type.
    public func values<T: ZmatScalar>(as type: T.Type) -> UnsafeMutableBufferPointer<T> {
        storage.values(as: type)
    }

    /// The whole matrix as one block (for writers).
    public var block: RowBlock { storage }

    /// All elements converted to Double, row-major.
    public func doubles() -> [Double] {
        var out = [Double](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { storage.convertRows(0..<rows, into: $0) }
        return out
    }

    /// All elements converted to Float, row-major.
    public func floats() -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { storage.convertRows(0..<rows, into: $0) }
        return out
    }

    /// Writes the matrix as a complete stream to `output` (not committed).
    @discardableResult
    public func write(to output: OutputFile, metadata: ZmatMetadata? = nil,
                      level: Int32 = ZmatWriter.defaultLevel) throws -> UInt64 {
        var h = header
        if let metadata { h.metadata = metadata }
        let w = try ZmatWriter(output: output, header: h, level: level)
        try w.append(storage)
        return try w.finish()
    }
}
