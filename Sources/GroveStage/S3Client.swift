import Crypto
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Where a stage's objects live: an S3-compatible store over plain HTTP, addressed path-style
/// (`http://host:port/BUCKET/KEY`, which MinIO and SeaweedFS serve without DNS per bucket).
public struct S3Store: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var bucket: String
    public var region: String
    public var credentials: S3Credentials
    /// Objects larger than this go up in parts of this size (multipart upload); S3 wants parts
    /// of at least 5 MiB but the last, which stores such as SeaweedFS do not enforce.
    public var partSize: Int64 = 8 << 20

    /// `endpoint` is `http://host[:port]`; https needs TLS, which this client does not speak.
    public init(endpoint: String, bucket: String, region: String, credentials: S3Credentials) throws {
        var rest = Substring(endpoint)
        guard rest.hasPrefix("http://") else {
            throw StageError.usage("S3 endpoint '\(endpoint)' must be http://HOST[:PORT] (this client speaks plain HTTP, e.g. to a store on the same network)")
        }
        rest = rest.dropFirst(7)
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { throw StageError.usage("S3 endpoint '\(endpoint)' must be http://HOST[:PORT] with no path") }
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw StageError.usage("S3 endpoint '\(endpoint)': bad port")
            }
            host = String(rest[..<colon]); port = p
        } else {
            host = String(rest); port = 80
        }
        guard !bucket.isEmpty, bucket.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) else {
            throw StageError.usage("S3 bucket '\(bucket)' must be lowercase letters, digits, '-' and '.'")
        }
        self.bucket = bucket
        self.region = region
        self.credentials = credentials
    }

    var hostHeader: String { port == 80 ? host : "\(host):\(port)" }
    var endpoint: String { "http://\(hostHeader)" }
}

/// An object as the store reported it.
public struct S3Object: Sendable, Equatable {
    public let key: String
    public let size: Int64
    public let etag: String
}

/// What went wrong talking to the store, with the status a stage answers for it.
public enum S3Error: Error, CustomStringConvertible {
    /// No connection, or it broke: the store is down or unreachable (503: worth a retry).
    case unreachable(String)
    /// The store answered with an error status: its code (NoSuchKey, SignatureDoesNotMatch, ...).
    case refused(status: Int, code: String, message: String, key: String)
    /// A file of the request's own folder could not be read or written.
    case local(String)

    public var description: String {
        switch self {
        case .unreachable(let m), .local(let m): return m
        case .refused(let status, let code, let message, let key):
            return "the S3 store answered \(status) \(code) for '\(key)'\(message.isEmpty ? "" : ": \(message)")"
        }
    }

    public var isMissingObject: Bool {
        if case .refused(404, _, _, _) = self { return true }
        return false
    }
}

/// A blocking S3 client (GET object to a file, PUT object from a file, multipart upload) for
/// a stage's pool threads, which wait on its futures.
///
/// It speaks HTTP/1.1 through SwiftNIO's NIOHTTP1, which the server already links, rather than
/// async-http-client: that would add swift-nio-ssl (BoringSSL), -http2, -extras and
/// -transport-services to a static binary and to every build, for TLS and pooling a stage that
/// talks to a store next to it does not need. One connection per request keeps it simple and
/// costs ~0.1 ms on loopback. Bodies never sit in memory: a download is written to its file
/// as each chunk arrives (the event loop blocks on write(2), which is the back-pressure), an
/// upload is sent as a FileRegion (sendfile), and its SHA-256 is computed from the file.
public final class S3Client: Sendable {
    public let store: S3Store
    let signer: SigV4Signer
    let group: EventLoopGroup
    /// Longest a whole request may take, connection to last byte.
    let requestTimeout: TimeAmount

    public init(store: S3Store, group: EventLoopGroup, requestTimeout: TimeAmount = .seconds(300)) {
        self.store = store
        self.signer = SigV4Signer(credentials: store.credentials, region: store.region)
        self.group = group
        self.requestTimeout = requestTimeout
    }

