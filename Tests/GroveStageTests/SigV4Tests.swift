import XCTest
@testable import GroveStage

/// AWS's published Signature V4 examples for S3 ("Examples: Signature Calculations in AWS
/// Signature Version 4", Authorization header, bucket examplebucket, 2013-05-24, us-east-1).
final class SigV4Tests: XCTestCase {
    let signer = SigV4Signer(credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE",
                                                        secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                             region: "us-east-1")
    let host = ("host", "examplebucket.s3.amazonaws.com")
    let date = ("x-amz-date", "20130524T000000Z")

    func testGetObjectExampleEveryStep() {
        let s = signer.sign(method: "GET", path: "/test.txt", query: [],
                            headers: [host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), date],
                            payloadHash: SigV4Signer.emptyPayloadHash, timestamp: "20130524T000000Z")
        XCTAssertEqual(s.canonicalRequest, """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        XCTAssertEqual(s.stringToSign, """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        XCTAssertEqual(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(s.authorization, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    func testPutObjectExampleEncodesTheKeyAndSignsThePayloadHash() {
        let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"  // "Welcome to Amazon S3."
        XCTAssertEqual(SigV4Signer.uriEncode("test$file.text", encodeSlash: false), "test%24file.text")
        let s = signer.sign(method: "PUT", path: "/" + SigV4Signer.uriEncode("test$file.text", encodeSlash: false), query: [],
                            headers: [host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), date,
                                      ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-content-sha256", payload)],
                            payloadHash: payload, timestamp: "20130524T000000Z")
        XCTAssertTrue(s.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"))
        XCTAssertEqual(s.stringToSign.split(separator: "\n").last, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d")
        XCTAssertEqual(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    func testQueryExamplesSortParametersAndKeepEmptyValues() {
        let headers = [host, ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), date]
        let lifecycle = signer.sign(method: "GET", path: "/", query: [("lifecycle", "")], headers: headers,
                                    payloadHash: SigV4Signer.emptyPayloadHash, timestamp: "20130524T000000Z")
        XCTAssertTrue(lifecycle.canonicalRequest.hasPrefix("GET\n/\nlifecycle=\nhost:"))
        XCTAssertEqual(lifecycle.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        // Given out of order: the canonical query sorts them.
        let list = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: headers,
                               payloadHash: SigV4Signer.emptyPayloadHash, timestamp: "20130524T000000Z")
        XCTAssertTrue(list.canonicalRequest.hasPrefix("GET\n/\nmax-keys=2&prefix=J\n"))
        XCTAssertEqual(list.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    func testURIEncodingAndTimestamps() {
        XCTAssertEqual(SigV4Signer.uriEncode("run 1/a+b~c_d-e.f", encodeSlash: false), "run%201/a%2Bb~c_d-e.f")
        XCTAssertEqual(SigV4Signer.uriEncode("a/b=c", encodeSlash: true), "a%2Fb%3Dc")
        XCTAssertEqual(SigV4Signer.uriEncode("é", encodeSlash: true), "%C3%A9")
        XCTAssertEqual(SigV4Signer.timestamp(epochSeconds: 1_369_353_600), "20130524T000000Z")
        XCTAssertEqual(SigV4Signer.timestamp(epochSeconds: 1_780_000_000), "20260528T202640Z")
    }

    func testXMLAnswersAreRead() {
        let error = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &quot;a&quot; &amp; more</Message></Error>"
        XCTAssertEqual(S3Client.xmlValue("Code", in: error), "NoSuchKey")
        XCTAssertEqual(S3Client.xmlValue("Message", in: error), "The key \"a\" & more")
        XCTAssertNil(S3Client.xmlValue("UploadId", in: error))
        XCTAssertEqual(S3Client.xmlEscape("\"e<t>ag&\""), "&quot;e&lt;t&gt;ag&amp;&quot;")
    }

    func testEndpointsAreCheckedWhenTheStageStarts() throws {
        let creds = S3Credentials(accessKey: "a", secretKey: "b")
        let store = try S3Store(endpoint: "http://127.0.0.1:8333/", bucket: "grove", region: "us-east-1", credentials: creds)
        XCTAssertEqual(store.host, "127.0.0.1")
        XCTAssertEqual(store.port, 8333)
        XCTAssertEqual(try S3Store(endpoint: "http://minio", bucket: "b", region: "r", credentials: creds).hostHeader, "minio")
        XCTAssertThrowsError(try S3Store(endpoint: "https://s3.amazonaws.com", bucket: "b", region: "r", credentials: creds))
        XCTAssertThrowsError(try S3Store(endpoint: "http://h:99999", bucket: "b", region: "r", credentials: creds))
        XCTAssertThrowsError(try S3Store(endpoint: "http://h/path", bucket: "b", region: "r", credentials: creds))
        XCTAssertThrowsError(try S3Store(endpoint: "http://h", bucket: "Bad_Bucket", region: "r", credentials: creds))
    }
}
