import CPNG

/// Draws a confusion matrix as a PNG heat map: one square per (true, predicted) pair, shaded
/// from white to dark blue by the share of the true class's rows (so every row reads as a
/// recall distribution), with the count printed in the square and the labels along the
/// top (predicted) and left (true) edges.
public enum ConfusionPlot {
    /// Pixels per square: 44, smaller for many classes so the image stays under ~4000 pixels.
    static func cellSize(classes n: Int) -> Int { max(2, min(44, 4000 / max(1, n))) }
    static let margin = 40

    /// 3x5 glyphs for digits and '-', one row per 3 bits (top row first).
    private static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], "-": [0, 0, 7, 0, 0],
    ]

    /// The PNG file's bytes.
    public static func png(_ report: ClassificationReport) throws -> [UInt8] {
        let n = report.labels.count
        let cell = cellSize(classes: n)
        let width = margin + n * cell + 4, height = margin + n * cell + 4
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in max(0, y0)..<min(height, y0 + h) {
                for x in max(0, x0)..<min(width, x0 + w) {
                    let o = (y * width + x) * 3
                    rgb[o] = c.0; rgb[o + 1] = c.1; rgb[o + 2] = c.2
                }
            }
        }
        // Text centred on (cx, cy), each glyph pixel a `scale` x `scale` square.
        func text(_ s: String, _ cx: Int, _ cy: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) {
            let w = s.count * 4 * scale - scale, h = 5 * scale
            var x = cx - w / 2
            let y = cy - h / 2
            for ch in s {
                if let g = glyphs[ch] {
                    for row in 0..<5 {
                        for col in 0..<3 where g[row] & (4 >> UInt8(col)) != 0 {
                            fill(x + col * scale, y + row * scale, scale, scale, c)
                        }
                    }
                }
                x += 4 * scale
            }
        }
        for t in 0..<n {
            let support = max(1, report.support(t))
            for p in 0..<n {
                let count = report.confusion[t * n + p]
                let share = Double(count) / Double(support)
                let color = (UInt8(255 - share * (255 - 8)), UInt8(255 - share * (255 - 48)), UInt8(255 - share * (255 - 107)))
                let x = margin + p * cell, y = margin + t * cell
                fill(x, y, max(1, cell - 1), max(1, cell - 1), color)
                // Counts and labels only where they fit.
                let digits = String(count)
                let scale = digits.count * 4 * 2 <= cell - 4 ? 2 : 1
                if digits.count * 4 * scale <= cell - 2 && cell >= 8 {
                    text(digits, x + cell / 2, y + cell / 2, scale: scale, share > 0.5 ? (255, 255, 255) : (0, 0, 0))
                }
            }
            if cell >= 12 {
                text(String(report.labels[t]), margin / 2, margin + t * cell + cell / 2, scale: 2, (0, 0, 0))
                text(String(report.labels[t]), margin + t * cell + cell / 2, margin / 2, scale: 2, (0, 0, 0))
            }
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        var size = 0
        let ok = rgb.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard ok != 0, size > 0 else { throw GroveError("PNG encoding failed: \(message(&image))") }
        var out = [UInt8](repeating: 0, count: size)
        let ok2 = out.withUnsafeMutableBytes { o in
            rgb.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok2 != 0 else { throw GroveError("PNG encoding failed: \(message(&image))") }
        png_image_free(&image)
        return Array(out[0..<size])
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Writes the heat map to `path` atomically.
    public static func write(_ report: ClassificationReport, to path: String, force: Bool = false) throws {
        let bytes = try png(report)
        let out = try OutputFile(path: path, binary: true, force: force)
        try bytes.withUnsafeBytes { try out.write($0) }
        try out.commit()
    }
}
