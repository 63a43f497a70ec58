import Foundation

/// A failure the sandbox injects instead of handling a request. A faulted request is never
/// processed, so a faulted write did not happen: the client may safely retry it.
public enum SandboxFault: String, Sendable, CaseIterable, Codable {
    /// 500 with the service's JSON error body.
    case internalError = "500"
    /// 503 with the service's JSON error body.
    case unavailable = "503"
    /// 429 without the rate-limit penalty.
    case tooManyRequests = "429"
    /// The connection is closed without any response.
    case connectionReset = "reset"
    /// A 200 whose Content-Length promises more bytes than are sent before the connection closes.
    case truncatedBody = "truncated"
}

/// SplitMix64: a tiny, fast, seedable generator; the same seed gives the same sequence everywhere.
package struct SplitMix64: Sendable {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A double in [0, 1).
    package mutating func nextUnit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }
}

/// Decides, request by request, whether to inject a fault and which: the n-th request gets the
/// same decision for the same seed and rate, whatever the routes.
struct FaultPlan: Sendable {
    let rate: Double
    private var random: SplitMix64

    init(rate: Double, seed: UInt64) {
        self.rate = min(max(rate, 0), 1)
        self.random = SplitMix64(seed: seed)
    }

    mutating func next() -> SandboxFault? {
        guard rate > 0 else { return nil }
        // Always draw twice so the pattern does not depend on earlier outcomes.
        let roll = random.nextUnit()
        let pick = random.next()
        guard roll < rate else { return nil }
        let all = SandboxFault.allCases
        return all[Int(pick % UInt64(all.count))]
    }
}
