import Foundation
import KitbagCore

/// Where one service lives and how to authenticate to it.
public struct ServiceEndpoint: Sendable {
    /// Short service name ("kinopio"), used as the prefix of every message and log line.
    public var service: String
    /// Scheme, host, port and optional path prefix; request paths are appended to it.
    public var baseURL: URL
    /// Headers sent with every request (auth and extras). Their values never appear in messages or logs.
    public var headers: [(String, String)]
    /// Every secret string (keys, tokens, passwords); redacted from any message or log line.
    public var secrets: [String]
    /// What to do about bad credentials, appended to 401 messages.
    public var credentialHint: String
    /// Auth headers that change during a run and can be renewed after a 401 (OAuth); sent after `headers`.
    public var credentials: (any CredentialSource)?

    public init(
        service: String, baseURL: URL, headers: [(String, String)] = [], secrets: [String] = [],
        credentialHint: String = "check the credentials", credentials: (any CredentialSource)? = nil
    ) {
        self.credentials = credentials
        self.service = service
        self.baseURL = baseURL
        self.headers = headers
        // Values of auth-like headers are secrets too, whatever the caller listed.
        let authLike = ["auth", "key", "token", "cookie", "secret", "password", "session"]
        let headerSecrets = headers.filter { h in authLike.contains { h.0.lowercased().contains($0) } }.map(\.1)
        self.secrets = Array(Set((secrets + headerSecrets).filter { $0.count >= 4 })).sorted { $0.count > $1.count }
        self.credentialHint = credentialHint
    }
}

/// How failed attempts are retried.
public struct RetryPolicy: Sendable {
    /// Attempts per request for 5xx, resets, timeouts and truncated bodies (429 waits are counted separately).
    public var maxAttempts = 6
    /// First backoff step; each retry doubles it (full jitter), up to `maxDelay`.
    public var baseDelay: Duration = .milliseconds(250)
    public var maxDelay: Duration = .seconds(20)
    /// Pause after a 429 without `Retry-After` (Kinopio: 30 s). nil: exponential backoff.
    public var penaltyAfter429: Duration?
    /// How many 429 answers one request may wait out before failing with `rateLimited`.
    public var max429Waits: Int = 6
    /// A `Retry-After` longer than this fails at once instead of stalling the run.
    public var maxRetryAfter: Duration = .seconds(300)
    /// Attempts when the host refuses or cannot be resolved (kept small: a wrong URL should fail fast).
    public var maxConnectAttempts = 3
    /// Pause between those connect attempts.
    public var connectRetryDelay: Duration = .milliseconds(200)

    public init(
        maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(20),
        penaltyAfter429: Duration? = nil, max429Waits: Int = 6
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.penaltyAfter429 = penaltyAfter429
        self.max429Waits = max429Waits
    }

    /// Exponential backoff with full jitter for the given retry (1 = first retry).
    func backoff(retry: Int) -> Duration {
        let base = baseDelay.seconds
        let cap = min(maxDelay.seconds, base * pow(2, Double(max(0, retry - 1))))
        return .seconds(Double.random(in: 0...max(cap, 0)))
    }
}

/// Client-side pacing by the service's own rules: a token bucket (a documented rate), an optional strict per-window
/// cap (a documented rate the server enforces with a penalty), and a cap on requests in flight that can adapt to
/// how the server answers (a documented concurrency limit, or none at all).
public struct RateLimit: Sendable {
    /// Sustained rate of the token bucket; `.infinity` for no per-second cap.
    public var requestsPerSecond: Double
    /// Bucket size: requests that may start back to back after a quiet spell.
    public var burst: Int
    /// At most this many requests in flight at once; with `adaptive`, the most the adaptation may reach.
    public var maxConcurrent: Int?
    /// Strict cap: at most this many requests per `window` as the server sees them. Each request counts from the
    /// latest moment the server can plausibly have seen it — the middle of its round trip, never earlier than its
    /// answer less the fastest recent round trip — plus `windowMargin`; a request not yet answered counts throughout.
    public var maxPerWindow: Int?
    public var window: Duration = .seconds(1)
    /// Slack added to every window: timer and scheduling noise on both sides.
    public var windowMargin: Duration = .milliseconds(10)
    /// Adapt the requests in flight to the server's answers (nil: `maxConcurrent` is a fixed cap).
    public var adaptive: ConcurrencyAdaptation?

