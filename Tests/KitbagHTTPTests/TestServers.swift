import Foundation
import Hummingbird
import Logging

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
