import Foundation
import NIOConcurrencyHelpers

/// The time a sandbox's rate limiter, penalty box and latency run on. A sandbox uses `SandboxSystemClock` (real
/// time); a test gives `SandboxManualClock` in `SandboxOptions.clock` so that a 30-second penalty passes at once.
public protocol SandboxClock: Sendable {
    /// Time since this clock's origin.
    func now() -> Duration
    /// Suspends for `duration` of this clock's time.
    func sleep(for duration: Duration) async throws
}

/// Real time, from `ContinuousClock`.
public struct SandboxSystemClock: SandboxClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }

    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        try await Task.sleep(for: duration)
    }
}

/// A clock that moves only when told: `advance(by:)` moves it and wakes every sleeper whose time has come.
public final class SandboxManualClock: SandboxClock {
    private struct Sleeper {
        let id: UInt64
        let deadline: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Duration
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state: NIOLockedValueBox<State>

    public init(now: Duration = .zero) { state = NIOLockedValueBox(State(now: now)) }

    public func now() -> Duration { state.withLockedValue { $0.now } }

    /// How many sleepers wait for the clock to move (a test can wait for a request to reach its sleep).
    public var sleepers: Int { state.withLockedValue { $0.sleepers.count } }

    /// Moves the clock forward and resumes the sleepers whose deadline is reached.
    public func advance(by duration: Duration) {
        let due = state.withLockedValue { state -> [Sleeper] in
            state.now += max(duration, .zero)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        let id = state.withLockedValue { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: state.now + duration, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let cancelled = state.withLockedValue { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }
}
