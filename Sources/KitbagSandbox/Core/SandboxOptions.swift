import Foundation

/// Which data a sandbox starts with.
public enum SandboxSeed: Sendable, Equatable {
    /// Only the users behind the configured credentials; no content.
    case empty
    /// A small, realistic account with every kind of entity the API has.
    case demo
    /// `cards` cards spread deterministically over ⌈cards/100⌉ spaces, for volume tests.
    case generated(cards: Int)

    /// Reads a command-line seed: `empty`, `demo`, or a card count such as `10000`.
    public init?(argument: String) {
        switch argument.lowercased() {
        case "empty": self = .empty
        case "demo": self = .demo
        default:
            guard let n = Int(argument), n >= 0 else { return nil }
            self = .generated(cards: n)
        }
    }
}

/// How a sandbox listens, whom it lets in, what it holds and how badly it behaves.
public struct SandboxOptions: Sendable {
    /// Interface to bind; loopback by default.
    public var host: String
    /// Port to bind; 0 picks a free ephemeral port (read it back from `RunningSandbox.baseURL`).
    public var port: Int
    /// Accepted API keys or tokens; empty takes the service's fixed default (see each sandbox's
    /// `defaultCredential`). The first belongs to the seeded owner; for Kinopio the second and third
    /// (fixed defaults when absent) belong to a collaborator and to an outsider who owns nothing.
    public var credentials: [String]
    /// Data the sandbox starts with.
    public var seed: SandboxSeed
    /// Share of requests (0…1) that fail with a 500, 503, 429, reset connection or truncated body.
    public var faultRate: Double
    /// Seed of the deterministic fault pattern.
    public var faultSeed: UInt64
    /// How long every request from a key fails with 429 after it broke the rate limit.
    public var penaltySeconds: Double
    /// Whether the per-key rate limit is enforced.
    public var rateLimit: Bool
    /// Requests accepted per key in any one-second window.
    public var requestsPerSecond: Double
    /// Largest request body accepted; larger bodies get 413.
    public var maxBodyBytes: Int
    /// Login name → password accepted by services with password sign-in (Kintone's
    /// `X-Cybozu-Authorization`); empty takes the service's fixed default login.
    public var logins: [String: String] = [:]
    /// Requests allowed in flight at once while `rateLimit` is on; nil takes the service's documented
    /// limit (Kintone 100 per domain), or the sandbox's assumed one (Kitemaker 10), or none (Kinopio, Kona).
    public var concurrencyLimit: Int? = nil
    /// Whether the per-key per-second limiter runs while `rateLimit` is on; nil takes the service's
    /// default (on for Kinopio; off for Kintone, whose documented limit is concurrency, for Kitemaker, whose sandbox
    /// assumes one, and for Kona, which documents none).
    public var perSecondLimit: Bool? = nil
    /// Seconds an OAuth access token stays valid once issued (the configured `credentials` count as issued
    /// when the sandbox starts); nil takes the service's default (Kona: a week).
    public var tokenLifetime: Double? = nil
    /// OAuth refresh tokens, by position matching `credentials`; empty takes the service's fixed defaults.
    public var refreshTokens: [String] = []
    /// OAuth client id the token endpoint accepts; nil takes the service's fixed default.
    public var oauthClientID: String? = nil
    /// OAuth client secret the token endpoint accepts; nil takes the service's fixed default.
    public var oauthClientSecret: String? = nil
    /// Round trip every request waits before it is handled, as if the server were this far away (0: none).
    public var latency: Duration = .zero
    /// Up to this much more, drawn per request (deterministic for `faultSeed`).
    public var jitter: Duration = .zero
    /// This much more for each other request in flight: a server that slows down under load (0: none).
    public var latencyPerRequestInFlight: Duration = .zero
    /// The time the rate limiter, its penalty and the latency run on; tests give a `SandboxManualClock`.
    public var clock: any SandboxClock = SandboxSystemClock()
    /// Options of one service (e.g. Kona's `KonaServerBehaviour`), by type; each emulator adds a property for its own.
    private var serviceOptions: [ObjectIdentifier: any Sendable] = [:]

    /// The option of type `T` (its `defaultValue` when unset).
    public subscript<T: SandboxServiceOption>(service type: T.Type) -> T {
        get { serviceOptions[ObjectIdentifier(type)] as? T ?? T.defaultValue }
        set { serviceOptions[ObjectIdentifier(type)] = newValue }
    }

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        credentials: [String] = [],
        seed: SandboxSeed = .demo,
        faultRate: Double = 0,
        faultSeed: UInt64 = 1,
        penaltySeconds: Double = 30,
        rateLimit: Bool = true,
        requestsPerSecond: Double = 5,
        maxBodyBytes: Int = 10 * 1024 * 1024
    ) {
        self.host = host
        self.port = port
        self.credentials = credentials
        self.seed = seed
        self.faultRate = faultRate
        self.faultSeed = faultSeed
        self.penaltySeconds = penaltySeconds
        self.rateLimit = rateLimit
        self.requestsPerSecond = requestsPerSecond
        self.maxBodyBytes = maxBodyBytes
    }
}

/// An option only one service's sandbox reads, kept in `SandboxOptions[service:]`.
public protocol SandboxServiceOption: Sendable {
    static var defaultValue: Self { get }
}
