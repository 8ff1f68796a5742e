// Fuzz target: the .npy reader (zmat convert --from npy).
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.run {
        _ = try Npy.decode(Array(UnsafeRawBufferPointer(start: data, count: count)), name: "input.npy")
    }
}
