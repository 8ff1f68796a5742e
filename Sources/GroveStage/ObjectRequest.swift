import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// A by-reference request: the command line as the tool would be run locally, and for each of
/// its file arguments the object in the stage's S3 bucket it stands for.
///
///     {"argv": ["rf-merge", "trees-0.zmat", "trees-1.zmat", "-o", "forest.zmat"],
///      "inputs": {"trees-0.zmat": "run1/trees-0.zmat", "trees-1.zmat": "run1/trees-1.zmat"},
///      "outputs": {"forest.zmat": "run1/forest.zmat"},
///      "stdout": "run1/merge.log"}
///
/// `argv` is matched against the stage's template exactly as a Grove-Argv header is; `inputs`
/// names an object for every argument in an input slot (a folder input names a tar of it:
/// `{"tar": "run1/images.tar"}`), `outputs` one for every output argument (a `{pattern}`
/// argument's key holds `{i}` too), and nothing else. `stdout`, optional, is where the tool's
/// standard output goes (else its text, up to 64 KiB, is in the reply).
public struct ObjectRequest: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        case file(String)
        case folder(tar: String)

        var key: String {
            switch self { case .file(let k), .folder(tar: let k): return k }
        }
    }

    public let argv: [String]
    public let inputs: [String: Input]
    public let outputs: [String: String]
    public let stdout: String?

    public init(argv: [String], inputs: [String: Input], outputs: [String: String], stdout: String? = nil) {
        self.argv = argv
        self.inputs = inputs
        self.outputs = outputs
        self.stdout = stdout
    }

    /// An `application/json` body.
    public static func parse(json body: [UInt8]) throws -> ObjectRequest {
        do {
            return try JSONDecoder().decode(Body.self, from: Data(body)).request()
        } catch let error as StageError {
            throw error
        } catch {
            throw StageError.badRequest("by-reference request: " + Self.explain(error))
        }
    }

    /// An `application/cloudevents+json` body: the event's attributes, and its `data` (a JSON
    /// object as above; `data_base64` is not accepted).
    public static func parse(structuredEvent body: [UInt8]) throws -> (CloudEvent, ObjectRequest) {
        let event = try CloudEvent.fromStructured(body)
        struct Envelope: Decodable { var data: Body?; var datacontenttype: String?; var data_base64: String? }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(body))
        } catch {
            throw StageError.badRequest("CloudEvent data: " + Self.explain(error))
        }
        if envelope.data_base64 != nil { throw StageError.badRequest("CloudEvent: data_base64 is not accepted; send data as a JSON object") }
        if let type = envelope.datacontenttype, !type.hasPrefix("application/json") {
            throw StageError.unsupportedMedia("CloudEvent: datacontenttype '\(type)': a by-reference event's data is application/json")
        }
        guard let data = envelope.data else { throw StageError.badRequest("CloudEvent: no data (a by-reference request: argv, inputs, outputs)") }
        return (event, try data.request())
    }

    /// A file input in the store: a plain key, or a folder packed as one tar object.
    private enum InputBody: Decodable {
        case key(String)
        case tar(String)
        init(from decoder: Decoder) throws {
            if let key = try? decoder.singleValueContainer().decode(String.self) { self = .key(key); return }
            struct Folder: Decodable { var tar: String }
            self = .tar(try Folder(from: decoder).tar)
        }
    }

    private struct Body: Decodable {
        var argv: [String]
        var inputs: [String: InputBody]?
        var outputs: [String: String]?
        var stdout: String?

        func request() throws -> ObjectRequest {
            var ins: [String: Input] = [:]
            for (name, value) in inputs ?? [:] {
                switch value {
                case .key(let k): try ObjectRequest.validateKey(k, for: "inputs['\(name)']"); ins[name] = .file(k)
                case .tar(let k): try ObjectRequest.validateKey(k, for: "inputs['\(name)'].tar"); ins[name] = .folder(tar: k)
                }
            }
            for (name, key) in outputs ?? [:] {
                try ObjectRequest.validateKey(key, for: "outputs['\(name)']", pattern: name.contains("{i}"))
            }
            if let stdout { try ObjectRequest.validateKey(stdout, for: "stdout") }
            return ObjectRequest(argv: argv, inputs: ins, outputs: outputs ?? [:], stdout: stdout)
        }
    }

    private static func explain(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return "missing '\(key.stringValue)' (a JSON object with argv, inputs, outputs)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return "'\(path)' has the wrong type (argv: strings; inputs: key strings or {\"tar\": key}; outputs, stdout: key strings)"
        default:
            return "the body is not a JSON object (argv, inputs, outputs)"
        }
    }

    public static let maxKeyBytes = 1024
    /// A by-reference body names objects; it never needs more than this.
    public static let maxBodyBytes: Int64 = 1 << 20

    /// Object keys a request may name: 1 to 1024 bytes of letters, digits and `.` `_` `-` `/`
    /// (`{i}` too in a pattern's key, where it must appear), no leading `/`, no empty, `.` or
    /// `..` segment. Anything else is a 400 naming the key.
    public static func validateKey(_ key: String, for what: String, pattern: Bool = false) throws {
        func refuse(_ why: String) -> StageError { .badRequest("\(what): object key '\(printable(key))' \(why)") }
        let bytes = Array(key.utf8)
        if bytes.isEmpty { throw refuse("is empty") }
        if bytes.count > maxKeyBytes { throw refuse("is longer than \(maxKeyBytes) bytes") }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw refuse("holds a control character") }
        if key.hasPrefix("/") { throw refuse("starts with '/' (keys are relative to the bucket)") }
        var rest = key
        if pattern {
            guard key.contains("{i}") else { throw refuse("must hold {i} (it names a pattern's files)") }
            rest = rest.split(separator: "{i}", omittingEmptySubsequences: false).joined(separator: "0")
        }
        for b in rest.utf8 {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x2D || b == 0x2F
            if !ok { throw refuse("holds '\(printable(String(decoding: [b], as: UTF8.self)))'; keys are letters, digits and . _ - /") }
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw refuse("has an empty segment ('//' or a trailing '/')") }
            if segment == "." || segment == ".." { throw refuse("has a '\(segment)' segment") }
        }
    }

    private static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            out += u.value < 0x20 || u.value == 0x7F ? "\\u{\(String(u.value, radix: 16))}" : String(u)
        }
        return out
    }

    /// Which object every file argument is, checked against the template's bindings: each input
    /// argument named in `inputs`, each output in `outputs`, and no name that is not one.
    public func objects(for bindings: [StageTemplate.Binding]) throws -> [Int: Input] {
        var keys: [Int: Input] = [:]
        var usedInputs = Set<String>(), usedOutputs = Set<String>()
        for b in bindings {
            switch b.slot {
            case .input?, .inputs?:
                guard let input = inputs[b.value] else {
                    throw StageError.badRequest("argument \(b.index) '\(b.value)' is an input: name its object in inputs")
                }
                keys[b.index] = input
                usedInputs.insert(b.value)
            case .output?, .pattern?:
                guard let key = outputs[b.value] else {
                    throw StageError.badRequest("argument \(b.index) '\(b.value)' is an output: name its object in outputs")
                }
                if b.slot == .pattern && !key.contains("{i}") {
                    throw StageError.badRequest("outputs['\(b.value)']: object key '\(key)' must hold {i} (it names a pattern's files)")
                }
                keys[b.index] = .file(key)
                usedOutputs.insert(b.value)
            default:
                continue
            }
        }
        if let extra = inputs.keys.sorted().first(where: { !usedInputs.contains($0) }) {
            throw StageError.badRequest("inputs names '\(extra)', which is not an input argument of argv")
        }
        if let extra = outputs.keys.sorted().first(where: { !usedOutputs.contains($0) }) {
            throw StageError.badRequest("outputs names '\(extra)', which is not an output argument of argv")
        }
        return keys
    }
}

