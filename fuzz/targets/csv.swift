// Fuzz target: the general CSV reader (zmat convert --from csv) into a zmat writer; the
// control byte picks the element type and the label column.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let (control, rest) = Fuzz.split(UnsafeRawBufferPointer(start: data, count: count))
    let types: [ElementType] = [.uint8, .int32, .float32, .float64]
    let labels: [Csv.LabelColumn] = [.none, .first, .last, .index(Int(control >> 4))]
    return Fuzz.run {
        let reader = Csv.Reader(input: Fuzz.input(rest), elementType: types[Int(control & 3)],
                                labelColumn: labels[Int(control >> 2) & 3])
        let sink = try OutputFile(path: "/dev/null", force: true)
        let writer = try reader.read { try ZmatWriter(output: sink, header: $0) }
        _ = try writer.finish()
    }
}
