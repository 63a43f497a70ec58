import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Progress of long work, per stage: items, bytes, requests, rate and ETA.
/// On a terminal it redraws one status line on stderr; otherwise it stays silent.
public final class ProgressReporter: @unchecked Sendable {
    public struct StageSummary: Sendable, Codable, Equatable {
        public var name: String
        public var items: Int
        public var bytes: Int64
        public var requests: Int
        public var seconds: Double
    }

    private let lock = NSLock()
    private let interactive: Bool
    private let minRedrawInterval: TimeInterval = 0.1
    private var lastDraw = Date.distantPast
    private var stage: String?
    private var stageStart = Date()
    private var items = 0
    private var total: Int?
    private var bytes: Int64 = 0
    private var requests = 0
    private var finished: [StageSummary] = []
    /// Why the work is paused and until when (a 429 penalty, a retry after a 5xx), shown instead of the ETA.
    private var waitReason: String?
    private var waitUntil = Date.distantPast
    private var ticker: Task<Void, Never>?

    /// - Parameter interactive: draw a live status line (pass `isatty(stderr)` unless `--quiet`/`--json`).
    public init(interactive: Bool) {
        self.interactive = interactive
    }

    /// A reporter that draws only when stderr is a terminal.
    public static func automatic(quiet: Bool) -> ProgressReporter {
        ProgressReporter(interactive: !quiet && isatty(STDERR_FILENO) == 1)
    }

    public static let silent = ProgressReporter(interactive: false)

    public func beginStage(_ name: String, total: Int? = nil) {
        lock.lock()
        closeStageLocked()
        stage = name
        stageStart = Date()
        items = 0
        bytes = 0
        requests = 0
        self.total = total
        lock.unlock()
        redraw(force: true)
    }

    public func setTotal(_ total: Int?) {
        lock.lock()
        self.total = total
        lock.unlock()
    }

    public func advance(items: Int = 0, bytes: Int64 = 0) {
        lock.lock()
        self.items += items
        self.bytes += bytes
        lock.unlock()
        redraw(force: false)
    }

    public func countRequest() {
        lock.lock()
        requests += 1
        lock.unlock()
        redraw(force: false)
    }

    /// Says on the status line that the work waits, why and for how long; the line counts down until it resumes.
    /// Off a terminal this draws nothing (the log says it).
    public func waiting(_ reason: String, seconds: Double) {
        lock.lock()
        waitReason = reason
        waitUntil = Date().addingTimeInterval(seconds)
        let startTicker = interactive && ticker == nil
        if startTicker {
            ticker = Task { [weak self] in
                while let self, self.isWaiting, !Task.isCancelled {
                    self.redraw(force: true)
                    try? await Task.sleep(for: .milliseconds(500))
                }
                self?.endTicker()
            }
        }
        lock.unlock()
        redraw(force: true)
    }

    /// The wait is over (the work resumed, perhaps sooner than announced): the line shows the ETA again.
    public func endWaiting() {
        lock.lock()
        let wasWaiting = waitReason != nil
        waitReason = nil
        waitUntil = .distantPast
        lock.unlock()
        if wasWaiting { redraw(force: true) }
    }

    private var isWaiting: Bool {
        lock.lock()
        defer { lock.unlock() }
        return waitReason != nil && waitUntil > Date()
    }

    private func endTicker() {
        lock.lock()
        ticker = nil
        lock.unlock()
        redraw(force: true)
    }

    /// The status line as it would be drawn now (nil between stages).
    public var statusLine: String? {
        lock.lock()
        defer { lock.unlock() }
        return statusLineLocked(now: Date())
    }

    /// Ends the current stage and clears the status line.
    public func finish() {
        lock.lock()
        ticker?.cancel()
        ticker = nil
        waitReason = nil
        closeStageLocked()
        let wasInteractive = interactive
        lock.unlock()
        if wasInteractive { write("\r\u{1B}[K") }
    }

    public var stages: [StageSummary] {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    private func closeStageLocked() {
        if let stage {
            finished.append(
                StageSummary(
                    name: stage, items: items, bytes: bytes, requests: requests,
                    seconds: Date().timeIntervalSince(stageStart)))
        }
        stage = nil
    }

    private func redraw(force: Bool) {
        guard interactive else { return }
        lock.lock()
        let now = Date()
        guard stage != nil, force || now.timeIntervalSince(lastDraw) >= minRedrawInterval else {
            lock.unlock()
            return
        }
        lastDraw = now
        let line = statusLineLocked(now: now)
        lock.unlock()
        if let line { write("\r\u{1B}[K" + line) }
    }

    private func statusLineLocked(now: Date) -> String? {
        guard let stage else { return nil }
        let elapsed = max(now.timeIntervalSince(stageStart), 0.001)
        let rate = Double(items) / elapsed
        var line = "\(stage): \(items)"
        if let total { line += "/\(total)" }
        line += " items · \(ByteCount.format(bytes)) · \(requests) req · \(String(format: "%.0f", rate)) items/s"
        if let waitReason, waitUntil > now {
            line += " · \(waitReason), waiting \(Int(waitUntil.timeIntervalSince(now).rounded(.up))) s"
        } else if let total, rate > 0, total > items {
            line += " · ETA \(Self.duration(Double(total - items) / rate))"
        }
        return line
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Human-readable byte counts (binary units).
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(bytes)
        var u = 0
        while v >= 1024, u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[u])
    }
}
