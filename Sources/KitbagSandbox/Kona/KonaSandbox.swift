import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore
import Logging

/// A local emulator of the Kona API (`https://io.kona.com/api/` and `/oauth/token`), written from the Kona
/// API page and the collected API facts only.
///
/// Choices where the documents are silent:
/// - Auth: `Authorization: Bearer ACCESS_TOKEN`; tokens expire `tokenLifetime` seconds after they are issued
///   (the configured ones count from start-up; default a week). An expired token gets 401 saying so.
///   `POST /oauth/token` takes `grant_type=refresh_token` with `refresh_token`, `client_id`, `client_secret` from the
///   query, a form body or a JSON body, and answers `{access_token, token_type, expires_in, refresh_token}` (the same
///   refresh token). OAuth errors are `{"error", "error_description"}`.
/// - Errors under `/api/` are `{"problemType", "title", "details"}` (the exceptions section's shape).
/// - Paging: `per_page` 1…100 (more is a 400), default 25; `page` from 1; a page past the end is empty. Lists are
///   in id order unless `order_by=created_at|updated_at` (latest first); comments are latest first.
/// - Every create route takes `{"<resource>": [{…}, …]}` with 1…100 objects, all or nothing; 201 with the created
///   objects and `Location` naming the first. `PUT` is partial; `DELETE` answers 204 and removes what hangs below.
/// - `space_id` filters conversations (documented) and also tasks and calendar events. Calendar events default to
///   the current month; `date_range_start`/`date_range_end` widen the window.
/// - `hidden` (per user) is shown on spaces and may be set on create and update; `GET /spaces` leaves hidden spaces
///   out unless `hidden=true`, which lists them along with the others.
/// - Tasks and events list `participants: [{user_id, role}]` (editor 1, viewer 2) with `include=participants`;
///   they are written through `participant_ids`/`editor_ids`, which must name participants of the space.
///   Conversations always list participants. `creator_id` is always the requesting user.
/// - Comments show `resource_type` and `resource_id`. Attachments exist (comments name them) but no route lists them.
///   A comment's `@user:ID` or `@user:EMAIL` must name a participant of its space, else 404 (documented).
/// - Where the documentation leaves the server's behaviour open, `SandboxOptions.kona` (`KonaServerBehaviour`)
///   chooses: `hidden=true` lists hidden spaces only or too; `space_id` filters tasks and events or not; `per_page`
///   capped quietly or not; creates take every object or only the first.
/// - `updated_at` moves on every change of an item and on every comment posted to it (the pages say "metadata"; a
///   comment is treated as activity on its item, which is what lets a backup skip unchanged spaces). Deleting an
///   item takes its comments with it. `order_by=updated_at` lists latest first, ties by id, latest first.
/// - No rate limit is documented: the shared per-second limiter is off unless `perSecondLimit` turns it on.
public enum KonaSandbox {
    /// Access token of the seeded owner when `credentials` is empty.
    public static let defaultCredential = "sandbox-kona-access-token"
    /// Access token of the seeded colleague (demo and generated seeds) when `credentials` has no second entry.
    public static let defaultColleagueToken = "sandbox-kona-colleague-access-token"
    /// Refresh token of the owner when `refreshTokens` is empty.
    public static let defaultRefreshToken = "sandbox-kona-refresh-token"
    /// Refresh token of the colleague when `refreshTokens` has no second entry.
    public static let defaultColleagueRefreshToken = "sandbox-kona-colleague-refresh-token"
    /// OAuth client id the token endpoint accepts when `oauthClientID` is nil.
    public static let defaultClientID = "sandbox-kona-client"
    /// OAuth client secret the token endpoint accepts when `oauthClientSecret` is nil.
    public static let defaultClientSecret = "sandbox-kona-client-secret"
    /// Kona's access tokens last a week.
    public static let defaultTokenLifetime: Double = 7 * 24 * 3600

    /// Seeds the state, binds, and returns once the server listens (real port in `baseURL`).
    public static func start(
        _ options: SandboxOptions, logger: Logger = SandboxServer.quietLogger("kitbag.sandbox.kona")
    ) async throws -> RunningSandbox {
        let store = KonaStore(state: KonaSeeder.state(options: options))
        let sandbox = try await SandboxServer.start(
            options: options, router: SandboxRouter(routes: routes(store)), dialect: KonaDialect(),
            logger: logger, store: store, perSecondLimit: false)
        var base = sandbox.baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        await store.update { [base] state in state.baseURL = base }
        return sandbox
    }

