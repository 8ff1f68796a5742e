// Fuzz target: a PNG file through mnist-decode's decode path (read from a file, decode to gray,
// resize when the size differs from 28x28). The control byte picks the alpha background.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let (control, rest) = Fuzz.split(UnsafeRawBufferPointer(start: data, count: count))
    return Fuzz.run {
        let path = Fuzz.file(rest)
        var image = try PNGCodec.decodeGray(path: path, background: control & 1 == 0 ? .black : .white)
        precondition(image.pixels.count == image.width * image.height)
        if image.width != 28 || image.height != 28 {
            image = ImageResizer(sourceWidth: image.width, sourceHeight: image.height, width: 28, height: 28).resize(image)
            precondition(image.pixels.count == 28 * 28)
        }
    }
}