    /// Downloads `key` into a new file at `path`.
    public func download(_ key: String, to path: String) throws -> S3Object {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw S3Error.local("\(path): \(errnoText())") }
        defer { close(fd) }
        let reply = try send(method: .GET, key: key, query: [], body: .none, sink: fd)
        try reply.check(key: key)
        if let length = reply.headers.first(name: "content-length").flatMap(Int64.init), length != reply.bodyBytes {
            throw S3Error.unreachable("the S3 store's response for '\(key)' ended after \(reply.bodyBytes) of \(length) bytes")
        }
        return S3Object(key: key, size: reply.bodyBytes, etag: reply.headers.first(name: "etag") ?? "")
    }

    /// Uploads the file at `path` as `key`: in one PUT up to the store's part size, else as a
    /// multipart upload (aborted if any part fails, so no parts are left behind).
    public func upload(_ path: String, as key: String) throws -> S3Object {
        let file: NIOFileHandle
        do { file = try NIOFileHandle(path: path) } catch { throw S3Error.local("\(path): \(error)") }
        defer { try? file.close() }
        let fd = try file.withUnsafeFileDescriptor { $0 }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw S3Error.local("\(path): \(errnoText())") }
        let size = Int64(st.st_size)
        if size <= store.partSize {
            let reply = try send(method: .PUT, key: key, query: [],
                                 body: .file(file, offset: 0, length: size, sha256: try Self.sha256(fd, 0, size, path)), sink: -1)
            try reply.check(key: key)
            return S3Object(key: key, size: size, etag: reply.headers.first(name: "etag") ?? "")
        }
        let created = try send(method: .POST, key: key, query: [("uploads", "")], body: .none, sink: -1)
        try created.check(key: key)
        guard let uploadID = Self.xmlValue("UploadId", in: created.text) else {
            throw S3Error.refused(status: created.status, code: "NoUploadId", message: "CreateMultipartUpload answered without an UploadId", key: key)
        }
        do {
            var parts: [(Int, String)] = []
            var offset: Int64 = 0
            while offset < size {
                let length = min(store.partSize, size - offset)
                let number = parts.count + 1
                let reply = try send(method: .PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                     body: .file(file, offset: offset, length: length, sha256: try Self.sha256(fd, offset, length, path)), sink: -1)
                try reply.check(key: key)
                guard let etag = reply.headers.first(name: "etag") else {
                    throw S3Error.refused(status: reply.status, code: "NoETag", message: "UploadPart \(number) answered without an ETag", key: key)
                }
                parts.append((number, etag))
                offset += length
            }
            let xml = "<CompleteMultipartUpload>" + parts.map {
                "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(Self.xmlEscape($0.1))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let done = try send(method: .POST, key: key, query: [("uploadId", uploadID)], body: .bytes(Array(xml.utf8)), sink: -1)
            try done.check(key: key)
            // CompleteMultipartUpload may answer 200 and still fail, with an <Error> body.
            if done.text.contains("<Error>") {
                throw S3Error.refused(status: done.status, code: Self.xmlValue("Code", in: done.text) ?? "Error",
                                      message: Self.xmlValue("Message", in: done.text) ?? "", key: key)
            }
            let etag = Self.xmlValue("ETag", in: done.text) ?? done.headers.first(name: "etag") ?? ""
            return S3Object(key: key, size: size, etag: etag)
        } catch {
            _ = try? send(method: .DELETE, key: key, query: [("uploadId", uploadID)], body: .none, sink: -1)
            throw error
        }
    }

    // MARK: - One request

    enum Body {
        case none
        case bytes([UInt8])
        case file(NIOFileHandle, offset: Int64, length: Int64, sha256: String)
    }

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let bodyBytes: Int64
        /// The body when it was not written to a file (errors, XML answers), at most 1 MiB.
        let collected: [UInt8]
        var text: String { String(decoding: collected, as: UTF8.self) }

        func check(key: String) throws {
            guard !(200..<300).contains(status) else { return }
            let text = self.text
            throw S3Error.refused(status: status, code: S3Client.xmlValue("Code", in: text) ?? "HTTP \(status)",
                                  message: S3Client.xmlValue("Message", in: text) ?? "", key: key)
        }
    }

    func send(method: HTTPMethod, key: String, query: [(String, String)], body: Body, sink: Int32) throws -> Reply {
        let path = "/" + store.bucket + "/" + SigV4Signer.uriEncode(key, encodeSlash: false)
        let payloadHash: String, length: Int64
        switch body {
        case .none: payloadHash = SigV4Signer.emptyPayloadHash; length = 0
        case .bytes(let b): payloadHash = SigV4Signer.hex(SHA256.hash(data: b)); length = Int64(b.count)
        case .file(_, _, let n, let hash): payloadHash = hash; length = n
        }
        let timestamp = SigV4Signer.timestamp(epochSeconds: time(nil))
        var signed = [("host", store.hostHeader), ("x-amz-content-sha256", payloadHash), ("x-amz-date", timestamp)]
        if let token = store.credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        let signature = signer.sign(method: method.rawValue, path: path, query: query, headers: signed,
                                    payloadHash: payloadHash, timestamp: timestamp)
        var headers = HTTPHeaders(signed)
        headers.add(name: "authorization", value: signature.authorization)
        headers.add(name: "content-length", value: String(length))
        headers.add(name: "connection", value: "close")
        let queryText = query.map { $0.1.isEmpty && $0.0 == "uploads" ? $0.0
            : SigV4Signer.uriEncode($0.0, encodeSlash: true) + "=" + SigV4Signer.uriEncode($0.1, encodeSlash: true) }
            .joined(separator: "&")
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path + (queryText.isEmpty ? "" : "?" + queryText), headers: headers)

        let loop = group.next()
        let promise = loop.makePromise(of: Reply.self)
        let channel: Channel
        do {
            channel = try ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap {
                        channel.pipeline.addHandler(S3ResponseHandler(promise: promise, sink: sink, method: method))
                    }
                }
                .connect(host: store.host, port: store.port).wait()
        } catch {
            promise.fail(error)
            throw S3Error.unreachable("the S3 store at \(store.endpoint) is unreachable: \(error)")
        }
        let endpoint = store.endpoint
        let timer = loop.scheduleTask(in: requestTimeout) { [requestTimeout] in
            promise.fail(S3Error.unreachable("the S3 store at \(endpoint) did not answer within \(requestTimeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        defer { timer.cancel(); channel.close(promise: nil) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        switch body {
        case .none: break
        case .bytes(let b):
            var buffer = channel.allocator.buffer(capacity: b.count)
            buffer.writeBytes(b)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        case .file(let file, let offset, let n, _):
            channel.write(HTTPClientRequestPart.body(.fileRegion(FileRegion(fileHandle: file, readerIndex: Int(offset), endIndex: Int(offset + n)))), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
        do {
            return try promise.futureResult.wait()
        } catch let error as S3Error {
            throw error
        } catch {
            throw S3Error.unreachable("talking to the S3 store at \(store.endpoint) (\(method) '\(key)'): \(error)")
        }
    }

    // MARK: - Helpers

    static func sha256(_ fd: Int32, _ offset: Int64, _ length: Int64, _ path: String) throws -> String {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(buffer.count), length - done))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw S3Error.local("\(path): read failed at byte \(offset + done): \(n < 0 ? errnoText() : "unexpected end of file")") }
            hasher.update(data: buffer[0..<n])
            done += Int64(n)
        }
        return SigV4Signer.hex(hasher.finalize())
    }

    /// The text of the first `<tag>` element (S3's answers are small, flat XML documents).
    static func xmlValue(_ tag: String, in text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let start = find(Array("<\(tag)>".utf8), in: bytes, from: 0),
              let end = find(Array("</\(tag)>".utf8), in: bytes, from: start.upperBound) else { return nil }
        return xmlUnescape(String(decoding: bytes[start.upperBound..<end.lowerBound], as: UTF8.self))
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Range<Int>? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }

    static func xmlEscape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static func xmlUnescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = "", rest = Substring(s)
        let entities = ["&quot;": "\"", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&apos;": "'", "&#34;": "\""]
        outer: while let first = rest.first {
            if first == "&" {
                for (entity, value) in entities where rest.hasPrefix(entity) {
                    out += value
                    rest = rest.dropFirst(entity.count)
                    continue outer
                }
            }
            out.append(first)
            rest = rest.dropFirst()
        }
        return out
    }
}

