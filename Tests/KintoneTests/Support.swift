import Foundation
import KitbagCore
import Logging
import Testing

/// Shared helpers for the Kintone connector tests: real sandboxes on 127.0.0.1, real archives in temp folders.
enum Fixture {
    static let logger: Logger = {
        var l = Logger(label: "kitbag.tests.kintone")
        l.logLevel = .warning
        return l
    }()

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-kintone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A tunnelling HTTP proxy on 127.0.0.1 for the proxy tests: it records each request line (`CONNECT host:port
/// HTTP/1.1`, as AsyncHTTPClient talks to every proxy), opens the tunnel to `upstream` whatever host was named, and
/// pipes bytes both ways. `@unchecked`: `seen` is only touched under the lock.
final class RecordingProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var seen: [String] = []

    var requestLines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    static func tcpSocket() -> Int32 {
        #if canImport(Glibc)
            socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            socket(AF_INET, SOCK_STREAM, 0)
        #endif
    }

    init(upstreamPort: Int) throws {
        let fd = Self.tcpSocket()
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { if errno == EINTR { continue } else { return } }
                Thread.detachNewThread { self.serve(client, upstreamPort: upstreamPort) }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Copies bytes from `from` to `to` until `from` ends, then half-closes `to`.
    static func pipe(_ from: Int32, _ to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            _ = buffer.withUnsafeBytes { write(to, $0.baseAddress, n) }
        }
        shutdown(to, Int32(SHUT_WR))
    }

    private func serve(_ client: Int32, upstreamPort: Int) {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while read(client, &byte, 1) == 1 {
            head.append(byte)
            if head.count >= 4, head.suffix(4) == [13, 10, 13, 10] { break }
        }
        let line = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        lock.lock()
        seen.append(line)
        lock.unlock()
        let upstream = Self.tcpSocket()
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(upstreamPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, len) } }
        guard line.hasPrefix("CONNECT "), connected == 0 else {
            close(upstream)
            close(client)
            return
        }
        let established = Array("HTTP/1.1 200 Connection Established\r\n\r\n".utf8)
        _ = established.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Self.pipe(client, upstream)
            done.signal()
        }
        Self.pipe(upstream, client)
        done.wait()
        close(upstream)
        close(client)
    }
}
