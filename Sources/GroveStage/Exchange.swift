import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// One `POST /` from its head to its last byte: the tool process, the body flowing into it, its
/// output flowing back, the limits, and the log line. Lives on the server's event loop.
final class Exchange {
    private weak var handler: StageHandler?
    private let state: StageState
    private let request: StageRequest
    private let loop: EventLoop
    private let allocator: ByteBufferAllocator
    let id: String
    private let began = NIODeadline.now()
    var ticket: SlotTicket?

    private var started = false
    private var finished = false
    private var child: ChildProcess?
    private var bytesIn: Int64 = 0
    private var bytesOut: Int64 = 0
    private var bodyComplete = false
    private var timedOut = false
    private var clientGone = false
    private var failure: StageError?
    private var timeout: Scheduled<Void>?
    private var directory: String?

    // Streaming: the tool's three pipes.
    private var stdinChannel: Channel?
    private var stdoutChannel: Channel?
    private var pendingBody: [ByteBuffer] = []
    private var lastWrite: EventLoopFuture<Void>?
    private var stdinBroken = false
    private var stdoutOpen = true
    private var stderrOpen = true
    private var exitCode: Int32?
    private var headSent = false
    private var held: ByteBuffer
    private var stderrTail: [UInt8] = []

    // Tar: the body spooled to a file in the request's folder.
    private var spool: Int32 = -1
    // Tar and by-reference: the pool thread's job has ended, so the folder is no longer in use.
    private var jobDone = false

    // By reference: the JSON body, and the event it carried (structured mode).
    private var referenceBody: [UInt8] = []
    private var structuredEvent: CloudEvent?
    private var event: CloudEvent? { request.event ?? structuredEvent }

    /// Output held back before the response starts, so that a tool failing early still gets a
    /// proper status; past this much the response streams and a later failure cuts it off.
    static let holdBytes = 64 * 1024
    static let stderrBytes = 16 * 1024

    init(handler: StageHandler, state: StageState, request: StageRequest, loop: EventLoop, allocator: ByteBufferAllocator) {
        self.handler = handler
        self.state = state
        self.request = request
        self.loop = loop
        self.allocator = allocator
        self.id = state.newID()
        self.held = allocator.buffer(capacity: 0)
        // The server, not the connection, keeps a request alive: a client that goes away must
        // not take the bookkeeping of its tool process (slot, files, log line) with it.
        state.active[ObjectIdentifier(self)] = self
        state.inFlight += 1
    }

    private var retired = false

    private func retire(closeAfter: Bool) {
        guard !retired else { return }
        retired = true
        state.active.removeValue(forKey: ObjectIdentifier(self))
        handler?.exchangeFinished(self, closeAfter: closeAfter)
        state.inFlight -= 1
        if state.draining && state.inFlight == 0 { state.onIdle?() }
    }

    // MARK: - Events from the connection

