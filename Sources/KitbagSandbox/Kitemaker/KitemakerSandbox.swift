import Foundation
import GraphQL
import Hummingbird
import KitbagCore
import KitbagSandboxCore
import Logging

/// A local emulator of Kitemaker's REST API (`/developers/rest/v1/…`, `X-API-KEY`) and its GraphQL developer
/// API (`POST /developers/graphql`, `Authorization: Bearer`), written from seeds/kitemaker-api.txt, api-facts.md
/// and Kitemaker's published GraphQL schema (kitemakerhq/km `src/kitemaker.graphql`), checked against the queries
/// of Kitemaker's own export tool (kitemakerhq/dump-organization) and the REST documentation (kitemakerhq/rest-docs).
///
/// Choices where the documents are silent:
/// - One organization; every accepted token belongs to it. The first token is the personal access token of the
///   seeded owner, further tokens are application tokens.
/// - Rate limit: Kitemaker documents that it answers 429 "Too many requests — Rate limit exceeded" but publishes no
///   number (kitemakerhq/rest-docs `_documentation/errors.md`, commit 2f0c66b3c459eb969218810464bd1d8afe5a3ca6), and
///   no `Retry-After` or limit header. The sandbox assumes what a server that serves each request from a bounded pool
///   does: at most `concurrencyLimit` (10 by default) requests in flight, REST and GraphQL together, and 429 in
///   Kitemaker's error shape beyond, with no header telling the count. `perSecondLimit` turns on the per-token
///   per-second limiter as well (`SandboxOptions.requestsPerSecond` in any one-second window), for a stricter server.
/// - Spaces and statuses cannot be created through either API, so every seed (`empty` too) holds the same two
///   spaces with their statuses, as a person would set them up in the app before an import.
/// - `placement` decides a work item's position in its status column (top by default); GraphQL shows it as `sort`.
/// - `POST /comment` always starts a new thread; replies are made with GraphQL `createCommentOnWorkItem(threadId:)`.
/// - Mutations: `createWorkItem` (top of its column unless `sort` is given; `createdAt`/`updatedAt` kept),
///   `createInitiative` (`createdAt`/`updatedAt`/`archivedAt` kept; the input has no spaces, so it belongs to none),
///   `editInitiative`, `addInitiativesToRoadmap`/`removeInitiativesFromRoadmap` (adding one already in the column is
///   no change), `createFeedback`, `createPerson`, `createCompany`, `createCommentOnWorkItem`.
/// - Roadmaps and their columns cannot be created through either API (no mutation or route makes one): only the
///   demo seed has one.
/// - `POST /feedback` with `linkInsightToEntityIds[]` creates one insight holding the whole feedback text.
/// - Neither API deletes anything (the schema has no delete mutation, REST no DELETE route). Tests that need a work
///   item deleted "as a user does in the app" call `appDeleteWorkItemPath` — a sandbox-only stand-in for the app,
///   outside the API's paths, that no connector calls (see `KitemakerState.deleteWorkItemAsInTheApp`); a label,
///   `appDeleteLabelPath`; an initiative, `appDeleteInitiativePath`; a feedback item, `appDeleteFeedbackPath`.
/// - A token in `KitemakerServerBehaviour.readOnlyTokens` reads but gets 403 for every write (see there).
/// - GraphQL lists answer `{items, cursor, hasMore}` (cursor = the last number on the page), at most 50 per page;
///   `count` above 50 is an error. Unparseable or invalid documents get 400, resolver errors 200 with `errors`.
/// - Every work item and initiative has a CREATED activity (by its creator, at its creation); `closedAt` is set for
///   items seeded in a DONE status, `archivedAt` for ARCHIVED ones. Slugs are the lowercased name, words joined by `-`.
public enum KitemakerSandbox {
    /// Token of the seeded owner when `credentials` is empty.
    public static let defaultCredential = "sandbox-kitemaker-token"

    /// Requests the sandbox runs at once while its limit is on (an assumption: Kitemaker publishes no number).
    public static let defaultConcurrencyLimit = 10

