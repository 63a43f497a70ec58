import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import Logging

/// How to reach one Kitemaker organization: REST (`X-API-KEY`) for what it covers and the GraphQL developer API
/// (`Authorization: Bearer`) for what REST cannot list, both through one paced client so counts cover both.
public struct KitemakerConnection: Connector {
    public let baseURL: URL
    public let client: APIClient
    private let token: KitemakerToken
    /// Set during an export: counts the union members in answers that this kitbag does not know.
    var unknownTypes: KitemakerUnknownTypes?
    /// Set on the live reader of a restore whose scope names work items only: per space id, the work items the export
    /// reads one by one instead of every work item of the space (see `liveReader(scope:archive:restored:)`).
    var liveWorkItems: [String: [String]]?
    /// Set on the live reader of a restore whose scope takes initiatives or feedback: they are read too.
    var liveAccount = false

    public var descriptor: ConnectorDescriptor { .kitemaker }

    /// Reads `KITEMAKER_TOKEN` (required) and `KITEMAKER_BASE_URL` (default https://toil.kitemaker.co).
    /// `rateLimit` overrides the requests per second (0 turns pacing off: for local sandboxes only); `concurrency`
    /// caps the requests in flight.
    public init(
        baseURL: String?, environment: [String: String], rateLimit: Double? = nil, concurrency: Int? = nil,
        retry: RetryPolicy? = nil, logger: Logger, progress: ProgressReporter? = nil
    ) throws {
        let base = baseURL ?? environment[KitemakerSchema.baseURLVariable] ?? KitemakerSchema.defaultBaseURL
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil
        else {
            throw UserError(
                "kitemaker: \(base) is not an http(s) URL — pass --base-url like \(KitemakerSchema.defaultBaseURL)",
                exitStatus: .usage)
        }
        guard let token = environment[KitemakerSchema.tokenVariable]?.trimmingCharacters(in: .whitespacesAndNewlines),
            !token.isEmpty
        else {
            throw UserError(
                "kitemaker: no token — set \(KitemakerSchema.tokenVariable) to a personal access or application token (Kitemaker: Ctrl/Cmd+K → Manage developer settings)",
                exitStatus: .usage)
        }
        self.baseURL = url
        self.token = KitemakerToken(value: token)
        let endpoint = ServiceEndpoint(
            service: "kitemaker", baseURL: url, secrets: [token],
            credentialHint: "set \(KitemakerSchema.tokenVariable) to a valid token (Kitemaker: Ctrl/Cmd+K → Manage developer settings)")
        let limit = RateLimit.resolved(.kitemaker, requestsPerSecond: rateLimit, concurrency: concurrency)
        client = APIClient(
            endpoint: endpoint, rateLimit: limit, retry: retry ?? RetryPolicy(), logger: logger, progress: progress,
            errorMessage: Self.errorMessage)
    }

