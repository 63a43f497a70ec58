import Foundation
import Hummingbird
import Kinopio
import Kintone
import KitbagCore
import Kona
import Logging
import Testing

@testable import KitbagHTTP

private func client(
    port: Int, limit: RateLimit?, retry: RetryPolicy = pacingRetry(), timeouts: HTTPTimeouts = patientTimeouts,
    clock: any GateClock = SystemGateClock(), progress: ProgressReporter? = nil
) -> APIClient {
    APIClient(
        endpoint: ServiceEndpoint(service: "pacing", baseURL: URL(string: "http://127.0.0.1:\(port)")!),
        rateLimit: limit, retry: retry, logger: quietLogger, progress: progress, timeouts: timeouts, clock: clock)
}

private func pacingRetry(penalty: Duration? = nil) -> RetryPolicy {
    var policy = RetryPolicy(
        maxAttempts: 6, baseDelay: .milliseconds(5), maxDelay: .milliseconds(40), penaltyAfter429: penalty, max429Waits: 100)
    policy.connectRetryDelay = .milliseconds(10)
    return policy
}

@Suite("Pacing over real HTTP, against distant and limited servers")
struct PacingOverHTTPTests {
    @Test("Kinopio's 5/s at a 50 ms round trip: ≥ 95 % of the rate, no 429, never 6 in a second as the server sees it (on a hand-moved clock)")
    func kinopioAtFiftyMilliseconds() async throws {
        let clock = ManualClock()
        let server = DistantServer(.init(outbound: .milliseconds(25), back: .milliseconds(25), perWindow: 5), clock: clock)
        try await withHummingbird({ server.install(on: $0) }) { port in
            let client = client(port: port, limit: .kinopio, retry: pacingRetry(penalty: .seconds(30)), clock: clock)
            let sent = try await sendItems(100, from: 3, through: client, clock: clock)
            #expect(sent == 100)
            let seen = server.seen.current
            #expect(seen.tooManyRequests == 0)
            #expect(seen.served == 100)
            #expect(server.mostArrivals(within: .seconds(1)) <= 5)
            let arrivals = seen.arrivals.sorted()
            let rate = Double(arrivals.count - 1) / (arrivals.last! - arrivals.first!).seconds
            #expect(rate >= 0.95 * 5, "\(rate) requests/s at the server")
        }
    }

    @Test("429 GAIA_TO04 cuts the concurrency to what the server takes, and it grows again once there is room (on a hand-moved clock)")
    func concurrencyFollows429sDownAndUp() async throws {
        let clock = ManualClock()
        var settings = DistantServer.Settings(outbound: .milliseconds(5), back: .milliseconds(5))
        settings.work = { _ in .milliseconds(20) }
        settings.concurrencyLimit = 6
        settings.reportsConcurrency = false
        let server = DistantServer(settings, clock: clock)
        try await withHummingbird({ server.install(on: $0) }) { port in
            let client = client(port: port, limit: .kintone, clock: clock)
            let sent150 = try await sendItems(150, from: 40, through: client, clock: clock)
            #expect(sent150 == 150)
            let crowded = await client.stats()
            let refused = server.seen.current.tooManyRequests
            #expect(refused > 0)
            #expect(crowded.concurrencyCuts > 0)
            // Cut well below its share (25); each request spends 2/3 of its round trip at the server, so about
            // 9 in flight fill its 6 places. A window that did not come down would have most attempts refused.
            #expect((crowded.concurrencyWindow ?? 99) <= 10, "\(String(describing: crowded.concurrencyWindow))")
            #expect(refused < 30, "\(refused) of \(crowded.requests) attempts refused")

            server.settings.update { $0.concurrencyLimit = 100 }
            let refusedBefore = server.seen.current.tooManyRequests
            server.seen.update { $0.peakRunning = 0 }
            let sent400 = try await sendItems(400, from: 40, through: client, first: 150, clock: clock)
            #expect(sent400 == 400)
            let roomy = await client.stats()
            #expect((roomy.concurrencyWindow ?? 0) >= 12, "\(String(describing: roomy.concurrencyWindow))")
            #expect(server.seen.current.peakRunning > 6)
            #expect(server.seen.current.tooManyRequests == refusedBefore)
        }
    }

