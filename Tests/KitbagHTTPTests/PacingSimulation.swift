import Foundation
import KitbagTestSupport

@testable import KitbagHTTP

/// The simulated network's delays come from a seeded generator, so every run draws the same ones.
extension SeededGenerator {
    mutating func milliseconds(_ range: ClosedRange<Double>) -> Duration {
        .microseconds(Int64((Double.random(in: range, using: &self) * 1000).rounded()))
    }
}

/// `Pacing` driven on virtual time against a simulated network and server: each caller sends one request after
/// another; every request crosses a network leg to the server (plus a handshake when the connection pool has no idle
/// connection), waits for the server's work, and crosses back. The server counts arrivals as a rate-limited service
/// does (sliding window, then a penalty), or running requests as Kintone does (a concurrency limit, with
/// `X-ConcurrencyLimit-*` on every answer), and may slow down with load.
struct PacingSimulation {
    typealias Instant = ContinuousClock.Instant

    var limit: RateLimit?
    var callers = 1
    var requests = 100
    /// One-way delays, in milliseconds, drawn per request and leg.
    var outbound: ClosedRange<Double> = 25...25
    var back: ClosedRange<Double> = 25...25
    /// Round trips a new connection costs before its first request leaves (TCP and TLS 1.3: 2).
    var handshakeRoundTrips = 2
    /// The server's work for one request, given how many of ours run there (this one included) and the time since
    /// the start.
    var serverTime: @Sendable (_ running: Int, _ elapsed: Duration, _ random: inout SeededGenerator) -> Duration = { _, _, _ in
        .milliseconds(1)
    }
    /// Rate-limited service: at most `perWindow` arrivals in any `window`; the one over gets 429 and so does every
    /// request for `penalty` after it.
    var perWindow: Int?
    var window: Duration = .seconds(1)
    var penalty: Duration = .seconds(30)
    /// Concurrency-limited service: its limit at a moment (nil: none), how many requests of other integrations run
    /// there, and whether answers carry `X-ConcurrencyLimit-Limit` / `-Running`.
    var concurrencyLimit: @Sendable (_ elapsed: Duration) -> Int? = { _ in nil }
    var othersRunning = 0
    var reportsConcurrency = false
    /// The client's per-attempt time limit, and the pause it takes after a 429.
    var timeout: Duration = .seconds(60)
    var pauseAfter429: Duration = .milliseconds(200)
    var seed: UInt64 = 1
    /// The run stops here even if requests remain (a server that times out every attempt never lets it end).
    var horizon: Duration = .seconds(600)

    /// `callers` sending `requests` under `limit` to a server whose work takes `work` (other settings as declared).
    init(_ limit: RateLimit? = nil, callers: Int = 1, requests: Int = 100, work: Duration = .milliseconds(1)) {
        self.limit = limit
        self.callers = callers
        self.requests = requests
        serverTime = { _, _, _ in work }
    }

    struct Outcome {
        /// When each attempt reached the server, in order.
        var arrivals: [Instant] = []
        var served = 0
        var tooManyRequests = 0
        var timeouts = 0
        var start: Instant
        var end: Instant
        /// Most of our requests inside the server at once, after `peakAfter` of the run.
        var peakAtServer = 0
        /// Most requests the client had in flight at once, after `peakAfter` of the run.
        var peakInFlight = 0
        /// (elapsed, concurrency the client allowed) after every answer.
        var windowTrace: [(Duration, Int)] = []
        var cuts = 0

        /// Most arrivals in any span shorter than `window` (as the server counts: `now - earlier < window`).
        func mostArrivals(within window: Duration) -> Int {
            KitbagHTTPTests.mostArrivals(arrivals, within: window)
        }

        /// Arrivals per second between the first and the last.
        var arrivalRate: Double {
            guard let first = arrivals.first, let last = arrivals.last, last > first else { return 0 }
            return Double(arrivals.count - 1) / (last - first).seconds
        }

        /// The window the client allowed at its last answer.
        var finalWindow: Int? { windowTrace.last?.1 }

        /// The highest window the client allowed after `elapsed`.
        func highestWindow(after elapsed: Duration) -> Int {
            windowTrace.filter { $0.0 >= elapsed }.map(\.1).max() ?? 0
        }
    }

