/// Resizes 8-bit gray images, separably (rows, then columns), deterministically.
///
/// The filter per axis:
/// - shrinking: area averaging. Each output pixel is the mean of the source area it covers,
///   with fractional edge pixels weighted by their coverage (no aliasing, no lost ink: a
///   28 -> 14 shrink averages exact 2x2 blocks);
/// - enlarging: bilinear interpolation between pixel centres (half-pixel aligned, edges
///   clamped), as OpenCV's `INTER_LINEAR` and Pillow's `BILINEAR` for upscaling;
/// - same size: the axis is copied exactly.
/// Arithmetic is in Float in a fixed order, rounded to nearest at the end, so a given input
/// always gives the same bytes on every machine and thread count.
public struct ImageResizer: Sendable {
    public let sourceWidth: Int, sourceHeight: Int
    public let width: Int, height: Int
    private let horizontal: AxisWeights
    private let vertical: AxisWeights

    /// A resizer from `sourceWidth x sourceHeight` to `width x height` (all positive).
    public init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) {
        precondition(sourceWidth > 0 && sourceHeight > 0 && width > 0 && height > 0)
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        horizontal = AxisWeights(source: sourceWidth, target: width)
        vertical = AxisWeights(source: sourceHeight, target: height)
    }

    /// A short description of the filter, for metadata and help text.
    public static let filterDescription = "area-average when shrinking, bilinear when enlarging"

    /// Floats of scratch space `resize(_:into:scratch:)` needs.
    public var scratchCount: Int { (sourceHeight + 1) * width }

    /// Resizes `source` (`sourceWidth * sourceHeight` bytes) into `destination`
    /// (`width * height` bytes). `scratch` must hold `scratchCount` floats.
    public func resize(_ source: UnsafeBufferPointer<UInt8>, into destination: UnsafeMutableBufferPointer<UInt8>,
                       scratch: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count >= sourceWidth * sourceHeight && destination.count >= width * height)
        precondition(scratch.count >= scratchCount)
        let sw = sourceWidth, w = width
        let rows = scratch.baseAddress!            // sourceHeight rows, each resized horizontally
        let acc = scratch.baseAddress! + sourceHeight * w   // one output row being accumulated
        horizontal.withPointers { hStart, hCount, hOffset, hWeight in
            for y in 0..<sourceHeight {
                let row = source.baseAddress! + y * sw
                let out = rows + y * w
                for x in 0..<w {
                    var sum: Float = 0
                    let s = hStart[x], o = hOffset[x]
                    for k in 0..<hCount[x] { sum += Float(row[s + k]) * hWeight[o + k] }
                    out[x] = sum
                }
            }
        }
        // Vertically, whole rows at a time (weight times row, added in tap order): the inner
        // loops run over contiguous floats and vectorise.
        vertical.withPointers { vStart, vCount, vOffset, vWeight in
            for y in 0..<height {
                let s = vStart[y], o = vOffset[y], n = vCount[y]
                let w0 = vWeight[o], first = rows + s * w
                for x in 0..<w { acc[x] = 0 + first[x] * w0 }
                for k in 1..<max(n, 1) {
                    let wk = vWeight[o + k], r = rows + (s + k) * w
                    for x in 0..<w { acc[x] += r[x] * wk }
                }
                let out = destination.baseAddress! + y * w
                // Round half up. Weights are non-negative, so acc >= 0 and truncation is floor;
                // the min keeps float error above 255 from overflowing.
                for x in 0..<w { out[x] = UInt8(min(acc[x] + 0.5, 255)) }
            }
        }
    }

    /// Convenience: resizes a whole image, allocating the result.
    public func resize(_ image: GrayImage) -> GrayImage {
        precondition(image.width == sourceWidth && image.height == sourceHeight)
        var out = [UInt8](repeating: 0, count: width * height)
        var scratch = [Float](repeating: 0, count: scratchCount)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                scratch.withUnsafeMutableBufferPointer { resize(src, into: dst, scratch: $0) }
            }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}

/// For each output index along one axis: which run of source indices contributes, and how much.
private struct AxisWeights: Sendable {
    var start: [Int] = []
    var count: [Int] = []
    var offset: [Int] = []
    var weight: [Float] = []

    init(source n: Int, target m: Int) {
        for j in 0..<m {
            offset.append(weight.count)
            if m == n {
                start.append(j); count.append(1); weight.append(1)
            } else if m < n {
                // Output j covers [j*n/m, (j+1)*n/m) in source units; computed in units of
                // 1/m so the bounds are exact integers.
                let lo = j * n, hi = (j + 1) * n   // in 1/m source pixels
                let first = lo / m, last = (hi - 1) / m
                start.append(first); count.append(last - first + 1)
                for i in first...last {
                    let a = max(lo, i * m), b = min(hi, (i + 1) * m)
                    weight.append(Float(Double(b - a) / Double(n)))
                }
            } else {
                // Bilinear between centres: x = (j + 0.5) * n / m - 0.5, clamped to the edges.
                let x = min(max((Double(j) + 0.5) * Double(n) / Double(m) - 0.5, 0), Double(n - 1))
                let i0 = Int(x.rounded(.down))
                let f = x - Double(i0)
                if i0 + 1 < n && f > 0 {
                    start.append(i0); count.append(2)
                    weight.append(Float(1 - f)); weight.append(Float(f))
                } else {
                    start.append(i0); count.append(1); weight.append(1)
                }
            }
        }
    }

    func withPointers<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
        start.withUnsafeBufferPointer { s in
            count.withUnsafeBufferPointer { c in
                offset.withUnsafeBufferPointer { o in
                    weight.withUnsafeBufferPointer { w in
                        body(s.baseAddress!, c.baseAddress!, o.baseAddress!, w.baseAddress!)
                    }
                }
            }
        }
    }
}
