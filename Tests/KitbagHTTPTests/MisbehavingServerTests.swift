import Foundation
import KitbagCore
import Logging
import Testing

@testable import KitbagHTTP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

private func client(port: Int, maxAttempts: Int = 4, timeouts: HTTPTimeouts = HTTPTimeouts()) -> APIClient {
    var policy = RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(40))
    policy.connectRetryDelay = .milliseconds(10)
    let endpoint = ServiceEndpoint(
        service: "kinopio", baseURL: URL(string: "http://127.0.0.1:\(port)")!, headers: [("Authorization", "k3y-s3cret")])
    return APIClient(endpoint: endpoint, rateLimit: nil, retry: policy, logger: quietLogger, timeouts: timeouts)
}

private let fullBody = #"{"cards":[1,2,3],"name":"complete"}"#

private func answer(_ fd: Int32, body: String, contentLength: Int? = nil) {
    RawServer.write(
        fd,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(contentLength ?? body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body)
}

@Suite("APIClient against misbehaving servers")
struct MisbehavingServerTests {
    @Test("a body shorter than its Content-Length is retried, then the full answer is returned")
    func truncatedBodyRetried() async throws {
        let server = try RawServer { number, fd in
            if number == 1 {
                answer(fd, body: String(fullBody.prefix(10)), contentLength: fullBody.utf8.count)
            } else {
                answer(fd, body: fullBody)
            }
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let value = try await client.json(APIRequest(method: .GET, path: "/space/s1", route: "GET /space/:id"))
        #expect(value["name"]?.stringValue == "complete")
        #expect(server.connectionCount == 2)
        // Every attempt is counted; on a loaded machine a connect attempt may be retried before reaching the server.
        let counted = await client.requestCounts()
        #expect(counted.keys.sorted() == ["GET /space/:id"])
        #expect((counted["GET /space/:id"] ?? 0) >= 2)
    }

    @Test("a body that is always cut short fails with truncatedBody naming the route")
    func truncatedForever() async throws {
        let server = try RawServer { _, fd in answer(fd, body: "{\"a\":", contentLength: 500) }
        defer { server.stop() }
        let client = client(port: server.port, maxAttempts: 3)
        do {
            _ = try await client.send(APIRequest(method: .GET, path: "/space/s1", route: "GET /space/:id"))
            Issue.record("expected a failure")
        } catch let error as HTTPFailure {
            #expect(error == .truncatedBody(service: "kinopio", route: "GET /space/:id", attempts: 3))
            #expect(error.description.contains("GET /space/:id failed after 3 attempts"))
        }
        #expect(server.connectionCount == 3)
    }

    @Test("a connection reset before the answer is retried")
    func resetRetried() async throws {
        let server = try RawServer { number, fd in
            if number == 1 { RawServer.reset(fd) } else { answer(fd, body: fullBody) }
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let value = try await client.json(APIRequest(method: .GET, path: "/user", route: "GET /user"))
        #expect(value["name"]?.stringValue == "complete")
        #expect(server.connectionCount == 2)
        #expect(await client.stats().retries == 1)
    }

    @Test("a connection closed without an answer every time fails with connectionLost")
    func closedForever() async throws {
        let server = try RawServer { _, _ in }
        defer { server.stop() }
        let client = client(port: server.port, maxAttempts: 3)
        do {
            _ = try await client.send(APIRequest(method: .GET, path: "/user", route: "GET /user"))
            Issue.record("expected a failure")
        } catch let error as HTTPFailure {
            guard case .connectionLost(_, let route, let attempts, _) = error else {
                Issue.record("expected connectionLost, got \(error)")
                return
            }
            #expect(route == "GET /user" && attempts == 3)
        }
    }

    @Test("a slow-loris body trips the idle timeout instead of hanging")
    func slowLorisIdle() async throws {
        let server = try RawServer { _, fd in
            RawServer.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{")
            RawServer.waitForPeerClose(fd, seconds: 10)
        }
        defer { server.stop() }
        let client = client(
            port: server.port, maxAttempts: 2, timeouts: HTTPTimeouts(request: .seconds(30), idle: .milliseconds(300)))
        do {
            _ = try await client.send(APIRequest(method: .GET, path: "/space/s1", route: "GET /space/:id"))
            Issue.record("expected a failure")
        } catch let error as HTTPFailure {
            #expect(error == .timeout(service: "kinopio", route: "GET /space/:id", attempts: 2))
        }
    }

    @Test("a body trickled one byte at a time hits the per-attempt request timeout")
    func trickleHitsRequestTimeout() async throws {
        let server = try RawServer { _, fd in
            guard RawServer.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n") else { return }
            for _ in 0..<1000 {
                guard RawServer.write(fd, " ") else { return }
                usleep(50_000)
            }
        }
        defer { server.stop() }
        let client = client(
            port: server.port, maxAttempts: 1, timeouts: HTTPTimeouts(request: .milliseconds(700), idle: .seconds(5)))
        do {
            _ = try await client.send(APIRequest(method: .GET, path: "/slow", route: "GET /slow"))
            Issue.record("expected a failure")
        } catch let error as HTTPFailure {
            #expect(error == .timeout(service: "kinopio", route: "GET /slow", attempts: 1))
        }
    }

    @Test("a download cut short before the sink saw anything is retried from scratch")
    func downloadRetriedBeforeDelivery() async throws {
        let body = String(repeating: "x", count: 5000)
        let server = try RawServer { number, fd in
            if number == 1 {
                RawServer.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n")
                RawServer.reset(fd)
            } else {
                answer(fd, body: body)
            }
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let received = Observed<[UInt8]>([])
        let count = try await client.download(APIRequest(method: .GET, path: "/file", route: "GET /file")) { buffer in
            received.update { $0.append(contentsOf: buffer.readableBytesView) }
        }
        #expect(count == 5000)
        #expect(received.current == Array(body.utf8))
        #expect(server.connectionCount == 2)
    }

    @Test("a download that breaks after bytes reached the sink fails clearly and is not retried")
    func downloadInterrupted() async throws {
        let server = try RawServer { _, fd in
            RawServer.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
            RawServer.write(fd, [UInt8](repeating: 65, count: 4000))
            usleep(100_000)
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let delivered = Observed(0)
        do {
            _ = try await client.download(APIRequest(method: .GET, path: "/file", route: "GET /file")) { buffer in
                delivered.update { $0 += buffer.readableBytes }
            }
            Issue.record("expected a failure")
        } catch let error as HTTPFailure {
            guard case .downloadInterrupted(_, let route, let bytes, _) = error else {
                Issue.record("expected downloadInterrupted, got \(error)")
                return
            }
            #expect(route == "GET /file")
            #expect(bytes == Int64(delivered.current) && bytes > 0)
            #expect(error.description.contains("cannot be resumed"))
        }
        #expect(server.connectionCount == 1)
    }

    @Test("an error thrown by the sink reaches the caller unchanged")
    func sinkErrorPropagates() async throws {
        struct DiskFull: Error {}
        let server = try RawServer { _, fd in answer(fd, body: fullBody) }
        defer { server.stop() }
        let client = client(port: server.port)
        await #expect(throws: DiskFull.self) {
            _ = try await client.download(APIRequest(method: .GET, path: "/file")) { _ in throw DiskFull() }
        }
        #expect(server.connectionCount == 1)
    }
}
