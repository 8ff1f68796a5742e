/// A run of consecutive rows in one 64-byte-aligned buffer: labels (if any) and elements.
///
/// Blocks are what readers hand out and writers take in, so tools process a stream of any
/// length in bounded memory.
public final class RowBlock {
    public let rows: Int
    public let columns: Int
    public let elementType: ElementType
    /// Row labels, or nil when the stream has none.
    public let labels: UnsafeMutableBufferPointer<Int32>?
    /// The elements, row-major, `rows * columns * elementType.size` bytes.
    public let bytes: UnsafeMutableRawBufferPointer

    /// A block of zeroed storage to fill.
    public init(rows: Int, columns: Int, elementType: ElementType, hasLabels: Bool) {
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
        let count = rows * columns * elementType.size
        bytes = .allocate(byteCount: max(count, 1), alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        if hasLabels {
            let l = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(rows, 1))
            l.initialize(repeating: 0)
            labels = UnsafeMutableBufferPointer(rebasing: l[0..<rows])
        } else {
            labels = nil
        }
        byteCount = count
    }

    /// A block whose storage is left uninitialized, for a reader that fills every byte (or
    /// throws): a block header promising 256 MiB costs nothing until the rows really arrive,
    /// instead of zeroing it all first.
    init(unfilledRows rows: Int, columns: Int, elementType: ElementType, hasLabels: Bool) {
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
        let count = rows * columns * elementType.size
        bytes = .allocate(byteCount: max(count, 1), alignment: 64)
        labels = hasLabels
            ? UnsafeMutableBufferPointer(rebasing: UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(rows, 1))[0..<rows])
            : nil
        byteCount = count
    }

    private let byteCount: Int

    deinit {
        bytes.deallocate()
        if let labels { UnsafeMutableBufferPointer(start: labels.baseAddress, count: max(rows, 1)).deallocate() }
    }

    /// The element bytes (exactly `rows * columns * size`).
    public var elementBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: bytes[0..<byteCount])
    }

    /// The elements as `T`, which must be the block's element type.
    public func values<T: ZmatScalar>(as type: T.Type) -> UnsafeMutableBufferPointer<T> {
        precondition(T.elementType == elementType, "block holds \(elementType), not \(T.elementType)")
        return elementBytes.bindMemory(to: T.self)
    }

    /// Row `r` converted to Double, written into `out` (count `columns`).
    public func row(_ r: Int, into out: UnsafeMutableBufferPointer<Double>) {
        convertRows(r..<r + 1, into: out)
    }

    /// Rows converted to Double, row-major, into `out` (count `rows.count * columns`).
    public func convertRows(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Double>) {
        let start = range.lowerBound * columns, n = range.count * columns
        switch elementType {
        case .uint8: convert(values(as: UInt8.self), start, n, out)
        case .int32: convert(values(as: Int32.self), start, n, out)
        case .float32: convert(values(as: Float.self), start, n, out)
        case .float64: convert(values(as: Double.self), start, n, out)
        }
    }

    /// Rows converted to Float, row-major, into `out` (count `rows.count * columns`).
    public func convertRows(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        let start = range.lowerBound * columns, n = range.count * columns
        // Bind the element buffer once, outside the loop.
        switch elementType {
        case .uint8: let v = values(as: UInt8.self); for i in 0..<n { out[i] = Float(v[start + i]) }
        case .int32: let v = values(as: Int32.self); for i in 0..<n { out[i] = Float(v[start + i]) }
        case .float32: let v = values(as: Float.self); for i in 0..<n { out[i] = v[start + i] }
        case .float64: let v = values(as: Double.self); for i in 0..<n { out[i] = Float(v[start + i]) }
        }
    }

    @inline(__always)
    private func convert<T: ZmatScalar>(_ src: UnsafeMutableBufferPointer<T>, _ start: Int, _ n: Int,
                                        _ out: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<n { out[i] = src[start + i].doubleValue }
    }
}
