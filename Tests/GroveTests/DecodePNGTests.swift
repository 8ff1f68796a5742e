import Foundation
import Grove
import XCTest

/// PNG decoding through libpng: every flavour real files come in, checked against pixel values
/// the test knows (files made by `PNGWriter`, an encoder independent of libpng).
final class DecodePNGTests: XCTestCase {
    func decode(_ bytes: [UInt8], background: AlphaBackground = .black) throws -> GrayImage {
        try bytes.withUnsafeBytes { try PNGCodec.decodeGray($0, name: "test.png", background: background) }
    }

    /// A 16x16 ramp covering 0...255.
    let ramp: [UInt16] = (0..<256).map { UInt16($0) }

    func testGray8IsExact() throws {
        let png = PNGWriter.encode(width: 16, height: 16, colorType: .gray, bitDepth: 8, samples: ramp)
        let image = try decode(png)
        XCTAssertEqual(image.width, 16)
        XCTAssertEqual(image.height, 16)
        XCTAssertEqual(image.pixels, (0..<256).map { UInt8($0) })
    }

    func testGray16TakesTheHighByteAsAUserExpects() throws {
        // v * 257 is the 16-bit form of the 8-bit value v: it must come back as v, not as a
        // gamma-brightened value (libpng's default assumes 16-bit data is linear).
        let png = PNGWriter.encode(width: 16, height: 16, colorType: .gray, bitDepth: 16,
                                   samples: ramp.map { $0 * 257 })
        XCTAssertEqual(try decode(png).pixels, (0..<256).map { UInt8($0) })
    }

    func testLowBitDepthGrayScalesToFullRange() throws {
        for depth in [1, 2, 4] {
            let levels = 1 << depth
            let samples = (0..<(7 * 5)).map { UInt16($0 % levels) }
            let png = PNGWriter.encode(width: 7, height: 5, colorType: .gray, bitDepth: depth, samples: samples)
            let expected = samples.map { UInt8(Int($0) * 255 / (levels - 1)) }
            XCTAssertEqual(try decode(png).pixels, expected, "\(depth)-bit gray")
        }
    }

    func testGrayAlphaCompositesOverTheChosenBackground() throws {
        // Opaque pixels keep their value; transparent ones become the background.
        var samples: [UInt16] = []
        for v in 0..<256 { samples += [UInt16(v), v % 2 == 0 ? 255 : 0] }
        let png = PNGWriter.encode(width: 16, height: 16, colorType: .grayAlpha, bitDepth: 8, samples: samples)
        let black = try decode(png, background: .black).pixels
        let white = try decode(png, background: .white).pixels
        for v in 0..<256 {
            XCTAssertEqual(black[v], v % 2 == 0 ? UInt8(v) : 0, "pixel \(v) over black")
            XCTAssertEqual(white[v], v % 2 == 0 ? UInt8(v) : 255, "pixel \(v) over white")
        }
        // Half-transparent white over black lands strictly between.
        let half = PNGWriter.encode(width: 1, height: 1, colorType: .grayAlpha, bitDepth: 8, samples: [255, 128])
        let mid = try decode(half).pixels[0]
        XCTAssertGreaterThan(mid, 0)
        XCTAssertLessThan(mid, 255)
    }

    func testRGBGrayPixelsStayExactAndColoursUseLuminanceWeights() throws {
        let gray = PNGWriter.encode(width: 16, height: 16, colorType: .rgb, bitDepth: 8,
                                    samples: ramp.flatMap { [$0, $0, $0] })
        XCTAssertEqual(try decode(gray).pixels, (0..<256).map { UInt8($0) })
        let primaries = PNGWriter.encode(width: 3, height: 1, colorType: .rgb, bitDepth: 8,
                                         samples: [255, 0, 0, 0, 255, 0, 0, 0, 255])
        let p = try decode(primaries).pixels
        // sRGB luminance: green 0.7152 > red 0.2126 > blue 0.0722.
        XCTAssertGreaterThan(p[1], p[0])
        XCTAssertGreaterThan(p[0], p[2])
        XCTAssertGreaterThan(p[2], 0)
        let rgb16 = PNGWriter.encode(width: 16, height: 16, colorType: .rgb, bitDepth: 16,
                                     samples: ramp.flatMap { [$0 * 257, $0 * 257, $0 * 257] })
        XCTAssertEqual(try decode(rgb16).pixels, (0..<256).map { UInt8($0) })
    }

