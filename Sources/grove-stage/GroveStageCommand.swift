import ArgumentParser
import Foundation
import GroveStage
import Logging

@main
struct GroveStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grove-stage",
        abstract: "Serve one Grove tool over HTTP, as a serverless stage (Knative's container contract, CloudEvents).",
        discussion: """
        The command after -- is fixed when the server starts; its slots are all a request may fill \
        ({input} {inputs} {output} {pattern} take files, {int} {ints} {number} {word} values). \
        POST / with the tool's input as the body streams it through the tool and its output back \
        (200; 422 with the tool's message for bad data; 504 past --timeout); an application/x-tar \
        body carries several inputs and gets a tar of the outputs. A request sends its command line \
        in a Grove-Argv header (arguments percent-encoded, space-separated), matched against the \
        template. GET /healthz, /readyz (the tool is runnable), /template. SIGTERM drains. \
        With --s3-bucket, a JSON body (or a structured CloudEvent) is a by-reference request: \
        {"argv": [...], "inputs": {ARG: KEY}, "outputs": {ARG: KEY}}; the stage downloads the \
        inputs from the bucket, runs the tool, uploads the outputs and answers with their keys, \
        sizes and ETags. Endpoint and credentials: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, \
        AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION. See docs/STAGE.md.

        Examples:
          grove-stage --port 8081 -- rf-tree {input} --classes {ints} --trees {int} --seed {int} --tree-index {int} -o {output}
          grove-stage --port 8082 -- rf-merge {inputs} -o {output}
          AWS_ENDPOINT_URL=http://127.0.0.1:8333 grove-stage --s3-bucket grove -- rf-merge {inputs} -o {output}
          curl -sS -T features.zmat -X POST -H 'Grove-Argv: rf-tree f --classes 0,1 --trees 4 --seed 1 --tree-index 0 -o t' localhost:8081/ -o trees.zmat
        """)

    @Option(help: "Port to listen on (default: $PORT, else 8080; 0 picks a free one).")
    var port: Int?

    @Option(help: "Address to listen on (Knative: 0.0.0.0).")
    var host = "127.0.0.1"

    @Option(help: "The stage's name in logs and reply events (default: $K_SERVICE, else the tool's name).")
    var name: String?

    @Option(help: "Largest request body accepted, in bytes (K, M, G suffixes).")
    var maxBody = "1G"

    @Option(help: "Tool processes allowed to run at once.")
    var maxProcesses = 2

    @Option(help: "Requests allowed to wait for a process; beyond them a request gets 503 and Retry-After.")
    var maxQueue = 16

    @Option(help: "Seconds a request may take before its tool is killed (504).")
    var timeout: Double = 300

    @Option(help: "Folder for the requests' private folders (default: $TMPDIR, else /tmp).")
    var tmp: String?

    @Option(help: "Write the bound port to FILE once listening (for scripts that start stages on port 0).")
    var portFile: String?

    @Option(help: "S3 bucket of by-reference requests (without it they get 415).")
    var s3Bucket: String?

    @Option(help: "S3 endpoint, http://HOST[:PORT] (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL).")
    var s3Endpoint: String?

    @Option(help: "S3 region for signatures (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1).")
    var s3Region: String?

    @Option(help: "Outputs larger than this go up as a multipart upload in parts of this size (at least 5M).")
    var s3PartSize = "8M"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Argument(parsing: .postTerminator, help: "The tool and its arguments, with slots.")
    var command: [String] = []

    static func main() {
        do {
            var parsed = try parseAsRoot()  // GroveStageCommand, or the help command
            try parsed.run()
        } catch let error as StageError {
            FileHandle.standardError.write(Data("grove-stage: \(error)\n".utf8))
            Foundation.exit(64)
        } catch {
            exit(withError: error)
        }
    }

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the tool to serve after --, e.g. grove-stage -- rf-merge {inputs} -o {output}") }
        if maxProcesses < 1 { throw ValidationError("--max-processes must be at least 1") }
        if maxQueue < 0 { throw ValidationError("--max-queue must be at least 0") }
        if !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        if Self.bytes(maxBody) == nil { throw ValidationError("--max-body '\(maxBody)' is not a size such as 500M") }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        // S3 refuses parts under 5 MiB (but the last) when the upload completes.
        guard let part = Self.bytes(s3PartSize), part >= 5 << 20 else {
            throw ValidationError("--s3-part-size '\(s3PartSize)' is not a size of at least 5M (S3's smallest part), such as 8M")
        }
        _ = part
    }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let template = try StageTemplate(command)
        guard let toolPath = resolveExecutable(template.tool, path: env["PATH"]) else {
            throw ValidationError("'\(template.tool)' is not an executable here (PATH: \(env["PATH"] ?? ""))")
        }
        let listenPort: Int
        if let port { listenPort = port } else if let p = env["PORT"] {
            guard let n = Int(p), (0...65535).contains(n) else { throw ValidationError("$PORT '\(p)' is not a port number") }
            listenPort = n
        } else { listenPort = 8080 }
        let stageName = name ?? env["K_SERVICE"] ?? (template.tool.split(separator: "/").last.map(String.init) ?? template.tool)

        var config = StageConfiguration(name: stageName, template: template, toolPath: toolPath)
        config.host = host
        config.port = listenPort
        config.maxBodyBytes = Self.bytes(maxBody)!
        config.maxProcesses = maxProcesses
        config.maxQueue = maxQueue
        config.timeoutMilliseconds = Int64(timeout * 1000)
        config.temporaryRoot = tmp ?? env["TMPDIR"] ?? "/tmp"
        config.revision = env["K_REVISION"]
        // The tools need no store credentials: the stage moves the objects.
        config.environment = env.filter { $0.key != "PORT" && !$0.key.hasPrefix("AWS_") }.map { "\($0.key)=\($0.value)" }.sorted()
        if let s3Bucket {
            guard let endpoint = s3Endpoint ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"] else {
                throw ValidationError("--s3-bucket needs an endpoint: --s3-endpoint or AWS_ENDPOINT_URL")
            }
            guard let key = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !key.isEmpty, !secret.isEmpty else {
                throw ValidationError("--s3-bucket needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }
            var store = try S3Store(endpoint: endpoint, bucket: s3Bucket,
                                    region: s3Region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1",
                                    credentials: S3Credentials(accessKey: key, secretKey: secret,
                                                               sessionToken: env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }))
            store.partSize = Self.bytes(s3PartSize)!
            config.store = store
        }

        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "grove-stage")
        if let service = env["K_SERVICE"] { logger[metadataKey: "k_service"] = "\(service)" }
        if let revision = env["K_REVISION"] { logger[metadataKey: "k_revision"] = "\(revision)" }

        try StageServer(config: config, logger: logger).run { bound in
            if let portFile {
                let tmpPath = portFile + ".tmp"
                FileManager.default.createFile(atPath: tmpPath, contents: Data("\(bound)\n".utf8))
                _ = rename(tmpPath, portFile)
            }
        }
    }

    static func bytes(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased()
        if digits.hasSuffix("B") { digits.removeLast() }
        var scale: Int64 = 1
        if let last = digits.last, let u = units[last] { scale = u; digits.removeLast() }
        guard let n = Int64(digits), n >= 0, n <= Int64.max / scale else { return nil }
        return n * scale
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
