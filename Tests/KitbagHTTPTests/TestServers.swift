import Foundation
import Hummingbird
import Logging

@testable import KitbagHTTP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thread-safe box for what a test server observed.
final class Observed<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    var current: Value { lock.withLock { value } }
    @discardableResult
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}

/// Runs a Hummingbird server on 127.0.0.1, port 0, for the duration of `body`.
func withHummingbird<R: Sendable>(
    _ configure: (Router<BasicRequestContext>) -> Void,
    _ body: @Sendable (Int) async throws -> R
) async throws -> R {
    let router = Router()
    configure(router)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    var quiet = Logger(label: "test-server")
    quiet.logLevel = .critical
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        },
        logger: quiet)
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await app.runService(gracefulShutdownSignals: [])
            return nil
        }
        var port = 0
        for await p in ports { port = p }
        defer { group.cancelAll() }
        let result = try await body(port)
        group.cancelAll()
        return result
    }
}

/// A bare TCP server for answers Hummingbird will not produce (short bodies, resets, trickles).
/// Each connection's request head is read, then `handler(connectionNumber, fd)` writes what it likes.
final class RawServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let connections = Observed(0)

    /// Connections that delivered a request head (one request per connection: every answer closes).
    var connectionCount: Int { connections.current }

    init(handler: @escaping @Sendable (Int, Int32) -> Void) throws {
        let (fd, port) = try loopbackSocket(reuseAddress: true)
        guard listen(fd, 32) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.listener = fd
        self.port = port
        let connections = self.connections
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                Thread.detachNewThread {
                    // Only a connection that delivered a request counts: on a starved machine the client may
                    // give up on a connect the kernel already accepted, and that one never sends a head.
                    if RawServer.readHead(client) {
                        let number = connections.update { n -> Int in
                            n += 1
                            return n
                        }
                        handler(number, client)
                    }
                    close(client)
                }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Reads a request head; false if the peer went away first.
    @discardableResult
    static func readHead(_ fd: Int32) -> Bool {
        var seen: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 {
            seen.append(byte)
            if seen.count >= 4, seen.suffix(4) == [13, 10, 13, 10] { return true }
        }
        return false
    }

    /// Writes everything; false once the peer has gone.
    @discardableResult
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            #endif
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    static func write(_ fd: Int32, _ text: String) -> Bool { write(fd, Array(text.utf8)) }

    /// Closes with a TCP reset instead of a FIN.
    static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    /// Blocks until the peer closes (or `seconds` pass).
    static func waitForPeerClose(_ fd: Int32, seconds: Int32) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var buffer = [UInt8](repeating: 0, count: 512)
        let end = Date().addingTimeInterval(Double(seconds))
        while Date() < end {
            if poll(&pfd, 1, 100) > 0 {
                if read(fd, &buffer, buffer.count) <= 0 { return }
            }
        }
    }
}

