import Foundation
import KitbagCore
import KitbagHTTP
import Logging

/// How to reach one Kona account: the site (`https://io.kona.com`), its OAuth credentials, and the client that
/// talks to `/api/`. An access token that expires during a run is refreshed through `/oauth/token`.
public struct KonaConnection: Sendable {
    /// The site base; the API lives under `/api/` and the token endpoint at `/oauth/token`.
    public let baseURL: URL
    public let client: APIClient
    let tokens: KonaTokenSource
    let paging = KonaPaging()
    /// The items whose comments an export reads (nil: every item's). A restore's live read of named items sets it:
    /// Kona lists comments per item, so comparing one task would otherwise read a comment list for each item of its
    /// space.
    var commentItems: Set<String>? = nil

    /// Reads `KONA_ACCESS_TOKEN`, `KONA_REFRESH_TOKEN`, `KONA_CLIENT_ID`, `KONA_CLIENT_SECRET` and `KONA_BASE_URL`
    /// from `environment`. With only a refresh token (and the client id and secret) an access token is fetched
    /// before the first request. `rateLimit` overrides kitbag's default pacing (Kona documents no limit; 0 turns
    /// pacing off, for local sandboxes); `concurrency` caps the requests in flight.
    public init(
        baseURL: String?, environment: [String: String], rateLimit: Double? = nil, concurrency: Int? = nil,
        retry: RetryPolicy? = nil, logger: Logger, progress: ProgressReporter? = nil
    ) throws {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        var base = baseURL ?? value(KonaSchema.baseURLVariable) ?? KonaSchema.defaultBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/api") { base.removeLast(4) }
        guard let site = URL(string: base), let scheme = site.scheme, ["http", "https"].contains(scheme), site.host != nil,
            let api = URL(string: base + "/api")
        else {
            throw UserError("kona: \(base) is not an http(s) URL — pass --base-url like https://io.kona.com", exitStatus: .usage)
        }
        let access = value(KonaSchema.accessTokenVariable)
        let refresh = value(KonaSchema.refreshTokenVariable)
        let clientID = value(KonaSchema.clientIDVariable)
        let clientSecret = value(KonaSchema.clientSecretVariable)
        if refresh != nil && (clientID == nil || clientSecret == nil) {
            throw UserError(
                "kona: \(KonaSchema.refreshTokenVariable) needs \(KonaSchema.clientIDVariable) and \(KonaSchema.clientSecretVariable)"
                    + " (Account Management → Edit Account → Integrations) to refresh the access token",
                exitStatus: .usage)
        }
        guard access != nil || refresh != nil else {
            throw UserError(
                "kona: no access token — set \(KonaSchema.accessTokenVariable) (an OAuth access token), or"
                    + " \(KonaSchema.refreshTokenVariable) with \(KonaSchema.clientIDVariable) and \(KonaSchema.clientSecretVariable)",
                exitStatus: .usage)
        }
        let policy = retry ?? RetryPolicy()
        let secrets = [access, refresh, clientSecret].compactMap { $0 }
        var tokenClient: APIClient?
        if let refresh, let clientID, let clientSecret {
            tokenClient = APIClient(
                endpoint: ServiceEndpoint(
                    service: "kona", baseURL: site, secrets: secrets + [clientID],
                    credentialHint: "check \(KonaSchema.refreshTokenVariable), \(KonaSchema.clientIDVariable) and \(KonaSchema.clientSecretVariable)"),
                rateLimit: nil, retry: policy, logger: logger, errorMessage: KonaConnection.errorMessage)
            tokens = KonaTokenSource(
                accessToken: access, grant: .init(refreshToken: refresh, clientID: clientID, clientSecret: clientSecret),
                client: tokenClient)
        } else {
            tokens = KonaTokenSource(accessToken: access, grant: nil, client: nil)
        }
        let hint =
            refresh == nil
            ? "set \(KonaSchema.accessTokenVariable) to a valid access token, or set \(KonaSchema.refreshTokenVariable),"
                + " \(KonaSchema.clientIDVariable) and \(KonaSchema.clientSecretVariable) so kitbag can get a new one"
            : "check \(KonaSchema.accessTokenVariable) and \(KonaSchema.refreshTokenVariable); the refreshed token was refused too"
        let limit = RateLimit.resolved(.kona, requestsPerSecond: rateLimit, concurrency: concurrency)
        self.baseURL = site
        client = APIClient(
            endpoint: ServiceEndpoint(
                service: "kona", baseURL: api, secrets: secrets, credentialHint: hint, credentials: tokens),
            rateLimit: limit, retry: policy, logger: logger, progress: progress, errorMessage: KonaConnection.errorMessage)
    }

