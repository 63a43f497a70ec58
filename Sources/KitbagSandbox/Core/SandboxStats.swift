import Foundation

/// What a sandbox has seen and done since it started.
public struct SandboxStats: Sendable, Equatable {
    /// Every request received, including refused and faulted ones.
    public var totalRequests = 0
    /// Requests per route label, e.g. `"GET /space/:spaceId"`; unknown routes count under `"METHOD (unmatched)"`.
    public var requestsByRoute: [String: Int] = [:]
    /// Responses per HTTP status (injected resets and truncations are not responses and are not counted here).
    public var responsesByStatus: [Int: Int] = [:]
    /// 429s sent by the rate limiter (the request over the limit and those inside the penalty).
    public var rateLimited = 0
    /// Faults injected, all kinds together.
    public var faultsInjected = 0
    /// Faults injected per kind.
    public var faultsByKind: [SandboxFault: Int] = [:]
    /// Current levels a sandbox reports, e.g. Kintone's `"openCursors"`.
    public var gauges: [String: Int] = [:]
    /// 429s sent because too many requests were in flight at once (also counted in `rateLimited`).
    public var concurrencyLimited = 0
    /// The most requests the sandbox held at once (from the moment one came in, before any `--latency`, until its
    /// response head): more than 1 shows a client sent requests concurrently.
    public var peakRunning = 0

    public init() {}

    /// All 429s sent, by the rate limiter or injected.
    public var tooManyRequestsSent: Int { responsesByStatus[429] ?? 0 }

    /// Requests counted for one route label.
    public func requests(_ label: String) -> Int { requestsByRoute[label] ?? 0 }
}

/// Counts requests and deals out the fault plan; one per running sandbox.
actor SandboxMonitor {
    private var stats = SandboxStats()
    private var faults: FaultPlan

    init(faultRate: Double, faultSeed: UInt64) {
        faults = FaultPlan(rate: faultRate, seed: faultSeed)
    }

    /// Records an incoming request and returns the fault to inject for it, if any.
    private var running = 0

    /// A request came in (before anything delays, counts or refuses it).
    func entered() {
        running += 1
        stats.peakRunning = max(stats.peakRunning, running)
    }

    /// A request that `entered` has its answer (or failed).
    func left() { running = max(running - 1, 0) }

    func arrived(route label: String) -> SandboxFault? {
        stats.totalRequests += 1
        stats.requestsByRoute[label, default: 0] += 1
        return faults.next()
    }

    func injected(_ fault: SandboxFault) {
        stats.faultsInjected += 1
        stats.faultsByKind[fault, default: 0] += 1
    }

    func rateLimitedOne() { stats.rateLimited += 1 }

    func concurrencyLimitedOne() {
        stats.rateLimited += 1
        stats.concurrencyLimited += 1
    }

    func responded(_ status: Int) { stats.responsesByStatus[status, default: 0] += 1 }

    func snapshot() -> SandboxStats { stats }
}
