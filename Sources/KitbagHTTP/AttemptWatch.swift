import Foundation

/// Deadlines of one attempt: the whole-request limit and the idle limit, enforced by a watchdog task.
final class AttemptWatch: @unchecked Sendable {
    struct TimedOut: Error {}

    private let lock = NSLock()
    private let clock = ContinuousClock()
    private let requestDeadline: ContinuousClock.Instant
    private let idle: Duration
    private let deadlineCoversBody: Bool
    private var lastActivity: ContinuousClock.Instant
    private var headArrived = false
    private var inSink = false
    private var delivered: Int64 = 0

    init(request: Duration, idle: Duration, deadlineCoversBody: Bool) {
        let now = clock.now
        self.requestDeadline = now + request
        self.idle = idle
        self.deadlineCoversBody = deadlineCoversBody
        self.lastActivity = now
    }

    /// The response head arrived.
    func head() {
        lock.withLock {
            headArrived = true
            lastActivity = clock.now
        }
    }

    var hasHead: Bool { lock.withLock { headArrived } }

    /// Bytes arrived from the network.
    func activity() {
        lock.withLock { lastActivity = clock.now }
    }

    /// Time spent in the caller's sink is not network silence.
    func enterSink() { lock.withLock { inSink = true } }

    func leaveSink(delivered bytes: Int) {
        lock.withLock {
            inSink = false
            delivered += Int64(bytes)
            lastActivity = clock.now
        }
    }

    /// Bytes already handed to a download sink in this attempt.
    var deliveredBytes: Int64 { lock.withLock { delivered } }

    /// The longest single sleep of the watchdog.
    static let step: Duration = .seconds(1)

    /// Sleeps until a limit passes, then throws `TimedOut`; ends with CancellationError when the attempt ends first.
    func watchdog() async throws {
        while true {
            let (due, expired) = lock.withLock { () -> (ContinuousClock.Instant, Bool) in
                let now = clock.now
                var due = inSink ? now + idle : lastActivity + idle
                if deadlineCoversBody || !headArrived { due = min(due, requestDeadline) }
                return (due, due <= now)
            }
            if expired { throw TimedOut() }
            // Sleep in short steps: a cancelled sleep's timer stays queued in the runtime until its original
            // deadline (Linux), so one long sleep per attempt held ~1 KiB per request for the whole timeout —
            // 100k quick requests grew the heap by ~80 MiB. Steps of a second bound that to one second's worth.
            try await clock.sleep(until: min(due, clock.now + Self.step), tolerance: .milliseconds(5))
        }
    }

    /// Runs `body` while the watchdog guards it; a tripped watchdog cancels the body and throws `TimedOut`.
    func guarding<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await self.watchdog()
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw CancellationError()
        }
    }
}
