import CPNG
import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// An 8-bit grayscale image, row-major, `width * height` bytes.
public struct GrayImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// What transparent pixels are composited over when a PNG has alpha.
public enum AlphaBackground: String, CaseIterable, Sendable {
    /// Gray 0: MNIST's convention (ink is bright, paper is 0), so a transparent digit on
    /// nothing reads like an MNIST digit.
    case black
    /// Gray 255: for dark ink on transparent paper.
    case white

    var gray: UInt8 { self == .black ? 0 : 255 }
}

/// PNG decoding through libpng's simplified `png_image` API (it reports errors through
/// return codes, not `longjmp`, so it is safe to call from Swift).
public enum PNGCodec {
    /// The 8-byte PNG signature.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The most pixels one image may have; more is treated as a corrupt or hostile file
    /// rather than allocated (256 Mpx: far beyond any training image).
    public static let maxPixels = 1 << 28

    /// Decodes any PNG (gray, gray+alpha, RGB, RGBA, palette, 1..16 bits, interlaced or not)
    /// to 8-bit gray, the way a user expects:
    /// - 8-bit gray comes out unchanged; 16-bit gray without gamma information is taken as
    ///   sRGB-encoded like 8-bit data, so `v * 257` becomes `v` (libpng would otherwise assume
    ///   16-bit data is linear and brighten it); a file's own gAMA/sRGB/iCCP chunk is honoured.
    /// - Colour becomes gray by libpng's conversion with the sRGB luminance weights (done on
    ///   linear light, so a gray RGB pixel `(v, v, v)` stays `v`).
    /// - Alpha is composited over `background` (black by default).
    ///
    /// - Parameter name: the file name used in error messages.
    /// - Throws: `GroveError` naming the file for anything but a complete, valid image.
    public static func decodeGray(_ data: UnsafeRawBufferPointer, name: String,
                                  background: AlphaBackground = .black) throws -> GrayImage {
        guard data.count >= 8, data.prefix(8).elementsEqual(signature) else {
            if data.count == 0 { throw GroveError(file: name, "empty file, expected a PNG image") }
            throw GroveError(file: name,
                "not a PNG image: expected the signature 89 50 4e 47 0d 0a 1a 0a at byte 0, found \(data.prefix(8).map(hexByte).joined(separator: " "))")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_memory(&image, data.baseAddress, data.count) != 0 else {
            throw GroveError(file: name, "corrupt PNG: \(message(of: &image))")
        }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0 else {
            throw GroveError(file: name, "PNG has zero dimensions \(width)x\(height)")
        }
        guard width * height <= maxPixels else {
            throw GroveError(file: name,
                "PNG declares absurd dimensions \(width)x\(height) (more than \(maxPixels) pixels)")
        }
        image.format = UInt32(PNG_FORMAT_GRAY)
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let size = grove_png_image_size(&image)
        guard size == width * height else {
            throw GroveError(file: name, "unexpected libpng buffer size \(size) for \(width)x\(height) gray")
        }
        var pixels = [UInt8](repeating: 0, count: size)
        var color = png_color(red: background.gray, green: background.gray, blue: background.gray)
        let ok = pixels.withUnsafeMutableBytes { buffer in
            png_image_finish_read(&image, &color, buffer.baseAddress, Int32(width), nil)
        }
        guard ok != 0 else {
            throw GroveError(file: name, "corrupt PNG: \(message(of: &image))")
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Reads the file at `path` and decodes it (see `decodeGray(_:name:background:)`).
    public static func decodeGray(path: String, background: AlphaBackground = .black) throws -> GrayImage {
        let bytes = try readWholeFile(path, limit: maxFileBytes)
        return try bytes.withUnsafeBytes { try decodeGray($0, name: path, background: background) }
    }

    /// The largest PNG file read (1 GiB); larger files are refused before reading.
    public static let maxFileBytes = 1 << 30

    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
        return text.isEmpty ? "libpng reported an error" : text
    }
}

/// Reads a whole regular file, with errors that name it.
func readWholeFile(_ path: String, limit: Int) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        throw GroveError(file: path, "cannot open for reading: \(String(cString: strerror(errno)))")
    }
    defer { _ = close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        throw GroveError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw GroveError(file: path, "is a directory, expected a PNG file") }
    let expected = Int(st.st_size)
    if expected > limit { throw GroveError(file: path, "file too large (\(expected) bytes)") }
    // Regular files read in one go; pipes and devices grow the buffer as they come.
    var bytes = [UInt8](repeating: 0, count: max(expected, 1 << 12))
    var filled = 0
    while true {
        if filled == bytes.count {
            if bytes.count >= limit { throw GroveError(file: path, "file too large (over \(limit) bytes)") }
            bytes.append(contentsOf: [UInt8](repeating: 0, count: bytes.count))
        }
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw GroveError(file: path, "read failed: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        filled += n
    }
    bytes.removeSubrange(filled...)
    return bytes
}

/// A minimal PNG encoder for every colour type, bit depth and interlace method, written
/// independently of libpng so that tests and dataset tools can make exact files of any
/// flavour and check libpng's decoding against known pixel values.
///
/// It writes IHDR, an optional PLTE (and tRNS for palette alpha), one IDAT (zlib, filter
/// type 0 on every scanline) and IEND. No gamma or colour chunks: the pixels mean exactly the
/// numbers given.
public enum PNGWriter {
    /// PNG colour types.
    public enum ColorType: UInt8, Sendable {
        case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6

