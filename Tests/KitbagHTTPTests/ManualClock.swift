import Foundation
import Testing

@testable import KitbagHTTP

/// A clock the test moves by hand: pacing waits, pauses and retry sleeps end when the test advances it, so a test of
/// a 30-second penalty takes milliseconds.
final class ManualClock: GateClock, @unchecked Sendable {
    private let lock = NSLock()
    private let origin = ContinuousClock.now
    private var offset: Duration = .zero
    private var sleepers: [Int: (deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private var nextSleeper = 0

    var now: ContinuousClock.Instant { lock.withLock { origin + offset } }

    /// Time moved since the clock was made.
    var elapsed: Duration { lock.withLock { offset } }

    func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = lock.withLock { () -> Int in
            nextSleeper += 1
            return nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = self.lock.withLock { () -> Bool? in
                    if Task.isCancelled { return false }
                    if self.origin + self.offset >= deadline { return true }
                    self.sleepers[id] = (deadline, continuation)
                    return nil
                }
                switch outcome {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let sleeper = self.lock.withLock { self.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock to `instant` (never backwards) and wakes every sleeper due by then.
    func advance(to instant: ContinuousClock.Instant) {
        let due = lock.withLock { () -> [CheckedContinuation<Void, any Error>] in
            offset = max(offset, instant - origin)
            let now = origin + offset
            let ready = sleepers.filter { $0.value.deadline <= now }
            for key in ready.keys { sleepers.removeValue(forKey: key) }
            return ready.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    func advance(by duration: Duration) { advance(to: now + duration) }

    /// How many sleep on the clock, and the earliest moment one of them waits for.
    var sleeping: (count: Int, earliest: ContinuousClock.Instant?) {
        lock.withLock { (sleepers.count, sleepers.values.map(\.deadline).min()) }
    }
}

/// Moves `clock` on, moment by moment, whenever every caller still running (`running()`) waits for it — in `client`'s
/// gate, in a retry sleep, or (its request in flight) in a test server sleeping on the same clock — until none runs.
/// A request on its way through sockets is not waiting, so the clock stands still until it has arrived somewhere.
/// A wait nothing could end (no move for 120 s) fails the test and throws, after waking every sleeper.
func driveClock(_ clock: ManualClock, for client: APIClient, running: @Sendable () -> Int) async throws {
    let gate = client.requestGate
    var lastMove = ContinuousClock.now
    while true {
        let callers = running()
        if callers == 0 { return }
        let state = await gate.waitState
        let (sleepers, next) = clock.sleeping
        // Every timed gate waiter has one timer asleep on the clock; the other sleepers are callers themselves (a
        // retry wait) or their requests (a server's delay).
        let waiting = state.waiting + sleepers - state.timed
        if !state.due, waiting == callers, let next {
            clock.advance(to: next)
            lastMove = ContinuousClock.now
        } else {
            if ContinuousClock.now - lastMove > .seconds(120) {
                Issue.record("the clock never settled: \(callers) callers still running")
                // Wake every sleeper, so no caller or server stays asleep, and end the callers' group.
                clock.advance(by: .seconds(86_400))
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