    func testRGBAComposites() throws {
        var samples: [UInt16] = []
        for v in 0..<256 { samples += [UInt16(v), UInt16(v), UInt16(v), v < 128 ? 255 : 0] }
        let png = PNGWriter.encode(width: 16, height: 16, colorType: .rgba, bitDepth: 8, samples: samples)
        let black = try decode(png).pixels
        let white = try decode(png, background: .white).pixels
        for v in 0..<256 {
            XCTAssertEqual(black[v], v < 128 ? UInt8(v) : 0)
            XCTAssertEqual(white[v], v < 128 ? UInt8(v) : 255)
        }
    }

    func testPaletteWithAndWithoutTransparency() throws {
        let palette: [(UInt8, UInt8, UInt8)] = (0..<16).map { i in let g = UInt8(i * 17); return (g, g, g) }
        let samples = (0..<64).map { UInt16($0 % 16) }
        for depth in [4, 8] {
            let png = PNGWriter.encode(width: 8, height: 8, colorType: .palette, bitDepth: depth,
                                       samples: samples, palette: palette)
            XCTAssertEqual(try decode(png).pixels, samples.map { UInt8($0 * 17) }, "palette \(depth)-bit")
        }
        // Entry 0 fully transparent: it takes the background.
        let alpha = [UInt8](repeating: 255, count: 16).enumerated().map { $0.offset == 0 ? UInt8(0) : $0.element }
        let png = PNGWriter.encode(width: 8, height: 8, colorType: .palette, bitDepth: 8, samples: samples,
                                   palette: palette.map { $0 == (0, 0, 0) ? (200, 200, 200) : $0 }, paletteAlpha: alpha)
        let white = try decode(png, background: .white).pixels
        let black = try decode(png, background: .black).pixels
        for (i, s) in samples.enumerated() {
            XCTAssertEqual(white[i], s == 0 ? 255 : UInt8(s * 17))
            XCTAssertEqual(black[i], s == 0 ? 0 : UInt8(s * 17))
        }
    }

    func testInterlacedDecodesLikeNonInterlaced() throws {
        // Odd sizes exercise Adam7's partial and empty passes.
        for (w, h) in [(13, 11), (1, 1), (3, 9), (28, 28)] {
            let samples = (0..<w * h).map { UInt16(($0 * 37 + 11) % 256) }
            let plain = PNGWriter.encode(width: w, height: h, colorType: .gray, bitDepth: 8, samples: samples)
            let adam7 = PNGWriter.encode(width: w, height: h, colorType: .gray, bitDepth: 8, samples: samples,
                                         interlaced: true)
            XCTAssertNotEqual(plain, adam7)
            XCTAssertEqual(try decode(adam7).pixels, samples.map { UInt8($0) }, "\(w)x\(h) interlaced")
            XCTAssertEqual(try decode(adam7), try decode(plain))
        }
        let rgba = PNGWriter.encode(width: 5, height: 6, colorType: .rgba, bitDepth: 16,
                                    samples: (0..<30).flatMap { i -> [UInt16] in let v = UInt16(i * 8) * 257; return [v, v, v, 65535] },
                                    interlaced: true)
        XCTAssertEqual(try decode(rgba).pixels, (0..<30).map { UInt8($0 * 8) })
    }

    func testNotAPNGAndEmptyFail() {
        XCTAssertThrowsError(try decode(Array("hello, world".utf8))) { error in
            XCTAssertTrue("\(error)".contains("test.png: not a PNG image"), "\(error)")
        }
        XCTAssertThrowsError(try decode([])) { XCTAssertTrue("\($0)".contains("empty file")) }
    }

