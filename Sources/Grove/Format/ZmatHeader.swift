/// What a zmat stream says about itself before its rows: element type, width, whether rows
/// carry an int32 label, and metadata.
public struct ZmatHeader: Equatable, Sendable {
    public var elementType: ElementType
    public var columns: Int
    public var hasLabels: Bool
    public var metadata: ZmatMetadata

    public init(elementType: ElementType, columns: Int, hasLabels: Bool,
                metadata: ZmatMetadata = ZmatMetadata()) {
        self.elementType = elementType
        self.columns = columns
        self.hasLabels = hasLabels
        self.metadata = metadata
    }

    /// Bytes in one row of elements (labels not counted).
    public var rowBytes: Int { columns * elementType.size }

    /// Whether rows of `other` can follow rows of this header in one matrix.
    public func isCompatible(with other: ZmatHeader) -> Bool {
        elementType == other.elementType && columns == other.columns && hasLabels == other.hasLabels
    }

    /// `uint8 x 784, labels` — the shape in words, for messages.
    public var shapeDescription: String {
        "\(elementType) x \(columns)\(hasLabels ? ", labels" : ", no labels")"
    }
}

/// The wire layout constants (docs/FORMAT.md is the normative description).
public enum ZmatLayout {
    /// "ZMAT\r\n\u{1A}\n": catches text-mode mangling the way PNG's signature does.
    public static let magic: [UInt8] = [0x5A, 0x4D, 0x41, 0x54, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let version: UInt16 = 1
    public static let fixedHeaderSize = 24
    public static let rowsTag: [UInt8] = Array("ROWS".utf8)
    public static let endTag: [UInt8] = Array("END.".utf8)
    public static let endSize = 24
    /// Limits a reader enforces before allocating anything.
    public static let maxColumns = 1 << 24
    public static let maxMetadataBytes = 16 << 20
    public static let maxBlockBytes = 256 << 20
    /// Writers aim for blocks of about this many bytes of elements.
    public static let targetBlockBytes = 1 << 20

    @inline(__always) static func padded(_ n: Int) -> Int { (n + 7) & ~7 }

    /// The header bytes, padded to a multiple of 8.
    static func encode(_ header: ZmatHeader) -> [UInt8] {
        var meta = [UInt8]()
        appendLE(UInt32(header.metadata.count), to: &meta)
        for (k, v) in header.metadata {
            let kb = Array(k.utf8), vb = Array(v.utf8)
            appendLE(UInt16(kb.count), to: &meta)
            meta += kb
            appendLE(UInt32(vb.count), to: &meta)
            meta += vb
        }
        var out = magic
        appendLE(version, to: &out)
        out.append(header.elementType.rawValue)
        out.append(header.hasLabels ? 1 : 0)
        appendLE(UInt32(header.columns), to: &out)
        appendLE(UInt32(meta.count), to: &out)
        appendLE(UInt32(0), to: &out)
        out += meta
        while out.count % 8 != 0 { out.append(0) }
        return out
    }

    /// Adds rows to a content hash: (label, row bytes) pairs in order. Without labels the rows
    /// are contiguous, and XXH64 of concatenated pieces equals XXH64 of the whole, so the block
    /// is hashed in one call.
    static func hashRows(_ rows: Int, rowBytes: Int, labels: UnsafeMutableBufferPointer<Int32>?,
                         elements: UnsafeMutableRawBufferPointer, into hasher: inout XXH64) {
        guard let labels else {
            hasher.update(UnsafeRawBufferPointer(rebasing: elements[0..<rows * rowBytes]))
            return
        }
        for r in 0..<rows {
            var l = labels[r].littleEndian
            withUnsafeBytes(of: &l) { hasher.update($0) }
            hasher.update(UnsafeRawBufferPointer(rebasing: elements[r * rowBytes..<(r + 1) * rowBytes]))
        }
    }

    static func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func readLE<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int, as: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Parses the metadata section; nil describes what is wrong.
    static func decodeMetadata(_ bytes: [UInt8]) -> Result<ZmatMetadata, GroveError> {
        bytes.withUnsafeBytes { raw -> Result<ZmatMetadata, GroveError> in
            func fail(_ offset: Int, _ what: String) -> Result<ZmatMetadata, GroveError> {
                .failure(GroveError("metadata byte \(offset): \(what)"))
            }
            guard raw.count >= 4 else { return fail(0, "expected an entry count") }
            let count = Int(readLE(raw, 0, as: UInt32.self))
            var meta = ZmatMetadata()
            var at = 4
            for _ in 0..<count {
                guard at + 2 <= raw.count else { return fail(at, "expected a key length") }
                let kl = Int(readLE(raw, at, as: UInt16.self)); at += 2
                guard at + kl <= raw.count else { return fail(at, "key runs past the section") }
                guard let key = String(validating: raw[at..<at + kl], as: UTF8.self) else {
                    return fail(at, "key is not UTF-8")
                }
                at += kl
                guard at + 4 <= raw.count else { return fail(at, "expected a value length") }
                let vl = Int(readLE(raw, at, as: UInt32.self)); at += 4
                guard at + vl <= raw.count else { return fail(at, "value runs past the section") }
                guard let value = String(validating: raw[at..<at + vl], as: UTF8.self) else {
                    return fail(at, "value is not UTF-8")
                }
                at += vl
                if meta[key] != nil { return fail(at, "key '\(key)' appears twice") }
                meta[key] = value
            }
            if at != raw.count { return fail(at, "\(raw.count - at) unexpected trailing bytes") }
            return .success(meta)
        }
    }
}
