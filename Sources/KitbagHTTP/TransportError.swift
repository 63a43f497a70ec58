import AsyncHTTPClient
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What went wrong below HTTP, reduced to what the retry loop needs.
enum TransportProblem: Sendable, Equatable {
    /// Refused, unresolvable, unroutable, or the connect/TLS handshake failed: retried only a couple of times.
    case unreachable(String)
    /// Reset or closed before the answer.
    case connectionLost(String)
    /// No answer, or the answer stalled.
    case timedOut
    /// The body was cut short.
    case truncated(String)
    /// The URL cannot be used at all.
    case invalidURL

    /// Classifies an error thrown by AsyncHTTPClient or NIO. `duringBody` is true once the head arrived.
    static func classify(_ error: any Error, duringBody: Bool) -> TransportProblem {
        var found: [any Error] = []
        collect(error, depth: 0, into: &found)
        for e in found {
            if let io = e as? IOError {
                switch io.errnoCode {
                case ECONNREFUSED: return .unreachable("connection refused")
                case ENETUNREACH: return .unreachable("network unreachable")
                case EHOSTUNREACH: return .unreachable("host unreachable")
                case ETIMEDOUT: return duringBody ? .timedOut : .unreachable("connect timed out")
                case ECONNRESET, ECONNABORTED, EPIPE:
                    return duringBody ? .truncated("connection reset") : .connectionLost("connection reset")
                default: break
                }
            }
            if e is SocketAddressError || e is SocketAddressError.UnknownHost { return .unreachable("host name not found") }
            if let channel = e as? ChannelError {
                switch channel {
                case .connectTimeout: return .unreachable("connect timed out")
                case .eof, .ioOnClosedChannel, .outputClosed, .inputClosed, .alreadyClosed:
                    return duringBody ? .truncated("connection closed") : .connectionLost("connection closed")
                default: break
                }
            }
            if let client = e as? HTTPClientError {
                switch client {
                case .connectTimeout, .tlsHandshakeTimeout: return .unreachable("connect timed out")
                case .readTimeout, .deadlineExceeded, .writeTimeout: return .timedOut
                case .remoteConnectionClosed:
                    return duringBody ? .truncated("connection closed") : .connectionLost("connection closed")
                case .invalidURL, .emptyHost, .emptyScheme: return .invalidURL
                default: break
                }
                let text = String(describing: client)
                if text.contains("unsupportedScheme") || text.contains("invalidURL") { return .invalidURL }
            }
            let typeName = String(reflecting: type(of: e))
            if typeName.contains("NIOSSL") || typeName.contains("BoringSSL") {
                return .unreachable("TLS handshake failed")
            }
            if typeName.contains("HTTPParserError") {
                let text = String(describing: e)
                if text.contains("invalidEOFState") || duringBody { return .truncated("connection closed mid-body") }
                return .connectionLost("malformed HTTP answer")
            }
        }
        if duringBody { return .truncated("connection dropped") }
        return .connectionLost(String(describing: type(of: error)))
    }

    /// Walks an error and the errors nested in it (NIOConnectionError keeps one per address tried).
    private static func collect(_ value: Any, depth: Int, into found: inout [any Error]) {
        if let e = value as? any Error { found.append(e) }
        guard depth < 5 else { return }
        for child in Mirror(reflecting: value).children {
            collect(child.value, depth: depth + 1, into: &found)
        }
    }
}