    func testZeroAndAbsurdDimensionsFail() throws {
        let good = PNGWriter.encode(width: 2, height: 2, colorType: .gray, bitDepth: 8, samples: [1, 2, 3, 4])
        for (w, h) in [(0, 2), (2, 0), (100_000, 100_000), (0x7FFF_FFFF, 1)] {
            let png = withIHDRSize(good, width: UInt32(w), height: UInt32(h))
            XCTAssertThrowsError(try decode(png), "\(w)x\(h)") { error in
                XCTAssertTrue(error is GroveError)
                XCTAssertTrue("\(error)".hasPrefix("test.png: "), "\(error)")
            }
        }
    }

    func testEveryTruncationIsAnErrorOrTheWholeImage() throws {
        let samples = (0..<28 * 28).map { UInt16(($0 * 7) % 256) }
        for interlaced in [false, true] {
            let png = PNGWriter.encode(width: 28, height: 28, colorType: .gray, bitDepth: 8, samples: samples,
                                       interlaced: interlaced)
            let expected = samples.map { UInt8($0) }
            var failures = 0
            for cut in 0..<png.count {
                do {
                    let image = try decode(Array(png[0..<cut]))
                    // Only a cut inside the trailing IEND chunk may still yield the image.
                    XCTAssertEqual(image.pixels, expected, "cut at \(cut) gave wrong pixels")
                    XCTAssertGreaterThanOrEqual(cut, png.count - 12, "cut at \(cut) accepted")
                } catch let error as GroveError {
                    XCTAssertTrue(error.message.hasPrefix("test.png: "))
                    failures += 1
                }
            }
            XCTAssertGreaterThan(failures, png.count - 13)
        }
    }

    func testCorruptBytesNeverCrashOrGiveSilentlyWrongSizes() throws {
        let samples = (0..<16 * 16).map { UInt16(($0 * 13) % 256) }
        let png = PNGWriter.encode(width: 16, height: 16, colorType: .gray, bitDepth: 8, samples: samples)
        // Flip each byte after the signature in turn: CRCs catch damage in every chunk.
        for at in 8..<png.count {
            var damaged = png
            damaged[at] ^= 0x5A
            do {
                let image = try decode(damaged)
                XCTAssertEqual(image.pixels, samples.map { UInt8($0) }, "flip at \(at) accepted with other pixels")
            } catch {
                XCTAssertTrue(error is GroveError, "flip at \(at): \(error)")
            }
        }
    }

    func testDecodeFromFileNamesTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-png-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let png = PNGWriter.encode(width: 2, height: 1, colorType: .gray, bitDepth: 8, samples: [7, 9])
        try Data(png).write(to: URL(fileURLWithPath: dir + "/a.png"))
        XCTAssertEqual(try PNGCodec.decodeGray(path: dir + "/a.png").pixels, [7, 9])
        XCTAssertThrowsError(try PNGCodec.decodeGray(path: dir + "/missing.png")) {
            XCTAssertTrue("\($0)".contains("missing.png: cannot open"), "\($0)")
        }
        XCTAssertThrowsError(try PNGCodec.decodeGray(path: dir)) { XCTAssertTrue("\($0)".contains("is a directory")) }
    }

    /// `png` with IHDR's width and height replaced (and its CRC fixed, so only the sizes are wrong).
    func withIHDRSize(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
        var out = png
        func put(_ v: UInt32, _ at: Int) {
            out[at] = UInt8(v >> 24); out[at + 1] = UInt8((v >> 16) & 0xFF)
            out[at + 2] = UInt8((v >> 8) & 0xFF); out[at + 3] = UInt8(v & 0xFF)
        }
        put(width, 16)
        put(height, 20)
        put(crc32(Array(out[12..<29])), 29)
        return out
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var table = [UInt32](repeating: 0, count: 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            table[n] = c
        }
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