    /// Sandbox-only, for tests: `POST` here with `{"id": WORK_ITEM_ID}` (and the token in `X-API-KEY`) deletes the work
    /// item as a user does in Kitemaker's app. It is the app's stand-in, not an API route: Kitemaker's API deletes
    /// nothing, and no connector may call this.
    public static let appDeleteWorkItemPath = "/sandbox-only/app/delete-work-item"

    /// Sandbox-only, for tests: `POST` here with `{"id": LABEL_ID}` (and the token in `X-API-KEY`) deletes the label as
    /// a user does in Kitemaker's app (it leaves the work items that had it). Not an API route; no connector calls it.
    public static let appDeleteLabelPath = "/sandbox-only/app/delete-label"

    /// Sandbox-only, for tests: `POST` here with `{"id": INITIATIVE_ID}` (and the token in `X-API-KEY`) deletes the
    /// initiative as a user does in Kitemaker's app. Not an API route; no connector calls it.
    public static let appDeleteInitiativePath = "/sandbox-only/app/delete-initiative"

    /// Sandbox-only, for tests: `POST` here with `{"id": FEEDBACK_ID}` (and the token in `X-API-KEY`) deletes the
    /// feedback item as a user does in Kitemaker's app. Not an API route; no connector calls it.
    public static let appDeleteFeedbackPath = "/sandbox-only/app/delete-feedback"

    /// REST prefix below the host.
    static let rest = "/developers/rest/v1"
    /// The GraphQL route's label, under which GraphQL mutations are recorded.
    static let graphQLRoute = "POST /developers/graphql"

    /// For tests only: changes a GraphQL answer (`{data, errors}`) before it is sent, given the request body
    /// (`{query, variables}`), to play a server this schema-faithful sandbox cannot be — an `Actor` whose
    /// `__typename` the published schema does not have, or an error in one page of a long list.
    public typealias GraphQLAnswerRewrite = @Sendable (_ request: JSONValue, _ answer: JSONValue) -> JSONValue

    /// Seeds the state, binds, and returns once the server listens (real port in `baseURL`).
    public static func start(
        _ options: SandboxOptions, logger: Logger = SandboxServer.quietLogger("kitbag.sandbox.kitemaker"),
        rewritingGraphQLAnswers rewrite: GraphQLAnswerRewrite? = nil
    ) async throws -> RunningSandbox {
        let state = KitemakerSeeder.state(seed: options.seed, credentials: options.credentials)
        let store = KitemakerStore(state: state)
        return try await SandboxServer.start(
            options: options, router: SandboxRouter(routes: routes(store, rewrite: rewrite, readOnly: options.kitemaker.readOnlyTokens)),
            dialect: KitemakerDialect(),
            logger: logger, store: store, concurrencyLimit: defaultConcurrencyLimit, perSecondLimit: false,
            reportsConcurrency: false)
    }

