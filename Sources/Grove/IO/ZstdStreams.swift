import CZstd

/// A zstd compressor writing one frame, content checksum on, to an `OutputFile`.
final class ZstdWriter {
    private let output: OutputFile
    private let context: OpaquePointer
    private let outBuffer: UnsafeMutableRawBufferPointer
    private(set) var compressedBytes = 0

    init(output: OutputFile, level: Int32) throws {
        guard let cctx = ZSTD_createCCtx() else { throw GroveError("out of memory (zstd)") }
        self.context = cctx
        self.output = output
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        outBuffer = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeCCtx(context)
        outBuffer.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try step(&input, ZSTD_e_continue)
        }
    }

    func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
    }

    @discardableResult
    private func step(_ input: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective) throws -> Int {
        var out = ZSTD_outBuffer(dst: outBuffer.baseAddress, size: outBuffer.count, pos: 0)
        let remaining = ZSTD_compressStream2(context, &out, &input, mode)
        if ZSTD_isError(remaining) != 0 {
            throw GroveError(file: output.name, "compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
        }
        if out.pos > 0 {
            try output.write(UnsafeRawBufferPointer(rebasing: outBuffer[0..<out.pos]))
            compressedBytes += out.pos
        }
        return remaining
    }
}

/// A zstd decompressor reading any number of concatenated frames from an `InputFile`,
/// handing out exact byte counts. Every frame's content checksum is verified by libzstd.
final class ZstdReader {
    let input: InputFile
    private let context: OpaquePointer
    private let inBuffer: UnsafeMutableRawBufferPointer
    private var inPos = 0
    private var inSize = 0
    private var frameInProgress = false
    private var sawAnyInput = false
    /// Compressed bytes consumed so far.
    private(set) var compressedOffset = 0
    /// Decompressed bytes produced so far.
    private(set) var contentOffset = 0

    init(input: InputFile) throws {
        guard let dctx = ZSTD_createDCtx() else { throw GroveError("out of memory (zstd)") }
        self.context = dctx
        self.input = input
        inBuffer = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(context)
        inBuffer.deallocate()
    }

    /// Fills `destination` completely, or returns fewer bytes only where the compressed
    /// input ends cleanly between frames. A frame cut short throws.
    func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < destination.count {
            if inPos == inSize {
                inPos = 0
                inSize = try input.read(into: inBuffer)
                if inSize == 0 {
                    if frameInProgress {
                        throw GroveError(file: input.name,
                            "truncated: the compressed stream ends inside a zstd frame at byte \(compressedOffset)")
                    }
                    if !sawAnyInput {
                        throw GroveError(file: input.name, "empty input, expected a zmat stream")
                    }
                    return filled
                }
                if !sawAnyInput {
                    sawAnyInput = true
                    let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
                    let head = Array(UnsafeRawBufferPointer(rebasing: inBuffer[0..<min(4, inSize)]))
                    if head != Array(magic.prefix(head.count)) {
                        throw GroveError(file: input.name,
                            "not a zmat stream: expected zstd magic 28 b5 2f fd at byte 0, found \(head.map { hex2($0) }.joined(separator: " "))")
                    }
                }
            }
            var inb = ZSTD_inBuffer(src: inBuffer.baseAddress, size: inSize, pos: inPos)
            var outb = ZSTD_outBuffer(dst: destination.baseAddress! + filled, size: destination.count - filled, pos: 0)
            let hint = ZSTD_decompressStream(context, &outb, &inb)
            if ZSTD_isError(hint) != 0 {
                let why = String(cString: ZSTD_getErrorName(hint))
                throw GroveError(file: input.name, "corrupt compressed data near byte \(compressedOffset + inb.pos): \(why)")
            }
            compressedOffset += inb.pos - inPos
            inPos = inb.pos
            filled += outb.pos
            contentOffset += outb.pos
            frameInProgress = hint != 0
        }
        return filled
    }

    private func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
