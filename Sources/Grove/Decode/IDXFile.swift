#if canImport(Glibc)
import Glibc
#endif

/// The header of an IDX file (the format MNIST and Fashion-MNIST ship in, LeCun et al.):
/// two zero bytes, an element type code, the number of dimensions, then each dimension as a
/// big-endian UInt32; the elements follow, row-major.
public struct IDXHeader: Equatable, Sendable {
    /// The element type code (0x08 unsigned byte is the only one image datasets use).
    public var typeCode: UInt8
    /// The dimensions, outermost first (images: count, height, width).
    public var dimensions: [Int]

    /// Bytes the header occupies.
    public var byteCount: Int { 4 + 4 * dimensions.count }

    /// The `00 00 tt nn` magic, for messages.
    public var magicDescription: String {
        [0, 0, typeCode, UInt8(dimensions.count)].map(hexByte).joined(separator: " ")
    }

    static func typeName(_ code: UInt8) -> String {
        switch code {
        case 0x08: return "unsigned byte"
        case 0x09: return "signed byte"
        case 0x0B: return "int16"
        case 0x0C: return "int32"
        case 0x0D: return "float32"
        case 0x0E: return "float64"
        default: return "unknown type 0x\(hexByte(code))"
        }
    }

    /// Reads and checks the header: magic, a known type, at most 4 dimensions.
    static func read(from input: DecompressingInput) throws -> IDXHeader {
        let head = try input.peek(4)
        guard head.count == 4 else {
            throw GroveError(file: input.name,
                "too short for an IDX file: \(head.count) bytes, expected a 4-byte magic (00 00 08 03 for images)")
        }
        guard head[0] == 0, head[1] == 0, [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(head[2]),
              (1...4).contains(head[3]) else {
            throw GroveError(file: input.name,
                "not an IDX file: expected magic 00 00 08 03 (images) or 00 00 08 01 (labels) at byte 0, found \(head.map(hexByte).joined(separator: " "))")
        }
        let ndims = Int(head[3])
        var raw = [UInt8](repeating: 0, count: 4 + 4 * ndims)
        let got = try raw.withUnsafeMutableBytes { try input.readFully(into: $0) }
        guard got == raw.count else {
            throw GroveError(file: input.name,
                "truncated IDX header: \(got) bytes, expected \(raw.count) for \(ndims) dimensions")
        }
        var dims = [Int]()
        for d in 0..<ndims {
            let at = 4 + 4 * d
            dims.append(Int(raw[at]) << 24 | Int(raw[at + 1]) << 16 | Int(raw[at + 2]) << 8 | Int(raw[at + 3]))
        }
        return IDXHeader(typeCode: head[2], dimensions: dims)
    }
}

@inline(__always) func hexByte(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}

/// The size of a regular file at `path`, or nil (standard input, a pipe, a device).
func regularFileSize(_ path: String?) -> Int? {
    guard let path, path != "-" else { return nil }
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(st.st_size)
}

/// Streams the images of an IDX image file (`idx3`, unsigned bytes), raw or gzip.
///
/// Memory stays bounded: images are read in caller-sized batches. Sizes are checked against
/// the header as early as possible: a raw regular file's length up front, otherwise the end of
/// the data (short or with bytes left over) when it is reached.
public final class IDXImageReader {
    /// The input's name for messages.
    public var name: String { input.name }
    /// Images the header declares.
    public let count: Int
    /// Image height (rows of pixels).
    public let height: Int
    /// Image width (pixels per row).
    public let width: Int
    /// Images handed out so far.
    public private(set) var imagesRead = 0
    /// Whether the file was gzip-compressed.
    public var isGzip: Bool { input.isGzip }

    private let input: DecompressingInput

    /// The largest image side accepted; larger is treated as a corrupt header.
    public static let maxSide = 1 << 14

    /// Opens `file` and checks its header.
    public convenience init(_ file: InputFile) throws {
        try self.init(DecompressingInput(file))
    }