    /// Pulls a human message out of a Kona error body: `{"title", "details"}` (API) or `{"error", "error_description"}` (OAuth).
    @Sendable static func errorMessage(_ status: Int, _ body: [UInt8]) -> String? {
        guard let json = try? JSONValue(parsing: body) else { return nil }
        if let details = json["details"]?.stringValue {
            let title = json["title"]?.stringValue
            return String((title.map { "\($0): \(details)" } ?? details).prefix(300))
        }
        if let e = json["error"]?.stringValue {
            return String((json["error_description"]?.stringValue.map { "\(e): \($0)" } ?? e).prefix(300))
        }
        return nil
    }

    /// How many times the access token was fetched or refreshed through `/oauth/token`.
    public func tokenRefreshes() -> Int { tokens.refreshes }

    /// `GET /userinfo`: the user the token belongs to.
    public func currentUser() async throws -> JSONValue {
        let answer = try await client.json(APIRequest(method: .GET, path: "/userinfo", route: "GET /userinfo"))
        guard let user = answer["users"]?.arrayValue?.first, user["id"] != nil else {
            throw HTTPFailure.invalidBody(service: "kona", route: "GET /userinfo", reason: "no user in the answer")
        }
        return user
    }
}

/// The OAuth access token of a run: sent as `Authorization: Bearer`, refreshed with `grant_type=refresh_token`
/// when it is missing or refused. Concurrent refreshes share one request; secrets never leave it unredacted.
final class KonaTokenSource: CredentialSource, @unchecked Sendable {
    struct Grant: Sendable {
        var refreshToken: String
        var clientID: String
        var clientSecret: String
    }

    private let lock = NSLock()
    private var accessToken: String?
    private var inFlight: Task<String, any Error>?
    private var refreshCount = 0
    private let grant: Grant?
    private let client: APIClient?

    init(accessToken: String?, grant: Grant?, client: APIClient?) {
        self.accessToken = accessToken
        self.grant = grant
        self.client = client
    }

    var refreshes: Int { lock.withLock { refreshCount } }

    func headers() async throws -> [(String, String)] {
        var token = lock.withLock { accessToken }
        if token == nil { token = try await refresh() }
        return [("Authorization", "Bearer \(token ?? "")")]
    }

    func renew(after failed: [(String, String)]) async throws -> Bool {
        guard grant != nil else { return false }
        let sent = failed.first { $0.0 == "Authorization" }?.1
        if let current = lock.withLock({ accessToken }), sent != "Bearer \(current)" { return true }
        _ = try await refresh()
        return true
    }

    func currentSecrets() -> [String] {
        lock.withLock { [accessToken, grant?.refreshToken, grant?.clientSecret].compactMap { $0 } }
    }

    private func refresh() async throws -> String {
        guard let grant, let client else {
            throw UserError("kona: no access token and no refresh token — set \(KonaSchema.accessTokenVariable)")
        }
        let task: Task<String, any Error> = lock.withLock {
            if let running = inFlight { return running }
            let task = Task { try await Self.fetch(grant, client) }
            inFlight = task
            return task
        }
        do {
            let token = try await task.value
            lock.withLock {
                if inFlight == task {
                    inFlight = nil
                    accessToken = token
                    refreshCount += 1
                }
            }
            return token
        } catch {
            lock.withLock { if inFlight == task { inFlight = nil } }
            throw error
        }
    }