    static func routes(_ store: KonaStore) -> [SandboxRoute] {
        typealias R = SandboxRoute
        typealias Resource = KonaState.Resource
        func read(
            _ method: HTTPRequest.Method, _ path: String,
            _ body: @escaping @Sendable (KonaState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
        ) -> R {
            R(method, path) { request throws(SandboxHTTPError) in try await store.read(request, body) }
        }
        func write(
            _ method: HTTPRequest.Method, _ path: String,
            _ body: @escaping @Sendable (inout KonaState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
        ) -> R {
            R(method, path) { request throws(SandboxHTTPError) in try await store.write(request, body) }
        }
        var routes: [R] = [
            write(.post, "/oauth/token") { s, r in s.issueToken(r) },
            read(.get, "/api/accounts/current") { s, r throws(SandboxHTTPError) in try s.currentAccount(r) },
            read(.get, "/api/userinfo") { s, r throws(SandboxHTTPError) in try s.userinfo(r) },
            read(.get, "/api/users") { s, r throws(SandboxHTTPError) in try s.listUsers(r) },
            read(.get, "/api/users/:id") { s, r throws(SandboxHTTPError) in try s.getUser(r) },
            read(.get, "/api/spaces") { s, r throws(SandboxHTTPError) in try s.listSpaces(r) },
            read(.get, "/api/spaces/:id") { s, r throws(SandboxHTTPError) in try s.getSpace(r) },
            write(.post, "/api/spaces") { s, r throws(SandboxHTTPError) in try s.createSpaces(r) },
            write(.put, "/api/spaces/:id") { s, r throws(SandboxHTTPError) in try s.updateSpace(r) },
            write(.delete, "/api/spaces/:id") { s, r throws(SandboxHTTPError) in try s.deleteSpace(r) },
        ]
        for resource in Resource.allCases {
            let path = "/api/\(resource.rawValue)"
            routes.append(read(.get, path) { s, r throws(SandboxHTTPError) in try s.listItems(r, resource) })
            routes.append(read(.get, "\(path)/:id") { s, r throws(SandboxHTTPError) in try s.getItem(r, resource) })
            routes.append(write(.post, path) { s, r throws(SandboxHTTPError) in try s.createItems(r, resource) })
            if resource == .tasks || resource == .calendarEvents {
                routes.append(write(.put, "\(path)/:id") { s, r throws(SandboxHTTPError) in try s.updateItem(r, resource) })
            }
            if resource != .comments {
                routes.append(write(.delete, "\(path)/:id") { s, r throws(SandboxHTTPError) in try s.deleteItem(r, resource) })
            }
        }
        return routes
    }
}

/// Holds the Kona state; every request runs against it one at a time, writes all or nothing (a create of several
/// objects included).
typealias KonaStore = SandboxStore<KonaState>

extension KonaState: SandboxState {
    /// Users, spaces, every resource's items (`conversation`, `task`, `calendar_event`, `comment`) and attachments.
    static func changes(from old: KonaState, to new: KonaState) -> [SandboxEntityChange] {
        typealias C = SandboxEntityChange
        var out = C.between(old.users, new.users, kind: "user") + C.between(old.spaces, new.spaces, kind: "space")
            + C.between(old.attachments, new.attachments, kind: "attachment")
        if old.items != new.items {
            for resource in Resource.allCases {
                out += C.between(old.items[resource] ?? [:], new.items[resource] ?? [:], kind: resource.commentType ?? "comment")
            }
        }
        return out
    }
}

/// Kona's edge: the token comes from `Authorization: Bearer`; errors are `{"problemType", "title", "details"}`.
struct KonaDialect: SandboxDialect {
    func credential(of request: Request) -> String? {
        guard let header = request.headers[.authorization]?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue {
        let (anchor, title): (String, String) =
            switch status.code {
            case 400: ("bad_request", "Bad Request")
            case 401: ("unauthenticated", "Unauthenticated")
            case 403: ("render_forbidden", "Forbidden")
            case 404: ("not_found", "Not Found")
            case 413: ("bad_request", "Request Too Large")
            case 422: ("unprocessable_entity", "Unprocessable Entity")
            case 429: ("too_many_requests", "Too Many Requests")
            case 503: ("server_error", "Service Unavailable")
            default: ("server_error", status.code >= 500 ? "Server Error" : "Error")
            }
        return .object(JSONObject([
            ("problemType", .string("https://github.com/KonaTeam/kona-api/blob/master/sections/exceptions.md#\(anchor)")),
            ("title", .string(title)),
            ("details", .string(message)),
        ]))
    }
}