    /// A process slot is ours: start the tool (streaming) or the spool (tar).
    func start() {
        guard !finished else { state.slots.release(); return }
        started = true
        let ms = state.config.timeoutMilliseconds
        timeout = loop.scheduleTask(in: .milliseconds(ms)) { [weak self] in
            guard let self, !self.finished else { return }
            self.timedOut = true
            self.child?.kill()
            if self.child == nil && self.request.mode != .stream && !self.bodyComplete {
                self.finish(status: .gatewayTimeout, text: "the request did not complete within \(ms) ms\n")
            }
        }
        do {
            switch request.mode {
            case .stream:
                // Streamed tools read and write pipes only: no folder of their own to make.
                try startStreaming()
            case .tar:
                let dir = try makeDirectory()
                directory = dir
                spool = open(dir + "/request.tar", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard spool >= 0 else { throw StageError.runtime("\(dir)/request.tar: \(errnoText())") }
                handler?.holdReads(false)
            case .reference:
                directory = try makeDirectory()
                handler?.holdReads(false)
            }
        } catch let error as StageError {
            finish(error: error)
        } catch {
            finish(error: .runtime("\(error)"))
        }
    }

    func body(_ buffer: ByteBuffer) {
        guard !finished, failure == nil else { return }
        bytesIn += Int64(buffer.readableBytes)
        if bytesIn > state.config.maxBodyBytes {
            failure = .tooLarge("the body passed \(state.config.maxBodyBytes) bytes, the most this stage takes")
            child?.kill()
            stdinChannel?.close(promise: nil)
            if child == nil { finish(error: failure!) }
            return
        }
        switch request.mode {
        case .stream:
            if stdinBroken { return }
            if let stdinChannel {
                lastWrite = stdinChannel.writeAndFlush(buffer)
                if !stdinChannel.isWritable { handler?.holdReads(true) }
            } else {
                pendingBody.append(buffer)
            }
        case .tar:
            buffer.withUnsafeReadableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(spool, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { failure = .runtime("spooling the body: \(errnoText())"); return }
                    done += n
                }
            }
            if let failure { finish(error: failure) }
        case .reference:
            if bytesIn > ObjectRequest.maxBodyBytes {
                finish(error: .tooLarge("a by-reference request's body passed \(ObjectRequest.maxBodyBytes) bytes; it names objects, it does not carry them"))
                return
            }
            referenceBody.append(contentsOf: buffer.readableBytesView)
        }
    }

    func bodyEnded() {
        guard !finished else { return }
        bodyComplete = true
        if let expected = request.contentLength, expected != bytesIn {
            failure = .badRequest("the body ended after \(bytesIn) of \(expected) bytes")
        }
        switch request.mode {
        case .stream:
            closeStdin()
        case .tar:
            close(spool)
            spool = -1
            if let failure { finish(error: failure); return }
            runTarJob()
        case .reference:
            if let failure { finish(error: failure); return }
            runReferenceJob()
        }
    }

    /// The queue is full: the request is refused before anything ran.
    func refuse(_ error: StageError) {
        finished = true
        handler?.respondError(error, close: true)
        log(status: error.status, detail: error.description)
        retire(closeAfter: false)
    }

    /// The client disconnected: its tool is killed and its files go; no response is sent.
    func clientWentAway() {
        guard !finished else { return }
        clientGone = true
        if !started {
            if let ticket { state.slots.cancel(ticket) }
            finished = true
            log(status: 499, detail: "client went away while queued")
            retire(closeAfter: false)
            return
        }
        child?.kill()
        stdinChannel?.close(promise: nil)
        responseWritable(true)
        if child == nil && request.mode != .stream && !bodyComplete {
            finish(status: HTTPResponseStatus(statusCode: 499), text: "")
        }
    }

    /// Output reads pause while the client cannot take more; once it is gone they resume for
    /// good, so the tool's end of file (and its exit) is still seen.
    func responseWritable(_ writable: Bool) {
        stdoutChannel?.setOption(ChannelOptions.autoRead, value: writable || clientGone || finished).whenFailure { _ in }
    }

    // MARK: - Streaming mode

