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

/// Long timeouts unless a test sets its own: a loaded machine can starve the test process for tens of seconds, and
/// a timed-out attempt would be retried and change the attempt counts these tests assert.
let patientTimeouts = HTTPTimeouts(request: .seconds(600), idle: .seconds(300))

private func client(port: Int, maxAttempts: Int = 4, timeouts: HTTPTimeouts = patientTimeouts) -> APIClient {
    var policy = RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(40))
    policy.connectRetryDelay = .milliseconds(10)
    let endpoint = ServiceEndpoint(
        service: "kinopio", baseURL: URL(string: "http://127.0.0.1:\(port)")!, headers: [("Authorization", "k3y-s3cret")])
    return APIClient(endpoint: endpoint, rateLimit: nil, retry: policy, logger: quietLogger, timeouts: timeouts)
}

/// The failure of a JSON request to `/space/s1`, or nil (recorded as an issue) if it succeeded or threw something else.
private func jsonFailure(_ client: APIClient, route: String) async -> HTTPFailure? {
    do {
        _ = try await client.json(APIRequest(method: .GET, path: "/space/s1", route: route))
        Issue.record("expected a failure")
    } catch let failure as HTTPFailure {
        return failure
    } catch {
        Issue.record("expected HTTPFailure, got \(error)")
    }
    return nil
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

    @Test("a 200 answer that is an HTML page fails once with invalidBody saying it is HTML, naming the route")
    func htmlWith200() async throws {
        let page = "<!DOCTYPE html>\n<html><head><title>Sign in to the Wi-Fi</title></head>\n<body><form action=\"/login\"></form></body></html>\n"
        let server = try RawServer { _, fd in
            RawServer.write(
                fd,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(page.utf8.count)\r\n"
                    + "Connection: close\r\n\r\n" + page)
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let error = await jsonFailure(client, route: "GET /space/:id")
        let size = ByteCount.format(Int64(page.utf8.count))
        #expect(error == .invalidBody(service: "kinopio", route: "GET /space/:id", reason: "an HTML page, not JSON (\(size), Content-Type text/html)"))
        #expect(error?.description == "kinopio: GET /space/:id answered with an unreadable body (an HTML page, not JSON (\(size), Content-Type text/html)) — check --base-url points at the kinopio API")
        #expect(server.connectionCount == 1)
    }

    @Test("10 MB of garbage with a JSON Content-Type fails once with a one-line error that quotes none of it")
    func tenMegabytesOfGarbage() async throws {
        var garbage = [UInt8](repeating: 0, count: 10 << 20)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in garbage.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            garbage[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        garbage[0] = 0x07  // not whitespace, not '<': plain garbage from the first byte
        let server = try RawServer { [garbage] _, fd in
            guard RawServer.write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(garbage.count)\r\nConnection: close\r\n\r\n") else { return }
            RawServer.write(fd, garbage)
        }
        defer { server.stop() }
        let client = client(port: server.port)
        let error = await jsonFailure(client, route: "GET /space/:id")
        #expect(error == .invalidBody(service: "kinopio", route: "GET /space/:id", reason: "invalid JSON at byte 0: unexpected character"))
        let text = error?.description ?? ""
        #expect(!text.contains("\n") && text.utf8.count < 200, "\(text)")
        #expect(!text.contains("k3y-s3cret"))
        #expect(server.connectionCount == 1)
        #expect(await client.stats().bytesReceived == Int64(garbage.count))
    }

    @Test("a JSON body cut mid-way under an honest Content-Length fails once, saying it was cut short")
    func jsonCutMidway() async throws {
        let cards = (0..<2000).map { #"{"id":"card-\#($0)","name":"Card \#($0)","x":\#($0 * 7)}"# }
        let full = #"{"cards":["# + cards.joined(separator: ",") + "]}"
        let cut = String(full.prefix(full.utf8.count * 6 / 10))
        let server = try RawServer { _, fd in answer(fd, body: cut) }
        defer { server.stop() }
        let client = client(port: server.port)
        let error = await jsonFailure(client, route: "GET /space/:id")
        guard case .invalidBody(let service, let route, let reason) = error else {
            Issue.record("expected invalidBody, got \(String(describing: error))")
            return
        }
        #expect(service == "kinopio" && route == "GET /space/:id")
        #expect(reason.hasSuffix("the body stops mid-value after \(cut.utf8.count) bytes, so it was cut short"), "\(reason)")
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