/// A TCP socket bound to a free port on 127.0.0.1 (not listening yet), and that port.
func loopbackSocket(reuseAddress: Bool) throws -> (fd: Int32, port: Int) {
    #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw POSIXError(.EIO) }
    if reuseAddress {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    guard bound == 0 else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// A port on 127.0.0.1 nothing listens on: a socket is bound to it and never listens, so connecting is refused,
/// and the socket stays open for the rest of the test process so no other test's server can take the port.
func closedPort() throws -> Int {
    try loopbackSocket(reuseAddress: false).port
}

/// Captures every log line (message and metadata) for secret checks.
struct CapturingLogHandler: LogHandler {
    let lines: Observed<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        lines.update { $0.append("\(event.level) \(event.message) \(all) \(event.error.map { "\($0)" } ?? "")") }
    }
}

func capturingLogger() -> (Logger, Observed<[String]>) {
    let lines = Observed<[String]>([])
    let logger = Logger(label: "kitbag-http-test") { _ in CapturingLogHandler(lines: lines) }
    return (logger, lines)
}

/// Drops every log line (tests that do not inspect logs).
let quietLogger = Logger(label: "kitbag-http-test") { _ in SwiftLogNoOpLogHandler() }

/// A Hummingbird server that behaves like a distant, limited service: every request takes `outbound` to arrive
/// (only then does the server count it), the server's work, and `back` to return. It enforces a rate limit as
/// Kinopio does (`perWindow` arrivals in any `window`, then `penalty` of 429s) and/or a concurrency limit as Kintone
/// does (429 `GAIA_TO04` beyond the limit, `X-ConcurrencyLimit-Limit` / `-Running` on every answer, counting
/// `othersRunning` of other integrations), and records what it saw on its own clock.
final class DistantServer: Sendable {
    struct Settings: Sendable {
        var outbound: Duration = .milliseconds(25)
        var back: Duration = .milliseconds(25)
        /// The server's work, given how many requests of ours it is running (this one included).
        var work: @Sendable (_ running: Int) -> Duration = { _ in .zero }
        var perWindow: Int?
        var window: Duration = .seconds(1)
        var penalty: Duration = .seconds(30)
        var concurrencyLimit: Int?
        var othersRunning = 0
        /// Whether answers carry `X-ConcurrencyLimit-Limit` / `-Running` (a proxy or another service may 429 without).
        var reportsConcurrency = true
        /// A `Retry-After` (seconds) on every 429.
        var retryAfter: Int?
    }

    struct Seen: Sendable {
        /// When each request arrived, as the server counts it.
        var arrivals: [ContinuousClock.Instant] = []
        /// Requests of ours running when each arrived (after admitting it).
        var runningAtArrival: [Int] = []
        var tooManyRequests = 0
        var served = 0
        var running = 0
        var peakRunning = 0
        var recent: [ContinuousClock.Instant] = []
        var penaltyUntil: ContinuousClock.Instant?
    }

    let settings: Observed<Settings>
    let seen = Observed(Seen())
    let clock: any GateClock

    init(_ settings: Settings, clock: any GateClock = SystemGateClock()) {
        self.settings = Observed(settings)
        self.clock = clock
    }

    /// Answers `GET /item/{id}` with `{"ok":true}` (or a 429).
    func install(on router: Router<BasicRequestContext>) {
        router.get("/item/{id}") { _, _ in try await self.answer() }
    }

    private func answer() async throws -> Response {
        let s = settings.current
        try await clock.sleep(for: s.outbound)
        let now = clock.now
        enum Verdict { case rateLimited, concurrencyLimited, admitted(running: Int) }
        let verdict = seen.update { seen -> Verdict in
            seen.arrivals.append(now)
            if let perWindow = s.perWindow {
                if let until = seen.penaltyUntil, now < until {
                    seen.tooManyRequests += 1
                    return .rateLimited
                }
                seen.recent.removeAll { now - $0 >= s.window }
                if seen.recent.count >= perWindow {
                    seen.penaltyUntil = now + s.penalty
                    seen.recent.removeAll()
                    seen.tooManyRequests += 1
                    return .rateLimited
                }
                seen.recent.append(now)
            }
            if let limit = s.concurrencyLimit, seen.running + s.othersRunning >= limit {
                seen.tooManyRequests += 1
                return .concurrencyLimited
            }
            seen.running += 1
            seen.peakRunning = max(seen.peakRunning, seen.running)
            seen.runningAtArrival.append(seen.running)
            return .admitted(running: seen.running)
        }
        var fields: HTTPFields = [.contentType: "application/json"]
        let status: HTTPResponse.Status
        let body: String
        switch verdict {
        case .rateLimited:
            (status, body) = (.tooManyRequests, #"{"message":"rate limit exceeded"}"#)
            if let after = s.retryAfter { fields[.retryAfter] = String(after) }
        case .concurrencyLimited:
            (status, body) = (.tooManyRequests, #"{"code":"GAIA_TO04","id":"x","message":"too many concurrent requests"}"#)
            if let after = s.retryAfter { fields[.retryAfter] = String(after) }
            if let limit = s.concurrencyLimit, s.reportsConcurrency { Self.addConcurrency(&fields, limit: limit, running: limit) }
        case .admitted(let running):
            try await clock.sleep(for: s.work(running))
            seen.update {
                $0.running -= 1
                $0.served += 1
            }
            (status, body) = (.ok, #"{"ok":true}"#)
            if let limit = s.concurrencyLimit, s.reportsConcurrency {
                Self.addConcurrency(&fields, limit: limit, running: running + s.othersRunning)
            }
        }
        try await clock.sleep(for: s.back)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private static func addConcurrency(_ fields: inout HTTPFields, limit: Int, running: Int) {
        fields[HTTPFields.Element.Name("X-ConcurrencyLimit-Limit")!] = String(limit)
        fields[HTTPFields.Element.Name("X-ConcurrencyLimit-Running")!] = String(running)
    }

    /// Most arrivals in any span shorter than `window`, as the server counts them.
    func mostArrivals(within window: Duration) -> Int {
        KitbagHTTPTests.mostArrivals(seen.current.arrivals.sorted(), within: window)
    }
}

/// Sends `count` requests to `/item/N` from `callers` tasks at once; returns how many succeeded. With a hand-moved
/// `clock`, moves it whenever every caller waits for it.
@discardableResult
func sendItems(
    _ count: Int, from callers: Int, through client: APIClient, first: Int = 0, clock: ManualClock? = nil
) async throws -> Int {
    let next = Observed(first)
    let done = Observed(0)
    let running = Observed(callers)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<callers {
            group.addTask {
                defer { running.update { $0 -= 1 } }
                while true {
                    let n = next.update { n -> Int in
                        n += 1
                        return n - 1
                    }
                    guard n < first + count else { return }
                    _ = try await client.json(APIRequest(method: .GET, path: "/item/\(n)", route: "GET /item/:id"))
                    done.update { $0 += 1 }
                }
            }
        }
        if let clock { try await driveClock(clock, for: client) { running.current } }
        try await group.waitForAll()
    }
    return done.current
}
