import Foundation
import Hummingbird
import KitbagCore
import Logging
import Testing

@testable import KitbagHTTP

private let secret = "sk_live_TOPSECRET_4242"

private func makeClient(
    port: Int, rateLimit: RateLimit? = nil, retry: RetryPolicy = fastRetry(), timeouts: HTTPTimeouts = patientTimeouts,
    logger: Logger = quietLogger, maxBodySize: Int = 256 << 20, clock: any GateClock = SystemGateClock()
) -> APIClient {
    let endpoint = ServiceEndpoint(
        service: "kinopio", baseURL: URL(string: "http://127.0.0.1:\(port)")!,
        headers: [("Authorization", secret)], secrets: [secret],
        credentialHint: "set KINOPIO_API_KEY to a valid API key")
    return APIClient(
        endpoint: endpoint, rateLimit: rateLimit, retry: retry, logger: logger, maxBodySize: maxBodySize,
        timeouts: timeouts, clock: clock)
}

private func fastRetry(maxAttempts: Int = 6, penalty: Duration? = nil, max429Waits: Int = 6) -> RetryPolicy {
    var policy = RetryPolicy(
        maxAttempts: maxAttempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(40), penaltyAfter429: penalty,
        max429Waits: max429Waits)
    policy.connectRetryDelay = .milliseconds(10)
    return policy
}

private func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
}

private func failure(_ body: () async throws -> Void) async -> HTTPFailure? {
    do {
        try await body()
        return nil
    } catch let f as HTTPFailure {
        return f
    } catch {
        Issue.record("expected HTTPFailure, got \(error)")
        return nil
    }
}

