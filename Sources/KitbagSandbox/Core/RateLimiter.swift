import Foundation

/// Sliding-window rate limit per client key with a penalty box: the request that exceeds
/// `limit` requests in any `window` gets 429, and so does every request from that key until
/// the penalty has passed (Kinopio: 5 per second, then 30 s of 429s). Time comes from `clock`, so a test can let
/// the penalty pass without waiting.
actor SandboxRateLimiter {
    enum Verdict: Sendable, Equatable {
        case allowed
        /// Refused; `retryAfter` is the time left in the penalty.
        case limited(retryAfter: Duration)
    }

    private struct ClientState {
        var recent: [Duration] = []
        var penaltyUntil: Duration?
    }

    private let limit: Int
    private let window: Duration
    private let penalty: Duration
    private let clock: any SandboxClock
    private var clients: [String: ClientState] = [:]

    init(requestsPerSecond: Double, penaltySeconds: Double, clock: any SandboxClock = SandboxSystemClock()) {
        self.clock = clock
        // A fractional rate (e.g. 0.5/s) becomes one request per 1/rate seconds.
        if requestsPerSecond >= 1 {
            limit = Int(requestsPerSecond.rounded(.down))
            window = .seconds(1)
        } else {
            limit = 1
            window = .milliseconds(Int64((1000 / max(requestsPerSecond, 0.001)).rounded()))
        }
        penalty = .milliseconds(Int64((max(penaltySeconds, 0) * 1000).rounded()))
    }

    /// Records one request from `client` and says whether it may proceed.
    func admit(_ client: String) -> Verdict {
        let now = clock.now()
        var state = clients[client] ?? ClientState()
        defer { clients[client] = state }
        if let until = state.penaltyUntil {
            if now < until { return .limited(retryAfter: until - now) }
            state.penaltyUntil = nil
            state.recent.removeAll()
        }
        state.recent.removeAll { now - $0 >= window }
        if state.recent.count >= limit {
            state.penaltyUntil = now + penalty
            state.recent.removeAll()
            return .limited(retryAfter: penalty)
        }
        state.recent.append(now)
        return .allowed
    }
}