    static func routes(_ store: KitemakerStore, rewrite: GraphQLAnswerRewrite? = nil, readOnly: Set<String> = []) -> [SandboxRoute] {
        typealias R = SandboxRoute
        /// 403 for a write with a token that may only read (`KitemakerServerBehaviour.readOnlyTokens`).
        @Sendable func mayWrite(_ request: SandboxRequest) throws(SandboxHTTPError) {
            if let token = request.credential, readOnly.contains(token) {
                throw SandboxHTTPError(.forbidden, KitemakerServerBehaviour.forbiddenMessage)
            }
        }
        func read(
            _ path: String, _ body: @escaping @Sendable (KitemakerState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
        ) -> R {
            R(.get, rest + path) { request throws(SandboxHTTPError) in try await store.read(request, body) }
        }
        func write(
            _ method: HTTPRequest.Method, _ path: String,
            _ body: @escaping @Sendable (inout KitemakerState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
        ) -> R {
            R(method, rest + path) { request throws(SandboxHTTPError) in
                try mayWrite(request)
                return try await store.write(request, body)
            }
        }
        /// A sandbox-only stand-in for deleting something in the app: `POST PATH` with `{"id": ID}` and a token.
        func appDelete(_ path: String, _ delete: @escaping @Sendable (inout KitemakerState, String) throws(SandboxHTTPError) -> Void) -> R {
            R(.post, path) { request throws(SandboxHTTPError) in
                try await store.write(request) { (s: inout KitemakerState, r: SandboxRequest) throws(SandboxHTTPError) in
                    _ = try s.restActor(r)
                    guard let id = KitemakerState.string(try r.json(), "id") else { throw SandboxHTTPError(.badRequest, "id is required") }
                    try delete(&s, id)
                    return SandboxReply(.object(JSONObject([("id", .string(id))])))
                }
            }
        }
        return [
            read("/organization") { s, r throws(SandboxHTTPError) in try s.getOrganization(r) },
            read("/workitem") { s, r throws(SandboxHTTPError) in try s.getWorkItem(r) },
            write(.post, "/workitem") { s, r throws(SandboxHTTPError) in try s.postWorkItem(r) },
            write(.put, "/workitem") { s, r throws(SandboxHTTPError) in try s.putWorkItem(r) },
            write(.post, "/comment") { s, r throws(SandboxHTTPError) in try s.postComment(r) },
            write(.post, "/label") { s, r throws(SandboxHTTPError) in try s.postLabel(r) },
            read("/initiative") { s, r throws(SandboxHTTPError) in try s.getInitiative(r) },
            write(.post, "/initiative") { s, r throws(SandboxHTTPError) in try s.postInitiative(r) },
            read("/feedback") { s, r throws(SandboxHTTPError) in try s.getFeedback(r) },
            write(.post, "/feedback") { s, r throws(SandboxHTTPError) in try s.postFeedback(r) },
            read("/metadata/spaces") { s, r throws(SandboxHTTPError) in try s.getSpaces(r) },
            read("/metadata/statuses") { s, r throws(SandboxHTTPError) in try s.getStatuses(r) },
            read("/metadata/labels") { s, r throws(SandboxHTTPError) in try s.getLabels(r) },
            read("/metadata/workitems") { s, r throws(SandboxHTTPError) in try s.getWorkItemList(r) },
            read("/recent/workitems") { s, r throws(SandboxHTTPError) in try s.getRecentWorkItems(r) },
            read("/recent/comments") { s, r throws(SandboxHTTPError) in try s.getRecentComments(r) },
            appDelete(appDeleteWorkItemPath) { s, id throws(SandboxHTTPError) in try s.deleteWorkItemAsInTheApp(id) },
            appDelete(appDeleteLabelPath) { s, id throws(SandboxHTTPError) in try s.deleteLabelAsInTheApp(id) },
            appDelete(appDeleteInitiativePath) { s, id throws(SandboxHTTPError) in try s.deleteInitiativeAsInTheApp(id) },
            appDelete(appDeleteFeedbackPath) { s, id throws(SandboxHTTPError) in try s.deleteFeedbackAsInTheApp(id) },
            R(.post, "/developers/graphql") { request throws(SandboxHTTPError) in
                if !readOnly.isEmpty, isMutation(try? request.json()) { try mayWrite(request) }
                var reply = try await KitemakerGraphQL.execute(request, store: store)
                if let rewrite, reply.status == .ok, let asked = try? request.json() {
                    reply.body = rewrite(asked, reply.body)
                }
                return reply
            },
        ]
    }
}

extension KitemakerSandbox {
    /// Whether a GraphQL request body sends a mutation (its document starts with `mutation`).
    static func isMutation(_ body: JSONValue?) -> Bool {
        (body?["query"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("mutation")
    }
}

/// Holds the Kitemaker state; REST requests and GraphQL mutations change it one at a time, all or nothing.
typealias KitemakerStore = SandboxStore<KitemakerState>

extension SandboxStore where State == KitemakerState {
    /// The state as it is, for a GraphQL query to read.
    func current() -> KitemakerState { read { $0 } }

    /// GraphQL `createCommentOnWorkItem`: the new comment and the state after it.
    func createComment(workItemID: String, body: String, threadID: String?, actor: String) throws
        -> (KitemakerState.Comment, KitemakerState)
    {
        try mutate { (s: inout KitemakerState) throws(SandboxHTTPError) in
            try s.addComment(workItemID: workItemID, body: body, threadID: threadID, actor: actor)
        }
    }

    /// A GraphQL mutation: its result and the state after it; nothing is kept if it fails.
    func mutate<T: Sendable>(_ body: @Sendable (inout KitemakerState) throws(SandboxHTTPError) -> T) throws
        -> (T, KitemakerState)
    {
        do {
            return try write(method: "POST", route: KitemakerSandbox.graphQLRoute) {
                (s: inout KitemakerState) throws(SandboxHTTPError) in
                let result = try body(&s)
                return (result, s)
            }
        } catch {
            throw GraphQLError(message: error.message)
        }
    }
}

extension KitemakerState: SandboxState {
    func snapshot() -> JSONValue {
        .object(JSONObject([
            ("organization", .string(organizationID)),
            ("spaces", .array(spaces.map { s in
                ["id": .string(s.id), "key": .string(s.key), "name": .string(s.name)]
            })),
            ("workItems", .array(workItems.map(workItemJSON))),
            ("comments", .array(comments.map(commentJSON))),
            ("initiatives", .array(initiatives.map(initiativeJSON))),
            ("feedback", .array(feedback.map(feedbackJSON))),
        ]))
    }

    /// Spaces, labels, work items, comments, initiatives, roadmaps, feedback, people, companies and activities, by id.
    static func changes(from old: KitemakerState, to new: KitemakerState) -> [SandboxEntityChange] {
        typealias C = SandboxEntityChange
        return C.between(old.spaces, new.spaces, kind: "space", id: \.id)
            + C.between(old.spaces.flatMap(\.labels), new.spaces.flatMap(\.labels), kind: "label", id: \.id)
            + C.between(old.workItems, new.workItems, kind: "workItem", id: \.id)
            + C.between(old.comments + old.initiativeComments, new.comments + new.initiativeComments, kind: "comment", id: \.id)
            + C.between(old.initiatives, new.initiatives, kind: "initiative", id: \.id)
            + C.between(old.roadmaps, new.roadmaps, kind: "roadmap", id: \.id)
            + C.between(old.feedback, new.feedback, kind: "feedback", id: \.id)
            + C.between(old.persons, new.persons, kind: "person", id: \.id)
            + C.between(old.companies, new.companies, kind: "company", id: \.id)
            + C.between(old.activities, new.activities, kind: "activity", id: \.id)
    }
}

/// Kitemaker's edge: the token comes from `X-API-KEY` (REST) or `Authorization: Bearer` (GraphQL);
/// errors are `{"errors": [{"message": …, "status": …, "code": …}]}`.
struct KitemakerDialect: SandboxDialect {
    func credential(of request: Request) -> String? {
        if let key = request.headers.first(where: { $0.name.canonicalName == "x-api-key" })?.value, !key.isEmpty {
            return key.trimmingCharacters(in: .whitespaces)
        }
        if let header = request.headers[.authorization]?.trimmingCharacters(in: .whitespaces) {
            let token = header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)) : header
            let trimmed = token.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { return trimmed }
        }
        return nil
    }

    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue {
        var error = JSONObject([("message", .string(message)), ("status", .int(Int(status.code)))])
        if let code = Self.code(status: status, message: message) { error["code"] = .string(code) }
        return ["errors": [.object(error)]]
    }

    /// The `code` Kitemaker's REST errors carry (kitemakerhq/rest-docs, commit
    /// 2f0c66b3c459eb969218810464bd1d8afe5a3ca6: `_documentation/errors.md`, `_api/*.md`): UNAUTHORIZED for 401,
    /// ISSUE_NOT_FOUND, SPACE_NOT_FOUND, INITIATIVE_NOT_FOUND and FEEDBACK_NOT_FOUND for the 404s they name.
    static func code(status: HTTPResponse.Status, message: String) -> String? {
        if status == .unauthorized { return "UNAUTHORIZED" }
        guard status == .notFound else { return nil }
        let text = message.lowercased()
        if text.contains("work item") { return "ISSUE_NOT_FOUND" }
        if text.contains("space") { return "SPACE_NOT_FOUND" }
        if text.contains("initiative") { return "INITIATIVE_NOT_FOUND" }
        if text.contains("feedback") { return "FEEDBACK_NOT_FOUND" }
        return nil
    }
}
