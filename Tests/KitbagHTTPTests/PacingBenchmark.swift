import Foundation
import Kinopio
import Kintone
import Kitemaker
import Kona
import Testing

@testable import KitbagHTTP

/// Utilisation of each service's pacing against a distant test server; run by `Benchmarks/pacing/run.sh` (skipped
/// unless KITBAG_BENCH=1). KITBAG_BENCH_LATENCY_MS is the round trip the server adds (default 50, half each way);
/// KITBAG_BENCH_SCALE multiplies the request counts (default 1). Each scenario prints one `KITBAG_BENCH` line:
/// requests, seconds, requests/s achieved, the bound the service's documented limit sets, their ratio, 429s and
/// the most requests the server ran at once.
@Suite("Pacing benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["KITBAG_BENCH"] == "1"))
struct PacingBenchmark {
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var limit: RateLimit?
        var requests: Int
        var callers: Int
        /// The server's work per request, in milliseconds.
        var work: Double = 1
        /// Kinopio's rule at the server: 5 in any second, then 30 s of 429s.
        var perWindow: Int?
        /// Kintone's rule at the server: 100 at once per domain, reported on every answer.
        var concurrencyLimit: Int?
        /// The bound in requests/s the documented limit sets (nil: the bound of the share, computed from the round trip).
        var bound: Double?
        var testDescription: String { name }
    }

    static let latency: Duration = .milliseconds(Int64(ProcessInfo.processInfo.environment["KITBAG_BENCH_LATENCY_MS"] ?? "50") ?? 50)
    static let scale = Double(ProcessInfo.processInfo.environment["KITBAG_BENCH_SCALE"] ?? "1") ?? 1

    static let scenarios: [Scenario] = [
        Scenario(name: "kinopio-export", limit: .kinopio, requests: 100, callers: 1, perWindow: 5, bound: 5),
        Scenario(name: "kinopio-import", limit: .kinopio, requests: 100, callers: 1, work: 15, perWindow: 5, bound: 5),
        Scenario(name: "kinopio-4-callers", limit: .kinopio, requests: 100, callers: 4, perWindow: 5, bound: 5),
        Scenario(name: "kitemaker", limit: .kitemaker, requests: 600, callers: 8, work: 5),
        Scenario(
            name: "kitemaker-before",
            limit: RateLimit(
                requestsPerSecond: 4, burst: 1, maxConcurrent: 4, maxPerWindow: 4, adaptive: ConcurrencyAdaptation(initial: 1)),
            requests: 60, callers: 4, perWindow: 5, bound: 4),
        Scenario(name: "kintone", limit: .kintone, requests: 3000, callers: 100, work: 5, concurrencyLimit: 100),
        Scenario(
            // The presets before issue 20, for comparison (their rules run unchanged in the gate).
            name: "kintone-before", limit: RateLimit(requestsPerSecond: 50, burst: 20, maxConcurrent: 10), requests: 1000,
            callers: 100, work: 5, concurrencyLimit: 100),
        Scenario(name: "kona", limit: .kona, requests: 2000, callers: 100, work: 5),
        Scenario(
            name: "kona-before", limit: RateLimit(requestsPerSecond: 5, burst: 5, maxConcurrent: 4), requests: 100,
            callers: 100, work: 5),
    ]

    @Test("pacing utilisation at a distant server", arguments: scenarios)
    func utilisation(_ scenario: Scenario) async throws {
        var settings = DistantServer.Settings(outbound: Self.latency / 2, back: Self.latency / 2)
        let work = Duration.microseconds(Int64(scenario.work * 1000))
        settings.work = { _ in work }
        settings.perWindow = scenario.perWindow
        settings.concurrencyLimit = scenario.concurrencyLimit
        let server = DistantServer(settings)
        let requests = max(10, Int(Double(scenario.requests) * Self.scale))
        try await withHummingbird({ server.install(on: $0) }) { port in
            var retry = RetryPolicy(penaltyAfter429: scenario.perWindow == nil ? nil : .seconds(30), max429Waits: 100)
            retry.maxAttempts = 6
            let client = APIClient(
                endpoint: ServiceEndpoint(service: "bench", baseURL: URL(string: "http://127.0.0.1:\(port)")!),
                rateLimit: scenario.limit, retry: retry, logger: quietLogger)
            let start = ContinuousClock.now
            _ = try await sendItems(requests, from: scenario.callers, through: client)
            let seconds = (ContinuousClock.now - start).seconds
            let seen = server.seen.current
            let arrivals = seen.arrivals.sorted()
            // A rate is judged between the first and the last arrival; a concurrency by requests over the wall time.
            let achieved =
                scenario.bound != nil
                ? Double(arrivals.count - 1) / (arrivals.last! - arrivals.first!).seconds : Double(requests) / seconds
            let roundTrip = (Self.latency + work).seconds
            let share = scenario.limit?.maxConcurrent ?? 100
            let bound = scenario.bound ?? Double(share) / roundTrip
            let stats = await client.stats()
            print(
                "KITBAG_BENCH scenario=\(scenario.name) latency_ms=\(Self.latency.milliseconds) requests=\(requests)"
                    + " seconds=\(String(format: "%.2f", seconds)) achieved=\(String(format: "%.2f", achieved))"
                    + " bound=\(String(format: "%.2f", bound)) utilisation=\(String(format: "%.1f", 100 * achieved / bound))"
                    + " too_many=\(seen.tooManyRequests) most_per_second=\(server.mostArrivals(within: .seconds(1)))"
                    + " peak_running=\(seen.peakRunning) cuts=\(stats.concurrencyCuts)")
        }
    }
}
