import Foundation
import KitbagCore
import KitbagHTTP
import Logging

/// The two kinds of Kinopio key (kinopio-client src/data/apiDocs.md "Authentication", commit
/// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): a user key is root and goes in `Authorization`; an app key has one
/// scope (`user` < `read` < `edit` < `delete`) and goes in `App-Authorization`.
public enum KinopioKeyKind: String, Sendable, CaseIterable {
    case user, app

    /// By the key's shape: a user key is a UUID (apiDocs.md, user `apiKey`: `UUID`); anything else is taken for an
    /// app key, whose shape the document does not give. Chosen with `KINOPIO_KEY_KIND=auto`.
    public static func byShape(_ key: String) -> KinopioKeyKind {
        UUID(uuidString: key) != nil ? .user : .app
    }

    /// The request header this kind of key travels in.
    public var header: String { self == .user ? "Authorization" : "App-Authorization" }
}

/// How to reach one Kinopio account: base URL and API key, plus the client that talks to it.
public struct KinopioConnection: Sendable {
    public let baseURL: URL
    public let client: APIClient
    /// Which kind of key this connection sends, and so in which header.
    public let keyKind: KinopioKeyKind

    /// Reads the key and builds a rate-limited client (5 requests/s, 30 s after a 429). The key is `apiKey`, else
    /// `KINOPIO_APP_KEY` (an app key), else `KINOPIO_API_KEY`. Its kind is `keyKind`, else `KINOPIO_KEY_KIND`
    /// (`user`, `app`, or `auto`: by the key's shape), else the variable it came from (a key passed directly is a user
    /// key). `requestsPerSecond` overrides the documented 5/s
    /// (0 turns pacing off: for local sandboxes only); `concurrency` caps the requests in flight.
    public init(
        baseURL: String?, apiKey: String?, keyKind: KinopioKeyKind? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        rateLimited: Bool = true, requestsPerSecond: Double? = nil, concurrency: Int? = nil, retry: RetryPolicy? = nil,
        logger: Logger, progress: ProgressReporter? = nil
    ) throws {
        let base = baseURL ?? environment["KINOPIO_BASE_URL"] ?? KinopioSchema.defaultBaseURL
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil
        else {
            throw UserError("kinopio: \(base) is not an http(s) URL — pass --base-url like https://api.kinopio.club", exitStatus: .usage)
        }
        let appKey = environment[KinopioSchema.appKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
        guard let key = apiKey ?? appKey ?? environment[KinopioSchema.apiKeyVariable], !key.isEmpty else {
            throw UserError(
                "kinopio: no API key — set \(KinopioSchema.appKeyVariable) to an app key or \(KinopioSchema.apiKeyVariable) to a user key (Kinopio → User → Settings → Account → API)",
                exitStatus: .usage)
        }
        var kind = keyKind
        if kind == nil, let named = environment[KinopioSchema.keyKindVariable], !named.isEmpty {
            if named.lowercased() == "auto" {
                kind = KinopioKeyKind.byShape(key)
            } else {
                guard let parsed = KinopioKeyKind(rawValue: named.lowercased()) else {
                    throw UserError(
                        "kinopio: \(KinopioSchema.keyKindVariable)=\(named) is not a key kind — use user (Authorization), app (App-Authorization) or auto (a UUID is a user key)",
                        exitStatus: .usage)
                }
                kind = parsed
            }
        }
        if kind == nil {
            kind = apiKey == nil && appKey != nil ? .app : .user
        }
        let resolved = kind ?? .user
        self.keyKind = resolved
        self.baseURL = url
        let variable = resolved == .app ? KinopioSchema.appKeyVariable : KinopioSchema.apiKeyVariable
        let otherHeader = resolved == .app ? "a user key goes in \(KinopioSchema.apiKeyVariable)" : "an app key goes in \(KinopioSchema.appKeyVariable)"
        let endpoint = ServiceEndpoint(
            service: "kinopio", baseURL: url, headers: [(resolved.header, key)], secrets: [key],
            credentialHint: "set \(variable) to a valid \(resolved.rawValue) key (User → Settings → Account → API); \(otherHeader)")
        var policy = retry ?? RetryPolicy()
        if retry == nil { policy.penaltyAfter429 = .seconds(30) }
        let limit = RateLimit.resolved(
            rateLimited ? .kinopio : nil, requestsPerSecond: requestsPerSecond, concurrency: concurrency)
        client = APIClient(
            endpoint: endpoint, rateLimit: limit, retry: policy, logger: logger,
            progress: progress, errorMessage: KinopioConnection.errorMessage)
    }

    /// Pulls a human message out of a Kinopio error body (`{"message": …}` or `{"error": …}`).
    @Sendable static func errorMessage(_ status: Int, _ body: [UInt8]) -> String? {
        guard let json = try? JSONValue(parsing: body) else { return nil }
        if let m = json["message"]?.stringValue { return String(m.prefix(300)) }
        if let e = json["error"]?.stringValue { return String(e.prefix(300)) }
        if let e = json["errors"]?.arrayValue?.first?["message"]?.stringValue { return String(e.prefix(300)) }
        return nil
    }

    /// Runs a job; a 403 that an app key gets becomes one line naming the scope the job needs (a `DELETE` needs
    /// `delete`). User keys are root and pass 403s through unchanged.
    func explainingScope<T: Sendable>(_ job: String, needs scope: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as HTTPFailure {
            guard keyKind == .app, case .forbidden(_, let route, _, _) = failure else { throw failure }
            let needed = route.hasPrefix("DELETE") ? "delete" : scope
            throw UserError(
                "kinopio: the app key's scope does not allow \(route) — \(job) needs an app key with scope \(needed) or wider; make one under User → Settings → Account → API and set \(KinopioSchema.appKeyVariable)")
        }
    }

    /// `GET /user`: the account the key reaches.
    public func currentUser() async throws -> JSONValue {
        try await client.json(APIRequest(method: .GET, path: "/user", route: "GET /user"))
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}
