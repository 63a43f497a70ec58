import Foundation

extension RateLimit {
    /// This pacing with `requestsPerSecond` instead of its own (nil keeps it; 0 turns pacing off, for local
    /// sandboxes). The burst and window follow the new rate; the concurrency cap stays.
    public func overridden(requestsPerSecond rps: Double?) -> RateLimit? {
        guard let rps else { return self }
        guard rps > 0 else { return nil }
        if maxPerWindow != nil {
            return RateLimit(
                requestsPerSecond: rps, burst: burst, maxConcurrent: maxConcurrent, maxPerWindow: max(1, Int(rps)))
        }
        return RateLimit(requestsPerSecond: rps, burst: max(1, Int(rps)), maxConcurrent: maxConcurrent)
    }
}
