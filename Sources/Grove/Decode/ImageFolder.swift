#if canImport(Glibc)
import Glibc
#endif

/// One image to decode: its path and, when known, its label.
public struct ImageItem: Equatable, Sendable {
    public var path: String
    public var label: Int32?

    public init(path: String, label: Int32?) {
        self.path = path
        self.label = label
    }
}

/// Lists PNG images in the ImageFolder layout (`ROOT/<label>/<name>.png`, as torchvision's
/// `ImageFolder` and the original workflow use), and derives labels from paths.
public enum ImageFolder {
    /// What a listing found besides the images, for a note on stderr.
    public struct Listing: Sendable {
        /// The images, in a stable order: by numeric label, then by file name (byte order).
        public var items: [ImageItem]
        /// Files skipped because their names do not end in `.png` (any case).
        public var ignoredFiles: [String]
    }

    /// Parses a label folder name: an optional minus sign and decimal digits, fitting Int32.
    public static func label(fromFolderName name: String) -> Int32? {
        guard !name.isEmpty, name.utf8.count <= 11 else { return nil }
        var digits = Substring(name)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int32(name)
    }

    /// The label of an image path: its parent folder's name, which must be a number.
    public static func label(forImagePath path: String) throws -> Int32 {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2 else {
            throw GroveError(file: path,
                "no label folder: expected <label>/<name>.png, with the label as the parent folder's name")
        }
        let folder = String(parts[parts.count - 2])
        guard let label = label(fromFolderName: folder) else {
            throw GroveError(file: path,
                "label folder '\(folder)' is not a number (expected <label>/<name>.png with an integer label)")
        }
        return label
    }

    /// Lists `root`. With `labels`, every sub-folder must be named by a number and PNGs directly
    /// in `root` are an error; without, any sub-folder and PNGs in `root` itself are taken,
    /// ordered by relative path.
    public static func list(root: String, labels: Bool = true) throws -> Listing {
        let base = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        var items: [(key: (Int32, [UInt8]), item: ImageItem)] = []
        var ignored: [String] = []
        for entry in try directoryEntries(base) {
            let path = base + "/" + entry
            switch try fileKind(path) {
            case .directory:
                var label: Int32 = 0
                if labels {
                    guard let l = ImageFolder.label(fromFolderName: entry) else {
                        throw GroveError(file: path,
                            "label folder '\(entry)' is not a number (expected \(base)/<label>/<name>.png with integer labels; --no-labels takes any folder names)")
                    }
                    label = l
                }
                for name in try directoryEntries(path) {
                    let file = path + "/" + name
                    let kind = try fileKind(file)
                    if kind == .regular && isPNGName(name) {
                        let key = labels ? (label, Array(name.utf8)) : (0, Array((entry + "/" + name).utf8))
                        items.append((key, ImageItem(path: file, label: labels ? label : nil)))
                    } else {
                        ignored.append(file)
                    }
                }
            case .regular where isPNGName(entry):
                if labels {
                    throw GroveError(file: path,
                        "is not inside a label folder (expected \(base)/<label>/<name>.png; --no-labels takes unlabelled images)")
                }
                items.append(((0, Array(entry.utf8)), ImageItem(path: path, label: nil)))
            default:
                ignored.append(path)
            }
        }
        items.sort { a, b in
            a.key.0 != b.key.0 ? a.key.0 < b.key.0 : a.key.1.lexicographicallyPrecedes(b.key.1)
        }
        return Listing(items: items.map(\.item), ignoredFiles: ignored.sorted())
    }

    static func isPNGName(_ name: String) -> Bool {
        name.count > 4 && name.lowercased().hasSuffix(".png")
    }

    enum FileKind { case directory, regular, other }

    /// The kind of `path`, following symbolic links.
    static func fileKind(_ path: String) throws -> FileKind {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw GroveError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regular
        default: return .other
        }
    }

    /// The names in a directory, without `.`, `..` and hidden (dot) entries.
    static func directoryEntries(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw GroveError(file: path, "cannot read directory: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 {
                    throw GroveError(file: path, "cannot read directory: \(String(cString: strerror(errno)))")
                }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        return names
    }
}
