/// The command line a stage runs, fixed when the server starts, with typed slots that a request
/// may fill and nothing else.
///
/// A template is a tool followed by tokens; a token is a literal or one slot:
///
/// | slot | a request supplies |
/// |---|---|
/// | `{input}` | one input file or folder (the request body, or one entry of a tar body) |
/// | `{inputs}` | one or more input files (at most one such slot per template) |
/// | `{output}` | one output file, returned in the response |
/// | `{pattern}` | an output pattern holding `{i}`: the files the tool writes for i = 0, 1, ... |
/// | `{int}` | an integer |
/// | `{ints}` | comma-separated integers |
/// | `{number}` | a decimal number |
/// | `{word}` | letters, digits, `.`, `_` and `-`, not starting with `-` |
///
/// A slot may carry a name for readers, `{int:tree-index}`; the name does not change matching.
/// A request names its command line as the tool would be called locally; `match` accepts it only
/// when every literal is equal and every slot's token has the slot's type, so a request can never
/// add a flag, a path or a command: files are replaced by paths the server chose.
public struct StageTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Slot: String, Sendable, CaseIterable {
        case input, inputs, output, pattern, int, ints, number, word

        var isFile: Bool { self == .input || self == .inputs || self == .output || self == .pattern }
    }

    public enum Token: Sendable, Equatable {
        case literal(String)
        case slot(Slot, name: String?)
    }

    /// The tool, as given (a name looked up in PATH, or a path).
    public let tool: String
    public let tokens: [Token]

    public init(_ words: [String]) throws {
        guard let tool = words.first, !tool.isEmpty else {
            throw StageError.usage("a stage needs a command after --, e.g. -- rf-tree {input} -o {output}")
        }
        if tool.hasPrefix("{") { throw StageError.usage("the command '\(tool)' must be a tool, not a slot") }
        self.tool = tool
        var tokens: [Token] = []
        for word in words.dropFirst() {
            if word.hasPrefix("{") && word.hasSuffix("}") && word != "{i}" && !word.contains("/") {
                let inner = word.dropFirst().dropLast()
                let parts = inner.split(separator: ":", maxSplits: 1)
                guard let kind = parts.first.flatMap({ Slot(rawValue: String($0)) }) else {
                    throw StageError.usage("unknown slot \(word); slots are "
                        + Slot.allCases.map { "{\($0.rawValue)}" }.joined(separator: " "))
                }
                tokens.append(.slot(kind, name: parts.count > 1 ? String(parts[1]) : nil))
            } else {
                tokens.append(.literal(word))
            }
        }
        self.tokens = tokens
        if count(of: [.inputs]) > 1 { throw StageError.usage("a template may hold at most one {inputs} slot") }
    }

    public var description: String {
        ([tool] + tokens.map {
            switch $0 {
            case .literal(let s): return s
            case .slot(let k, let n): return "{\(k.rawValue)\(n.map { ":" + $0 } ?? "")}"
            }
        }).joined(separator: " ")
    }

    /// Slots of a kind, in order.
    public func count(of kinds: Set<Slot>) -> Int {
        tokens.reduce(0) { n, t in if case .slot(let k, _) = t, kinds.contains(k) { return n + 1 }; return n }
    }

    /// Whether a request can stream: one `{input}` (or none: the body is standard input) and at
    /// most one `{output}` (or none: standard output is the response).
    /// An `{output}` streams only as the value of `-o`/`--output`, which every Grove tool takes
    /// as "-" for standard output.
    public var streams: Bool {
        guard count(of: [.input]) <= 1, count(of: [.inputs, .pattern]) == 0, count(of: [.output]) <= 1 else { return false }
        guard let at = tokens.firstIndex(where: { if case .slot(.output, _) = $0 { return true }; return false }) else { return true }
        return at > 0 && (tokens[at - 1] == .literal("-o") || tokens[at - 1] == .literal("--output"))
    }

    /// One request argument matched to the template: where argument `index` of the request goes.
    public struct Binding: Sendable, Equatable {
        public let index: Int      // position in the request's argv (0 is the tool)
        public let slot: Slot?     // nil: a literal
        public let value: String
    }

    /// Matches a request's command line (`argv[0]` the tool, compared by its last path
    /// component) against the template, or throws naming the first token that does not fit.
    public func match(_ argv: [String]) throws -> [Binding] {
        guard let first = argv.first else { throw StageError.badRequest("the command line is empty") }
        let base = { (s: String) in s.split(separator: "/").last.map(String.init) ?? s }
        guard base(first) == base(tool) else {
            throw StageError.badRequest("this stage runs \(base(tool)), not '\(first)'")
        }
        let args = Array(argv.dropFirst())
        // Everything before {inputs} matches one to one, everything after it from the end; the
        // slot takes what is left (at least one).
        let split = tokens.firstIndex { if case .slot(.inputs, _) = $0 { return true }; return false }
        var pairs: [(Token, Int)] = []
        if let split {
            let head = split, tail = tokens.count - split - 1
            guard args.count >= head + tail + 1 else { throw mismatch(argv) }
            for i in 0..<head { pairs.append((tokens[i], i)) }
            for i in head..<(args.count - tail) { pairs.append((tokens[split], i)) }
            for j in 0..<tail { pairs.append((tokens[split + 1 + j], args.count - tail + j)) }
        } else {
            guard args.count == tokens.count else { throw mismatch(argv) }
            for i in 0..<args.count { pairs.append((tokens[i], i)) }
        }
        return try pairs.map { token, i in
            let value = args[i]
            switch token {
            case .literal(let lit):
                guard value == lit else {
                    throw StageError.badRequest("argument \(i + 1) is '\(value)', this stage's command line has '\(lit)' there (template: \(self))")
                }
                return Binding(index: i + 1, slot: nil, value: value)
            case .slot(let kind, _):
                guard Self.accepts(kind, value) else {
                    throw StageError.badRequest("argument \(i + 1) '\(value)' is not a valid {\(kind.rawValue)} (template: \(self))")
                }
                return Binding(index: i + 1, slot: kind, value: value)
            }
        }
    }

    private func mismatch(_ argv: [String]) -> StageError {
        .badRequest("\(argv.count - 1) arguments do not fit this stage's command line: \(self)")
    }

    /// Whether `value` is a valid token for `kind`. File slots take the client's own path
    /// (never used on the server) but still refuse anything that could read as a flag.
    static func accepts(_ kind: Slot, _ value: String) -> Bool {
        if value.isEmpty || value.utf8.count > 4096 || value.hasPrefix("-") && kind != .int && kind != .ints && kind != .number {
            return false
        }
        if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return false }
        switch kind {
        case .input, .inputs, .output:
            return true
        case .pattern:
            return value.contains("{i}")
        case .int:
            return isInteger(Substring(value))
        case .ints:
            return value.split(separator: ",", omittingEmptySubsequences: false).allSatisfy(isInteger)
        case .number:
            return value.utf8.count <= 64 && Double(value).map { $0.isFinite } == true
                && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x65 || $0 == 0x45 || $0 == 0x2B }
        case .word:
            return value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
        }
    }

    private static func isInteger(_ s: Substring) -> Bool {
        let digits = s.hasPrefix("-") ? s.dropFirst() : s
        return !digits.isEmpty && digits.count <= 19 && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The template's own command line for a request that sends none: allowed only when the
    /// template has no value slots (only files, which the server fills).
    public func defaultArgv() throws -> [String] {
        var argv = [tool]
        for t in tokens {
            switch t {
            case .literal(let s): argv.append(s)
            case .slot(let k, _) where k == .input || k == .output: argv.append("{\(k.rawValue)}")
            case .slot(let k, _):
                throw StageError.badRequest("this stage's command line has a {\(k.rawValue)} slot: send the command line in a Grove-Argv header (template: \(self))")
            }
        }
        return argv
    }
}