    public init(
        requestsPerSecond: Double, burst: Int = 1, maxConcurrent: Int? = nil, maxPerWindow: Int? = nil,
        window: Duration = .seconds(1), windowMargin: Duration = .milliseconds(10), adaptive: ConcurrencyAdaptation? = nil
    ) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = max(1, burst)
        self.maxConcurrent = maxConcurrent.map { max(1, $0) }
        self.maxPerWindow = maxPerWindow
        self.window = window
        self.windowMargin = windowMargin
        self.adaptive = adaptive
    }

    /// True when the token bucket limits anything.
    var hasRate: Bool { requestsPerSecond > 0 && requestsPerSecond.isFinite }

    /// How many requests a walk keeps waiting at the gate to use it fully: the cap on requests in flight, and with a
    /// rate no more than a second's worth of it (at least one) — more would only wait at the gate, where an OAuth
    /// token renewed for a retry could age past its lifetime behind the queue.
    public var parallelism: Int {
        let perSecond = hasRate ? max(1, Int(requestsPerSecond.rounded(.up))) : nil
        switch (maxConcurrent, perSecond) {
        case (let cap?, let rate?): return min(cap, rate)
        case (let cap?, nil): return cap
        case (nil, let rate?): return rate
        case (nil, nil): return RateLimit.unpacedParallelism
        }
    }

    /// Requests a walk keeps going at once when nothing paces it (`--rate-limit 0`, local sandboxes only): the eight
    /// comment reads the Kintone walk always had, so a loopback sandbox sharing its cores with the client is not
    /// flooded (nothing adapts with pacing off).
    public static let unpacedParallelism = 8

    /// The rule in a few words, for the log: "5 requests/s, at most 5 in any 1 s as the server counts them".
    public var summary: String {
        var parts: [String] = []
        if hasRate {
            var rate = "\(requestsPerSecond.formatted()) requests/s"
            if let maxPerWindow {
                rate += ", at most \(maxPerWindow) in any \(window.seconds.formatted()) s as the server counts them"
            }
            parts.append(rate)
        } else {
            parts.append("no per-second cap")
        }
        if let adaptive {
            var flight = "up to \(maxConcurrent ?? 64) in flight, starting at \(min(adaptive.initial, maxConcurrent ?? 64)) and adapting"
            if let domain = adaptive.domainLimit, let share = adaptive.share {
                flight += " (\((share * 100).formatted())% of the \(domain) the domain allows)"
            }
            parts.append(flight)
        } else if let maxConcurrent {
            parts.append("at most \(maxConcurrent) in flight")
        }
        return parts.joined(separator: "; ")
    }

    // Each service's preset lives in its connector's folder (`RateLimit.kinopio` in Sources/Kinopio).

    /// `preset` with the user's overrides (`--rate-limit`, `--concurrency`). A rate replaces the preset's rate (and
    /// its strict window, when it has one); 0 turns pacing off, for local sandboxes only. A concurrency is the most
    /// requests kitbag keeps in flight (it still backs off below it when the server struggles, unless pacing is off).
    public static func resolved(_ preset: RateLimit?, requestsPerSecond: Double?, concurrency: Int?) -> RateLimit? {
        if requestsPerSecond == nil && concurrency == nil { return preset }
        if let rps = requestsPerSecond, rps <= 0 {
            return concurrency.map { RateLimit(requestsPerSecond: .infinity, maxConcurrent: $0) }
        }
        var limit = preset ?? RateLimit(requestsPerSecond: .infinity)
        if let rps = requestsPerSecond {
            limit.requestsPerSecond = rps
            if limit.maxPerWindow != nil {
                limit.burst = 1
                limit.maxPerWindow = max(1, Int(rps))
            } else {
                limit.burst = max(1, Int(rps))
            }
        }
        if let concurrency {
            let cap = max(1, concurrency)
            limit.maxConcurrent = cap
            if var adaptive = limit.adaptive {
                adaptive.initial = min(adaptive.initial, cap)
                adaptive.share = nil
                limit.adaptive = adaptive
            }
        }
        return limit
    }
}

/// How the requests in flight follow the server: slow start from `initial`, one more per round of healthy answers,
/// and a cut on every sign of trouble (429, 5xx, a timeout, an answer far slower than the route's recent fastest).
public struct ConcurrencyAdaptation: Sendable {
    /// Requests in flight at the start; the window grows by one per healthy answer until the first trouble.
    public var initial: Int
    /// The service's documented limit on concurrent requests (Kintone: 100 per domain); replaced by
    /// `X-ConcurrencyLimit-Limit` when the server reports one.
    public var domainLimit: Int?
    /// The share of the domain's limit kitbag takes (nil: `maxConcurrent` as given).
    public var share: Double?
    /// The share of the domain's limit kitbag leaves free for what `X-ConcurrencyLimit-Running` shows of others.
    public var keepFree: Double
    /// An answer counts as slow when it takes `slowFactor` times the route's recent fastest, plus `slowSlack`.
    public var slowFactor: Double
    public var slowSlack: Duration

    public init(
        initial: Int, domainLimit: Int? = nil, share: Double? = nil, keepFree: Double = 0.25, slowFactor: Double = 4,
        slowSlack: Duration = .milliseconds(250)
    ) {
        self.initial = max(1, initial)
        self.domainLimit = domainLimit
        self.share = share
        self.keepFree = keepFree
        self.slowFactor = slowFactor
        self.slowSlack = slowSlack
    }
}

