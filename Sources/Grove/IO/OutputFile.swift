#if canImport(Glibc)
import Glibc
#endif

/// A byte sink: a named file written atomically, or standard output for `nil` or `-`.
///
/// A file is written to a temporary sibling (`.NAME.tmp.PID`) and renamed over the target only
/// by `commit()`, so an interrupted run never leaves a half-written target (what `make`
/// relies on). Temporary files are removed on failure and on SIGINT, SIGTERM and SIGHUP.
public final class OutputFile {
    /// The name used in messages: the path, or `<stdout>`.
    public let name: String
    private let path: String?
    private let temporaryPath: String?
    private let fd: Int32
    private var finished = false

    /// Opens `path` for writing; `nil` or `-` means standard output.
    ///
    /// - Parameter binary: refuse a terminal as standard output unless `force` is set.
    public init(path: String?, binary: Bool = true, force: Bool = false) throws {
        TemporaryFiles.installSignalHandlers()
        if path == nil || path == "-" {
            if binary && !force && isatty(STDOUT_FILENO) != 0 {
                throw GroveError(
                    "refusing to write binary data to a terminal; use -o FILE, a pipe, or --force")
            }
            self.path = nil
            self.temporaryPath = nil
            self.name = "<stdout>"
            self.fd = STDOUT_FILENO
            return
        }
        let p = path!
        let slash = p.lastIndex(of: "/")
        let dir = slash.map { String(p[...$0]) } ?? ""
        let base = slash.map { String(p[p.index(after: $0)...]) } ?? p
        if base.isEmpty {
            throw GroveError(file: p, "is a directory name, expected a file name")
        }
        var st = stat()
        if stat(p, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFDIR {
            // A device or FIFO (/dev/null, /dev/stdout): write in place. Renaming a temporary
            // over it would replace the device node with a plain file.
            let fd = open(p, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw GroveError(file: p, "cannot open for writing: \(String(cString: strerror(errno)))") }
            self.path = p
            self.temporaryPath = nil
            self.name = p
            self.fd = fd
            return
        }
        let tmp = "\(dir).\(base).tmp.\(getpid())"
        TemporaryFiles.removeStale(directory: dir, base: base)
        TemporaryFiles.register(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            TemporaryFiles.unregister(tmp)
            throw GroveError(file: p, "cannot create: \(String(cString: strerror(errno)))")
        }
        self.path = p
        self.temporaryPath = tmp
        self.name = p
        self.fd = fd
    }

    deinit {
        if !finished { abandon() }
    }

    /// Writes all of `bytes`. Throws `BrokenPipe` when the reader has gone away.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = Glibc.write(fd, p, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw BrokenPipe() }
                throw GroveError(file: name, "write failed: \(String(cString: strerror(errno)))")
            }
            p += n
            remaining -= n
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Finishes the output: a file is closed and renamed over its target.
    public func commit() throws {
        guard !finished else { return }
        finished = true
        guard let path, let tmp = temporaryPath else { return }
        if close(fd) != 0 {
            let message = String(cString: strerror(errno))
            _ = unlink(tmp)
            TemporaryFiles.unregister(tmp)
            throw GroveError(file: path, "write failed: \(message)")
        }
        if rename(tmp, path) != 0 {
            let message = String(cString: strerror(errno))
            _ = unlink(tmp)
            TemporaryFiles.unregister(tmp)
            throw GroveError(file: path, "cannot rename the finished file into place: \(message)")
        }
        TemporaryFiles.unregister(tmp)
    }

    /// Gives up: a file's temporary is removed and the target left as it was.
    public func abandon() {
        guard !finished else { return }
        finished = true
        guard let tmp = temporaryPath else { return }
        _ = close(fd)
        _ = unlink(tmp)
        TemporaryFiles.unregister(tmp)
    }
}

/// The temporary files this process has open, removed if it is killed or fails.
public enum TemporaryFiles {
    // Signal handlers may only touch plain memory: keep C strings in a fixed table.
    private static let capacity = 64
    private static let table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let t = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        t.initialize(repeating: nil, count: capacity)
        return t
    }()
    private static var lock = pthread_mutex_t()
    private static var installed = false

    static func register(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity where table[i] == nil {
            table[i] = strdup(path)
            return
        }
    }

    static func unregister(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity {
            if let p = table[i], String(cString: p) == path {
                table[i] = nil
                free(p)
            }
        }
    }

    /// Removes every registered temporary file (called on failure exits).
    public static func removeAll() {
        for i in 0..<capacity {
            if let p = table[i] { unlink(p) }
        }
    }

    /// Removes `DIR/.BASE.tmp.PID` files left by killed runs (SIGKILL cannot be caught):
    /// those whose process no longer exists. A live writer's temporary is never touched.
    static func removeStale(directory: String, base: String) {
        let prefix = ".\(base).tmp."
        guard let d = opendir(directory.isEmpty ? "." : directory) else { return }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid > 0,
                  pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { _ = unlink(directory + name) }
        }
    }

    static func installSignalHandlers() {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if installed { return }
        installed = true
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                TemporaryFiles.removeAll()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }
}
