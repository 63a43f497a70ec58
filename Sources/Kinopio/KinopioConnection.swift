import Foundation
import KitbagCore
import KitbagHTTP
import Logging

/// How to reach one Kinopio account: base URL and API key, plus the client that talks to it.
public struct KinopioConnection: Sendable {
    public let baseURL: URL
    public let client: APIClient

    /// Reads `KINOPIO_API_KEY` (or the given key) and builds a rate-limited client (5 requests/s, 30 s after a 429).
    /// `requestsPerSecond` overrides the documented 5/s (0 turns pacing off: for local sandboxes only).
    public init(
        baseURL: String?, apiKey: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        rateLimited: Bool = true, requestsPerSecond: Double? = nil, retry: RetryPolicy? = nil, logger: Logger,
        progress: ProgressReporter? = nil
    ) throws {
        let base = baseURL ?? environment["KINOPIO_BASE_URL"] ?? KinopioSchema.defaultBaseURL
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil
        else {
            throw UserError("kinopio: \(base) is not an http(s) URL — pass --base-url like https://api.kinopio.club", exitStatus: .usage)
        }
        guard let key = apiKey ?? environment[KinopioSchema.apiKeyVariable], !key.isEmpty else {
            throw UserError(
                "kinopio: no API key — set \(KinopioSchema.apiKeyVariable) (Kinopio → User → Settings → Account → Developer Info)",
                exitStatus: .usage)
        }
        self.baseURL = url
        let endpoint = ServiceEndpoint(
            service: "kinopio", baseURL: url, headers: [("Authorization", key)], secrets: [key],
            credentialHint: "set \(KinopioSchema.apiKeyVariable) to a valid API key (User → Settings → Account → Developer Info)")
        var policy = retry ?? RetryPolicy()
        if retry == nil { policy.penaltyAfter429 = .seconds(30) }
        var limit: RateLimit? = rateLimited ? .kinopio : nil
        if let rps = requestsPerSecond {
            limit = rps > 0 ? RateLimit(requestsPerSecond: rps, burst: 1, maxPerWindow: max(1, Int(rps))) : nil
        }
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

    /// `GET /user`: the account the key reaches.
    public func currentUser() async throws -> JSONValue {
        try await client.json(APIRequest(method: .GET, path: "/user", route: "GET /user"))
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}
