import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// State the whole server shares; every field is touched only on the server's one event loop.
final class StageState {
    let config: StageConfiguration
    let slots: ProcessSlots
    let threadPool: NIOThreadPool
    let logger: Logger
    /// The S3 store of by-reference requests, when the stage has one.
    let store: S3Client?
    var draining = false
    var inFlight = 0
    var active: [ObjectIdentifier: Exchange] = [:]
    var onIdle: (() -> Void)?
    private var nextID: UInt64 = 0

    init(config: StageConfiguration, threadPool: NIOThreadPool, logger: Logger, store: S3Client?) {
        self.config = config
        self.store = store
        self.slots = ProcessSlots(limit: config.maxProcesses, queueLimit: config.maxQueue)
        self.threadPool = threadPool
        self.logger = logger
    }

    func newID() -> String {
        nextID += 1
        return String(UInt32(truncatingIfNeeded: ProcessInfo.processInfo.processIdentifier), radix: 36) + "-" + String(nextID)
    }

    /// Readiness: the tool is still there and runnable, and the server is not draining.
    var ready: Bool { !draining && resolveExecutable(config.toolPath, path: nil) != nil }
}

/// One HTTP connection of a stage server: routes, limits, and the request being served.
///
/// `POST /` runs the tool. A body of any type but `application/x-tar` is the tool's one input
/// (its standard input, or its `{input}` slot), streamed into the process as it arrives, and the
/// tool's standard output (its `{output}` slot) streams back as the response; a tar body holds
/// several inputs (entry `N` for argument N of the request's command line) and the response is a
/// tar of the outputs (entry `N`, `N/i` for a pattern, `stdout`). `GET /healthz` is liveness,
/// `GET /readyz` readiness, `GET /template` the command line the stage runs.
final class StageHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: StageState
    private var exchange: Exchange?
    private var discarding = false
    private var readHeld = false
    private var readPending = false
    private var context: ChannelHandlerContext?

    init(state: StageState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: - Back-pressure: a held read is issued when the tool can take more.

    func read(context: ChannelHandlerContext) {
        if readHeld { readPending = true } else { context.read() }
    }

    func holdReads(_ hold: Bool) {
        readHeld = hold
        if !hold && readPending, let context {
            readPending = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.responseWritable(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.clientWentAway()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        exchange?.clientWentAway()
        context.close(promise: nil)
    }

    // MARK: - Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            discarding = false
            route(context: context, head: head)
        case .body(let buffer):
            if discarding { return }
            exchange?.body(buffer)
        case .end:
            if discarding { discarding = false; return }
            exchange?.bodyEnded()
        }
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        switch (head.method, path) {
        case (.GET, "/healthz"):
            respondSimple(status: .ok, text: "ok\n")
        case (.GET, "/readyz"):
            if state.ready {
                respondSimple(status: .ok, text: "ready: \(state.config.template)\n")
            } else {
                respondSimple(status: .serviceUnavailable,
                              text: state.draining ? "draining\n" : "\(state.config.toolPath) is missing or not runnable\n")
            }
        case (.GET, "/template"):
            respondSimple(status: .ok, text: state.config.template.description + "\n")
        case (.POST, _) where !["/healthz", "/readyz", "/template"].contains(path):
            // Any path runs the tool: Knative routes every path to the container, and
            // `curl -T FILE URL/` appends the file's name.
            if state.draining {
                respondSimple(status: .serviceUnavailable, text: "the stage is shutting down\n", close: true, retryAfter: true)
                return
            }
            do {
                let request = try StageRequest(head: head, config: state.config)
                let ex = Exchange(handler: self, state: state, request: request, loop: context.eventLoop,
                                  allocator: context.channel.allocator)
                exchange = ex
                holdReads(true)
                guard let ticket = state.slots.acquire({ [weak ex] in ex?.start() }) else {
                    ex.refuse(.busy("\(state.config.maxProcesses) tool processes are running and \(state.config.maxQueue) requests wait: try again"))
                    return
                }
                ex.ticket = ticket
                // curl and others wait a second for this before sending a large body.
                if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
                }
            } catch let error as StageError {
                respondError(error, close: true)
            } catch {
                respondError(.runtime("\(error)"), close: true)
            }
        case (_, "/"), (_, "/healthz"), (_, "/readyz"), (_, "/template"):
            respondSimple(status: .methodNotAllowed, text: "\(head.method) \(path): not allowed here\n", close: true)
        default:
            respondSimple(status: .notFound, text: "\(path): no such endpoint (POST /, GET /healthz, /readyz, /template)\n", close: true)
        }
    }

    // MARK: - Responses

    func respondError(_ error: StageError, close: Bool, extra: [(String, String)] = []) {
        respondSimple(status: HTTPResponseStatus(statusCode: error.status), text: error.description + "\n",
                      close: close, retryAfter: error.status == 503, extra: extra)
    }

    func respondSimple(status: HTTPResponseStatus, text: String, contentType: String = "text/plain; charset=utf-8",
                       close: Bool = false, retryAfter: Bool = false, extra: [(String, String)] = []) {
        guard let context else { return }
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(text.utf8.count))])
        if retryAfter { headers.add(name: "Retry-After", value: "1") }
        if close { headers.add(name: "Connection", value: "close") }
        for (k, v) in extra { headers.add(name: k, value: v) }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            // The rest of the request body, if any, is not read: the connection closes.
            discarding = true
            done.whenComplete { _ in context.close(promise: nil) }
        }
    }

    func writeHead(_ head: HTTPResponseHead) {
        context?.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    func writeBody(_ data: IOData) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        return context.writeAndFlush(wrapOutboundOut(.body(data)))
    }

    var responseIsWritable: Bool { context?.channel.isWritable ?? false }

    func writeEnd() -> EventLoopFuture<Void>? {
        context?.writeAndFlush(wrapOutboundOut(.end(nil)))
    }

    /// Ends a response that already started but cannot finish well: the client sees the
    /// connection close before the last chunk, never a body that looks complete.
    func abortConnection() {
        context?.close(promise: nil)
    }

    func exchangeFinished(_ ex: Exchange, closeAfter: Bool) {
        if exchange === ex { exchange = nil }
        holdReads(false)
        if closeAfter { discarding = true; abortConnection() }
    }
}

