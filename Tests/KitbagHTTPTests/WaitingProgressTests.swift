import Foundation
import Hummingbird
import Kinopio
import KitbagCore
import Logging
import Testing

@testable import KitbagHTTP

@Suite("The progress line says why kitbag waits")
struct WaitingProgressTests {
    @Test("a 429 pause replaces the ETA with 'rate-limited by the server, waiting N s' until the retry (on a hand-moved clock)")
    func rateLimitPauseIsShown() async throws {
        let clock = ManualClock()
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.get("/space") { _, _ in
                let n = hits.update { h -> Int in
                    h += 1
                    return h
                }
                let status: HTTPResponse.Status = n == 1 ? .tooManyRequests : .ok
                var fields: HTTPFields = [.contentType: "application/json"]
                if n == 1 { fields[.retryAfter] = "2" }
                return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
            }
        }) { port in
            let progress = ProgressReporter(interactive: false)
            progress.beginStage("spaces", total: 10)
            progress.advance(items: 1)
            let client = APIClient(
                endpoint: ServiceEndpoint(
                    service: "kinopio", baseURL: URL(string: "http://127.0.0.1:\(port)")!, headers: [], secrets: [],
                    credentialHint: "set KINOPIO_API_KEY"),
                rateLimit: nil, retry: RetryPolicy(penaltyAfter429: .seconds(30)), logger: quietLogger, progress: progress,
                clock: clock)
            #expect(progress.statusLine?.contains("ETA") == true, "\(progress.statusLine ?? "")")
            let running = Observed(1)
            async let answer = { () async throws -> JSONValue in
                defer { running.update { $0 -= 1 } }
                return try await client.json(APIRequest(method: .GET, path: "/space", route: "GET /space"))
            }()
            while await client.stats().rateLimited == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let during = try #require(progress.statusLine)
            #expect(during.contains("rate-limited by the server, waiting 2 s") || during.contains("waiting 1 s"), "\(during)")
            #expect(!during.contains("ETA"), "no stale ETA while waiting: \(during)")
            try await driveClock(clock, for: client) { running.current }
            #expect(hits.current == 2)
            #expect(clock.elapsed >= .seconds(2), "the retry waited for Retry-After: \(clock.elapsed)")
            _ = try await answer
            let after = try #require(progress.statusLine)
            #expect(!after.contains("waiting"), "the line resumes after the pause: \(after)")
            #expect(after.contains("2 req"), "\(after)")
            progress.finish()
        }
    }

    @Test("a pacing wait of a second or more says so on the line ('keeping to N requests/s'), then the line resumes")
    func longPacingWaitIsShown() async throws {
        let clock = ManualClock()
        let hits = Observed(0)
        try await withHummingbird({ router in
            router.get("/space") { _, _ in
                hits.update { $0 += 1 }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
            }
        }) { port in
            let progress = ProgressReporter(interactive: false)
            progress.beginStage("spaces", total: 10)
            let client = APIClient(
                endpoint: ServiceEndpoint(service: "kinopio", baseURL: URL(string: "http://127.0.0.1:\(port)")!),
                rateLimit: RateLimit.resolved(.kinopio, requestsPerSecond: 0.25, concurrency: nil), logger: quietLogger,
                progress: progress, clock: clock)
            _ = try await client.json(APIRequest(method: .GET, path: "/space", route: "GET /space"))
            let running = Observed(1)
            async let second = { () async throws -> JSONValue in
                defer { running.update { $0 -= 1 } }
                return try await client.json(APIRequest(method: .GET, path: "/space", route: "GET /space"))
            }()
            while await client.requestGate.waitState.waiting == 0 { try await Task.sleep(for: .milliseconds(2)) }
            let during = try #require(progress.statusLine)
            #expect(during.contains("keeping to 0.25 requests/s, waiting 4 s"), "\(during)")
            try await driveClock(clock, for: client) { running.current }
            _ = try await second
            #expect(hits.current == 2)
            #expect(clock.elapsed >= .seconds(4))
            let after = try #require(progress.statusLine)
            #expect(!after.contains("waiting"), "the line resumes after the wait: \(after)")
            progress.finish()
        }
    }
}
