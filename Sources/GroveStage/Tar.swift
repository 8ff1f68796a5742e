#if canImport(Glibc)
import Glibc
#endif

/// The few tar operations a stage needs: unpack a request's files into a private folder, and pack
/// a tool's outputs into a response. Requests come from the network, so the reader accepts only
/// regular files and folders with plain relative names (no `..`, no absolute paths, no links or
/// devices), within limits on entries and bytes.
public enum Tar {
    public struct Limits: Sendable {
        public var maxEntries = 200_000
        public var maxBytes: Int64 = 1 << 40
        public init() {}
    }

    /// Unpacks the tar file at `archive` into the existing folder `destination`; returns the
    /// top-level names it holds (`"3"` for a file, and `"0"` for a folder `0/...`).
    public static func extract(_ archive: String, into destination: String, limits: Limits = Limits()) throws -> Set<String> {
        let fd = open(archive, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError.runtime("\(archive): \(errnoText())") }
        defer { close(fd) }
        var reader = BlockReader(fd: fd)
        var names = Set<String>()
        var entries = 0, total: Int64 = 0
        var header = [UInt8](repeating: 0, count: 512)
        var longName: String?
        var made = Set<String>()  // folders already made: a PNG folder has thousands of entries
        while true {
            let offset = reader.offset
            guard try reader.readExactly(&header, allowEOF: true) else {
                throw StageError.badRequest("tar body: ends at byte \(offset) without the two zero blocks that close an archive")
            }
            if header.allSatisfy({ $0 == 0 }) { break }
            guard checksumOK(header) else { throw StageError.badRequest("tar body: bad header checksum at byte \(offset)") }
            entries += 1
            if entries > limits.maxEntries { throw StageError.tooLarge("tar body: more than \(limits.maxEntries) entries") }
            let size = try parseSize(header, offset: offset)
            total += size
            if total > limits.maxBytes { throw StageError.tooLarge("tar body: more than \(limits.maxBytes) bytes of files") }
            let type = header[156]
            switch type {
            case UInt8(ascii: "L"):  // GNU long name: the next entry's name is this entry's data
                guard size <= 4096 else { throw StageError.badRequest("tar body: a name longer than 4096 bytes at byte \(offset)") }
                var data = [UInt8](repeating: 0, count: Int(size))
                _ = try reader.readExactly(&data, allowEOF: false)
                try reader.skip(padding(size))
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                continue
            case UInt8(ascii: "x"), UInt8(ascii: "g"):  // pax attributes: not needed, skipped
                try reader.skip(size + padding(size))
                continue
            default: break
            }
            let name = try longName ?? headerName(header)
            longName = nil
            let path = try safeRelativePath(name, offset: offset)
            if path.isEmpty { try reader.skip(size + padding(size)); continue }  // "./"
            names.insert(String(path.split(separator: "/")[0]))
            let target = destination + "/" + path
            switch type {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                try makeParents(of: path, in: destination, made: &made)
                let out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
                guard out >= 0 else { throw StageError.badRequest("tar body: cannot create '\(name)' (\(errnoText())); is it listed twice?") }
                defer { close(out) }
                try reader.copy(size, to: out, name: target)
                try reader.skip(padding(size))
            case UInt8(ascii: "5"):
                try makeParents(of: path + "/x", in: destination, made: &made)
                try reader.skip(size + padding(size))
            default:
                throw StageError.badRequest("tar body: '\(name)' is not a regular file or a folder (type '\(Character(Unicode.Scalar(type)))'); links and devices are refused")
            }
        }
        return names
    }