    private func startStreaming() throws {
        let stdinPipe = try makePipe()
        let stdoutPipe = try makePipe()
        let stderrPipe = try makePipe()
        let argv = state.config.commandLine(request.bindings) { _ in "-" }
        do {
            child = try ChildProcess.spawn(argv, environment: state.config.environment,
                                           stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write,
                                           directory: state.config.temporaryRoot)
        } catch {
            for fd in [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
            throw error
        }
        close(stdinPipe.read)
        close(stdoutPipe.write)
        close(stderrPipe.write)
        waitForExit()

        let stdinFuture = NIOPipeBootstrap(group: loop)
            .channelInitializer { [weak self] channel in
                channel.pipeline.addHandler(ChildInputHandler { writable in self?.stdinWritable(writable) })
            }
            .takingOwnershipOfDescriptor(output: stdinPipe.write)
        let stdoutFuture = NIOPipeBootstrap(group: loop)
            .channelInitializer { [weak self] channel in
                channel.pipeline.addHandler(ChildOutputHandler(onData: { self?.toolOutput($0) }, onClose: { self?.stdoutClosed() }))
            }
            .takingOwnershipOfDescriptor(input: stdoutPipe.read)
        let stderrFuture = NIOPipeBootstrap(group: loop)
            .channelInitializer { [weak self] channel in
                channel.pipeline.addHandler(ChildOutputHandler(onData: { self?.toolDiagnostics($0) }, onClose: { self?.stderrClosed() }))
            }
            .takingOwnershipOfDescriptor(input: stderrPipe.read)
        stdoutFuture.whenComplete { [weak self] result in
            switch result {
            case .success(let channel): self?.stdoutChannel = channel
            case .failure: self?.child?.kill(); self?.stdoutClosed()
            }
        }
        stderrFuture.whenFailure { [weak self] _ in self?.stderrClosed() }
        stdinFuture.whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let channel):
                self.stdinChannel = channel
                for buffer in self.pendingBody { self.lastWrite = channel.writeAndFlush(buffer) }
                self.pendingBody = []
                if self.bodyComplete || self.finished || self.clientGone { self.closeStdin() }
                self.handler?.holdReads(!channel.isWritable)
            case .failure:
                self.stdinBroken = true
                self.child?.kill()
            }
        }
    }

    private func stdinWritable(_ writable: Bool) {
        if !stdinBroken { handler?.holdReads(!writable) }
    }

    private func closeStdin() {
        guard let stdinChannel else { return }
        let channel = stdinChannel
        (lastWrite ?? loop.makeSucceededVoidFuture()).whenComplete { _ in channel.close(promise: nil) }
        lastWrite = nil
    }

    private func toolOutput(_ buffer: ByteBuffer) {
        bytesOut += Int64(buffer.readableBytes)
        guard !clientGone, !finished, failure == nil else { return }
        if !headSent {
            var b = buffer
            held.writeBuffer(&b)
            if held.readableBytes >= Self.holdBytes {
                sendHead(contentLength: nil)
                let out = held
                held = allocator.buffer(capacity: 0)
                _ = handler?.writeBody(.byteBuffer(out))
            }
        } else {
            _ = handler?.writeBody(.byteBuffer(buffer))
        }
        if headSent, handler?.responseIsWritable == false { responseWritable(false) }
    }

    private func toolDiagnostics(_ buffer: ByteBuffer) {
        stderrTail.append(contentsOf: buffer.readableBytesView)
        if stderrTail.count > Self.stderrBytes { stderrTail.removeFirst(stderrTail.count - Self.stderrBytes) }
    }

    private func stdoutClosed() {
        stdoutOpen = false
        stdoutChannel = nil
        finishStreamingIfDone()
    }

    private func stderrClosed() {
        stderrOpen = false
        finishStreamingIfDone()
    }

    private func waitForExit() {
        guard let child else { return }
        state.threadPool.runIfActive(eventLoop: loop) { child.wait() }.whenComplete { [weak self] result in
            guard let self else { return }
            self.exitCode = (try? result.get()) ?? 255
            // The tool is gone; nothing more will read what is left of the body.
            self.stdinBroken = true
            self.pendingBody = []
            self.stdinChannel?.close(promise: nil)
            self.handler?.holdReads(false)
            self.finishStreamingIfDone()
        }
    }

    private func finishStreamingIfDone() {
        guard !stdoutOpen, !stderrOpen, let code = exitCode, !finished else { return }
        if clientGone { finish(status: HTTPResponseStatus(statusCode: 499), text: ""); return }
        if timedOut {
            finish(status: .gatewayTimeout, text: "the tool ran longer than \(state.config.timeoutMilliseconds) ms and was killed\n")
        } else if let failure {
            finish(error: failure)
        } else if code == 0 {
            if headSent {
                finishStarted(ok: true)
            } else {
                sendHead(contentLength: held.readableBytes)
                let out = held
                held = allocator.buffer(capacity: 0)
                if out.readableBytes > 0 { _ = handler?.writeBody(.byteBuffer(out)) }
                finishStarted(ok: true)
            }
        } else if headSent {
            finishStarted(ok: false)
        } else {
            finishToolFailure(code: code)
        }
    }

    private func sendHead(contentLength: Int?) {
        headSent = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: Self.mediaType(held.readableBytesView.prefix(64)))
        if let contentLength { headers.add(name: "Content-Length", value: String(contentLength)) }
        let output = request.bindings.first { $0.slot == .output }.map { String($0.index) } ?? "stdout"
        headers.add(name: "Grove-Output", value: output)
        headers.add(name: "Grove-Request-Id", value: id)
        if let event = event {
            for (k, v) in CloudEvent.replyHeaders(stage: state.config.name, request: event) { headers.add(name: k, value: v) }
        }
        handler?.writeHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))
    }

    /// zmat streams are zstd frames; the tools' other outputs are PNG or text.
    static func mediaType<C: Collection>(_ prefix: C) -> String where C.Element == UInt8 {
        let p = Array(prefix)
        if p.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return "application/x-zmat" }
        if p.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if p.isEmpty || String(validating: p.prefix(60), as: UTF8.self) != nil && !p.contains(0) { return "text/plain; charset=utf-8" }
        return "application/octet-stream"
    }

    private func finishStarted(ok: Bool) {
        finished = true
        cleanUp()
        let status = ok ? 200 : 500
        if ok {
            let done = handler?.writeEnd()
            log(status: status, detail: nil)
            if let done { done.whenComplete { _ in self.retire(closeAfter: !self.bodyComplete) } } else { retire(closeAfter: true) }
        } else {
            log(status: status, detail: "the tool failed after its output began streaming (exit \(exitCode ?? -1)); the response was cut off: " + stderrText())
            retire(closeAfter: true)
        }
    }

    /// Bad data is the client's (422, the tool's own message); anything else is the stage's (500).
    private func finishToolFailure(code: Int32) {
        let message = stderrText()
        if code == 1 {
            finish(status: .unprocessableEntity, text: message.isEmpty ? "the tool rejected the input (exit 1)\n" : message)
        } else {
            finish(status: .internalServerError, text: "the tool exited with \(code)\(code == 64 ? " (usage: the stage's command line is wrong)" : ""): \(message)")
        }
    }

    private func stderrText() -> String {
        String(decoding: stderrTail, as: UTF8.self)
    }

    // MARK: - Tar mode

    private func runTarJob() {
        guard let directory else { return }
        let job = TarJob(config: state.config, bindings: request.bindings, directory: directory)
        let started = childStarted()
        state.threadPool.runIfActive(eventLoop: loop) { try job.run(started: started) }.whenComplete { [weak self] result in
            self?.jobEnded(result.map { ($0.exitCode, $0.stderr) }) { self?.sendTar(try! result.get().response!) }
        }
    }

    /// Called on the pool thread when a job's tool has started: it is killed if the request
    /// timed out or lost its client meanwhile.
    private func childStarted() -> (ChildProcess) -> Void {
        { [loop] child in
            loop.execute { [weak self] in
                guard let self else { child.kill(); return }
                self.child = child
                if self.timedOut || self.clientGone { child.kill() }
            }
        }
    }

    /// A tar or by-reference job has ended: its error, the client gone (499), the timeout
    /// (504), the tool's failure, or `succeeded` to answer.
    private func jobEnded(_ result: Result<(Int32, [UInt8]), Error>, succeeded: () -> Void) {
        jobDone = true
        switch result {
        case .failure(let error as StageError):
            finish(error: error)
        case .failure(let error):
            finish(error: .runtime("\(error)"))
        case .success(let (code, stderr)):
            exitCode = code
            stderrTail = stderr
            if clientGone {
                finish(status: HTTPResponseStatus(statusCode: 499), text: "")
            } else if timedOut {
                finish(status: .gatewayTimeout, text: "the tool ran longer than \(state.config.timeoutMilliseconds) ms and was killed\n")
            } else if code != 0 {
                finishToolFailure(code: code)
            } else {
                succeeded()
            }
        }
    }

    // MARK: - By reference

    private func runReferenceJob() {
        guard let directory else { return }
        guard let store = state.store else { finish(error: .runtime("this stage has no S3 store")); return }
        let parsed: ObjectRequest
        let bindings: [StageTemplate.Binding]
        do {
            if request.structured {
                let (ev, r) = try ObjectRequest.parse(structuredEvent: referenceBody)
                structuredEvent = ev
                parsed = r
            } else {
                parsed = try ObjectRequest.parse(json: referenceBody)
            }
            bindings = try state.config.template.match(parsed.argv)
            _ = try parsed.objects(for: bindings)  // a 400 before anything is fetched
        } catch let error as StageError {
            finish(error: error)
            return
        } catch {
            finish(error: .runtime("\(error)"))
            return
        }
        referenceBody = []
        let job = ReferenceJob(config: state.config, store: store, request: parsed, bindings: bindings, directory: directory)
        let started = childStarted()
        state.threadPool.runIfActive(eventLoop: loop) { try job.run(started: started) }.whenComplete { [weak self] result in
            guard let self else { return }
            self.jobEnded(result.map { ($0.exitCode, $0.stderr) }) {
                let outcome = try! result.get()
                let reply = ReferenceJob.replyJSON(id: self.id, stage: self.state.config.name, outcome: outcome, bucket: store.store.bucket)
                self.bytesOut = outcome.written.reduce(0) { $0 + $1.object.size }
                self.finish(status: .ok, text: reply, contentType: "application/json")
            }
        }
    }

    private func sendTar(_ path: String) {
        finished = true
        timeout?.cancel()
        state.slots.release()
        do {
            let file = try NIOFileHandle(path: path)
            var st = stat()
            fstat(try file.withUnsafeFileDescriptor { $0 }, &st)
            let size = Int(st.st_size)
            bytesOut = Int64(size)
            var headers = HTTPHeaders([("Content-Type", "application/x-tar"), ("Content-Length", String(size)),
                                       ("Grove-Output", "tar"), ("Grove-Request-Id", id)])
            if let event = event {
                for (k, v) in CloudEvent.replyHeaders(stage: state.config.name, request: event) { headers.add(name: k, value: v) }
            }
            handler?.writeHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))
            let body = handler?.writeBody(.fileRegion(FileRegion(fileHandle: file, readerIndex: 0, endIndex: size)))
            let end = handler?.writeEnd()
            log(status: 200, detail: nil)
            (end ?? loop.makeSucceededVoidFuture()).and(body ?? loop.makeSucceededVoidFuture()).whenComplete { [weak self] _ in
                try? file.close()
                guard let self else { return }
                self.removeDirectory()
                self.retire(closeAfter: false)
            }
        } catch {
            removeDirectory()
            handler?.respondError(.runtime("cannot send the outputs: \(error)"), close: true)
            retire(closeAfter: true)
        }
    }

    // MARK: - Ending

    private func finish(error: StageError) {
        finish(status: HTTPResponseStatus(statusCode: error.status), text: error.description + "\n")
    }

    private func finish(status: HTTPResponseStatus, text: String, contentType: String = "text/plain; charset=utf-8") {
        guard !finished else { return }
        finished = true
        child?.kill()
        cleanUp()
        log(status: Int(status.code), detail: status.code == 200 ? nil : text)
        if clientGone {
            retire(closeAfter: true)
            return
        }
        if headSent {
            retire(closeAfter: true)
            return
        }
        headSent = true
        var extra: [(String, String)] = [("Grove-Request-Id", id)]
        if let exitCode, status != .ok { extra.append(("Grove-Exit-Status", String(exitCode))) }
        if status == .ok, let event { extra += CloudEvent.replyHeaders(stage: state.config.name, request: event) }
        handler?.respondSimple(status: status, text: text, contentType: contentType, close: !bodyComplete,
                               retryAfter: status == .serviceUnavailable, extra: extra)
        retire(closeAfter: false)
    }

    private func cleanUp() {
        timeout?.cancel()
        if started { state.slots.release(); started = false }
        if spool >= 0 { close(spool); spool = -1 }
        stdinChannel?.close(promise: nil)
        if request.mode == .stream || child == nil || exitCode != nil || jobDone { removeDirectory() }
    }

    private func makeDirectory() throws -> String {
        var template = Array((state.config.temporaryRoot + "/grove-stage-\(id)-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StageError.runtime("cannot make a request folder in \(state.config.temporaryRoot): \(errnoText())")
        }
        return String(cString: p)
    }

    private func removeDirectory() {
        guard let directory else { return }
        self.directory = nil
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func log(status: Int, detail: String?) {
        let ms = Double((NIODeadline.now() - began).nanoseconds) / 1e6
        var metadata: Logger.Metadata = [
            "id": "\(id)", "stage": "\(state.config.name)", "status": "\(status)",
            "bytes_in": "\(bytesIn)", "bytes_out": "\(bytesOut)", "ms": "\((ms * 100).rounded() / 100)",
        ]
        if let code = exitCode { metadata["exit"] = "\(code)" }
        if let event = event { metadata["ce_id"] = "\(event.id)" }
        if let revision = state.config.revision { metadata["revision"] = "\(revision)" }
        if let detail, !detail.isEmpty {
            metadata["error"] = "\(detail.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "\\n"))"
        }
        if status >= 500 || (status >= 400 && status != 499) {
            state.logger.warning("request", metadata: metadata)
        } else {
            state.logger.info("request", metadata: metadata)
        }
    }
}

/// The write end of a tool's standard input.
final class ChildInputHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let writable: (Bool) -> Void
    init(_ writable: @escaping (Bool) -> Void) { self.writable = writable }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // EPIPE: the tool stopped reading (it failed, or needs no more); its exit status tells.
        context.close(promise: nil)
    }
}