/// What a `POST /` asks for, checked before any byte of the body is read.
struct StageRequest {
    enum Mode { case stream, tar, reference }
    let mode: Mode
    /// By reference in a structured CloudEvent (the event is in the body, not in headers).
    let structured: Bool
    let argv: [String]
    let bindings: [StageTemplate.Binding]
    let event: CloudEvent?
    let contentLength: Int64?

    init(head: HTTPRequestHead, config: StageConfiguration) throws {
        let headers = head.headers.map { ($0.name, $0.value) }
        let contentType = head.headers.first(name: "content-type")?.lowercased() ?? ""
        structured = contentType.hasPrefix("application/cloudevents")
        let reference = structured || contentType.hasPrefix("application/json")
        if reference && config.store == nil {
            throw StageError.unsupportedMedia("a JSON body or a structured CloudEvent is a by-reference request (object keys in an S3 store), and this stage has no store: start it with --s3-bucket (and AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), or send the data by value")
        }
        if structured && !contentType.hasPrefix("application/cloudevents+json") {
            throw StageError.unsupportedMedia("'\(contentType)': structured CloudEvents are application/cloudevents+json (batches are not accepted)")
        }
        event = structured ? nil : try CloudEvent.fromBinaryHeaders(headers)
        if let length = head.headers.first(name: "content-length") {
            guard let n = Int64(length), n >= 0 else { throw StageError.badRequest("Content-Length '\(length)' is not a byte count") }
            let limit = reference ? ObjectRequest.maxBodyBytes : config.maxBodyBytes
            if n > limit {
                throw StageError.tooLarge("the body is \(n) bytes; this stage takes at most \(limit)\(reference ? " in a by-reference request" : "")")
            }
            contentLength = n
        } else {
            contentLength = nil
        }
        let argvHeaders = head.headers["grove-argv"]
        if argvHeaders.count > 1 { throw StageError.badRequest("Grove-Argv appears more than once") }
        if reference {
            // The command line is the body's argv, matched once the body is in.
            if !argvHeaders.isEmpty { throw StageError.badRequest("a by-reference request carries its command line in the body's argv, not in Grove-Argv") }
            mode = .reference
            argv = []
            bindings = []
            return
        }
        argv = try argvHeaders.first.map(ArgvHeader.decode) ?? config.template.defaultArgv()
        bindings = try config.template.match(argv)
        if contentType.hasPrefix("application/x-tar") {
            mode = .tar
        } else {
            guard config.template.streams else {
                throw StageError.unsupportedMedia("this stage's command line takes several files (\(config.template)): send them as an application/x-tar body, entry N for argument N, or by reference (a JSON body)")
            }
            mode = .stream
        }
    }
}