    /// Kitemaker's error body: `{"errors": [{"message": …, "status": …}]}`.
    @Sendable static func errorMessage(_ status: Int, _ body: [UInt8]) -> String? {
        guard let json = try? JSONValue(parsing: body) else { return nil }
        let messages = (json["errors"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }
        return messages.isEmpty ? nil : String(messages.joined(separator: "; ").prefix(300))
    }

    // MARK: - Requests

    /// A REST request below `/developers/rest/v1`, with the token in `X-API-KEY`.
    func rest(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        retryable: Bool = true
    ) -> APIRequest {
        APIRequest(
            method: method, path: KitemakerSchema.restPrefix + path, query: query, body: body,
            route: "\(method.rawValue) \(path)", extraHeaders: [("X-API-KEY", token.value)], retryable: retryable)
    }

    /// Runs one GraphQL operation and returns its `data`; GraphQL `errors` become one-line errors.
    /// `operation` names the route in counts and messages (`POST /graphql workItems`).
    func graphQL(_ operation: String, _ query: String, variables: JSONObject = JSONObject(), retryable: Bool = true)
        async throws -> JSONValue
    {
        try data(of: try await graphQLAnswer(operation, query, variables: variables, retryable: retryable), operation: operation)
    }

    /// Runs one GraphQL operation and returns the whole answer (`data` and `errors`), errors or not.
    func graphQLAnswer(_ operation: String, _ query: String, variables: JSONObject = JSONObject(), retryable: Bool = true)
        async throws -> JSONValue
    {
        let request = APIRequest(
            method: .POST, path: KitemakerSchema.graphQLPath,
            body: .object(JSONObject([("query", .string(query)), ("variables", .object(variables))])),
            route: "POST /graphql \(operation)", extraHeaders: [("Authorization", "Bearer \(token.value)")], retryable: retryable)
        let answer = try await client.json(request)
        unknownTypes?.scan(answer["data"])
        return answer
    }

    /// The `data` of a GraphQL answer; its `errors` become one line.
    private func data(of answer: JSONValue, operation: String) throws -> JSONValue {
        let route = "POST /graphql \(operation)"
        if let errors = answer["errors"]?.arrayValue, !errors.isEmpty {
            let text = errors.compactMap { $0["message"]?.stringValue }.joined(separator: "; ")
            let line = Redactor.redact(
                text.split(whereSeparator: \.isNewline).joined(separator: " "), secrets: [token.value])
            throw UserError("kitemaker: \(route) was refused: \(String(line.prefix(300))) — check the query against this server's GraphQL schema")
        }
        guard let data = answer["data"], data.objectValue != nil else {
            throw UserError("kitemaker: \(route) answered without data — the GraphQL endpoint did not return a result")
        }
        return data
    }

    /// One work item by id (`KitemakerSchema.workItemQuery`), or nil when Kitemaker has none of that id. The field is
    /// non-null in the published schema, so a missing work item cannot answer `null`: it answers `data: null` with an
    /// error saying the work item could not be found (the message of the REST route's 404, `ISSUE_NOT_FOUND`). Any
    /// other error is one line, as for every query.
    func workItem(id: String) async throws -> JSONValue? {
        try await one("workItem", KitemakerSchema.workItemQuery, id: id)
    }

    /// One initiative by id (`KitemakerSchema.initiativeQuery`), or nil when Kitemaker has none of that id: like
    /// `workItem(id:)`, the field is non-null, so a missing one answers `data: null` with "Could not find the specified
    /// initiative" (the message of REST `GET /initiative`'s 404, `INITIATIVE_NOT_FOUND`).
    func initiative(id: String) async throws -> JSONValue? {
        try await one("initiative", KitemakerSchema.initiativeQuery, id: id)
    }

    /// One feedback item by id (`KitemakerSchema.feedbackByIDQuery`), or nil when Kitemaker has none of that id
    /// ("Could not find the specified feedback", REST `GET /feedback`'s 404, `FEEDBACK_NOT_FOUND`).
    func feedback(id: String) async throws -> JSONValue? {
        try await one("feedbackById", KitemakerSchema.feedbackByIDQuery, id: id)
    }

    /// The object a single-item query `field` answers for `id`, nil when the answer says it does not exist; any other
    /// error is one line. `field` names the route too (`POST /graphql initiative`).
    private func one(_ field: String, _ document: String, id: String) async throws -> JSONValue? {
        let answer = try await graphQLAnswer(field, document, variables: JSONObject([("id", .string(id))]))
        if let item = answer["data"]?[field], item.objectValue != nil { return item }
        if Self.saysNotFound(answer, field: field) { return nil }
        return try data(of: answer, operation: field)[field]
    }

    /// An answer without `field` whose every error says that what was asked for does not exist.
    static func saysNotFound(_ answer: JSONValue, field: String) -> Bool {
        guard answer["data"]?[field]?.objectValue == nil, let errors = answer["errors"]?.arrayValue, !errors.isEmpty else {
            return false
        }
        return errors.allSatisfy { e in
            let message = (e["message"]?.stringValue ?? "").lowercased()
            let code = e["extensions"]?["code"]?.stringValue ?? e["code"]?.stringValue ?? ""
            return message.contains("could not find") || message.contains("not found") || code.hasSuffix("NOT_FOUND")
        }
    }

    // MARK: - Connector

    /// `GET /organization`: the organization the token belongs to.
    public func probe() async throws -> AccountProbe {
        let org = try await client.json(rest(.GET, "/organization"))
        guard let id = org["id"]?.idString else {
            throw UserError("kitemaker: GET /organization answered without an organization id")
        }
        return AccountProbe(account: ArchiveInfo.Account(id: id, name: org["name"]?.stringValue), raw: org)
    }

    public func exportSource(account: AccountProbe, selection: ExportSelection, progress: ProgressReporter) throws
        -> any ExportSource
    {
        var watched = self
        let unknown = KitemakerUnknownTypes()
        watched.unknownTypes = unknown
        return KitemakerExporter(connection: watched, progress: progress, spaces: selection.containers, unknownTypes: unknown,
            containersOnly: selection.containersOnly, workItems: liveWorkItems, comparedAccount: liveAccount)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        let importer = KitemakerImporter(connection: self, journal: journal, progress: progress, options: options)
        return try await importer.run(archive: archive)
    }
}

/// The token, kept out of descriptions and dumps.
struct KitemakerToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let value: String
    var description: String { "<token>" }
    var debugDescription: String { "<token>" }
    var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Members of the schema's unions (`Actor`, `Entity`) that this kitbag does not know — what a newer Kitemaker may
/// add. GraphQL answers such a member with its `__typename` only (a query can ask fields only of the types it
/// names), so the archive keeps exactly that and the manifest says so; nothing stops the export.
final class KitemakerUnknownTypes: @unchecked Sendable {
    // Sendable because `seen` is only touched under `lock`.
    private let lock = NSLock()
    /// (`actor` or `entity`, type name) → how many times it was answered.
    private var seen: [String: [String: Int]] = [:]