    /// Writes a tar file at `archive` holding `entries` (name in the archive, file on disk), in
    /// the given order, with fixed owner, mode and time so equal inputs give equal bytes.
    public static func create(_ archive: String, entries: [(name: String, path: String)]) throws {
        let fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StageError.runtime("\(archive): \(errnoText())") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for (name, path) in entries {
            let input = open(path, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw StageError.runtime("\(path): \(errnoText())") }
            defer { close(input) }
            var st = stat()
            guard fstat(input, &st) == 0 else { throw StageError.runtime("\(path): \(errnoText())") }
            let size = Int64(st.st_size)
            var names = Array(name.utf8)
            var header = [UInt8](repeating: 0, count: 512)
            if names.count > 100 {
                // GNU long-name entry first; tar, bsdtar and Python's tarfile all read it.
                names.append(0)
                var longHeader = [UInt8](repeating: 0, count: 512)
                fillHeader(&longHeader, name: Array("././@LongLink".utf8), size: Int64(names.count), type: UInt8(ascii: "L"))
                try writeAll(fd, longHeader, name: archive)
                try writeAll(fd, names + [UInt8](repeating: 0, count: Int(padding(Int64(names.count)))), name: archive)
                names = Array(names.prefix(100))
            }
            fillHeader(&header, name: names, size: size, type: UInt8(ascii: "0"))
            try writeAll(fd, header, name: archive)
            var left = size
            while left > 0 {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, Int(left))) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw StageError.runtime("\(path): changed while being packed") }
                try writeAll(fd, Array(buffer[0..<n]), name: archive)
                left -= Int64(n)
            }
            try writeAll(fd, [UInt8](repeating: 0, count: Int(padding(size))), name: archive)
        }
        try writeAll(fd, [UInt8](repeating: 0, count: 1024), name: archive)
    }

    // MARK: - Header fields

    private static func fillHeader(_ h: inout [UInt8], name: [UInt8], size: Int64, type: UInt8) {
        for (i, b) in name.prefix(100).enumerated() { h[i] = b }
        putOctal(&h, 100, 8, 0o644)
        putOctal(&h, 108, 8, 0)
        putOctal(&h, 116, 8, 0)
        putOctal(&h, 124, 12, size)
        putOctal(&h, 136, 12, 0)
        h[156] = type
        for (i, b) in "ustar\u{0}00".utf8.enumerated() { h[257 + i] = b }
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int64($1) }
        putOctal(&h, 148, 7, sum)
        h[155] = 0x20
    }

    private static func putOctal(_ h: inout [UInt8], _ at: Int, _ width: Int, _ value: Int64) {
        let digits = Array(String(value, radix: 8).utf8)
        let pad = width - 1 - digits.count
        for i in 0..<(width - 1) { h[at + i] = i < pad ? 0x30 : digits[i - pad] }
        h[at + width - 1] = 0
    }

    private static func checksumOK(_ h: [UInt8]) -> Bool {
        var sum: Int64 = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int64(b) }
        guard let stored = try? parseOctal(h[148..<156]) else { return false }
        return stored == sum
    }

    private static func parseSize(_ h: [UInt8], offset: Int64) throws -> Int64 {
        if h[124] & 0x80 != 0 {  // GNU base-256 for sizes past 8 GiB
            var v: Int64 = 0
            for b in h[125..<136] {
                guard v < (Int64.max >> 8) else { throw StageError.badRequest("tar body: size out of range at byte \(offset)") }
                v = v << 8 | Int64(b)
            }
            return v
        }
        guard let v = try? parseOctal(h[124..<136]) else { throw StageError.badRequest("tar body: bad size field at byte \(offset)") }
        return v
    }

    private static func parseOctal(_ field: ArraySlice<UInt8>) throws -> Int64 {
        var v: Int64 = 0, seen = false
        for b in field {
            if b == 0 || b == 0x20 { if seen { break } else { continue } }
            guard b >= 0x30 && b <= 0x37, v < (Int64.max >> 3) else { throw StageError.badRequest("octal") }
            v = v << 3 | Int64(b - 0x30)
            seen = true
        }
        return v
    }

    private static func headerName(_ h: [UInt8]) throws -> String {
        let name = String(decoding: h[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        let isUstar = h[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar ? String(decoding: h[345..<500].prefix { $0 != 0 }, as: UTF8.self) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// The entry's path with `./` and trailing slashes removed; refuses anything that could leave
    /// the destination folder.
    static func safeRelativePath(_ name: String, offset: Int64) throws -> String {
        if name.hasPrefix("/") { throw StageError.badRequest("tar body: absolute name '\(name)' at byte \(offset)") }
        var parts: [Substring] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { throw StageError.badRequest("tar body: name '\(name)' at byte \(offset) leaves the request's folder") }
            parts.append(part)
        }
        if name.utf8.contains(where: { $0 < 0x20 }) { throw StageError.badRequest("tar body: control character in a name at byte \(offset)") }
        return parts.joined(separator: "/")
    }

    private static func makeParents(of path: String, in root: String, made: inout Set<String>) throws {
        var dir = root
        for part in path.split(separator: "/").dropLast() {
            dir += "/" + part
            if made.contains(dir) { continue }
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw StageError.runtime("\(dir): \(errnoText())") }
            var st = stat()
            guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw StageError.badRequest("tar body: '\(path)' goes through a file")
            }
            made.insert(dir)
        }
    }

    static func padding(_ size: Int64) -> Int64 { (512 - size % 512) % 512 }
}

/// Sequential reads from a descriptor, for the tar reader.
private struct BlockReader {
    let fd: Int32
    var offset: Int64 = 0

    /// Fills `buffer`; false at a clean end of file before any byte when `allowEOF`.
    mutating func readExactly(_ buffer: inout [UInt8], allowEOF: Bool) throws -> Bool {
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw StageError.runtime("reading the request: \(errnoText())") }
            if n == 0 {
                if got == 0 && allowEOF { return false }
                throw StageError.badRequest("tar body: cut short at byte \(offset + Int64(got))")
            }
            got += n
        }
        offset += Int64(got)
        return true
    }

    mutating func skip(_ count: Int64) throws {
        guard count > 0 else { return }
        let r = lseek(fd, off_t(count), SEEK_CUR)
        guard r >= 0 else { throw StageError.runtime("reading the request: \(errnoText())") }
        // Past the end is found by the next header read, which then gets nothing.
        offset += count
    }

    mutating func copy(_ count: Int64, to out: Int32, name: String) throws {
        var buffer = [UInt8](repeating: 0, count: Int(min(count, 1 << 16)))
        var left = count
        while left > 0 {
            let want = Int(min(left, Int64(buffer.count)))
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw StageError.runtime("reading the request: \(errnoText())") }
            if n == 0 { throw StageError.badRequest("tar body: cut short at byte \(offset)") }
            try writeAll(out, Array(buffer[0..<n]), name: name)
            left -= Int64(n)
            offset += Int64(n)
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8], name: String) throws {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw StageError.runtime("\(name): \(errnoText())") }
        done += n
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
