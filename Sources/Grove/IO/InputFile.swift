#if canImport(Glibc)
import Glibc
#endif

/// A byte source: a named file, or standard input for `nil` or `-`.
///
/// Reads retry on EINTR; errors name the file.
public final class InputFile: ByteSource {
    /// The name used in messages: the path, or `<stdin>`.
    public let name: String
    /// The path as given, or nil for standard input.
    public let path: String?
    private let fd: Int32
    private var closed = false

    /// Opens `path` for reading; `nil` or `-` means standard input.
    public init(path: String?) throws {
        if path == nil || path == "-" {
            self.path = nil
            self.name = "<stdin>"
            self.fd = STDIN_FILENO
            self.closed = true  // never close stdin
            return
        }
        let p = path!
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw GroveError(file: p, "cannot open for reading: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            _ = close(fd)
            throw GroveError(file: p, "is a directory, expected a file")
        }
        self.path = p
        self.name = p
        self.fd = fd
    }

    deinit {
        if !closed { _ = close(fd) }
    }

    /// True when this is standard input attached to a terminal.
    public var isTerminal: Bool { isatty(fd) != 0 }

    /// The file's size when it is a regular file (a progress total); nil for pipes and terminals.
    public var regularFileSize: Int? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }

    /// How far into the file reading has got (nil where the input cannot seek: a pipe). A system
    /// call on the descriptor, so a progress display may ask from any thread while another reads.
    public var readOffset: Int? {
        let offset = lseek(fd, 0, SEEK_CUR)
        return offset < 0 ? nil : Int(offset)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw GroveError(file: name, "read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads the whole rest of the file.
    public func readAll() throws -> [UInt8] {
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }
}
