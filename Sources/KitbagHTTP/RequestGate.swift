import Foundation

/// Paces the attempts of one client by `Pacing`'s rules: every attempt (retries included) waits here for its slot,
/// reports its answer, and hands the slot back. Time comes from an injectable clock.
actor RequestGate {
    /// A granted slot; hand it back with `answered` / `finished`.
    struct Ticket: Sendable, Hashable {
        let id: Int
    }

    /// Said when an attempt must wait at least a second for pacing (not for a pause, which its cause announces).
    typealias Announce = @Sendable (_ reason: String, _ seconds: Double) -> Void

    private var pacing: Pacing
    private let clock: any GateClock
    private let announce: Announce?

    private var waiters: [Int: Waiter] = [:]
    private var nextWaiter = 0

    private struct Waiter {
        let continuation: CheckedContinuation<Void, Never>
        let until: ContinuousClock.Instant?
        var timer: Task<Void, Never>?
    }

    init(limit: RateLimit?, clock: any GateClock = SystemGateClock(), slowCeiling: Duration = .seconds(15), announce: Announce? = nil) {
        self.pacing = Pacing(limit: limit, slowCeiling: slowCeiling)
        self.clock = clock
        self.announce = announce
    }

    /// Waits until an attempt on `route` may start, then takes a slot. `announced` is true when the wait was long
    /// enough to be shown (the caller clears the progress line afterwards).
    func acquire(route: String) async throws -> (ticket: Ticket, announced: Bool) {
        var announced = false
        while true {
            try Task.checkCancellation()
            let now = clock.now
            switch pacing.decide(at: now) {
            case .go:
                return (Ticket(id: pacing.start(at: now, route: route)), announced)
            case .waitUntil(let instant, let why):
                if why == .rate, !announced, let announce, let limit = pacing.limit, instant - now >= .seconds(1) {
                    announced = true
                    announce("keeping to \(limit.requestsPerSecond.formatted()) requests/s", (instant - now).seconds)
                }
                await waitForChange(until: instant)
            case .waitForRelease(let instant):
                await waitForChange(until: instant)
            }
        }
    }

    /// The response head arrived: the server has certainly seen the request. Returns a cut of the concurrency, if any.
    @discardableResult
    func answered(_ ticket: Ticket, status: Int, domainLimit: Int? = nil, domainRunning: Int? = nil) -> Pacing.Change? {
        let change = pacing.answered(
            ticket.id, at: clock.now, status: status, domainLimit: domainLimit, domainRunning: domainRunning)
        wakeAll()
        return change
    }

    /// The attempt is over, body included.
    @discardableResult
    func finished(_ ticket: Ticket, ending: Pacing.Ending) -> Pacing.Change? {
        let change = pacing.finished(ticket.id, at: clock.now, ending: ending)
        wakeAll()
        return change
    }

    /// Holds every caller of this client until `instant` (extends, never shortens, a pause).
    func pause(until instant: ContinuousClock.Instant) {
        pacing.pause(until: instant)
    }

    /// When the current pause ends, if there is one.
    var pauseEnd: ContinuousClock.Instant? {
        guard let end = pacing.pausedUntil, end > clock.now else { return nil }
        return end
    }

    /// Peak in flight, cuts and the current adaptive window, for `ClientStats`.
    var counters: (peakInFlight: Int, cuts: Int, window: Int?) {
        (pacing.peakInFlight, pacing.concurrency?.cuts ?? 0, pacing.concurrency?.current)
    }

    /// For tests on a hand-moved clock: attempts in flight, callers waiting here, how many of those wait for a
    /// moment (each has a timer sleeping on the clock), and whether one of those moments has already come.
    var waitState: (inFlight: Int, waiting: Int, timed: Int, due: Bool) {
        let now = clock.now
        let timed = waiters.values.compactMap(\.until)
        return (pacing.inFlight, waiters.count, timed.count, timed.contains { $0 <= now })
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
                var waiter = Waiter(continuation: continuation, until: instant, timer: nil)
                if let instant {
                    waiter.timer = Task { [clock] in
                        try? await clock.sleep(until: instant)
                        if Task.isCancelled { return }
                        self.wake(id)
                    }
                }
                waiters[id] = waiter
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }

    private func wake(_ id: Int) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume()
    }

    private func wakeAll() {
        let all = waiters
        waiters.removeAll()
        for waiter in all.values {
            waiter.timer?.cancel()
            waiter.continuation.resume()
        }
    }
}