/// What a request or the server's configuration got wrong, with the status it answers.
public enum StageError: Error, CustomStringConvertible {
    case usage(String)
    case badRequest(String)            // 400
    case notFound(String)              // 404: a by-reference input that is not in the store
    case tooLarge(String)              // 413
    case unsupportedMedia(String)      // 415
    case busy(String)                  // 503
    case runtime(String)               // 500
    case badGateway(String)            // 502: the S3 store refused the stage
    case storeUnavailable(String)      // 503: the S3 store cannot be reached

    public var description: String {
        switch self {
        case .usage(let m), .badRequest(let m), .notFound(let m), .tooLarge(let m), .unsupportedMedia(let m), .busy(let m),
             .runtime(let m), .badGateway(let m), .storeUnavailable(let m): return m
        }
    }

    public var status: Int {
        switch self {
        case .usage, .runtime: return 500
        case .badRequest: return 400
        case .notFound: return 404
        case .tooLarge: return 413
        case .unsupportedMedia: return 415
        case .busy, .storeUnavailable: return 503
        case .badGateway: return 502
        }
    }
}

/// Grove-Argv header: the request's command line, each argument percent-encoded, separated by
/// single spaces (so any byte survives an HTTP header).
public enum ArgvHeader {
    public static func decode(_ header: String) throws -> [String] {
        try header.split(separator: " ", omittingEmptySubsequences: true).map { word in
            var bytes: [UInt8] = []
            var it = word.utf8.makeIterator()
            while let b = it.next() {
                if b == UInt8(ascii: "%") {
                    guard let h = it.next(), let l = it.next(), let hi = hex(h), let lo = hex(l) else {
                        throw StageError.badRequest("Grove-Argv: bad percent-encoding in '\(word)'")
                    }
                    bytes.append(hi << 4 | lo)
                } else {
                    bytes.append(b)
                }
            }
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw StageError.badRequest("Grove-Argv: argument '\(word)' is not UTF-8")
            }
            return s
        }
    }

    public static func encode(_ argv: [String]) -> String {
        // Kept as they are: letters, digits, - . _ / , { } (what paths and slot values use).
        argv.map { arg in
            percentEncoded(arg) { b in
                isUnreserved(b) && b != 0x7E || b == 0x2F || b == 0x2C || b == 0x7B || b == 0x7D
            }
        }.joined(separator: " ")
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x37
        case 0x61...0x66: return b - 0x57
        default: return nil
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// RFC 3986's unreserved bytes: A-Z a-z 0-9 - . _ ~
func isUnreserved(_ b: UInt8) -> Bool {
    (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
        || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
}

/// `text` with every byte that `keep` refuses written as %XY (uppercase hex): the one
/// percent-encoder behind Grove-Argv and S3's Signature V4.
func percentEncoded(_ text: String, keep: (UInt8) -> Bool) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for b in text.utf8 {
        if keep(b) { out.unicodeScalars.append(Unicode.Scalar(b)) } else { out += "%" + String(b, radix: 16, uppercase: true).leftPad(2) }
    }
    return out
}