    @Test("X-ConcurrencyLimit-Running: beside 70 running requests of others, kitbag runs about 5 of the domain's 100 (on a hand-moved clock)")
    func concurrencyLeavesRoomForOthers() async throws {
        let clock = ManualClock()
        var settings = DistantServer.Settings(outbound: .milliseconds(5), back: .milliseconds(5))
        settings.work = { _ in .milliseconds(15) }
        settings.concurrencyLimit = 100
        settings.othersRunning = 70
        let server = DistantServer(settings, clock: clock)
        try await withHummingbird({ server.install(on: $0) }) { port in
            let client = client(port: port, limit: .kintone, clock: clock)
            let sent = try await sendItems(120, from: 30, through: client, clock: clock)
            #expect(sent == 120)
            let running = server.seen.current.runningAtArrival
            // The first 8 leave before any answer could say so; every later one keeps to the room left below 75
            // (probing at most one above it now and then).
            let later = running.dropFirst(12)
            #expect(later.allSatisfy { $0 <= 6 }, "\(running)")
            #expect(Double(later.reduce(0, +)) / Double(later.count) <= 5, "\(running)")
            #expect(server.seen.current.tooManyRequests == 0)
            #expect((await client.stats().concurrencyWindow ?? 99) <= 6)
        }
    }

    @Test("a server that slows down under load makes kitbag back off before answers take as long as its timeout (on a hand-moved clock)")
    func slowServerBacksOffWithoutTimeouts() async throws {
        let clock = ManualClock()
        var settings = DistantServer.Settings(outbound: .milliseconds(2), back: .milliseconds(2))
        // Thrashing: each request takes 8 ms × (requests running)²; 16 at once would take 2 s, near the timeout.
        settings.work = { running in .milliseconds(8 * running * running) }
        let server = DistantServer(settings, clock: clock)
        try await withHummingbird({ server.install(on: $0) }) { port in
            // Real-time limits stay patient (on a starved machine a virtual step can take seconds of real time);
            // the 2.5 s is what the answers must stay well inside, in the server's (virtual) time.
            let client = client(port: port, limit: .kona, clock: clock)
            let sent200 = try await sendItems(200, from: 40, through: client, clock: clock)
            #expect(sent200 == 200)
            let stats = await client.stats()
            #expect(stats.retries == 0)
            #expect(stats.concurrencyCuts > 0)
            let peak = server.seen.current.peakRunning
            #expect(peak < 16)
            // The slowest answer, at the most running at once, stayed well inside the 2.5 s timeout.
            #expect(8 * peak * peak < 2000, "\(peak) running at once take \(8 * peak * peak) ms")
        }
    }

    @Test("Retry-After is honoured by every caller, and the adaptive concurrency is halved (on a hand-moved clock)")
    func retryAfterHonouredAndWindowCut() async throws {
        let clock = ManualClock()
        var settings = DistantServer.Settings(outbound: .zero, back: .zero)
        settings.concurrencyLimit = 0
        settings.reportsConcurrency = false
        settings.retryAfter = 3
        let server = DistantServer(settings, clock: clock)
        try await withHummingbird({ server.install(on: $0) }) { port in
            let client = client(port: port, limit: .kintone, clock: clock)
            let running = Observed(1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try await client.json(APIRequest(method: .GET, path: "/item/0", route: "GET /item/:id"))
                    running.update { $0 -= 1 }
                }
                while await client.stats().rateLimited == 0 { try await Task.sleep(for: .milliseconds(2)) }
                server.settings.update { $0.concurrencyLimit = nil }
                running.update { $0 += 4 }
                for n in 1...4 {
                    group.addTask {
                        _ = try await client.json(APIRequest(method: .GET, path: "/item/\(n)", route: "GET /item/:id"))
                        running.update { $0 -= 1 }
                    }
                }
                try await driveClock(clock, for: client) { running.current }
                try await group.waitForAll()
            }
            let arrivals = server.seen.current.arrivals.sorted()
            try #require(arrivals.count == 6)
            let rejected = arrivals[0]
            #expect(arrivals.dropFirst().allSatisfy { $0 - rejected >= .seconds(3) }, "\(arrivals.map { $0 - rejected })")
            let stats = await client.stats()
            #expect(stats.rateLimited == 1)
            #expect(stats.concurrencyCuts == 1)
            #expect(stats.concurrencyWindow.map { $0 >= 4 && $0 < 8 } == true, "\(String(describing: stats.concurrencyWindow))")
        }
    }
}