/// A by-reference request's work, on a pool thread: download the inputs into the request's
/// folder, run the tool with files, upload every output, and say what was written.
struct ReferenceJob: Sendable {
    let config: StageConfiguration
    let store: S3Client
    let request: ObjectRequest
    let bindings: [StageTemplate.Binding]
    let directory: String

    struct Written: Sendable {
        let argument: String
        let object: S3Object
    }

    struct Outcome: Sendable {
        let exitCode: Int32
        let stderr: [UInt8]
        let written: [Written]
        let stdout: [UInt8]?
    }

    func run(started: (ChildProcess) -> Void) throws -> Outcome {
        let objects = try request.objects(for: bindings)
        let inputs = directory + "/in", outputs = directory + "/out"
        for d in [inputs, outputs] where mkdir(d, 0o700) != 0 { throw StageError.runtime("\(d): \(errnoText())") }
        try TarJob.makePatternFolders(bindings, outputs: outputs)
        var inputPath: [Int: String] = [:]
        for b in bindings where b.slot == .input || b.slot == .inputs {
            let rel = TarJob.clientPath(b, in: inputs) ?? String(b.index)
            inputPath[b.index] = rel
            switch objects[b.index]! {
            case .file(let key):
                try fetch(key, to: inputs + "/" + rel, argument: b)
            case .folder(tar: let key):
                let archive = directory + "/\(b.index).tar"
                try fetch(key, to: archive, argument: b)
                guard mkdir(inputs + "/" + rel, 0o700) == 0 else { throw StageError.runtime("\(inputs)/\(rel): \(errnoText())") }
                do {
                    _ = try Tar.extract(archive, into: inputs + "/" + rel)
                } catch let error as StageError {
                    throw StageError.badRequest("input '\(b.value)' (object '\(key)'): \(error)")
                }
                unlink(archive)
            }
        }
        let (code, stderr) = try TarJob.runTool(config: config, bindings: bindings, directory: directory,
                                                inputPath: inputPath, started: started)
        guard code == 0 else { return Outcome(exitCode: code, stderr: stderr, written: [], stdout: nil) }
        var written: [Written] = []
        for file in try TarJob.outputFiles(config: config, bindings: bindings, outputs: outputs) {
            guard case .file(var key) = objects[file.binding.index]! else { continue }
            if let i = file.number { key = key.split(separator: "{i}", omittingEmptySubsequences: false).joined(separator: String(i)) }
            written.append(Written(argument: String(file.binding.index), object: try put(file.path, as: key)))
        }
        var printed: [UInt8]? = nil
        if let key = request.stdout {
            written.append(Written(argument: "stdout", object: try put(directory + "/stdout", as: key)))
        } else {
            printed = TarJob.tail(of: directory + "/stdout", bytes: Self.stdoutBytes + 1)
            if printed!.count > Self.stdoutBytes {
                throw StageError.runtime("the tool printed more than \(Self.stdoutBytes) bytes on standard output: name an object for them in \"stdout\"")
            }
        }
        return Outcome(exitCode: 0, stderr: stderr, written: written, stdout: printed)
    }

