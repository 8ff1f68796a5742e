// Fuzz target: the zmat stream reader (header, metadata, blocks, end marker, several streams
// and frames), then what `zmat info` does with the whole matrix.
import Grove

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.run {
        let reader = try ZmatReader(Fuzz.zmatInput(UnsafeRawBufferPointer(start: data, count: count)))
        var blocks = [RowBlock]()
        var rows = 0
        while let block = try reader.nextBlock() {
            precondition(block.rows > 0 && block.columns == reader.header.columns)
            blocks.append(block)
            rows += block.rows
        }
        precondition(reader.rowsRead == rows && reader.contentHash != nil)
        let matrix = Matrix(header: reader.header, rows: rows, blocks: blocks)
        _ = try ContentKind.summaryLines(for: matrix)
    }
}