/// Reads one response: a 2xx body into the sink file as it arrives (or collected when there
/// is none), any other body collected (S3's XML error) for the message.
final class S3ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<S3Client.Reply>
    private let sink: Int32
    private let method: HTTPMethod
    private var head: HTTPResponseHead?
    private var collected: [UInt8] = []
    private var bytes: Int64 = 0
    private var done = false
    static let collectLimit = 1 << 20

    init(promise: EventLoopPromise<S3Client.Reply>, sink: Int32, method: HTTPMethod) {
        self.promise = promise
        self.sink = sink
        self.method = method
    }

    private var toFile: Bool { sink >= 0 && (head.map { (200..<300).contains(Int($0.status.code)) } ?? false) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(let buffer):
            bytes += Int64(buffer.readableBytes)
            if toFile {
                let ok = buffer.withUnsafeReadableBytes { raw -> Bool in
                    var written = 0
                    while written < raw.count {
                        let n = write(sink, raw.baseAddress! + written, raw.count - written)
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { return false }
                        written += n
                    }
                    return true
                }
                if !ok { fail(S3Error.local("writing the download: \(errnoText())"), context: context) }
            } else if collected.count < Self.collectLimit {
                collected.append(contentsOf: buffer.readableBytesView.prefix(Self.collectLimit - collected.count))
            }
        case .end:
            guard let head else { fail(S3Error.unreachable("the S3 store answered without a status line"), context: context); return }
            done = true
            promise.succeed(S3Client.Reply(status: Int(head.status.code), headers: head.headers, bodyBytes: bytes, collected: collected))
        }
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(S3Error.unreachable("the S3 store closed the connection before its answer ended (\(bytes) body bytes in)"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(S3Error.unreachable("the connection to the S3 store failed: \(error)"), context: context)
    }
}
