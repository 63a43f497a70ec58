import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore
import Logging

/// A local emulator of the Kintone REST API (`/k/v1/…` and the guest prefix `/k/guest/{spaceId}/v1/…`),
/// written from the public API page and the collected API facts only.
///
/// Choices where the documents are silent:
/// - API tokens are scoped as Kintone scopes them (`KintoneToken`): never `apps.json`, `preview/app.json`,
///   `plugins.json` or the space routes (403 `GAIA_NO01`); only their own app (`GAIA_IA02` otherwise); only what
///   their permissions allow (403 `GAIA_NO01`); at most 9 per request. `appToken(N)` / `appViewToken(N)` are the
///   tokens of app N. The configured `credentials` are domain tokens that reach every app (as if one token of
///   each app were sent); `viewOnlyCredential` may only view. Password sign-in wins when both are sent;
///   `Authorization: Basic` is accepted and not checked.
/// - Apps in a guest space answer only under `/k/guest/{id}/v1/`; other apps only under `/k/v1/`
///   (403 `CB_NO02` otherwise). `apps.json` lists the apps of the prefix's scope.
/// - Spaces: `space.json` answers as Kintone does — `defaultThread` and each attached app's `threadId`,
///   no thread list (Kintone has no route that reads threads or thread comments).
/// - Record date-times have minute precision (`2024-03-01T09:30:00Z`); `Updated_datetime > "…"`
///   therefore misses changes made in the same minute — use `>=` and skip what was seen.
/// - Kintone's REST API cannot delete an app. Tests that need an app deleted "as an administrator does in Kintone"
///   call `appDeleteAppPath` — a sandbox-only stand-in for the app settings screen, outside the API's paths, that no
///   connector calls (see `KintoneState.deleteAppAsInTheApp`).
/// - A new app and every settings change stay in the preview until deployed; a deploy reports
///   `PROCESSING` on the first poll and `SUCCESS` (live settings replaced) on the next poll or after 2 s.
public enum KintoneSandbox {
    /// API token accepted when `credentials` is empty (full rights on every app).
    public static let defaultCredential = "sandbox-kintone-api-token"
    /// API token that may read but not write (writes get 403 `CB_NO02`).
    public static let viewOnlyCredential = "sandbox-kintone-view-only-token"
    /// Login accepted through `X-Cybozu-Authorization` when `logins` is empty.
    public static let defaultLogin: (user: String, password: String) = ("Administrator", "sandbox-kintone-password")
    /// Stats gauge with the number of open (unexpired) cursors.
    public static let openCursorsGauge = "openCursors"

    /// Sandbox-only, for tests: `POST` here with `{"id": APP_ID}` (and a login or token in the usual headers) deletes
    /// the app with its records, comments and files, as an administrator does in Kintone's app settings ("Delete
    /// App"). It is that screen's stand-in, not an API route: Kintone's REST API deletes no app, and no connector may
    /// call this.
    public static let appDeleteAppPath = "/sandbox-only/app/delete-app"

    /// Seeds the state, binds, and returns once the server listens (real port in `baseURL`).
    /// `rateLimit` turns on Kintone's concurrency limit (`concurrencyLimit`, default 100).
    /// `lockedWritesAfterDeploy`: that many writes to an app answer `GAIA_DA02` after each of its deploys settles.
    /// `withoutAppCreation`: logins the domain's app creation permission leaves out (`POST preview/app.json` answers
    /// them 403 `CB_NO02`). `basicAuth`: the domain sits behind Basic authentication (401 HTML page without it). `filterWarningAbove`: a
    /// filtered search matching more records sends `X-Cybozu-Warning` (100,000 on real Kintone).
    public static func start(
        _ options: SandboxOptions, logger: Logger = SandboxServer.quietLogger("kitbag.sandbox.kintone"),
        lockedWritesAfterDeploy: Int = 0, basicAuth: (user: String, password: String)? = nil,
        filterWarningAbove: Int = 100_000, withoutAppCreation: Set<String> = []
    ) async throws -> RunningSandbox {
        var state = KintoneSeeder.state(seed: options.seed, credentials: options.credentials, logins: options.logins)
        state.lockedWritesAfterDeploy = lockedWritesAfterDeploy
        state.withoutAppCreation = withoutAppCreation
        state.filterWarningAbove = filterWarningAbove
        state.basicAuth = basicAuth.map { "\($0.user):\($0.password)" }
        state.deployClock = options.clock
        let store = KintoneStore(state: state)
        return try await SandboxServer.start(
            options: options, router: SandboxRouter(routes: KintoneRoutes.all(store)), dialect: KintoneDialect(),
            logger: logger, store: store,
            concurrencyLimit: 100, perSecondLimit: false,
            gauges: { [openCursorsGauge: await store.openCursorCount()] })
    }
}