    private static func fetch(_ grant: Grant, _ client: APIClient) async throws -> String {
        // The parameters go in the query string of the POST, in this order, as Kona's documentation and its Postman
        // collection send them (KonaTeam/kona-api `sections/authentication.md`,
        // `postman_collection/Kona_REST_API.json.postman_collection`, commit 995e42935e5a62b3ca06a2bc07706d130771f78f).
        let parameters = [
            ("refresh_token", grant.refreshToken), ("client_secret", grant.clientSecret), ("client_id", grant.clientID),
            ("grant_type", "refresh_token"),
        ]
        let answer: JSONValue
        do {
            answer = try await client.json(
                APIRequest(method: .POST, path: "/oauth/token", query: parameters, route: "POST /oauth/token"))
        } catch let failure as HTTPFailure {
            guard let status = failure.status, (400..<500).contains(status), status != 429 else { throw failure }
            throw UserError(
                "kona: the token endpoint refused to refresh the access token (\(failure.serviceMessage ?? "HTTP \(status)"))"
                    + " — set \(KonaSchema.refreshTokenVariable), \(KonaSchema.clientIDVariable) and"
                    + " \(KonaSchema.clientSecretVariable) to current values, or a fresh \(KonaSchema.accessTokenVariable)")
        }
        guard let token = answer["access_token"]?.stringValue, !token.isEmpty else {
            throw UserError("kona: POST /oauth/token answered without an access_token — check --base-url points at Kona")
        }
        return token
    }
}

/// What kitbag has learnt about the server's paging during a run: the longest page it has returned. Kona documents
/// the default page size (25) but no maximum, so a page shorter than `per_page` may be the server's cap rather than
/// the end of the list. A short page ends a list only when it is empty or shorter than a page the server has already
/// returned (it could have sent more, so there are no more); otherwise the next page is asked for.
final class KonaPaging: @unchecked Sendable {
    // Sendable because `longest` is only touched under `lock`.
    private let lock = NSLock()
    private var longest = 0

    /// Whether a page of `count` items, asked with `perPage`, is the list's last.
    func isLast(count: Int, perPage: Int) -> Bool {
        lock.withLock {
            defer { longest = max(longest, count) }
            if count == 0 { return true }
            if count >= perPage { return false }
            return count < longest
        }
    }

    /// The longest page seen so far; above 0 and below `KonaSchema.pageSize` when the server caps `per_page`.
    var longestPage: Int { lock.withLock { longest } }
}

extension KonaConnection {
    /// Every page of a list (`per_page` 100), by the rule of `KonaPaging`; `key` is the wrapper (`"tasks"`).
    func allPages(_ path: String, key: String, query: [(String, String)] = [], route: String) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        try await forEachPage(path, key: key, query: query, route: route) { out += $0 }
        return out
    }

    /// Like `allPages`, a page at a time, so a long list need not be held whole.
    func forEachPage(
        _ path: String, key: String, query: [(String, String)] = [], route: String, _ body: ([JSONValue]) throws -> Void
    ) async throws {
        var page = 1
        while true {
            let answer = try await client.json(
                APIRequest(
                    method: .GET, path: path,
                    query: query + [("per_page", String(KonaSchema.pageSize)), ("page", String(page))], route: route))
            guard let items = answer[key]?.arrayValue else {
                throw HTTPFailure.invalidBody(service: "kona", route: route, reason: "no \"\(key)\" array in the answer")
            }
            try body(items)
            if paging.isLast(count: items.count, perPage: KonaSchema.pageSize) { return }
            page += 1
        }
    }
}