        /// Samples per pixel.
        public var channels: Int {
            switch self {
            case .gray, .palette: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    /// Encodes `samples` (row-major, `channels` per pixel, each below `1 << bitDepth`;
    /// palette indices for `.palette`) as a PNG.
    ///
    /// - Parameters:
    ///   - palette: RGB triples for `.palette`; `paletteAlpha` optional alpha per entry (tRNS).
    ///   - interlaced: Adam7 interlacing.
    public static func encode(width: Int, height: Int, colorType: ColorType, bitDepth: Int,
                              samples: [UInt16], palette: [(UInt8, UInt8, UInt8)] = [],
                              paletteAlpha: [UInt8] = [], interlaced: Bool = false) -> [UInt8] {
        precondition(samples.count == width * height * colorType.channels, "sample count")
        var out = PNGCodec.signature
        var ihdr = [UInt8]()
        appendBE(UInt32(width), &ihdr)
        appendBE(UInt32(height), &ihdr)
        ihdr += [UInt8(bitDepth), colorType.rawValue, 0, 0, interlaced ? 1 : 0]
        chunk("IHDR", ihdr, &out)
        if colorType == .palette {
            chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] }, &out)
            if !paletteAlpha.isEmpty { chunk("tRNS", paletteAlpha, &out) }
        }
        var raw = [UInt8]()
        let passes: [(Int, Int, Int, Int)] = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        let channels = colorType.channels
        for (x0, y0, dx, dy) in passes {
            let pw = width > x0 ? (width - x0 + dx - 1) / dx : 0
            let ph = height > y0 ? (height - y0 + dy - 1) / dy : 0
            if pw == 0 || ph == 0 { continue }
            for py in 0..<ph {
                let y = y0 + py * dy
                raw.append(0)  // filter type None
                var bits: UInt32 = 0, nbits = 0
                for px in 0..<pw {
                    let x = x0 + px * dx
                    for c in 0..<channels {
                        let v = samples[(y * width + x) * channels + c]
                        if bitDepth == 16 {
                            raw += [UInt8(v >> 8), UInt8(v & 0xFF)]
                        } else if bitDepth == 8 {
                            raw.append(UInt8(v))
                        } else {
                            bits = bits << UInt32(bitDepth) | UInt32(v)
                            nbits += bitDepth
                            if nbits == 8 { raw.append(UInt8(bits)); bits = 0; nbits = 0 }
                        }
                    }
                }
                if nbits > 0 { raw.append(UInt8(truncatingIfNeeded: bits << UInt32(8 - nbits))) }
            }
        }
        var destLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(destLength))
        let status = compressed.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &destLength, src.baseAddress, uLong(src.count), 9)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed")
        chunk("IDAT", Array(compressed[0..<Int(destLength)]), &out)
        chunk("IEND", [], &out)
        return out
    }

    private static func appendBE(_ v: UInt32, _ out: inout [UInt8]) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private static func chunk(_ type: String, _ data: [UInt8], _ out: inout [UInt8]) {
        appendBE(UInt32(data.count), &out)
        let body = Array(type.utf8) + data
        out += body
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        appendBE(UInt32(crc), &out)
    }
}