    static let stdoutBytes = 64 * 1024

    private func fetch(_ key: String, to path: String, argument b: StageTemplate.Binding) throws {
        do {
            _ = try store.download(key, to: path)
        } catch let error as S3Error {
            throw Self.stageError(error, doing: "argument \(b.index) '\(b.value)': input object '\(key)'", store: store.store)
        }
    }

    private func put(_ path: String, as key: String) throws -> S3Object {
        do {
            return try store.upload(path, as: key)
        } catch let error as S3Error {
            throw Self.stageError(error, doing: "output object '\(key)'", store: store.store)
        }
    }

    /// A missing input is the request's mistake (404); a store that refuses the stage (bad
    /// credentials, no bucket) is a bad gateway (502); one that cannot be reached, 503.
    static func stageError(_ error: S3Error, doing what: String, store: S3Store) -> StageError {
        switch error {
        case .refused(404, let code, _, _) where code != "NoSuchBucket":
            return .notFound("\(what) does not exist in bucket '\(store.bucket)' at \(store.endpoint)")
        case .refused(let status, let code, let message, _):
            let hint = status == 403 ? " (check the stage's credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)" : ""
            return .badGateway("\(what): the S3 store at \(store.endpoint) answered \(status) \(code)\(message.isEmpty ? "" : ": \(message)")\(hint)")
        case .unreachable(let message):
            return .storeUnavailable("\(what): \(message)")
        case .local(let message):
            return .runtime("\(what): \(message)")
        }
    }

    /// The reply: what was written, one object per line (easy for a shell to read), and the
    /// tool's standard output when no object was named for it.
    static func replyJSON(id: String, stage: String, outcome: Outcome, bucket: String) -> String {
        var lines = ["{\"id\": \(jsonString(id)), \"stage\": \(jsonString(stage)), \"exit\": 0, \"bucket\": \(jsonString(bucket)),",
                     " \"objects\": ["]
        for (n, w) in outcome.written.enumerated() {
            lines.append("  {\"argument\": \(jsonString(w.argument)), \"key\": \(jsonString(w.object.key)), \"size\": \(w.object.size), \"etag\": \(jsonString(w.object.etag))}"
                + (n + 1 < outcome.written.count ? "," : ""))
        }
        if let printed = outcome.stdout {
            lines.append(" ],")
            lines.append(" \"stdout\": \(jsonString(String(decoding: printed, as: UTF8.self)))}")
        } else {
            lines.append(" ]}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(u.value, radix: 16).leftPad(4) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
