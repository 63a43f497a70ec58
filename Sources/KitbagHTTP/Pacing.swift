import Foundation

/// The pacing rules of one client as a value: whether an attempt may start now, and what each answer teaches.
/// Time comes in as arguments, so the rules run on virtual time in tests; `RequestGate` wraps it for real callers.
struct Pacing {
    typealias Instant = ContinuousClock.Instant

    enum Decision: Equatable {
        case go
        /// Nothing can start before this instant (a pause, the token bucket, the window cap).
        case waitUntil(Instant, Wait)
        /// Something must finish first (concurrency cap, window full of unanswered attempts); the instant, if
        /// any, is when time alone may change the answer.
        case waitForRelease(Instant?)
    }

    /// Why an attempt waits for a known time.
    enum Wait: Equatable {
        case paused
        case rate
    }

    /// How an attempt ended.
    enum Ending: Equatable {
        /// An answer arrived (its head was reported through `answered`).
        case answered
        /// No answer within the time limits.
        case timedOut
        /// Reset or closed before or during the answer.
        case connectionLost
        /// Never reached the server (refused, unresolvable, invalid URL).
        case notSent
    }

    /// A change of the adaptive concurrency, for the log.
    struct Change: Equatable {
        var from: Int
        var to: Int
        var reason: String
    }

    private struct Flight {
        var granted: Instant
        var route: String
        /// Fewer of our attempts were in flight than ever before at once, so the pool likely had an idle
        /// connection for it: its round trip holds no connection set-up.
        var likelyReused: Bool
        /// It filled the concurrency window: an answer to it shows the window was used, so the window may grow.
        var filledWindow: Bool
        /// Our attempts in flight when it started, itself included: what a server's count of running requests
        /// holds of ours when it arrived.
        var inFlightAtStart: Int
        var answered = false
    }

    let limit: RateLimit?
    /// Answers slower than this count as slow whatever the route's history (a quarter of the request timeout).
    let slowCeiling: Duration

    private(set) var pausedUntil: Instant?
    private var theoreticalArrival: Instant?
    /// Until when each answered attempt still counts against the strict window.
    private var holds: [Instant] = []
    private var flights: [Int: Flight] = [:]
    private var nextID = 0
    private(set) var peakInFlight = 0
    private var roundTrips = RoundTrips()
    private(set) var concurrency: ConcurrencyWindow?

    init(limit: RateLimit?, slowCeiling: Duration = .seconds(15)) {
        self.limit = limit
        self.slowCeiling = slowCeiling
        if let limit, let adaptive = limit.adaptive {
            concurrency = ConcurrencyWindow(adaptation: adaptive, maximum: limit.maxConcurrent ?? 64)
        }
    }

    var inFlight: Int { flights.count }

    /// The most attempts that may be in flight now (nil: no cap).
    var concurrencyLimit: Int? {
        if let concurrency { return concurrency.current }
        return limit?.maxConcurrent
    }

    // MARK: - Starting

    func decide(at now: Instant) -> Decision {
        var wakeAt: Instant? = nil
        var reason = Wait.rate
        func later(_ t: Instant, _ why: Wait) {
            if t > (wakeAt ?? t - .nanoseconds(1)) {
                wakeAt = t
                reason = why
            }
        }
        if let pausedUntil, pausedUntil > now { later(pausedUntil, .paused) }
        guard let limit else { return wakeAt.map { .waitUntil($0, reason) } ?? .go }
        if limit.hasRate, let tat = theoreticalArrival {
            // Token bucket as GCRA: a request may start at TAT - (burst - 1) * interval.
            let earliest = tat - Self.interval(limit) * (limit.burst - 1)
            if earliest > now { later(earliest, .rate) }
        }
        var blockedOnRelease = false
        if let cap = concurrencyLimit, flights.count >= cap { blockedOnRelease = true }
        if let maxPerWindow = limit.maxPerWindow {
            let unanswered = flights.values.filter { !$0.answered }.count
            let counting = holds.filter { $0 > now }.sorted()
            if unanswered + counting.count >= maxPerWindow {
                if unanswered < maxPerWindow {
                    // The first moment enough holds have lapsed for one more to fit.
                    later(counting[unanswered + counting.count - maxPerWindow], .rate)
                } else {
                    blockedOnRelease = true
                }
            }
        }
        if blockedOnRelease { return .waitForRelease(wakeAt) }
        return wakeAt.map { .waitUntil($0, reason) } ?? .go
    }

    /// Takes a slot for an attempt on `route` (a decision said `.go`); returns its id.
    mutating func start(at now: Instant, route: String) -> Int {
        if let limit, limit.hasRate {
            // An attempt that starts late (its wake-up came late on a busy machine) does not push back the ones
            // after it by as much: up to half an interval is made up. A strict window still counts every start.
            let interval = Self.interval(limit)
            theoreticalArrival = max(theoreticalArrival ?? now, now - interval / 2) + interval
        }
        holds.removeAll { $0 <= now }
        nextID += 1
        let before = flights.count
        let cap = concurrencyLimit ?? Int.max
        flights[nextID] = Flight(
            granted: now, route: route, likelyReused: before < peakInFlight, filledWindow: before + 1 >= cap,
            inFlightAtStart: before + 1)
        peakInFlight = max(peakInFlight, before + 1)
        return nextID
    }