    /// Runs until every request was served (429s and timeouts are retried); `peakAfter` starts the count of
    /// `peakAtServer` late, past the first answers.
    func run(peakAfter: Duration = .zero) -> Outcome {
        var random = SeededGenerator(seed: seed)
        var pacing = Pacing(limit: limit, slowCeiling: timeout / 4)
        let origin = ContinuousClock.now
        var now = origin
        var outcome = Outcome(start: origin, end: origin)

        enum Event {
            case wake
            case arrive(Int)
            case leave(Int)
            case answer(Int)
            case timeout(Int)
        }
        struct Attempt {
            var caller: Int
            var flight: Int
            var sent: Instant
            var status = 200
            var running = 0
            var timedOut = false
        }
        var events: [(at: Instant, order: Int, event: Event)] = []
        var order = 0
        func schedule(_ event: Event, at instant: Instant) {
            order += 1
            let index = events.firstIndex { ($0.at, $0.order) > (instant, order) } ?? events.endIndex
            events.insert((instant, order, event), at: index)
        }

        var attempts: [Attempt] = []
        var idleCallers = Array(0..<callers)
        var toStart = requests
        var idleConnections = 0
        var wakeAt: Instant?
        var inServer = 0
        var recent: [Instant] = []
        var penaltyUntil: Instant?

        func pump() {
            while toStart > 0, !idleCallers.isEmpty {
                switch pacing.decide(at: now) {
                case .go:
                    let caller = idleCallers.removeFirst()
                    toStart -= 1
                    let flight = pacing.start(at: now, route: "GET /item")
                    var way = random.milliseconds(outbound)
                    if idleConnections > 0 {
                        idleConnections -= 1
                    } else {
                        for _ in 0..<handshakeRoundTrips { way += random.milliseconds(outbound) + random.milliseconds(back) }
                    }
                    attempts.append(Attempt(caller: caller, flight: flight, sent: now))
                    if now - origin >= peakAfter { outcome.peakInFlight = max(outcome.peakInFlight, pacing.inFlight) }
                    schedule(.arrive(attempts.count - 1), at: now + way)
                case .waitUntil(let instant, _), .waitForRelease(let instant?):
                    if wakeAt == nil || instant < wakeAt! {
                        wakeAt = instant
                        schedule(.wake, at: instant)
                    }
                    return
                case .waitForRelease(nil):
                    return
                }
            }
        }

        pump()
        while !events.isEmpty {
            let (at, _, event) = events.removeFirst()
            if at - origin > horizon { break }
            now = at
            switch event {
            case .wake:
                if wakeAt == at { wakeAt = nil }
                pump()
            case .arrive(let index):
                outcome.arrivals.append(now)
                let elapsed = now - origin
                var status = 200
                if let perWindow {
                    if let until = penaltyUntil, now < until {
                        status = 429
                    } else {
                        recent.removeAll { now - $0 >= window }
                        if recent.count >= perWindow {
                            penaltyUntil = now + penalty
                            recent.removeAll()
                            status = 429
                        } else {
                            recent.append(now)
                        }
                    }
                }
                if status == 200, let cap = concurrencyLimit(elapsed), inServer + othersRunning >= cap {
                    status = 429
                }
                attempts[index].status = status
                var work = Duration.milliseconds(1)
                if status == 200 {
                    inServer += 1
                    if elapsed >= peakAfter { outcome.peakAtServer = max(outcome.peakAtServer, inServer) }
                    attempts[index].running = inServer + othersRunning
                    work = serverTime(inServer, elapsed, &random)
                    schedule(.leave(index), at: now + work)
                } else {
                    attempts[index].running = concurrencyLimit(elapsed) ?? 0
                }
                let answerAt = now + work + random.milliseconds(back)
                if answerAt - attempts[index].sent > timeout {
                    attempts[index].timedOut = true
                    schedule(.timeout(index), at: attempts[index].sent + timeout)
                } else {
                    schedule(.answer(index), at: answerAt)
                }
            case .leave:
                inServer -= 1
            case .answer(let index):
                let attempt = attempts[index]
                let reported: (Int?, Int?) =
                    reportsConcurrency ? (concurrencyLimit(now - origin), attempt.running) : (nil, nil)
                if pacing.answered(
                    attempt.flight, at: now, status: attempt.status, domainLimit: reported.0, domainRunning: reported.1)
                    != nil
                {
                    outcome.cuts += 1
                }
                _ = pacing.finished(attempt.flight, at: now, ending: .answered)
                idleConnections += 1
                if attempt.status == 429 {
                    outcome.tooManyRequests += 1
                    pacing.pause(until: now + pauseAfter429)
                    toStart += 1
                } else {
                    outcome.served += 1
                    outcome.end = now
                }
                outcome.windowTrace.append((now - origin, pacing.concurrencyLimit ?? Int.max))
                idleCallers.append(attempt.caller)
                pump()
            case .timeout(let index):
                if pacing.finished(attempts[index].flight, at: now, ending: .timedOut) != nil { outcome.cuts += 1 }
                outcome.timeouts += 1
                toStart += 1
                idleCallers.append(attempts[index].caller)
                pump()
            }
        }
        return outcome
    }
}

/// Most of `arrivals` (in order) in any span shorter than `window`, as a rate-limited server counts them.
func mostArrivals(_ arrivals: [ContinuousClock.Instant], within window: Duration) -> Int {
    var most = 0
    var first = 0
    for (i, t) in arrivals.enumerated() {
        while t - arrivals[first] >= window { first += 1 }
        most = max(most, i - first + 1)
    }
    return most
}
