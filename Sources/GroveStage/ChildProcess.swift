import CGroveSpawn
#if canImport(Glibc)
import Glibc
#endif

/// A tool process started for one request, in a process group of its own.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `argv` (argv[0] an absolute path) with the given descriptors as 0, 1, 2.
    public static func spawn(_ argv: [String], environment: [String], stdin: Int32, stdout: Int32, stderr: Int32,
                             directory: String? = nil) throws -> ChildProcess {
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(environment) { cenv in
                if let directory {
                    return grove_spawn(&pid, cargv[0], cargv, cenv, stdin, stdout, stderr, directory)
                }
                return grove_spawn(&pid, cargv[0], cargv, cenv, stdin, stdout, stderr, nil)
            }
        }
        guard rc == 0 else { throw StageError.runtime("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return ChildProcess(pid: pid)
    }

    /// Blocks until the process ends; its exit code, or 128 + signal.
    public func wait() -> Int32 {
        let status = grove_wait(pid)
        return status < 0 ? 255 : grove_exit_code(status)
    }

    /// Kills the whole process group (the tool and anything it started).
    public func kill() {
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }
}

/// A pipe with both ends close-on-exec, so no other request's tool inherits them.
func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    guard grove_pipe_cloexec(&fds) == 0 else { throw StageError.runtime("pipe: \(errnoText())") }
    return (fds[0], fds[1])
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Resolves a tool name through PATH (or checks a path), as a shell would.
public func resolveExecutable(_ name: String, path: String?) -> String? {
    func runnable(_ p: String) -> Bool {
        var st = stat()
        return access(p, X_OK) == 0 && stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
    if name.contains("/") { return runnable(name) ? name : nil }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
        let candidate = dir + "/" + name
        if runnable(String(candidate)) { return String(candidate) }
    }
    return nil
}
