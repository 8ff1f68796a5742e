// Fuzz target: IDX images and labels (raw or gzip) as mnist-decode reads them. The control
// byte's bit 0 picks images or labels; bit 1 how much is read at a time.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let (control, rest) = Fuzz.split(UnsafeRawBufferPointer(start: data, count: count))
    return Fuzz.run {
        let input = DecompressingInput(Fuzz.input(rest))
        let batch = control & 2 == 0 ? 1 : 64
        if control & 1 == 0 {
            let images = try IDXImageReader(input)
            var buffer = [UInt8](repeating: 0, count: batch * images.pixelsPerImage)
            var total = 0
            while true {
                let n = try buffer.withUnsafeMutableBytes { try images.read(images: batch, into: $0) }
                if n == 0 { break }
                total += n
            }
            precondition(total == images.count)
        } else {
            let labels = try IDXLabelReader(input)
            var buffer = [Int32](repeating: 0, count: batch)
            var total = 0
            while true {
                let n = try buffer.withUnsafeMutableBufferPointer { try labels.read(into: $0) }
                if n == 0 { break }
                total += n
            }
            precondition(total == labels.count)
        }
    }
}
