import CPNG

/// Draws a confusion matrix as a PNG heat map: one square per (true, predicted) pair, shaded
/// from white to dark blue by the share of the true class's rows (so every row reads as a
/// recall distribution), with the count printed in the square, the accuracy on top, the class
/// names (or labels) along the top (predicted) and left (true) edges, and the axis titles
/// "PREDICTED" and "TRUE".
public enum ConfusionPlot {
    /// Pixels per square: 44, smaller for many classes so the image stays under ~4000 pixels.
    static func cellSize(classes n: Int) -> Int { max(2, min(44, 4000 / max(1, n))) }

    /// 3x5 glyphs (digits, capitals, a little punctuation), one row per 3 bits (top row first).
    private static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], "-": [0, 0, 7, 0, 0],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6],
        "E": [7, 4, 6, 4, 7], "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5],
        "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2], "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7],
        "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2], "P": [6, 5, 6, 4, 4],
        "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5],
        "Y": [5, 5, 2, 2, 2], "Z": [7, 1, 2, 4, 7], ".": [0, 0, 0, 0, 2], ":": [0, 2, 0, 2, 0],
        "/": [1, 1, 2, 4, 4], "%": [5, 1, 2, 4, 5], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4],
        "_": [0, 0, 0, 0, 7], "+": [0, 2, 7, 2, 0],
    ]

    /// Pixels `s` takes across at `scale`.
    public static func textWidth(_ s: String, scale: Int) -> Int { max(0, s.count * 4 * scale - scale) }

    /// The PNG file's bytes. `classNames[label]` names a label (labels past the list show as numbers).
    public static func png(_ report: ClassificationReport, classNames: [String] = []) throws -> [UInt8] {
        let n = report.labels.count
        let cell = cellSize(classes: n)
        let labelled = cell >= 12
        let names = report.labels.map { RunContext.name(of: $0, in: classNames).uppercased() }
        // Row names at scale 2 on the left; column names at scale 2 when all fit, else 1, cut to fit.
        let rowLabelWidth = labelled ? (names.map { textWidth($0, scale: 2) }.max() ?? 0) + 8 : 0
        let columnScale = names.allSatisfy { textWidth($0, scale: 2) <= cell - 2 } ? 2 : 1
        let columnNames = names.map { String($0.prefix(max(1, (cell - 2 + columnScale) / (4 * columnScale)))) }
        let accuracy = "ACCURACY \(formatFixed(report.accuracy, 4))"
        let titleBand = 20, axisBand = 16, labelBand = labelled ? 16 : 4
        let top = titleBand + axisBand + labelBand, left = 4 + 10 + 6 + rowLabelWidth
        let width = max(left + n * cell + 4, textWidth(accuracy, scale: 2) + 8), height = top + n * cell + 4
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in max(0, y0)..<min(height, y0 + h) {
                for x in max(0, x0)..<min(width, x0 + w) {
                    let o = (y * width + x) * 3
                    rgb[o] = c.0; rgb[o + 1] = c.1; rgb[o + 2] = c.2
                }
            }
        }
        // Text from (x, y) (its top left), each glyph pixel a `scale` x `scale` square.
        func text(_ s: String, x x0: Int, y: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) {
            var x = x0
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
        // Text centred on (cx, cy).
        func text(_ s: String, _ cx: Int, _ cy: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) {
            text(s, x: cx - textWidth(s, scale: scale) / 2, y: cy - 5 * scale / 2, scale: scale, c)
        }
        let black: (UInt8, UInt8, UInt8) = (0, 0, 0)
        text(accuracy, x: 4, y: 4, scale: 2, black)
        text("PREDICTED", left + n * cell / 2, titleBand + axisBand / 2, scale: 2, black)
        // "TRUE" down the left edge, one letter under another.
        let trueTop = top + n * cell / 2 - 4 * 12 / 2
        for (i, ch) in "TRUE".enumerated() { text(String(ch), x: 4, y: trueTop + i * 12, scale: 2, black) }
        for t in 0..<n {
            let support = max(1, report.support(t))
            for p in 0..<n {
                let count = report.confusion[t * n + p]
                let share = Double(count) / Double(support)
                let color = (UInt8(255 - share * (255 - 8)), UInt8(255 - share * (255 - 48)), UInt8(255 - share * (255 - 107)))
                let x = left + p * cell, y = top + t * cell
                fill(x, y, max(1, cell - 1), max(1, cell - 1), color)
                // Counts and labels only where they fit.
                let digits = String(count)
                let scale = digits.count * 4 * 2 <= cell - 4 ? 2 : 1
                if digits.count * 4 * scale <= cell - 2 && cell >= 8 {
                    text(digits, x + cell / 2, y + cell / 2, scale: scale, share > 0.5 ? (255, 255, 255) : black)
                }
            }
            if labelled {
                text(names[t], x: left - 6 - textWidth(names[t], scale: 2), y: top + t * cell + cell / 2 - 5, scale: 2, black)
                text(columnNames[t], left + t * cell + cell / 2, titleBand + axisBand + labelBand / 2, scale: columnScale, black)
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
    public static func write(_ report: ClassificationReport, to path: String, classNames: [String] = [], force: Bool = false) throws {
        let bytes = try png(report, classNames: classNames)
        let out = try OutputFile(path: path, binary: true, force: force)
        try bytes.withUnsafeBytes { try out.write($0) }
        try out.commit()
    }
}
