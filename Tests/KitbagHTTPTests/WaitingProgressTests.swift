import Foundation
import Hummingbird
import KitbagCore
import Logging
import Testing

@testable import KitbagHTTP

@Suite("The progress line says why kitbag waits")
struct WaitingProgressTests {
    @Test("a 429 pause replaces the ETA with 'rate-limited by the server, waiting N s' until the retry")
    func rateLimitPauseIsShown() async throws {
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
                rateLimit: nil, retry: RetryPolicy(penaltyAfter429: .seconds(30)), logger: quietLogger, progress: progress)
            #expect(progress.statusLine?.contains("ETA") == true, "\(progress.statusLine ?? "")")
            async let answer = client.json(APIRequest(method: .GET, path: "/space", route: "GET /space"))
            while await client.stats().rateLimited == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let during = try #require(progress.statusLine)
            #expect(during.contains("rate-limited by the server, waiting 2 s") || during.contains("waiting 1 s"), "\(during)")
            #expect(!during.contains("ETA"), "no stale ETA while waiting: \(during)")
            _ = try await answer
            let after = try #require(progress.statusLine)
            #expect(!after.contains("waiting"), "the line resumes after the pause: \(after)")
            #expect(after.contains("2 req"), "\(after)")
            progress.finish()
        }
    }
}
