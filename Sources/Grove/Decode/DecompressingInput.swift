import CZlib

/// Reads an `InputFile` that may be gzip-compressed, handing out the uncompressed bytes.
///
/// Datasets ship both ways (`train-images-idx3-ubyte` and `...ubyte.gz`), so every reader in
/// `Decode` goes through this: the first two bytes decide (gzip magic `1f 8b`), never the file
/// name, so standard input works too. Concatenated gzip members read as one stream (what
/// `cat a.gz b.gz` and `gzip` itself produce). A gzip stream cut short or damaged throws a
/// `GroveError` naming the file and the compressed byte offset.
public final class DecompressingInput: ByteSource {
    /// The underlying file's name, for messages.
    public var name: String { input.name }
    /// The underlying file's path, or nil for standard input.
    public var path: String? { input.path }
    /// Whether the input turned out to be gzip-compressed.
    public private(set) var isGzip = false
    /// Uncompressed bytes handed out so far.
    public private(set) var offset = 0

    private let input: InputFile
    private let inBuffer: UnsafeMutableRawBufferPointer
    private var inPos = 0
    private var inSize = 0
    private var inputEnded = false
    private var compressedOffset = 0
    private var stream = z_stream()
    private var inflating = false      // a gzip member is open in `stream`
    private var streamInitialized = false
    private var sniffed = false

    /// Wraps `input`; nothing is read until the first `read`.
    public init(_ input: InputFile) {
        self.input = input
        inBuffer = .allocate(byteCount: 1 << 16, alignment: 64)
    }

    deinit {
        if streamInitialized { inflateEnd(&stream) }
        inBuffer.deallocate()
    }

    /// Refills the compressed-side buffer when it is empty; false at end of file.
    private func fillInput() throws -> Bool {
        if inPos < inSize { return true }
        if inputEnded { return false }
        inPos = 0
        inSize = try input.read(into: inBuffer)
        if inSize == 0 { inputEnded = true; return false }
        return true
    }

    /// Decides gzip or plain from the first two bytes.
    private func sniff() throws {
        sniffed = true
        // Gather up to two bytes (a read may return one).
        while inSize - inPos < 2 && !inputEnded {
            if inPos > 0 {
                let n = inSize - inPos
                inBuffer.baseAddress!.copyMemory(from: inBuffer.baseAddress! + inPos, byteCount: n)
                inPos = 0
                inSize = n
            }
            let n = try input.read(into: UnsafeMutableRawBufferPointer(rebasing: inBuffer[inSize...]))
            if n == 0 { inputEnded = true } else { inSize += n }
        }
        if inSize - inPos >= 2 && inBuffer[inPos] == 0x1F && inBuffer[inPos + 1] == 0x8B {
            isGzip = true
            guard grove_inflate_init_gzip(&stream) == Z_OK else {
                throw GroveError(file: name, "cannot start gzip decompression (zlib)")
            }
            streamInitialized = true
            inflating = true
        }
    }

    /// Reads up to `buffer.count` uncompressed bytes; 0 means the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if pushedBackPos < pushedBack.count {
            let n = min(buffer.count, pushedBack.count - pushedBackPos)
            pushedBack.withUnsafeBytes {
                buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pushedBackPos, byteCount: n)
            }
            pushedBackPos += n
            if pushedBackPos == pushedBack.count { pushedBack = []; pushedBackPos = 0 }
            offset += n
            return n
        }
        let n = try decode(into: buffer)
        offset += n
        return n
    }

    /// The decoding step behind `read` and `peek`.
    private func decode(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !sniffed { try sniff() }
        guard buffer.count > 0 else { return 0 }
        if !isGzip {
            if inPos < inSize {
                let n = min(buffer.count, inSize - inPos)
                buffer.baseAddress!.copyMemory(from: inBuffer.baseAddress! + inPos, byteCount: n)
                inPos += n
                return n
            }
            if inputEnded { return 0 }
            let n = try input.read(into: buffer)
            if n == 0 { inputEnded = true }
            return n
        }
        var produced = 0
        while produced == 0 {
            guard try fillInput() else {
                if inflating {
                    throw GroveError(file: name,
                        "truncated gzip stream: the compressed data ends at byte \(compressedOffset) inside a gzip member")
                }
                return 0
            }
            if !inflating {
                // Another member follows the previous one, or trailing garbage.
                if inBuffer[inPos] == 0 {
                    // gzip pads some archives with zeros after the last member; accept them.
                    inPos += 1
                    compressedOffset += 1
                    continue
                }
                guard inflateReset(&stream) == Z_OK else {
                    throw GroveError(file: name, "cannot restart gzip decompression (zlib)")
                }
                inflating = true
            }
            stream.next_in = inBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self) + inPos
            stream.avail_in = UInt32(inSize - inPos)
            stream.next_out = (buffer.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(min(buffer.count - produced, Int(UInt32.max)))
            let before = Int(stream.avail_in)
            let status = inflate(&stream, Z_NO_FLUSH)
            let consumed = before - Int(stream.avail_in)
            inPos += consumed
            let made = min(buffer.count - produced, Int(UInt32.max)) - Int(stream.avail_out)
            produced += made
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                inflating = false
            default:
                let why = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw GroveError(file: name, "corrupt gzip data near compressed byte \(compressedOffset + consumed): \(why)")
            }
            compressedOffset += consumed
        }
        return produced
    }

    /// The first up-to-`count` uncompressed bytes still to come, without consuming them
    /// (used to recognise a format by its magic number).
    public func peek(_ count: Int) throws -> [UInt8] {
        while pushedBack.count - pushedBackPos < count {
            var chunk = [UInt8](repeating: 0, count: count - (pushedBack.count - pushedBackPos))
            let n = try chunk.withUnsafeMutableBytes { try decode(into: $0) }
            if n == 0 { break }
            pushedBack.append(contentsOf: chunk[0..<n])
        }
        return Array(pushedBack[pushedBackPos..<min(pushedBack.count, pushedBackPos + count)])
    }

    private var pushedBack: [UInt8] = []
    private var pushedBackPos = 0
}