/// Per-attempt time limits.
public struct HTTPTimeouts: Sendable {
    /// Whole attempt for `send` (head and body); for `download`, until the response head arrives.
    public var request: Duration = .seconds(60)
    /// Longest silence while a response is on its way; a slow-loris body fails instead of hanging.
    public var idle: Duration = .seconds(30)

    public init(request: Duration = .seconds(60), idle: Duration = .seconds(30)) {
        self.request = request
        self.idle = idle
    }
}

/// HTTP verbs kitbag uses.
public enum HTTPMethod: String, Sendable, Hashable {
    case GET, POST, PUT, PATCH, DELETE, HEAD
}

/// One request to a service, relative to its endpoint.
public struct APIRequest: Sendable {
    public var method: HTTPMethod
    /// Path below the base URL, already percent-escaped where needed (e.g. "/space/abc").
    public var path: String
    /// Query items; names and values are percent-escaped here.
    public var query: [(String, String)]
    /// JSON body, sent compact with `Content-Type: application/json`.
    public var body: JSONValue?
    /// Raw body (e.g. multipart) with its content type; wins over `body`.
    public var rawBody: RawBody?
    /// A file streamed from disk as a `multipart/form-data` body; wins over `rawBody` and `body`.
    public var multipartFile: MultipartFile?
    /// Label for counting and messages ("GET /space/:id"); must never contain ids or secrets.
    public var route: String
    public var extraHeaders: [(String, String)]
    /// False for writes that must not be repeated after the server may have seen them
    /// (only 429s and refused connections are then retried).
    public var retryable: Bool

    /// Bytes plus their content type.
    public struct RawBody: Sendable {
        public var bytes: [UInt8]
        public var contentType: String
        public init(bytes: [UInt8], contentType: String) {
            self.bytes = bytes
            self.contentType = contentType
        }
    }

    public init(
        method: HTTPMethod, path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        rawBody: RawBody? = nil, multipartFile: MultipartFile? = nil, route: String? = nil,
        extraHeaders: [(String, String)] = [], retryable: Bool = true
    ) {
        self.multipartFile = multipartFile
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.rawBody = rawBody
        self.route = route ?? "\(method.rawValue) \(path)"
        self.extraHeaders = extraHeaders
        self.retryable = retryable
    }
}

/// A complete, buffered answer.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Service and route of the request, for messages.
    public var service: String
    public var route: String

    public init(status: Int, headers: [(String, String)], body: [UInt8], service: String, route: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.service = service
        self.route = route
    }

    /// First value of a header, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    /// The body parsed as JSON; invalid JSON throws `HTTPFailure.invalidBody` naming the route.
    public func json() throws -> JSONValue {
        do {
            return try JSONValue(parsing: body)
        } catch let error as JSONParseError {
            throw HTTPFailure.invalidBody(service: service, route: route, reason: Self.notJSONReason(error, body: body, contentType: header("content-type")))
        }
    }

    /// Why a body is not JSON, in a few words and without quoting it (it may be megabytes, binary or a secret):
    /// an HTML page (a login portal, a proxy, the wrong base URL), a body cut short, or the parser's reason.
    static func notJSONReason(_ error: JSONParseError, body: [UInt8], contentType: String?) -> String {
        let type = contentType.map { $0.split(separator: ";").first.map(String.init) ?? $0 }?
            .trimmingCharacters(in: .whitespaces).lowercased()
        let first = body.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        if type == "text/html" || type == "application/xhtml+xml" || (first == UInt8(ascii: "<") && type?.contains("json") != true) {
            return "an HTML page, not JSON (\(ByteCount.format(Int64(body.count))), Content-Type \(type ?? "missing"))"
        }
        var reason = error.description
        if error.offset >= body.count { reason += ": the body stops mid-value after \(body.count) bytes, so it was cut short" }
        if let type, !type.contains("json") { reason += " (Content-Type \(type))" }
        return reason
    }
}

/// Counters of one client since it was created.
public struct ClientStats: Sendable, Equatable, Codable {
    /// Every attempt, retries included.
    public var requests = 0
    /// Attempts that repeated an earlier one.
    public var retries = 0
    /// 429 answers received.
    public var rateLimited = 0
    /// Response body bytes received.
    public var bytesReceived: Int64 = 0
    /// Attempts per route label.
    public var perRoute: [String: Int] = [:]
    /// Retries per route label.
    public var retriesPerRoute: [String: Int] = [:]
    /// 429 answers per route label.
    public var rateLimitedPerRoute: [String: Int] = [:]
    /// Total time spent paused after 429s, in seconds.
    public var secondsPaused: Double = 0
    /// Time attempts waited for pacing (rate, window, concurrency), in seconds.
    public var secondsPaced: Double = 0
    /// How often the adaptive concurrency was cut (429, 5xx, timeouts, slow answers, other integrations' load).
    public var concurrencyCuts = 0
    /// Most requests in flight at once.
    public var peakInFlight = 0
    /// The adaptive concurrency window now (nil when it does not adapt).
    public var concurrencyWindow: Int?

    public init() {}
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    var milliseconds: Int { Int((seconds * 1000).rounded()) }
}
