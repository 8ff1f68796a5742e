// Shared by every fuzz target (compiled into each one next to its target file).
//
// Grove's readers take an `InputFile` (a path or a descriptor's file), so the fuzzer's bytes go
// into one unlinked in-memory file (in /dev/shm) that each run rewrites and reopens through
// /proc/self/fd: no disk, nothing left behind, and the reader sees a real regular file
// (sizes, EOF) exactly as it would from disk.
import CZstd
import Glibc
import Grove

enum Fuzz {
    /// The memfd the current input is written to, created on first use.
    nonisolated(unsafe) static var fd: Int32 = -1

    /// Writes `bytes` as the whole content of the scratch file; returns a path reading it.
    static func file(_ bytes: UnsafeRawBufferPointer) -> String {
        if fd < 0 {
            // A file in /dev/shm (memory), unlinked at once: only the descriptor names it.
            var template = Array("/dev/shm/grove-fuzz-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            precondition(fd >= 0, "cannot create a scratch file in /dev/shm")
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        precondition(ftruncate(fd, 0) == 0)
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(done))
            precondition(n > 0, "pwrite to the memfd failed")
            done += n
        }
        return "/proc/self/fd/\(fd)"
    }

    /// Opens the scratch file holding `bytes`.
    static func input(_ bytes: UnsafeRawBufferPointer) -> InputFile {
        try! InputFile(path: file(bytes))
    }

    /// One compression context for every run (a fresh one per call would dominate the time).
    nonisolated(unsafe) static let cctx = ZSTD_createCCtx()!

    /// zstd-compresses `content` as one frame per piece, cut at the given offsets (a zmat stream
    /// as the writers make it, or split across frames as `cat` of several streams makes it).
    static func zstdFrames(_ content: UnsafeRawBufferPointer, cuts: [Int] = []) -> [UInt8] {
        var out = [UInt8]()
        var start = 0
        for end in (cuts.filter { $0 > 0 && $0 < content.count }.sorted() + [content.count]) where end >= start {
            let piece = UnsafeRawBufferPointer(rebasing: content[start..<end])
            let bound = ZSTD_compressBound(piece.count)
            var frame = [UInt8](repeating: 0, count: bound)
            let n = frame.withUnsafeMutableBytes {
                ZSTD_compressCCtx(cctx, $0.baseAddress, bound, piece.baseAddress, piece.count, 1)
            }
            precondition(ZSTD_isError(n) == 0)
            out += frame[0..<n]
            start = end
        }
        return out
    }

    /// Splits a fuzz input into a control byte and the rest.
    static func split(_ data: UnsafeRawBufferPointer) -> (control: UInt8, rest: UnsafeRawBufferPointer) {
        guard let first = data.first else { return (0, data) }
        return (first, UnsafeRawBufferPointer(rebasing: data[1...]))
    }

    /// Runs `body`; a thrown error is the expected answer to bad input, anything else
    /// (a trap, a sanitizer report, a hang) is what the fuzzer looks for.
    static func run(_ body: () throws -> Void) -> CInt {
        do { try body() } catch let e as GroveError {
            // Every error must say something: an empty message is a bug too.
            precondition(!e.message.isEmpty, "empty error message")
        } catch {
            preconditionFailure("a reader threw a non-Grove error: \(error)")
        }
        return 0
    }

    /// The zmat content, possibly as several frames: the control byte's low bits pick
    /// raw zstd bytes (the fuzzer's own, exercising the frame layer) or content compressed
    /// here (exercising the zmat layer), and where frames are cut.
    static func zmatInput(_ data: UnsafeRawBufferPointer) -> InputFile {
        let (control, rest) = split(data)
        switch control & 3 {
        case 0: return input(rest)
        case 1: return zstdInput(rest, cuts: [])
        default:
            // Cut at a few offsets derived from the control byte, so blocks, headers and end
            // markers straddle frame boundaries.
            let c = Int(control >> 2)
            return zstdInput(rest, cuts: [c, c * 7 + 3, c * 29 + 17])
        }
    }

    static func zstdInput(_ content: UnsafeRawBufferPointer, cuts: [Int]) -> InputFile {
        let bytes = zstdFrames(content, cuts: cuts)
        return bytes.withUnsafeBytes { input($0) }
    }
}
