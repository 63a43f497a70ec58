import Foundation
import Hummingbird
import KitbagCore
import KitbagTestSupport
import Logging
import Testing

@testable import KitbagHTTP

private let quiet: Logger = {
    var l = Logger(label: "kitbag.tests.http")
    l.logLevel = .critical
    return l
}()

/// An OAuth-style source: the token changes on every renewal; renewals after the first failing token coalesce.
private actor RotatingToken: CredentialSource {
    private(set) var token = "access-token-0001"
    private(set) var renewals = 0
    let canRenew: Bool

    init(canRenew: Bool) { self.canRenew = canRenew }

    func headers() async throws -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    func renew(after failed: [(String, String)]) async throws -> Bool {
        guard canRenew else { return false }
        if failed.first?.1 != "Bearer \(token)" { return true }
        renewals += 1
        token = "access-token-\(String(format: "%04d", renewals + 1))"
        return true
    }

    nonisolated func currentSecrets() -> [String] { ["access-token-0001", "access-token-0002", "access-token-0003"] }
}

@Suite struct UploadAndRenewalTests {
    private func client(port: Int, credentials: (any CredentialSource)? = nil) -> APIClient {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(5)
        retry.maxDelay = .milliseconds(20)
        return APIClient(
            endpoint: ServiceEndpoint(
                service: "kona", baseURL: URL(string: "http://127.0.0.1:\(port)")!, credentialHint: "set KONA_ACCESS_TOKEN",
                credentials: credentials),
            rateLimit: nil, retry: retry, logger: quiet)
    }

    @Test func aFileIsStreamedAsOneMultipartPartWithItsExactBytesAndLength() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-upload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { Scratch.remove(dir) }
        // 3 MiB + 17 bytes: several 256 KiB chunks and a short last one.
        var bytes = [UInt8](repeating: 0, count: (3 << 20) + 17)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        let file = dir.appendingPathComponent("report \"Q1\".bin")
        try Data(bytes).write(to: file)

        let seen = Observed<(contentType: String, length: Int, body: [UInt8])>(("", 0, []))
        try await withHummingbird({ router in
            router.post("/k/v1/file.json") { request, _ in
                let type = request.headers[.contentType] ?? ""
                let length = request.headers[.contentLength].flatMap(Int.init) ?? -1
                var buffer = try await request.body.collect(upTo: 16 << 20)
                let body = buffer.readBytes(length: buffer.readableBytes) ?? []
                seen.update { $0 = (type, length, body) }
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"fileKey":"k1"}"#)))
            }
        }) { port in
            let client = self.client(port: port)
            let answer = try await client.json(
                APIRequest(
                    method: .POST, path: "/k/v1/file.json",
                    multipartFile: MultipartFile(field: "file", fileName: file.lastPathComponent, contentType: "application/pdf", file: file),
                    route: "POST file.json"))
            #expect(answer["fileKey"]?.stringValue == "k1")
        }
        let got = seen.current
        #expect(got.contentType.hasPrefix("multipart/form-data; boundary="))
        let boundary = String(got.contentType.dropFirst("multipart/form-data; boundary=".count))
        #expect(got.length == got.body.count, "Content-Length is the exact streamed size")
        let head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report \\\"Q1\\\".bin\"\r\nContent-Type: application/pdf\r\n\r\n"
        let tail = "\r\n--\(boundary)--\r\n"
        #expect(Array(got.body.prefix(head.utf8.count)) == Array(head.utf8))
        #expect(Array(got.body.suffix(tail.utf8.count)) == Array(tail.utf8))
        let payload = Array(got.body.dropFirst(head.utf8.count).dropLast(tail.utf8.count))
        #expect(payload.count == bytes.count)
        #expect(payload == bytes)
    }

    @Test func aMissingUploadFileIsOneClearErrorBeforeAnyRequest() async throws {
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.post("/up") { _, _ in
                hits.update { $0 += 1 }
                return "{}"
            }
        }) { port in
            let missing = URL(fileURLWithPath: "/nonexistent/kitbag/\(UUID().uuidString).bin")
            var message = ""
            do {
                _ = try await self.client(port: port).send(
                    APIRequest(method: .POST, path: "/up", multipartFile: MultipartFile(field: "file", fileName: "x", contentType: "", file: missing)))
            } catch {
                message = "\(error)"
            }
            #expect(message.hasPrefix("kona: cannot read /nonexistent/kitbag/"))
        }
        #expect(hits.current == 0)
    }

    @Test func aRejectedTokenIsRenewedOnceAndTheRequestRetriedWithTheNewOne() async throws {
        let tokens = RotatingToken(canRenew: true)
        let received = Observed<[String]>([])
        try await withHummingbird({ router in
            router.get("/api/spaces") { request, _ in
                let auth = request.headers[.authorization] ?? ""
                received.update { $0.append(auth) }
                if auth == "Bearer access-token-0001" {
                    return Response(status: .unauthorized, body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"error":"token expired"}"#)))
                }
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"spaces":[]}"#)))
            }
        }) { port in
            let client = self.client(port: port, credentials: tokens)
            let answer = try await client.json(APIRequest(method: .GET, path: "/api/spaces", route: "GET /spaces"))
            #expect(answer["spaces"]?.arrayValue?.isEmpty == true)
            #expect(await client.stats().perRoute["GET /spaces"] == 2)
        }
        #expect(received.current == ["Bearer access-token-0001", "Bearer access-token-0002"])
        #expect(await tokens.renewals == 1)
    }

    @Test func aTokenThatCannotBeRenewedFailsAsUnauthorizedWithoutShowingIt() async throws {
        let tokens = RotatingToken(canRenew: false)
        try await withHummingbird({ router in
            router.get("/api/spaces") { _, _ in
                Response(
                    status: .unauthorized,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"error":"token access-token-0001 expired"}"#)))
            }
        }) { port in
            var message = ""
            do {
                _ = try await self.client(port: port, credentials: tokens).json(
                    APIRequest(method: .GET, path: "/api/spaces", route: "GET /spaces"))
            } catch {
                message = "\(error)"
            }
            #expect(message.hasPrefix("kona: 401 Unauthorized on GET /spaces"), "\(message)")
            #expect(message.contains("KONA_ACCESS_TOKEN"))
            #expect(!message.contains("access-token-0001"), "the token leaked: \(message)")
        }
    }
}
