import Foundation
import KitbagCore

/// Why a request to a service failed, after retries. Every string inside is already free of secrets.
public enum HTTPFailure: KitbagError, Equatable {
    /// 401: the credentials were refused.
    case unauthorized(service: String, route: String, status: Int, message: String?, hint: String)
    /// 403: the credentials may not do this.
    case forbidden(service: String, route: String, status: Int, message: String?)
    /// 404 (or 410): no such thing, or not visible to these credentials.
    case notFound(service: String, route: String, status: Int, message: String?)
    /// Any other 4xx (and unexpected 3xx); not retried.
    case clientError(service: String, route: String, status: Int, message: String?)
    /// 5xx on every attempt.
    case serverError(service: String, route: String, status: Int, attempts: Int, message: String?)
    /// The host refused the connection, could not be resolved or did not answer the connect.
    case unreachable(service: String, host: String, reason: String)
    /// Every attempt timed out (no answer, or the answer stalled).
    case timeout(service: String, route: String, attempts: Int)
    /// The connection was reset or closed before an answer, on every attempt.
    case connectionLost(service: String, route: String, attempts: Int, reason: String)
    /// The body was cut short (fewer bytes than Content-Length, or the connection dropped) on every attempt.
    case truncatedBody(service: String, route: String, attempts: Int)
    /// A streaming download broke after bytes were already handed on, so it cannot be retried.
    case downloadInterrupted(service: String, route: String, bytesDelivered: Int64, reason: String)
    /// The answer is not what the route promises (e.g. invalid JSON).
    case invalidBody(service: String, route: String, reason: String)
    /// Still answered 429 after waiting the allowed number of times (or asked for too long a wait).
    case rateLimited(service: String, route: String, attempts: Int)
    /// The answer is larger than the client agrees to buffer.
    case bodyTooLarge(service: String, route: String, limit: Int)
    /// The base URL and path do not make a usable URL.
    case invalidURL(service: String, url: String)

    /// HTTP status of the last answer, if there was one.
    public var status: Int? {
        switch self {
        case .unauthorized(_, _, let s, _, _), .forbidden(_, _, let s, _), .notFound(_, _, let s, _),
            .clientError(_, _, let s, _), .serverError(_, _, let s, _, _):
            return s
        case .rateLimited: return 429
        default: return nil
        }
    }

    public var isNotFound: Bool { if case .notFound = self { return true }; return false }
    public var isForbidden: Bool { if case .forbidden = self { return true }; return false }
    public var isUnauthorized: Bool { if case .unauthorized = self { return true }; return false }
    public var isRateLimited: Bool { if case .rateLimited = self { return true }; return false }

    /// The service's own error message, when it sent one.
    public var serviceMessage: String? {
        switch self {
        case .unauthorized(_, _, _, let m, _), .forbidden(_, _, _, let m), .notFound(_, _, _, let m),
            .clientError(_, _, _, let m), .serverError(_, _, _, _, let m):
            return m
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .unauthorized(let service, let route, let status, let message, let hint):
            return "\(service): \(HTTPStatusText.line(status)) on \(route)\(Self.quote(message)) — \(hint)"
        case .forbidden(let service, let route, let status, let message):
            return "\(service): \(HTTPStatusText.line(status)) on \(route)\(Self.quote(message))"
                + " — these credentials are not allowed to do this; use a key with more access"
        case .notFound(let service, let route, let status, let message):
            return "\(service): \(HTTPStatusText.line(status)) on \(route)\(Self.quote(message))"
                + " — it does not exist or these credentials cannot see it"
        case .clientError(let service, let route, let status, let message):
            return "\(service): \(HTTPStatusText.line(status)) on \(route)\(Self.quote(message))"
                + " — the service rejected the request"
        case .serverError(let service, let route, let status, let attempts, let message):
            return "\(service): \(route) failed after \(Self.attempts(attempts)) (last: \(HTTPStatusText.line(status))"
                + "\(message.map { ", \($0)" } ?? "")) — the service is having trouble; try again later"
        case .unreachable(let service, let host, let reason):
            return "\(service): cannot connect to \(host) (\(reason)) — check --base-url and the network"
        case .timeout(let service, let route, let attempts):
            return "\(service): \(route) timed out after \(Self.attempts(attempts))"
                + " — the service is slow or the network unstable; try again later"
        case .connectionLost(let service, let route, let attempts, let reason):
            return "\(service): \(route) failed after \(Self.attempts(attempts)) (last: \(reason))"
                + " — the network is unstable; try again later"
        case .truncatedBody(let service, let route, let attempts):
            return "\(service): \(route) failed after \(Self.attempts(attempts)) (last: response body cut short)"
                + " — the network is unstable; try again later"
        case .downloadInterrupted(let service, let route, let bytes, let reason):
            return "\(service): download \(route) broke after \(ByteCount.format(bytes)) (\(reason))"
                + " and cannot be resumed — run the command again"
        case .invalidBody(let service, let route, let reason):
            return "\(service): \(route) answered with an unreadable body (\(reason))"
                + " — check --base-url points at the \(service) API"
        case .rateLimited(let service, let route, let attempts):
            return "\(service): \(route) still rate limited (429) after \(Self.attempts(attempts))"
                + " — wait a few minutes, then run again"
        case .bodyTooLarge(let service, let route, let limit):
            return "\(service): \(route) answered with more than \(ByteCount.format(Int64(limit)))"
                + " — refusing to hold it in memory"
        case .invalidURL(let service, let url):
            return "\(service): \(url) is not a usable URL — check --base-url"
        }
    }

    private static func quote(_ message: String?) -> String {
        guard let message, !message.isEmpty else { return "" }
        return ": \(message)"
    }

    private static func attempts(_ n: Int) -> String { n == 1 ? "1 attempt" : "\(n) attempts" }
}

/// Reason phrases for the statuses people meet.
enum HTTPStatusText {
    static func line(_ status: Int) -> String {
        if let phrase = phrases[status] { return "\(status) \(phrase)" }
        return "HTTP \(status)"
    }

    static let phrases: [Int: String] = [
        301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
        400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
        405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
        411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large", 414: "URI Too Long",
        415: "Unsupported Media Type", 422: "Unprocessable Content", 423: "Locked", 429: "Too Many Requests",
        500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout", 507: "Insufficient Storage", 520: "Unknown Error", 521: "Web Server Is Down",
        522: "Connection Timed Out", 523: "Origin Is Unreachable", 524: "A Timeout Occurred",
    ]
}
