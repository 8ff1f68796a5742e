/// A failure the user should read: bad data, a runtime problem, a mismatch between files.
///
/// The message names the file and, where it can, the row or byte offset and what was
/// expected. Tools print it after their own name and exit 1.
public struct GroveError: Error, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// An error about one named input or output (`FILE: message`).
    public init(file: String, _ message: String) {
        self.message = "\(file): \(message)"
    }

    public var description: String { message }
}

/// The reader of our output went away (`| head`). Not a failure: tools exit 0 quietly.
public struct BrokenPipe: Error, Equatable {
    public init() {}
}

/// This project's version, written into every file's `producer` metadata.
public enum GroveVersion {
    public static let string = "0.1.0"
}