    static let known: [String: Set<String>] = [
        "actor": ["User", "Integration", "IntegrationUser", "Application"],
        "entity": ["WorkItem", "Initiative"],
    ]

    /// Counts the unknown `__typename`s below `value` (under `actor`, `entity` or `entities`).
    func scan(_ value: JSONValue?) {
        var found: [(String, String)] = []
        func walk(_ v: JSONValue, role: String?) {
            switch v {
            case .object(let o):
                if let role, let type = o["__typename"]?.stringValue, !(Self.known[role]?.contains(type) ?? true) {
                    found.append((role, type))
                }
                for (key, child) in o {
                    switch key {
                    case "actor": walk(child, role: "actor")
                    case "entity", "entities": walk(child, role: "entity")
                    default: walk(child, role: nil)
                    }
                }
            case .array(let a): for child in a { walk(child, role: role) }
            default: break
            }
        }
        guard let value else { return }
        walk(value, role: nil)
        guard !found.isEmpty else { return }
        lock.withLock { for (role, type) in found { seen[role, default: [:]][type, default: 0] += 1 } }
    }

    /// One line per unknown type, for the manifest's `notExported`.
    var notExported: [NotExported] {
        lock.withLock {
            seen.sorted { $0.key < $1.key }.flatMap { role, types in
                types.sorted { $0.key < $1.key }.map { type, count in
                    let union = role == "actor" ? "Actor" : "Entity"
                    return NotExported(
                        kind: "\(role).unknownType", container: type,
                        reason: "\(count) \(role)\(count == 1 ? "" : "s") of type \(type), which this kitbag does not know (a member of the \(union) union newer than Kitemaker's published schema), \(count == 1 ? "is" : "are") archived as the server sent \(count == 1 ? "it" : "them") — the __typename only, since a query can ask fields of the types it names only; renderings show “\(type)”")
                }
            }
        }
    }
}
