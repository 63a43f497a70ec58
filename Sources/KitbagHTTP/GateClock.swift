import Foundation

/// The time source of a client's pacing, pauses and retry waits: the system's monotonic clock in use, a clock the
/// test moves by hand in tests, so pacing is proven without waiting real seconds.
protocol GateClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Returns at `deadline` (at once if it has passed); throws CancellationError when the task is cancelled.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

/// The real monotonic clock.
struct SystemGateClock: GateClock {
    private let clock = ContinuousClock()

    var now: ContinuousClock.Instant { clock.now }

    func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await clock.sleep(until: deadline, tolerance: .milliseconds(1))
    }
}

extension GateClock {
    func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}