    /// Reads the header from `input` (which may already have been peeked at).
    public init(_ input: DecompressingInput) throws {
        self.input = input
        let header = try IDXHeader.read(from: input)
        let name = input.name
        if header.dimensions.count == 1 {
            throw GroveError(file: name,
                "is an IDX label file (magic \(header.magicDescription)), expected an image file (00 00 08 03); give the images first, then the labels")
        }
        guard header.typeCode == 0x08 else {
            throw GroveError(file: name,
                "IDX elements are \(IDXHeader.typeName(header.typeCode)) (magic \(header.magicDescription)), expected unsigned bytes (00 00 08 03)")
        }
        guard header.dimensions.count == 3 else {
            throw GroveError(file: name,
                "IDX file has \(header.dimensions.count) dimensions (magic \(header.magicDescription)), expected 3 (count, height, width) for images")
        }
        let (n, h, w) = (header.dimensions[0], header.dimensions[1], header.dimensions[2])
        guard h > 0, w > 0 else {
            throw GroveError(file: name, "IDX header declares zero-sized images (\(w)x\(h))")
        }
        guard h <= IDXImageReader.maxSide, w <= IDXImageReader.maxSide, w * h <= ZmatLayout.maxColumns else {
            throw GroveError(file: name,
                "IDX header declares absurd image dimensions \(w)x\(h) (at most \(IDXImageReader.maxSide) a side and \(ZmatLayout.maxColumns) pixels)")
        }
        count = n
        height = h
        width = w
        if !input.isGzip, let size = regularFileSize(input.path) {
            let expected = header.byteCount + n * w * h
            if size != expected {
                throw GroveError(file: name,
                    "IDX header declares \(n) images of \(w)x\(h) (\(expected) bytes), but the file has \(size) bytes")
            }
        }
    }

    /// Pixels per image.
    public var pixelsPerImage: Int { width * height }

    /// Reads the next `min(images, count - imagesRead)` images into `buffer` (row-major,
    /// `pixelsPerImage` bytes each); returns how many. Throws when the data ends early.
    /// After the last image it checks that nothing follows.
    public func read(images: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let take = min(images, count - imagesRead)
        precondition(buffer.count >= take * pixelsPerImage)
        if take > 0 {
            let want = take * pixelsPerImage
            let got = try input.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            if got < want {
                let complete = imagesRead + got / pixelsPerImage
                throw GroveError(file: name,
                    "truncated: the data ends at byte \(input.offset) inside image \(complete) (0-based); the header declares \(count) images of \(width)x\(height)")
            }
            imagesRead += take
        }
        if imagesRead == count { try checkEnd() }
        return take
    }

    private var endChecked = false

    private func checkEnd() throws {
        if endChecked { return }
        endChecked = true
        let extra = try input.peek(1)
        if !extra.isEmpty {
            throw GroveError(file: name,
                "unexpected data after the \(count) images the IDX header declares (at byte \(input.offset))")
        }
    }
}

/// Streams the labels of an IDX label file (`idx1`, unsigned bytes), raw or gzip.
public final class IDXLabelReader {
    /// The input's name for messages.
    public var name: String { input.name }
    /// Labels the header declares.
    public let count: Int
    /// Labels handed out so far.
    public private(set) var labelsRead = 0
    private let input: DecompressingInput
    private var scratch = [UInt8](repeating: 0, count: 4096)

    /// Opens `file` and checks its header.
    public convenience init(_ file: InputFile) throws {
        try self.init(DecompressingInput(file))
    }

    /// Reads the header from `input`.
    public init(_ input: DecompressingInput) throws {
        self.input = input
        let header = try IDXHeader.read(from: input)
        let name = input.name
        guard header.typeCode == 0x08, header.dimensions.count == 1 else {
            let what = header.dimensions.count == 3 ? " (this looks like an image file)" : ""
            throw GroveError(file: name,
                "expected an IDX label file (magic 00 00 08 01), found magic \(header.magicDescription)\(what)")
        }
        count = header.dimensions[0]
        if !input.isGzip, let size = regularFileSize(input.path) {
            let expected = header.byteCount + count
            if size != expected {
                throw GroveError(file: name,
                    "IDX header declares \(count) labels (\(expected) bytes), but the file has \(size) bytes")
            }
        }
    }

    /// Reads the next `labels.count` labels (fewer only at the declared end).
    public func read(into labels: UnsafeMutableBufferPointer<Int32>) throws -> Int {
        let take = min(labels.count, count - labelsRead)
        var done = 0
        while done < take {
            let chunk = min(take - done, scratch.count)
            let got = try scratch.withUnsafeMutableBytes {
                try input.readFully(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<chunk]))
            }
            for i in 0..<got { labels[done + i] = Int32(scratch[i]) }
            if got < chunk {
                throw GroveError(file: name,
                    "truncated: the labels end at byte \(input.offset) after \(labelsRead + done + got) labels; the header declares \(count)")
            }
            done += chunk
        }
        labelsRead += take
        if labelsRead == count, !checked {
            checked = true
            if !(try input.peek(1)).isEmpty {
                throw GroveError(file: name,
                    "unexpected data after the \(count) labels the IDX header declares (at byte \(input.offset))")
            }
        }
        return take
    }

    private var checked = false
}
