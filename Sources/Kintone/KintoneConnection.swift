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
    /// A partial export: only the records a query matches, in an order, with some fields (cli-kintone's
    /// `record export --condition --order-by --fields`); nil reads everything.
    public var recordFilter: KintoneRecordFilter?
    /// Read records and comments only, no settings documents (the live side of `kitbag diff --live` and `restore`).
    var recordsOnly = false
    /// What Kintone warned about during this connection's requests (`X-Cybozu-Warning`).
    let notices = KintoneNotices()
    let logger: Logger
    /// The apps a run covers when none are selected (`KINTONE_APPS`, or a profile's `apps`).
    public internal(set) var defaultApps: [String]
    /// How the connection signs in; API tokens reach fewer routes than a login.
    public let authentication: Authentication

    /// Kintone's two ways to sign in to the REST API.
    public enum Authentication: Sendable, Equatable {
        /// `X-Cybozu-API-Token`: each token belongs to one app and cannot list or create apps, or read spaces.
        case apiTokens(count: Int)
        /// `X-Cybozu-Authorization`: a login with that user's rights.
        case password
    }

    /// True when only API tokens were given (no login): apps must be named, and none can be created.
    public var tokensOnly: Bool { if case .apiTokens = authentication { return true }; return false }

    /// The one line that says what to do when API tokens meet a route that needs a login.
    static let tokensCannotListApps =
        "kintone: API tokens cannot list apps — name each app with --app ID (or apps = [...] in the profile, or \(KintoneSchema.appsVariable)) and put its token in \(KintoneSchema.apiTokenVariable) (at most \(KintoneSchema.maxTokensPerRequest)), or sign in with \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable)"

    /// Reads `KINTONE_BASE_URL` (unless `baseURL` is given), and `KINTONE_API_TOKEN` (`t1,t2`) or
    /// `KINTONE_USERNAME` + `KINTONE_PASSWORD` from `environment`. By default kitbag takes a quarter of Kintone's
    /// concurrency limit and adapts; `rateLimit` adds a cap in requests per second (0 turns pacing off, for local
    /// sandboxes) and `concurrency` sets the most requests in flight.
    public init(
        baseURL: String?, environment: [String: String], guestSpaceID: String? = nil, rateLimit: Double? = nil,
        concurrency: Int? = nil, retry: RetryPolicy? = nil, logger: Logger, progress: ProgressReporter? = nil
    ) throws {
        var environment = environment
        // `KINTONE_API_TOKEN_FILE` / `KINTONE_PASSWORD_FILE` (--api-token-file, --password-file): a secret on a
        // command line leaks into `ps`; a file of mode 0600 does not. The variable itself wins when both are set.
        for (variable, fileVariable) in [
            (KintoneSchema.apiTokenVariable, KintoneSchema.apiTokenFileVariable),
            (KintoneSchema.passwordVariable, KintoneSchema.passwordFileVariable),
            (KintoneSchema.basicAuthPasswordVariable, KintoneSchema.basicAuthPasswordFileVariable),
            (KintoneSchema.pfxPasswordVariable, KintoneSchema.pfxPasswordFileVariable),
        ] where (environment[variable] ?? "").isEmpty {
            guard let path = environment[fileVariable], !path.isEmpty else { continue }
            environment[variable] = try Self.secret(fromFile: path, for: fileVariable)
        }
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
            guard !list.isEmpty, list.count <= KintoneSchema.maxTokensPerRequest else {
                throw UserError(
                    "kintone: \(KintoneSchema.apiTokenVariable) must hold 1 to \(KintoneSchema.maxTokensPerRequest) API tokens separated by commas"
                        + " (Kintone refuses more in one request) — export fewer apps per run, or sign in with \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable)",
                    exitStatus: .usage)
            }
            authentication = .apiTokens(count: list.count)
            headers.append(("X-Cybozu-API-Token", list.joined(separator: ",")))
            secrets += list + [list.joined(separator: ",")]
            hint = "set \(KintoneSchema.apiTokenVariable) to valid API tokens of the apps (t1,t2; App settings → API Token),"
                + " or use \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable)"
        } else if let user = value(KintoneSchema.usernameVariable), let password = value(KintoneSchema.passwordVariable) {
            let encoded = Data("\(user):\(password)".utf8).base64EncodedString()
            headers.append(("X-Cybozu-Authorization", encoded))
            authentication = .password
            secrets += [password, encoded]
            hint = "check \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) (or set \(KintoneSchema.apiTokenVariable) instead)"
        } else {
            throw UserError(
                "kintone: no credentials — set \(KintoneSchema.apiTokenVariable) (API tokens, t1,t2) or \(KintoneSchema.usernameVariable)"
                    + " and \(KintoneSchema.passwordVariable)",
                exitStatus: .usage)
        }
        // Basic authentication in front of the domain (`Authorization: Basic`), sent with either sign-in.
        if let basicUser = value(KintoneSchema.basicAuthUserVariable) {
            guard let basicPassword = value(KintoneSchema.basicAuthPasswordVariable) else {
                throw UserError(
                    "kintone: \(KintoneSchema.basicAuthUserVariable) is set without \(KintoneSchema.basicAuthPasswordVariable) — set both (or --basic-auth-password-file)",
                    exitStatus: .usage)
            }
            let encoded = Data("\(basicUser):\(basicPassword)".utf8).base64EncodedString()
            headers.append(("Authorization", "Basic " + encoded))
            secrets += [basicPassword, encoded]
        }
        let transport = HTTPTransportOptions(
            proxy: Self.proxy(for: url, environment: environment),
            clientCertificate: value(KintoneSchema.pfxFileVariable), clientCertificatePassword: value(KintoneSchema.pfxPasswordVariable))
        if transport.clientCertificate != nil, transport.clientCertificatePassword == nil {
            throw UserError(
                "kintone: \(KintoneSchema.pfxFileVariable) is set without \(KintoneSchema.pfxPasswordVariable) — set the certificate's password too",
                exitStatus: .usage)
        }
        secrets += transport.secrets
        var timeouts = HTTPTimeouts()
        if let text = value(KintoneSchema.timeoutVariable) {
            guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
                throw UserError("kintone: \(KintoneSchema.timeoutVariable) must be a number of seconds above 0 (like 120)", exitStatus: .usage)
            }
            timeouts = HTTPTimeouts(request: .milliseconds(Int64(seconds * 1000)), idle: .milliseconds(Int64(min(seconds, 30) * 1000)))
        }
        // Last of everything that may throw: a client made here must reach the APIClient that shuts it down.
        let httpClient = try HTTPTransport.client(
            transport, service: "kintone", proxyVariable: KintoneSchema.proxyVariable,
            certificateVariables: (KintoneSchema.pfxFileVariable, KintoneSchema.pfxPasswordVariable))
        let limit = RateLimit.resolved(.kintone, requestsPerSecond: rateLimit, concurrency: concurrency)
        self.baseURL = url
        self.guestSpaceID = guestSpaceID
        self.logger = logger
        defaultApps = (value(KintoneSchema.appsVariable) ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        client = APIClient(
            endpoint: ServiceEndpoint(
                service: "kintone", baseURL: url, headers: headers, secrets: secrets, credentialHint: hint),
            rateLimit: limit, retry: retry ?? RetryPolicy(), httpClient: httpClient, ownsHTTPClient: httpClient != nil,
            logger: logger, progress: progress, timeouts: timeouts, errorMessage: KintoneConnection.errorMessage)
    }

    /// The proxy for the domain: `KINTONE_PROXY` (--proxy) always; else `HTTPS_PROXY` (or `https_proxy`) for an
    /// https domain, unless `NO_PROXY` names its host (or a suffix of it) or the host is the loopback.
    static func proxy(for url: URL, environment: [String: String]) -> String? {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let explicit = value(KintoneSchema.proxySettingVariable) { return explicit }
        guard url.scheme == "https", let host = url.host?.lowercased(),
            let proxy = value(KintoneSchema.proxyVariable) ?? value(KintoneSchema.proxyVariable.lowercased())
        else { return nil }
        if ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) { return nil }
        let skip = (value("NO_PROXY") ?? value("no_proxy") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        if skip.contains(where: { $0 == "*" || (!$0.isEmpty && (host == $0 || host.hasSuffix("." + $0))) }) { return nil }
        return proxy
    }

    /// The first line of a secret file; one clear line when it cannot be read or is empty.
    static func secret(fromFile path: String, for variable: String) throws -> String {
        let expanded = (path as NSString).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: expanded) else {
            throw UserError("kintone: cannot read \(path) (\(variable)) — check the path and its permissions", exitStatus: .usage)
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }), !line.isEmpty
        else {
            throw UserError("kintone: \(path) (\(variable)) is empty — put the secret on its first line", exitStatus: .usage)
        }
        return line
    }

    /// Query pairs as a JSON object: `name[i]` pairs make the array `name`, in index order; others stay strings.
    static func jsonParameters(_ query: [(String, String)]) -> JSONObject {
        var object = JSONObject()
        var arrays: [String: [(Int, String)]] = [:]
        var order: [String] = []
        for (key, value) in query {
            if let open = key.firstIndex(of: "["), key.hasSuffix("]"),
                let index = Int(key[key.index(after: open)..<key.index(before: key.endIndex)])
            {
                let name = String(key[..<open])
                if arrays[name] == nil { order.append(name) }
                arrays[name, default: []].append((index, value))
            } else {
                order.append(key)
                object[key] = .string(value)
            }
        }
        for name in order where arrays[name] != nil {
            object[name] = .array(arrays[name]!.sorted { $0.0 < $1.0 }.map { .string($0.1) })
        }
        return object
    }

    /// `{code, id, message, errors}` as one line: `CODE: message (field: problem; …)`.
    @Sendable static func errorMessage(_ status: Int, _ body: [UInt8]) -> String? {
        guard let parsed = try? JSONValue(parsing: body) else {
            // Kintone answers JSON; a 401 page of another shape comes from Basic authentication in front of it.
            if status == 401 {
                return "the domain asks for Basic authentication first — set \(KintoneSchema.basicAuthUserVariable) and"
                    + " \(KintoneSchema.basicAuthPasswordVariable) (or --basic-auth-username and --basic-auth-password-file)"
            }
            return nil
        }
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
            // A GET whose URL would be too long goes as POST with the parameters in a JSON body, where `ids[0]`,
            // `fields[1]`… become real arrays (kintone/js-sdk KintoneRequestConfigBuilder.ts, commit 003b2770: the
            // override sends the params object itself as JSON).
            let object = Self.jsonParameters(query)
            return APIRequest(
                method: .POST, path: pathPrefix + path, body: .object(object), route: route,
                extraHeaders: [("X-HTTP-Method-Override", "GET")], retryable: retryable)
        }
        return APIRequest(method: method, path: pathPrefix + path, query: query, body: body, route: route, retryable: retryable)
    }

    /// Sends a request and parses its JSON answer. `GAIA_DA02` (the database could not be locked — nothing was
    /// written; it also follows a deploy that just read SUCCESS) is retried on every route, writes included, as
    /// cli-kintone does. An `X-Cybozu-Warning` header is logged and kept in `notices`.
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        retryable: Bool = true
    ) async throws -> JSONValue {
        let request = request(method, path, query: query, body: body, retryable: retryable)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try await client.send(request)
                if let warning = response.headers.first(where: { $0.0.lowercased() == "x-cybozu-warning" })?.1 {
                    notices.add("\(request.route): \(warning)")
                    logger.warning("kintone warns about \(request.route): \(warning)")
                }
                if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .null }
                return try response.json()
            } catch let failure as HTTPFailure where Self.isLocked(failure) && attempt < Self.lockedAttempts {
                try await Task.sleep(for: .milliseconds(100 * (1 << min(attempt, 5))))
            }
        }
    }

    /// Attempts for a request answered `GAIA_DA02`.
    static let lockedAttempts = 6

    /// `GAIA_DA02`: the database could not be locked; the request changed nothing and may be sent again.
    static func isLocked(_ failure: HTTPFailure) -> Bool {
        switch failure {
        case .clientError, .serverError, .forbidden: return failure.serviceMessage?.contains("GAIA_DA02") == true
        default: return false
        }
    }

    /// `GET apps.json?limit=1` with a login: proves the base URL and credentials before anything else happens.
    /// API tokens cannot call it (403 `GAIA_NO01`) and have no "who am I": the first app read proves them.
    public func checkAccess() async throws {
        guard !tokensOnly else { return }
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

/// Warnings Kintone sent in `X-Cybozu-Warning` headers, each once, in the order met; shared by copies of a connection.
/// `@unchecked`: the list is only touched under the lock.
final class KintoneNotices: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func add(_ notice: String) {
        lock.lock()
        defer { lock.unlock() }
        if !list.contains(notice) { list.append(notice) }
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}

/// Which records an export reads, and which of their fields: a Kintone query condition (`Status in ("Open")`), an
/// `order by` clause and field codes. An archive made with one is marked partial in its manifest.
public struct KintoneRecordFilter: Sendable, Equatable {
    public var condition: String?
    public var orderBy: String?
    public var fields: [String]

    public init(condition: String? = nil, orderBy: String? = nil, fields: [String] = []) {
        self.condition = condition.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        self.orderBy = orderBy.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        self.fields = fields.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// True when it reads fewer records or fields than a full export.
    public var isPartial: Bool { condition != nil || !fields.isEmpty }

    /// The fields asked of the server: the chosen ones plus `$id` (comments and paging need it).
    var requestedFields: [String] {
        guard !fields.isEmpty else { return [] }
        return fields.contains("$id") ? fields : ["$id"] + fields
    }

    /// What the manifest says about it.
    var description: String {
        var parts: [String] = []
        if let condition { parts.append("records matching \(condition)") }
        if let orderBy { parts.append("ordered by \(orderBy)") }
        if !fields.isEmpty { parts.append("fields \(fields.joined(separator: ", ")) only") }
        return parts.joined(separator: ", ")
    }
}