    // MARK: - Answers

    /// The head of the answer to `id` arrived with `status` (and Kintone's concurrency headers, if sent).
    mutating func answered(
        _ id: Int, at now: Instant, status: Int, domainLimit: Int? = nil, domainRunning: Int? = nil
    ) -> Change? {
        guard var flight = flights[id], !flight.answered else { return nil }
        flight.answered = true
        flights[id] = flight
        let roundTrip = now - flight.granted
        let routeFloor = roundTrips.floor(of: flight.route)
        roundTrips.add(roundTrip, route: flight.route, reused: flight.likelyReused)
        if let limit, limit.maxPerWindow != nil {
            holds.append(now - windowCredit(roundTrip: roundTrip, route: flight.route) + limit.window + limit.windowMargin)
        }
        guard var window = concurrency else { return nil }
        defer { concurrency = window }
        let before = window.current
        window.observe(domainLimit: domainLimit, running: domainRunning, ours: flight.inFlightAtStart)
        var change: Change? = nil
        if status == 429 {
            window.cut(by: 0.5, grantedAt: flight.granted, now: now)
            change = Change(from: before, to: window.current, reason: "the server answered 429")
        } else if [500, 502, 503, 504].contains(status) {
            window.cut(by: 0.75, grantedAt: flight.granted, now: now)
            change = Change(from: before, to: window.current, reason: "the server answered \(status)")
        } else if isSlow(roundTrip, floor: routeFloor, adaptation: window.adaptation) {
            window.cut(by: 0.75, grantedAt: flight.granted, now: now)
            change = Change(
                from: before, to: window.current, reason: "answers slowed to \(roundTrip.milliseconds) ms")
        } else {
            // Answers on warm connections taking twice the route's best: load is building; grow gently from here.
            if flight.likelyReused, let routeFloor, roundTrip > routeFloor * 2 + .milliseconds(50) { window.endSlowStart() }
            window.grow(filledWindow: flight.filledWindow)
            if window.current < before {
                change = Change(from: before, to: window.current, reason: "other integrations are busy on the domain")
            }
        }
        return change.flatMap { $0.to < $0.from ? $0 : nil }
    }

    /// The attempt `id` is over, body included.
    mutating func finished(_ id: Int, at now: Instant, ending: Ending) -> Change? {
        guard let flight = flights.removeValue(forKey: id) else { return nil }
        if !flight.answered, let limit, limit.maxPerWindow != nil, ending != .notSent {
            // No answer to place it by: it may have reached the server at any moment until now.
            holds.append(now + limit.window + limit.windowMargin)
        }
        guard !flight.answered, var window = concurrency else { return nil }
        defer { concurrency = window }
        let before = window.current
        switch ending {
        case .timedOut: window.cut(by: 0.5, grantedAt: flight.granted, now: now)
        case .connectionLost: window.cut(by: 0.75, grantedAt: flight.granted, now: now)
        case .answered, .notSent: return nil
        }
        guard window.current < before else { return nil }
        return Change(
            from: before, to: window.current,
            reason: ending == .timedOut ? "an answer timed out" : "the server dropped a connection")
    }

    /// Holds every attempt until `instant` (extends, never shortens, a pause).
    mutating func pause(until instant: Instant) {
        if let current = pausedUntil, current >= instant { return }
        pausedUntil = instant
    }

    // MARK: - Rules

    /// How much earlier than its answer an attempt stops counting against the window. Half its round trip (the
    /// server saw it no later than the middle of its round trip unless the way there took longer than the work
    /// and the way back together), but no more than the route's fastest round trip on a reused connection (so a
    /// round trip swollen by a new connection's handshake earns nothing for the handshake), less a quarter of how
    /// far the route's typical round trip lies above that fastest one (on a ragged network even the fastest may
    /// have spent long on its way there). Until the route has a round trip on a reused connection, its attempts
    /// count from their answers.
    private func windowCredit(roundTrip: Duration, route: String) -> Duration {
        guard let floor = roundTrips.reusedFloor(of: route), let typical = roundTrips.reusedMedian(of: route) else {
            return .zero
        }
        return max(.zero, min(roundTrip / 2, floor - (typical - floor) / 4))
    }

    private func isSlow(_ roundTrip: Duration, floor: Duration?, adaptation: ConcurrencyAdaptation) -> Bool {
        if roundTrip > slowCeiling { return true }
        guard let floor else { return false }
        return roundTrip > floor * adaptation.slowFactor + adaptation.slowSlack
    }

