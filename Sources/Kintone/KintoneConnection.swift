import Foundation
import KitbagCore
import KitbagHTTP
import Logging

/// How to reach one Kintone domain (or one guest space in it): base URL, API tokens or a login, and the client
/// that talks to `/k/v1/` (or `/k/guest/{id}/v1/`).
public struct KintoneConnection: Sendable {
    public let baseURL: URL
    public let client: APIClient
    /// The guest space whose apps the connection reaches; nil for the domain's ordinary apps.
    public let guestSpaceID: String?
    /// How the exporter reads all records of an app.
    var recordReading: KintoneRecordReader.Strategy = .automatic

    /// Reads `KINTONE_BASE_URL` (unless `baseURL` is given), and `KINTONE_API_TOKEN` (`t1,t2`) or
    /// `KINTONE_USERNAME` + `KINTONE_PASSWORD` from `environment`. `rateLimit` nil keeps kitbag well under Kintone's
    /// concurrency limit; a number is requests per second (0 turns pacing off, for local sandboxes).
    public init(
        baseURL: String?, environment: [String: String], guestSpaceID: String? = nil, rateLimit: Double? = nil,
        retry: RetryPolicy? = nil, logger: Logger, progress: ProgressReporter? = nil
    ) throws {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        guard var base = baseURL ?? value(KintoneSchema.baseURLVariable) else {
            throw UserError(
                "kintone: no base URL — set \(KintoneSchema.baseURLVariable) (or pass --base-url) to your domain, like https://example.kintone.com",
                exitStatus: .usage)
        }
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/k/v1") { base.removeLast(5) }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw UserError(
                "kintone: \(base) is not an http(s) URL — set \(KintoneSchema.baseURLVariable) like https://example.kintone.com",
                exitStatus: .usage)
        }
        if let guestSpaceID, Int(guestSpaceID) == nil {
            throw UserError("kintone: guest space id \(guestSpaceID) is not a number — pass --guest-space with the space's id", exitStatus: .usage)
        }
        var headers: [(String, String)] = []
        var secrets: [String] = []
        let hint: String
        if let tokens = value(KintoneSchema.apiTokenVariable) {
            let list = tokens.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty, list.count <= 20 else {
                throw UserError(
                    "kintone: \(KintoneSchema.apiTokenVariable) must hold 1 to 20 API tokens separated by commas", exitStatus: .usage)
            }
            headers.append(("X-Cybozu-API-Token", list.joined(separator: ",")))
            secrets += list + [list.joined(separator: ",")]
            hint = "set \(KintoneSchema.apiTokenVariable) to valid API tokens of the apps (t1,t2; App settings → API Token),"
                + " or use \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable)"
        } else if let user = value(KintoneSchema.usernameVariable), let password = value(KintoneSchema.passwordVariable) {
            let encoded = Data("\(user):\(password)".utf8).base64EncodedString()
            headers.append(("X-Cybozu-Authorization", encoded))
            secrets += [password, encoded]
            hint = "check \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) (or set \(KintoneSchema.apiTokenVariable) instead)"
        } else {
            throw UserError(
                "kintone: no credentials — set \(KintoneSchema.apiTokenVariable) (API tokens, t1,t2) or \(KintoneSchema.usernameVariable)"
                    + " and \(KintoneSchema.passwordVariable)",
                exitStatus: .usage)
        }
        var limit: RateLimit? = KintoneSchema.rateLimit
        if let rps = rateLimit {
            limit = rps > 0 ? RateLimit(requestsPerSecond: rps, burst: max(1, Int(rps)), maxConcurrent: 10) : nil
        }
        self.baseURL = url
        self.guestSpaceID = guestSpaceID
        client = APIClient(
            endpoint: ServiceEndpoint(
                service: "kintone", baseURL: url, headers: headers, secrets: secrets, credentialHint: hint),
            rateLimit: limit, retry: retry ?? RetryPolicy(), logger: logger, progress: progress,
            errorMessage: KintoneConnection.errorMessage)
    }

    /// `{code, id, message, errors}` as one line: `CODE: message (field: problem; …)`.
    @Sendable static func errorMessage(_ status: Int, _ body: [UInt8]) -> String? {
        guard let parsed = try? JSONValue(parsing: body) else { return nil }
        var json = parsed
        var prefix = ""
        if json["message"] == nil, let results = json["results"]?.arrayValue,
            let failed = results.firstIndex(where: { $0["message"] != nil })
        {
            // bulkRequest names the failing request by its place in the list.
            json = results[failed]
            prefix = "bulkRequest request \(failed + 1) of \(results.count): "
        }
        guard let message = json["message"]?.stringValue else { return nil }
        var text = prefix + (json["code"]?.stringValue.map { "\($0): \(message)" } ?? message)
        if let errors = json["errors"]?.objectValue, !errors.isEmpty {
            let details = errors.prefix(3).map { key, value -> String in
                let problems = value["messages"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return problems.isEmpty ? key : "\(key): \(problems.joined(separator: ", "))"
            }
            text += " (\(details.joined(separator: "; "))\(errors.count > 3 ? "; …" : ""))"
        }
        return String(text.prefix(300))
    }

    /// `/k/v1/` or `/k/guest/{id}/v1/`.
    var pathPrefix: String { guestSpaceID.map { "/k/guest/\($0)/v1/" } ?? "/k/v1/" }

    /// A request to `path` below the API prefix; the route label never holds ids.
    func request(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        retryable: Bool = true
    ) -> APIRequest {
        let route = "\(method.rawValue) \(path)"
        if method == .GET, query.reduce(0, { $0 + $1.0.count + $1.1.count + 2 }) > KintoneSchema.maxQueryLength {
            // A GET whose URL would be too long goes as POST with the parameters in the body.
            var object = JSONObject()
            for (k, v) in query { object[k] = .string(v) }
            return APIRequest(
                method: .POST, path: pathPrefix + path, body: .object(object), route: route,
                extraHeaders: [("X-HTTP-Method-Override", "GET")], retryable: retryable)
        }
        return APIRequest(method: method, path: pathPrefix + path, query: query, body: body, route: route, retryable: retryable)
    }

    /// Sends a request and parses its JSON answer.
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        retryable: Bool = true
    ) async throws -> JSONValue {
        try await client.json(request(method, path, query: query, body: body, retryable: retryable))
    }

    /// `GET apps.json?limit=1`: proves the base URL and credentials before anything else happens.
    public func checkAccess() async throws {
        _ = try await call(.GET, "apps.json", query: [("limit", "1")])
    }

    /// The identity recorded in archives and journals: the domain (host and port), plus the guest space if any.
    var account: ArchiveInfo.Account {
        var id = baseURL.host ?? baseURL.absoluteString
        if let port = baseURL.port { id += ":\(port)" }
        if let guestSpaceID { id += "/guest/\(guestSpaceID)" }
        return ArchiveInfo.Account(id: id, name: baseURL.host)
    }
}