extension KintoneState: SandboxState {
    /// Apps (metadata and settings), spaces and their threads, files and uploads. Records live in journaled tables,
    /// which report their own changes (`record`, `app/id`).
    static func changes(from old: KintoneState, to new: KintoneState) -> [SandboxEntityChange] {
        typealias C = SandboxEntityChange
        func threads(_ spaces: [Int: KintoneSpace]) -> [String: KintoneThread] {
            var out: [String: KintoneThread] = [:]
            for space in spaces.values { for thread in space.threads { out["\(space.id)/\(thread.id)"] = thread } }
            return out
        }
        var out = C.between(old.apps.mapValues(AppSettings.init), new.apps.mapValues(AppSettings.init), kind: "app")
            + C.between(old.files, new.files, kind: "file") + C.between(old.uploads, new.uploads, kind: "upload")
        if old.spaces != new.spaces {
            out += C.between(old.spaces, new.spaces, kind: "space") + C.between(threads(old.spaces), threads(new.spaces), kind: "thread")
        }
        return out
    }

    /// What an app is apart from its records.
    private struct AppSettings: Equatable {
        var code, name, description, createdAt, modifiedAt: String
        var spaceId, threadId: Int?
        var creator, modifier: JSONValue
        var isLive: Bool
        var live, preview: KintoneAppSettings
        var deploy: KintoneDeploy?

        init(_ app: KintoneApp) {
            (code, name, description, createdAt, modifiedAt) = (app.code, app.name, app.description, app.createdAt, app.modifiedAt)
            (spaceId, threadId, creator, modifier) = (app.spaceId, app.threadId, app.creator, app.modifier)
            (isLive, live, preview, deploy) = (app.isLive, app.live, app.preview, app.deploy)
        }
    }
}

/// A Kintone error answer: `{code, id, message, errors?}`.
struct KintoneError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// `errors` map, e.g. `"records[0].Amount.value": {"messages": ["…"]}`.
    var errors: JSONObject?
    /// More top-level keys (the `results` of a failed bulk request).
    var extra: JSONObject?
    /// Only `extra` is sent: a failed bulk request answers `{results: [{}, {code, id, message, errors}, …]}` with no
    /// top-level code (kintone/js-sdk packages/rest-api-client/src/error/KintoneRestAPIError.ts, commit 003b2770).
    var resultsOnly = false

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, errors: JSONObject? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
    }

    /// 400 `CB_VA01` with one entry in `errors`.
    static func invalid(_ path: String, _ message: String) -> KintoneError {
        KintoneError(.badRequest, "CB_VA01", "Missing or invalid input.",
                     errors: JSONObject([(path, ["messages": [.string(message)]])]))
    }

    /// 400 `CB_VA01` with many entries.
    static func invalid(_ entries: [(String, String)]) -> KintoneError {
        var map = JSONObject()
        for (path, message) in entries {
            var messages = map[path]?["messages"]?.arrayValue ?? []
            messages.append(.string(message))
            map[path] = ["messages": .array(messages)]
        }
        return KintoneError(.badRequest, "CB_VA01", "Missing or invalid input.", errors: map)
    }

    static func appNotFound(_ app: Int) -> KintoneError {
        KintoneError(.notFound, "GAIA_AP01", "The app (ID: \(app)) not found. The app may have been deleted.")
    }

    static func recordNotFound(_ id: Int) -> KintoneError {
        KintoneError(.notFound, "GAIA_RE01", "The specified record (ID: \(id)) is not found.")
    }

    static let noPermission = KintoneError(.forbidden, "CB_NO02", "No privilege to proceed.")

    static func conflict(_ id: Int, expected: Int, actual: Int) -> KintoneError {
        KintoneError(.conflict, "GAIA_CO02",
                     "The revision is not the latest. Someone may update a record (ID: \(id)); expected revision \(expected), the record is at \(actual).")
    }

    func body(id: String) -> JSONValue {
        if resultsOnly, let extra { return .object(extra) }
        var out = JSONObject([("code", .string(code)), ("id", .string(id)), ("message", .string(message))])
        if let errors { out["errors"] = .object(errors) }
        for (key, value) in extra ?? JSONObject() { out[key] = value }
        return .object(out)
    }
}

/// Kintone's edge: errors are `{code, id, message}`; the credential used for rate-limit keys is the
/// API token header or the password header.
struct KintoneDialect: SandboxDialect {
    func credential(of request: Request) -> String? {
        for name in ["x-cybozu-authorization", "x-cybozu-api-token"] {
            if let value = request.headers.first(where: { $0.name.canonicalName == name })?.value, !value.isEmpty {
                return value
            }
        }
        return nil
    }

    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue {
        let code: String
        switch status.code {
        case 401: code = "CB_WA01"
        case 403: code = "CB_NO02"
        case 404: code = "CB_NF01"
        case 413: code = "CB_VA01"
        case 429: code = "GAIA_TO04"
        case 503: code = "CB_MA01"
        default: code = status.code >= 500 ? "CB_IL02" : "CB_VA01"
        }
        return KintoneError(status, code, message).body(id: KintoneErrorIDs.next())
    }
}

/// Request ids for error bodies (`id`), unique within the process.
enum KintoneErrorIDs {
    private static let counter = KintoneCounter()
    static func next() -> String {
        let n = counter.next()
        return "sandbox-\(String(n, radix: 36))-\(String((n &* 2_654_435_761) % 1_000_000_007, radix: 36))"
    }
}

final class KintoneCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0
    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
