import Foundation

/// Paces the attempts of one client: token bucket, strict per-window cap, concurrency cap,
/// and a client-wide pause after a 429. Every attempt (retries included) passes through it.
actor RequestGate {
    /// A granted slot; hand it back with `answered` / `finished`.
    struct Ticket: Sendable, Hashable {
        let id: Int
    }

    private let limit: RateLimit?
    private let clock = ContinuousClock()

    private var pausedUntil: ContinuousClock.Instant?
    private var theoreticalArrival: ContinuousClock.Instant?
    private var active: Set<Int> = []
    private var unanswered: Set<Int> = []
    private var answeredAt: [ContinuousClock.Instant] = []
    private var nextTicket = 0
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    init(limit: RateLimit?) {
        self.limit = limit
    }

    /// Waits until an attempt may start, then takes a slot.
    func acquire() async throws -> Ticket {
        while true {
            try Task.checkCancellation()
            let now = clock.now
            switch decision(at: now) {
            case .go:
                take(at: now)
                nextTicket += 1
                active.insert(nextTicket)
                unanswered.insert(nextTicket)
                return Ticket(id: nextTicket)
            case .waitUntil(let instant):
                await waitForChange(until: instant)
            case .waitForRelease(let instant):
                await waitForChange(until: instant)
            }
        }
    }

    /// The response head arrived (or the attempt ended): the server has certainly seen the request.
    func answered(_ ticket: Ticket) {
        guard unanswered.remove(ticket.id) != nil else { return }
        if limit?.maxPerWindow != nil { answeredAt.append(clock.now) }
        wakeAll()
    }

    /// The attempt is over, body included.
    func finished(_ ticket: Ticket) {
        answered(ticket)
        if active.remove(ticket.id) != nil { wakeAll() }
    }

    /// Holds every caller of this client until `instant` (extends, never shortens, a pause).
    func pause(until instant: ContinuousClock.Instant) {
        if let current = pausedUntil, current >= instant { return }
        pausedUntil = instant
    }

    /// When the current pause ends, if there is one.
    var pauseEnd: ContinuousClock.Instant? {
        guard let pausedUntil, pausedUntil > clock.now else { return nil }
        return pausedUntil
    }

    // MARK: - Decision

    private enum Decision {
        case go
        case waitUntil(ContinuousClock.Instant)
        case waitForRelease(ContinuousClock.Instant?)
    }

    private func decision(at now: ContinuousClock.Instant) -> Decision {
        var wakeAt: ContinuousClock.Instant? = nil
        func later(_ t: ContinuousClock.Instant) { wakeAt = max(wakeAt ?? t, t) }

        if let pausedUntil, pausedUntil > now { later(pausedUntil) }
        guard let limit else {
            return wakeAt.map { .waitUntil($0) } ?? .go
        }
        // Token bucket as GCRA: a request may start at TAT - (burst - 1) * interval.
        let interval = Duration.seconds(1 / max(limit.requestsPerSecond, 0.000_001))
        if let tat = theoreticalArrival {
            let earliest = tat - interval * (limit.burst - 1)
            if earliest > now { later(earliest) }
        }
        var blockedOnRelease = false
        if let maxConcurrent = limit.maxConcurrent, active.count >= maxConcurrent { blockedOnRelease = true }
        if let maxPerWindow = limit.maxPerWindow {
            let hold = limit.window + limit.windowMargin
            answeredAt.removeAll { $0 + hold <= now }
            if unanswered.count + answeredAt.count >= maxPerWindow {
                if let oldest = answeredAt.first, unanswered.count < maxPerWindow {
                    later(oldest + hold)
                } else {
                    blockedOnRelease = true
                }
            }
        }
        if blockedOnRelease { return .waitForRelease(wakeAt) }
        return wakeAt.map { .waitUntil($0) } ?? .go
    }

    private func take(at now: ContinuousClock.Instant) {
        guard let limit else { return }
        let interval = Duration.seconds(1 / max(limit.requestsPerSecond, 0.000_001))
        theoreticalArrival = max(theoreticalArrival ?? now, now) + interval
    }

    // MARK: - Waiting

    private func waitForChange(until instant: ContinuousClock.Instant?) async {
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if Task.isCancelled {
                    continuation.resume()
                    return
                }
                waiters[id] = continuation
                if let instant {
                    Task { [clock] in
                        try? await clock.sleep(until: instant, tolerance: .milliseconds(1))
                        self.wake(id)
                    }
                }
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }

    private func wake(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }

    private func wakeAll() {
        let all = waiters
        waiters.removeAll()
        for continuation in all.values { continuation.resume() }
    }
}