    private static func interval(_ limit: RateLimit) -> Duration {
        .seconds(1 / limit.requestsPerSecond)
    }
}

/// The concurrency window of an adaptive client: slow start, additive increase, multiplicative decrease (once per
/// round of attempts), bounded by its share of the domain and by what others run there.
struct ConcurrencyWindow {
    typealias Instant = ContinuousClock.Instant

    let adaptation: ConcurrencyAdaptation
    private(set) var window: Double
    private var slowStartThreshold: Double
    /// The most the window may reach: `maxConcurrent`, or the share of the domain's reported limit.
    private(set) var maximum: Int
    /// Room left by other integrations (from `X-ConcurrencyLimit-Running`).
    private var room: Double?
    var othersCeiling: Int? { room.map { max(1, Int($0)) } }
    private var lastCut: Instant?
    private(set) var cuts = 0

    init(adaptation: ConcurrencyAdaptation, maximum: Int) {
        self.adaptation = adaptation
        self.maximum = max(1, maximum)
        window = Double(min(adaptation.initial, self.maximum))
        slowStartThreshold = Double(self.maximum)
    }

    var current: Int { max(1, min(Int(window), maximum, othersCeiling ?? Int.max)) }

    /// A healthy answer: one more per answer in slow start, one more per window of answers after it. Only answers
    /// to attempts that filled the window count, so an idle client does not grow a window it never used.
    mutating func grow(filledWindow: Bool) {
        guard filledWindow, Int(window) < maximum else { return }
        window += window < slowStartThreshold ? 1 : 1 / window
        window = min(window, Double(maximum))
    }

    /// Answers are slowing without being slow yet: from now on one more per window of answers, not per answer.
    mutating func endSlowStart() {
        slowStartThreshold = min(slowStartThreshold, window)
    }

    /// Trouble: shrink by `factor`, unless the attempt started before the last cut (it was sent under the old window).
    mutating func cut(by factor: Double, grantedAt: Instant, now: Instant) {
        if let lastCut, grantedAt < lastCut { return }
        window = max(1, min(window, Double(current)) * factor)
        slowStartThreshold = max(window, 1)
        lastCut = now
        cuts += 1
    }

    /// Kintone's `X-ConcurrencyLimit-Limit` / `-Running`: the domain's limit and how many requests ran on it, ours
    /// and other integrations', when this one arrived (`ours` were in flight when it left). kitbag keeps the
    /// domain's total below its limit less `keepFree` of it: it may have as many more in flight than then as the
    /// domain had room for below that mark (fewer when the mark was passed), so the others always find that share
    /// free. Less room counts at once; more room is taken one request per round of answers.
    mutating func observe(domainLimit: Int?, running: Int?, ours: Int) {
        let limit = domainLimit ?? adaptation.domainLimit
        if let domainLimit, domainLimit > 0, let share = adaptation.share {
            maximum = max(1, Int((Double(domainLimit) * share).rounded(.down)))
            window = min(window, Double(maximum))
        }
        guard let limit, let running else { return }
        let mark = limit - Int((Double(limit) * adaptation.keepFree).rounded())
        let seen = Double(max(1, ours + mark - running))
        if let current = room, seen > current {
            room = min(seen, current + 1 / current)
        } else {
            room = seen
        }
    }
}

/// Round trips per route: recent ones (to tell a slow answer from a big one), and those on a likely reused
/// connection (for the window credit: the fastest ever, and the typical recent one). Recent means the last 64, so a
/// server that is slower for good sets a new baseline for slowness.
struct RoundTrips {
    private var recent: [String: Recent] = [:]
    private var reused: [String: (fastest: Duration, recent: Recent)] = [:]

    mutating func add(_ sample: Duration, route: String, reused isReused: Bool) {
        recent[route, default: Recent()].add(sample)
        guard isReused else { return }
        var entry = reused[route] ?? (sample, Recent())
        entry.fastest = min(entry.fastest, sample)
        entry.recent.add(sample)
        reused[route] = entry
    }

    /// The route's fastest recent round trip.
    func floor(of route: String) -> Duration? { recent[route]?.minimum }

    /// The route's fastest round trip on a reused connection. (Not another route's: a route faster than every
    /// other, met first on a new connection, would earn credit for its handshake.)
    func reusedFloor(of route: String) -> Duration? { reused[route]?.fastest }

    /// The median of the route's recent round trips on reused connections.
    func reusedMedian(of route: String) -> Duration? { reused[route]?.recent.median }

    struct Recent {
        private var samples: [Duration] = []
        private var next = 0
        static let capacity = 64

        mutating func add(_ sample: Duration) {
            if samples.count < Self.capacity {
                samples.append(sample)
            } else {
                samples[next] = sample
                next = (next + 1) % Self.capacity
            }
        }

        var minimum: Duration? { samples.min() }

        var median: Duration? {
            guard !samples.isEmpty else { return nil }
            return samples.sorted()[samples.count / 2]
        }
    }
}
