import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// An access key and its secret, and a session token for temporary credentials.
public struct S3Credentials: Sendable, Equatable {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for S3 requests in the Authorization header (AWS's "Authenticating
/// Requests: Using the Authorization Header"): a canonical request, a string to sign over its
/// hash, and an HMAC-SHA256 chain from the secret through the date, region and service.
public struct SigV4Signer: Sendable {
    public let credentials: S3Credentials
    public let region: String
    public let service: String

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Every step, so tests can compare each with AWS's published examples.
    public struct Signature: Sendable {
        public let canonicalRequest: String
        public let stringToSign: String
        public let signature: String
        public let authorization: String
    }

    /// Signs a request. `path` is the object's path as sent (already URI-encoded, see
    /// `uriEncode`), `query` the decoded parameters, `headers` every header to sign (host and
    /// x-amz-date among them), `payloadHash` the body's SHA-256 in hex (or UNSIGNED-PAYLOAD),
    /// `timestamp` x-amz-date's value, `yyyyMMdd'T'HHmmss'Z'`.
    public func sign(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                     payloadHash: String, timestamp: String) -> Signature {
        let canonicalQuery = query
            .map { (Self.uriEncode($0.0, encodeSlash: true), Self.uriEncode($0.1, encodeSlash: true)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        // Header names lowercased and sorted; values trimmed, inner runs of spaces made one.
        let canonicalHeaders = headers
            .map { ($0.0.lowercased(), Self.collapseSpaces($0.1)) }
            .sorted { $0.0 < $1.0 }
        let signedHeaders = canonicalHeaders.map(\.0).joined(separator: ";")
        let canonicalRequest = [method, path, canonicalQuery,
                                canonicalHeaders.map { "\($0.0):\($0.1)\n" }.joined(),
                                signedHeaders, payloadHash].joined(separator: "\n")
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope,
                            Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
                         authorization: authorization)
    }

    /// AWS's URI encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) as they are, every
    /// other byte as %XY (uppercase hex); `/` kept in object paths, encoded in query values.
    public static func uriEncode(_ text: String, encodeSlash: Bool) -> String {
        percentEncoded(text) { isUnreserved($0) || ($0 == 0x2F && !encodeSlash) }
    }

    /// x-amz-date's format for a moment (UTC).
    public static func timestamp(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { String(n).leftPad(2) }
        return String(parts.tm_year + 1900) + two(parts.tm_mon + 1) + two(parts.tm_mday) + "T"
            + two(parts.tm_hour) + two(parts.tm_min) + two(parts.tm_sec) + "Z"
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    private static func collapseSpaces(_ value: String) -> String {
        var out = "", space = false
        for c in value.unicodeScalars {
            if c == " " || c == "\t" { space = true; continue }
            if space && !out.isEmpty { out += " " }
            space = false
            out.unicodeScalars.append(c)
        }
        return out
    }
}