@Suite("APIClient over real sockets")
struct APIClientTests {
    @Test("a 200 JSON answer is parsed, the auth header is sent and the attempt is counted")
    func successJSON() async throws {
        let auth = Observed<String?>(nil)
        try await withHummingbird({ router in
            router.get("/user") { request, _ in
                auth.update { $0 = request.headers[.authorization] }
                return json(#"{"id":"u1","name":"Ada","n":[1,2.50]}"#)
            }
        }) { port in
            let client = makeClient(port: port)
            let value = try await client.json(APIRequest(method: .GET, path: "/user", route: "GET /user"))
            #expect(value["name"]?.stringValue == "Ada")
            #expect(value.serializedString() == #"{"id":"u1","name":"Ada","n":[1,2.50]}"#)
            #expect(auth.current == secret)
            let stats = await client.stats()
            #expect(stats.requests == 1 && stats.retries == 0 && stats.perRoute == ["GET /user": 1])
            #expect(stats.bytesReceived == Int64(#"{"id":"u1","name":"Ada","n":[1,2.50]}"#.utf8.count))
        }
    }

    @Test("a JSON body is sent compact with Content-Type application/json, query items escaped")
    func postsCompactJSON() async throws {
        let seen = Observed<(String?, String, String?)>((nil, "", nil))
        try await withHummingbird({ router in
            router.post("/card/multiple") { request, context in
                let body = try await request.body.collect(upTo: 1 << 20)
                let query = request.uri.query
                seen.update { $0 = (request.headers[.contentType], String(buffer: body), query) }
                return json("[]", status: .created)
            }
        }) { port in
            let client = makeClient(port: port)
            let body: JSONValue = .array([["spaceId": "s 1", "name": "a/b"]])
            let value = try await client.json(
                APIRequest(
                    method: .POST, path: "/card/multiple", query: [("ids", "a,b&c")], body: body,
                    route: "POST /card/multiple"))
            #expect(value == .array([]))
            #expect(seen.current.0 == "application/json")
            #expect(seen.current.1 == #"[{"spaceId":"s 1","name":"a/b"}]"#)
            #expect(seen.current.2 == "ids=a%2Cb%26c")
        }
    }

    @Test("a 429 with Retry-After pauses the whole client, then the request succeeds (on a hand-moved clock)")
    func retryAfterPausesWholeClient() async throws {
        let clock = ManualClock()
        let limitedHits = Observed<[ContinuousClock.Instant]>([])
        let otherHits = Observed<[ContinuousClock.Instant]>([])
        try await withHummingbird({ router in
            router.get("/limited") { _, _ in
                let first = limitedHits.update { hits -> Bool in
                    hits.append(clock.now)
                    return hits.count == 1
                }
                return first ? json("{}", status: .tooManyRequests, headers: [.retryAfter: "1"]) : json(#"{"ok":true}"#)
            }
            router.get("/other") { _, _ in
                otherHits.update { $0.append(clock.now) }
                return json(#"{"other":true}"#)
            }
        }) { port in
            let client = makeClient(port: port, retry: fastRetry(penalty: .seconds(30)), clock: clock)
            let running = Observed(2)
            async let limited = { () async throws -> JSONValue in
                defer { running.update { $0 -= 1 } }
                return try await client.json(APIRequest(method: .GET, path: "/limited", route: "GET /limited"))
            }()
            // Start the second request only once the client has received the 429 (not merely once the server sent it).
            while await client.stats().rateLimited == 0 { try await Task.sleep(for: .milliseconds(5)) }
            async let other = { () async throws -> JSONValue in
                defer { running.update { $0 -= 1 } }
                return try await client.json(APIRequest(method: .GET, path: "/other", route: "GET /other"))
            }()
            try await driveClock(clock, for: client) { running.current }
            #expect(try await limited["ok"] == .bool(true))
            #expect(try await other["other"] == .bool(true))
            let hits = limitedHits.current
            try #require(hits.count == 2)
            let rejectedAt = hits[0]
            // Retry-After (1 s) wins over the 30 s penalty, and applies to the other request too.
            #expect(hits[1] - rejectedAt >= .milliseconds(950))
            #expect(hits[1] - rejectedAt < .seconds(25))
            #expect(try #require(otherHits.current.first) - rejectedAt >= .milliseconds(950))
            let stats = await client.stats()
            #expect(stats.rateLimited == 1)
            #expect(stats.perRoute["GET /limited"] == 2)
        }
    }

    @Test("a 429 storm longer than max429Waits fails with rateLimited")
    func rateLimitStorm() async throws {
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.get("/space/{id}") { _, _ in
                hits.update { $0 += 1 }
                return json(#"{"message":"slow down"}"#, status: .tooManyRequests)
            }
        }) { port in
            let client = makeClient(port: port, retry: fastRetry(penalty: .milliseconds(20), max429Waits: 3))
            let error = await failure {
                _ = try await client.send(APIRequest(method: .GET, path: "/space/abc", route: "GET /space/:id"))
            }
            #expect(error == .rateLimited(service: "kinopio", route: "GET /space/:id", attempts: 4))
            #expect(error?.description.contains("GET /space/:id still rate limited (429) after 4 attempts") == true)
            #expect(hits.current == 4)
            #expect(await client.stats().rateLimited == 4)
        }
    }

    @Test("503 twice then 200 succeeds with 3 attempts counted")
    func serviceUnavailableThenSuccess() async throws {
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.get("/flaky") { _, _ in
                let n = hits.update { n -> Int in
                    n += 1
                    return n
                }
                return n <= 2 ? json("{}", status: .serviceUnavailable) : json(#"{"n":3}"#)
            }
        }) { port in
            let client = makeClient(port: port)
            let value = try await client.json(APIRequest(method: .GET, path: "/flaky", route: "GET /flaky"))
            #expect(value["n"]?.intValue == 3)
            #expect(await client.requestCounts() == ["GET /flaky": 3])
            let stats = await client.stats()
            #expect(stats.retries == 2 && stats.requests == 3)
        }
    }

    @Test("500 forever fails with serverError after maxAttempts, naming the route")
    func serverErrorForever() async throws {
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.get("/space/{id}") { _, _ in
                hits.update { $0 += 1 }
                return json(#"{"message":"database on fire"}"#, status: .internalServerError)
            }
        }) { port in
            let client = makeClient(port: port, retry: fastRetry(maxAttempts: 4))
            let error = await failure {
                _ = try await client.send(APIRequest(method: .GET, path: "/space/xyz", route: "GET /space/:id"))
            }
            guard case .serverError(_, let route, let status, let attempts, let message) = error else {
                Issue.record("expected serverError, got \(String(describing: error))")
                return
            }
            #expect(route == "GET /space/:id" && status == 500 && attempts == 4 && message == "database on fire")
            #expect(
                error?.description
                    == "kinopio: GET /space/:id failed after 4 attempts (last: 500 Internal Server Error, database on fire)"
                    + " — the service is having trouble; try again later")
            #expect(hits.current == 4)
        }
    }

    @Test("401, 403, 404 and 400 are not retried; 401 carries the service message and the credential hint")
    func clientErrorsAreNotRetried() async throws {
        let hits = Observed<[String: Int]>([:])
        try await withHummingbird({ router in
            for (path, status) in [
                ("/u401", HTTPResponse.Status.unauthorized), ("/u403", .forbidden), ("/u404", .notFound),
                ("/u400", .badRequest),
            ] {
                router.get(RouterPath(stringLiteral: path)) { _, _ in
                    hits.update { $0[path, default: 0] += 1 }
                    return json(#"{"message":"nope \#(path)"}"#, status: status)
                }
            }
        }) { port in
            let client = makeClient(port: port)
            let unauthorized = await failure {
                _ = try await client.send(APIRequest(method: .GET, path: "/u401", route: "GET /user"))
            }
            #expect(
                unauthorized?.description
                    == "kinopio: 401 Unauthorized on GET /user: nope /u401 — set KINOPIO_API_KEY to a valid API key")
            #expect(unauthorized?.isUnauthorized == true)
            let forbidden = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/u403")) }
            #expect(forbidden?.isForbidden == true)
            let missing = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/u404")) }
            #expect(missing?.isNotFound == true)
            #expect(missing?.description.hasPrefix("kinopio: 404 Not Found on GET /u404: nope /u404 — ") == true)
            let bad = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/u400")) }
            #expect(bad == .clientError(service: "kinopio", route: "GET /u400", status: 400, message: "nope /u400"))
            #expect(hits.current == ["/u401": 1, "/u403": 1, "/u404": 1, "/u400": 1])
            #expect(await client.stats().retries == 0)
        }
    }

    @Test("invalid JSON fails with invalidBody naming the route")
    func invalidJSON() async throws {
        try await withHummingbird({ router in
            router.get("/broken") { _, _ in json(#"{"a": tru"#) }
        }) { port in
            let client = makeClient(port: port)
            let error = await failure {
                _ = try await client.json(APIRequest(method: .GET, path: "/broken", route: "GET /broken"))
            }
            guard case .invalidBody(let service, let route, _) = error else {
                Issue.record("expected invalidBody, got \(String(describing: error))")
                return
            }
            #expect(service == "kinopio" && route == "GET /broken")
            #expect(error?.description.hasPrefix("kinopio: GET /broken answered with an unreadable body (invalid JSON") == true)
        }
    }

    @Test("an empty 204 answer reads as JSON null")
    func emptyBodyIsNull() async throws {
        try await withHummingbird({ router in
            router.delete("/card") { _, _ in Response(status: .noContent) }
        }) { port in
            let client = makeClient(port: port)
            let value = try await client.json(APIRequest(method: .DELETE, path: "/card", body: ["id": "c1"]))
            #expect(value == .null)
        }
    }

    @Test("a body larger than maxBodySize fails with bodyTooLarge after one attempt")
    func bodyTooLarge() async throws {
        try await withHummingbird({ router in
            router.get("/big") { _, _ in json("[" + String(repeating: "1,", count: 5000) + "1]") }
        }) { port in
            let client = makeClient(port: port, maxBodySize: 1000)
            let error = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/big", route: "GET /big")) }
            #expect(error == .bodyTooLarge(service: "kinopio", route: "GET /big", limit: 1000))
            #expect(await client.stats().requests == 1)
        }
    }

    @Test("a refused connection fails quickly with unreachable naming host and port")
    func connectionRefused() async throws {
        let port = try closedPort()
        let client = makeClient(port: port)
        let error = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/user", route: "GET /user")) }
        #expect(error == .unreachable(service: "kinopio", host: "127.0.0.1:\(port)", reason: "connection refused"))
        #expect(
            error?.description
                == "kinopio: cannot connect to 127.0.0.1:\(port) (connection refused) — check --base-url and the network")
        #expect(await client.stats().requests == 3)
    }

    @Test("an unresolvable host fails with unreachable (host name not found)")
    func unknownHost() async throws {
        let endpoint = ServiceEndpoint(
            service: "kinopio", baseURL: URL(string: "http://no-such-host.invalid:8080")!, headers: [], secrets: [])
        let client = APIClient(endpoint: endpoint, rateLimit: nil, retry: fastRetry(), logger: quietLogger)
        let error = await failure { _ = try await client.send(APIRequest(method: .GET, path: "/user")) }
        #expect(error == .unreachable(service: "kinopio", host: "no-such-host.invalid:8080", reason: "host name not found"))
    }

    @Test("the secret never appears in errors or logs, even when the server echoes it")
    func secretsAreRedacted() async throws {
        let (logger, lines) = capturingLogger()
        try await withHummingbird({ router in
            router.get("/user") { request, _ in
                json(
                    #"{"message":"bad key \#(request.headers[.authorization] ?? "")"}"#, status: .unauthorized)
            }
            router.get("/echo") { request, _ in
                json(#"{"error":"no such thing for \#(request.uri.query ?? "")"}"#, status: .notFound)
            }
            router.get("/oops") { _, _ in json(#"{"message":"boom"}"#, status: .badGateway) }
        }) { port in
            let client = makeClient(port: port, logger: logger)
            var descriptions: [String] = []
            for request in [
                APIRequest(method: .GET, path: "/user", route: "GET /user"),
                APIRequest(method: .GET, path: "/echo", query: [("apiKey", secret)], route: "GET /echo"),
                APIRequest(method: .GET, path: "/oops", query: [("apiKey", secret)], route: "GET /oops"),
            ] {
                if let error = await failure({ _ = try await client.send(request) }) {
                    descriptions.append(error.description)
                    descriptions.append(String(reflecting: error))
                }
            }
            let refused = makeClient(port: try closedPort(), logger: logger)
            if let error = await failure({
                _ = try await refused.send(APIRequest(method: .GET, path: "/user", query: [("apiKey", secret)]))
            }) {
                descriptions.append(error.description)
            }
            #expect(descriptions.count == 7)
            #expect(descriptions[0].contains("bad key [redacted]"))
            #expect(!lines.current.isEmpty)
            for text in descriptions + lines.current {
                #expect(!text.contains(secret), "leaked: \(text)")
                #expect(!text.contains("TOPSECRET"), "leaked: \(text)")
            }
        }
    }

    @Test("a burst of 30 requests under RateLimit.kinopio never puts more than 5 in any 1-second window at the server (on a hand-moved clock)")
    func kinopioRateLimitWindow() async throws {
        let clock = ManualClock()
        let arrivals = Observed<[ContinuousClock.Instant]>([])
        try await withHummingbird({ router in
            router.get("/card/{id}") { _, _ in
                arrivals.update { $0.append(clock.now) }
                return json("{}")
            }
        }) { port in
            // `RateLimit.kinopio` (Sources/Kinopio): 5 requests/s, one at a time, at most 5 in any window.
            let client = makeClient(port: port, rateLimit: RateLimit(requestsPerSecond: 5, burst: 1, maxPerWindow: 5), clock: clock)
            let running = Observed(30)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<30 {
                    group.addTask {
                        defer { running.update { $0 -= 1 } }
                        _ = try await client.json(APIRequest(method: .GET, path: "/card/c\(i)", route: "GET /card/:id"))
                    }
                }
                try await driveClock(clock, for: client) { running.current }
                try await group.waitForAll()
            }
            let times = arrivals.current.sorted()
            #expect(times.count == 30)
            var worst = Duration.seconds(1000)
            for i in 0..<(times.count - 5) {
                worst = min(worst, times[i + 5] - times[i])
            }
            // Any 6 consecutive arrivals span at least one second, so no 1 s window holds more than 5.
            #expect(worst >= .seconds(1), "6 requests within \(worst)")
            #expect(await client.requestCounts() == ["GET /card/:id": 30])
        }
    }

    @Test("maxConcurrent caps requests in flight")
    func concurrencyCap() async throws {
        let inFlight = Observed((now: 0, peak: 0))
        try await withHummingbird({ router in
            router.get("/slow") { _, _ in
                inFlight.update {
                    $0.now += 1
                    $0.peak = max($0.peak, $0.now)
                }
                try await Task.sleep(for: .milliseconds(60))
                inFlight.update { $0.now -= 1 }
                return json("{}")
            }
        }) { port in
            let limit = RateLimit(requestsPerSecond: 1000, burst: 100, maxConcurrent: 2)
            let client = makeClient(port: port, rateLimit: limit)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { _ = try await client.send(APIRequest(method: .GET, path: "/slow")) }
                }
                try await group.waitForAll()
            }
            #expect(inFlight.current.peak <= 2)
            #expect(inFlight.current.peak >= 1)
            #expect(await client.stats().requests == 8)
        }
    }

    @Test("a streaming download delivers every byte in order")
    func streamingDownload() async throws {
        let size = 3 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        try await withHummingbird({ router in
            router.get("/file") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/octet-stream"],
                    body: ResponseBody { writer in
                        var offset = 0
                        while offset < size {
                            let end = min(size, offset + 100_000)
                            try await writer.write(ByteBuffer(bytes: payload[offset..<end]))
                            offset = end
                        }
                        try await writer.finish(nil)
                    })
            }
        }) { port in
            let client = makeClient(port: port)
            let received = Observed<[UInt8]>([])
            let chunks = Observed(0)
            let count = try await client.download(APIRequest(method: .GET, path: "/file", route: "GET /file")) { buffer in
                received.update { $0.append(contentsOf: buffer.readableBytesView) }
                chunks.update { $0 += 1 }
            }
            #expect(count == Int64(size))
            #expect(received.current == payload)
            #expect(chunks.current > 1)
            #expect(await client.stats().bytesReceived == Int64(size))
        }
    }

    @Test("a download that fails with 404 is not retried and reports notFound")
    func downloadNotFound() async throws {
        try await withHummingbird({ router in
            router.get("/file") { _, _ in json(#"{"message":"gone"}"#, status: .notFound) }
        }) { port in
            let client = makeClient(port: port)
            let error = await failure {
                _ = try await client.download(APIRequest(method: .GET, path: "/file", route: "GET /file")) { _ in
                    Issue.record("sink must not see an error body")
                }
            }
            #expect(error == .notFound(service: "kinopio", route: "GET /file", status: 404, message: "gone"))
        }
    }

    @Test("Retry-After is read as seconds or as an HTTP date")
    func retryAfterParsing() {
        #expect(APIClient.retryAfter([("Retry-After", "7")]) == .seconds(7))
        #expect(APIClient.retryAfter([("retry-after", "0")]) == .zero)
        let future = Date().addingTimeInterval(120)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let parsed = APIClient.retryAfter([("Retry-After", formatter.string(from: future))])
        #expect(parsed.map { $0 > .seconds(100) && $0 <= .seconds(121) } == true)
        #expect(APIClient.retryAfter([("Retry-After", "soon")]) == nil)
        #expect(APIClient.retryAfter([]) == nil)
    }

    @Test("header values of auth-like headers count as secrets")
    func authHeadersAreSecrets() {
        let endpoint = ServiceEndpoint(
            service: "kintone", baseURL: URL(string: "https://example.cybozu.com")!,
            headers: [("X-Cybozu-API-Token", "tok123,tok456"), ("Accept-Language", "en")])
        #expect(endpoint.secrets == ["tok123,tok456"])
    }
}