/// The read end of a tool's standard output or standard error.
final class ChildOutputHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let onData: (ByteBuffer) -> Void
    private let onClose: () -> Void
    init(onData: @escaping (ByteBuffer) -> Void, onClose: @escaping () -> Void) {
        self.onData = onData
        self.onClose = onClose
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { onData(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) { onClose() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// A tar request's work, on a pool thread: unpack, run the tool with files, pack the outputs.
struct TarJob: Sendable {
    let config: StageConfiguration
    let bindings: [StageTemplate.Binding]
    let directory: String

    struct Outcome: Sendable {
        let exitCode: Int32
        let stderr: [UInt8]
        let response: String?
    }

    func run(started: (ChildProcess) -> Void) throws -> Outcome {
        let inputs = directory + "/in", outputs = directory + "/out"
        for d in [inputs, outputs] where mkdir(d, 0o700) != 0 { throw StageError.runtime("\(d): \(errnoText())") }
        let names = try Tar.extract(directory + "/request.tar", into: inputs)
        unlink(directory + "/request.tar")
        for b in bindings where b.slot == .input || b.slot == .inputs {
            guard names.contains(String(b.index)) else {
                throw StageError.badRequest("argument \(b.index) '\(b.value)' is an input, but the tar body has no entry \(b.index)")
            }
        }
        try Self.makePatternFolders(bindings, outputs: outputs)
        var inputPath: [Int: String] = [:]
        for b in bindings where b.slot == .input || b.slot == .inputs {
            inputPath[b.index] = inputs + "/\(b.index)"
            if let rel = Self.clientPath(b, in: inputs), rename(inputs + "/\(b.index)", inputs + "/" + rel) == 0 {
                inputPath[b.index] = rel
            }
        }
        let (code, stderr) = try Self.runTool(config: config, bindings: bindings, directory: directory,
                                              inputPath: inputPath, started: started)
        guard code == 0 else { return Outcome(exitCode: code, stderr: stderr, response: nil) }
        var entries: [(name: String, path: String)] = []
        var st = stat()
        if stat(directory + "/stdout", &st) == 0 && st.st_size > 0 { entries.append(("stdout", directory + "/stdout")) }
        for file in try Self.outputFiles(config: config, bindings: bindings, outputs: outputs) {
            entries.append((file.number.map { "\(file.binding.index)/\($0)" } ?? "\(file.binding.index)", file.path))
        }
        try Tar.create(directory + "/response.tar", entries: entries)
        return Outcome(exitCode: 0, stderr: stderr, response: directory + "/response.tar")
    }
}

/// What every request that runs its tool with files shares (tar and by-reference requests): the
/// folder `in/` for inputs (the tool's working folder), `out/N` for outputs, `out/N/{i}` for
/// a pattern's files, `stdout` and `stderr` files.
extension TarJob {
    /// An input the client named by a plain relative path is given to the tool under that same
    /// path (the tool runs in the inputs folder), so what tools record of their inputs (zmat's
    /// `source` metadata) is what a local run records. Nil when the name cannot be used (not
    /// plain, a number that could clash with another entry, or taken); parents are made.
    static func clientPath(_ b: StageTemplate.Binding, in inputs: String) -> String? {
        guard let rel = try? Tar.safeRelativePath(b.value, offset: 0), rel == b.value, !rel.isEmpty,
              Int(rel.split(separator: "/")[0]) == nil, access(inputs + "/" + rel, F_OK) != 0 else { return nil }
        var parent = inputs
        for part in rel.split(separator: "/").dropLast() {
            parent += "/" + part
            mkdir(parent, 0o700)
        }
        return rel
    }

    static func makePatternFolders(_ bindings: [StageTemplate.Binding], outputs: String) throws {
        for b in bindings where b.slot == .pattern {
            guard mkdir(outputs + "/\(b.index)", 0o700) == 0 else { throw StageError.runtime("\(outputs)/\(b.index): \(errnoText())") }
        }
    }

    /// Runs the tool in `directory/in` with standard input /dev/null, standard output and error
    /// in files; returns its exit status and the end of what it printed on standard error.
    static func runTool(config: StageConfiguration, bindings: [StageTemplate.Binding], directory: String,
                        inputPath: [Int: String], started: (ChildProcess) -> Void) throws -> (Int32, [UInt8]) {
        let inputs = directory + "/in", outputs = directory + "/out"
        let argv = config.commandLine(bindings) { b in
            switch b.slot {
            case .input, .inputs: return inputPath[b.index]!
            case .pattern: return outputs + "/\(b.index)/{i}"
            default: return outputs + "/\(b.index)"
            }
        }
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = open(directory + "/stdout", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        let err = open(directory + "/stderr", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        defer { for fd in [devnull, out, err] where fd >= 0 { close(fd) } }
        guard devnull >= 0, out >= 0, err >= 0 else { throw StageError.runtime("\(directory): \(errnoText())") }
        let child = try ChildProcess.spawn(argv, environment: config.environment, stdin: devnull, stdout: out, stderr: err,
                                           directory: inputs)
        started(child)
        let code = child.wait()
        return (code, tail(of: directory + "/stderr", bytes: Exchange.stderrBytes))
    }

    /// Every file the tool wrote for an output slot: `out/N`, and `out/N/i` in order of i.
    static func outputFiles(config: StageConfiguration, bindings: [StageTemplate.Binding], outputs: String) throws
        -> [(binding: StageTemplate.Binding, number: Int?, path: String)] {
        var files: [(binding: StageTemplate.Binding, number: Int?, path: String)] = []
        for b in bindings {
            if b.slot == .output {
                let path = outputs + "/\(b.index)"
                guard access(path, F_OK) == 0 else {
                    throw StageError.runtime("\(config.template.tool) exited 0 but wrote no file for argument \(b.index) '\(b.value)'")
                }
                files.append((b, nil, path))
            } else if b.slot == .pattern {
                let dir = outputs + "/\(b.index)"
                for i in listDirectory(dir).compactMap({ Int($0) }).sorted() { files.append((b, i, dir + "/\(i)")) }
            }
        }
        return files
    }

    /// The last `bytes` bytes of a file (empty when it cannot be read).
    static func tail(of path: String, bytes: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        let start = max(0, Int64(st.st_size) - Int64(bytes))
        var out = [UInt8](repeating: 0, count: Int(Int64(st.st_size) - start))
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(start)) }
        return n > 0 ? Array(out.prefix(n)) : []
    }

    /// The names in a folder (none when it cannot be read).
    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
