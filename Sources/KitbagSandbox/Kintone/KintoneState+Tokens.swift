import Foundation
import KitbagCore

/// One API token as Kintone scopes it: generated in one app's settings, with the permissions ticked there.
///
/// Sources: cybozu.dev "認証方式" / "APIトークンを使って操作できるAPI" (tokens reach record, file, comment, bulk and
/// per-app settings routes only; `GET apps.json` and `POST preview/app.json` refuse them); kintone.dev
/// tutorials/introduction-to-kintone-customizations/api-tokens (the three refusals a token meets: "The API token
/// does not match the app", "The specified API token does not match the API token generated via an app",
/// "Using this API token, you cannot run the specified API"); get.kintone.help "Generating API Tokens" (a
/// comma-separated list of tokens in one header).
struct KintoneToken: Sendable, Equatable {
    enum Permission: String, Sendable, CaseIterable {
        case view, add, edit, delete, manage
        static let all = Set(allCases)
    }

    /// The app the token was generated in; nil for the sandbox's domain tokens (`credentials`), which stand for
    /// "one token of every app, all sent together" so demos and the conformance suite need not name apps.
    var app: Int?
    var permissions: Set<Permission>

    func reaches(_ app: Int) -> Bool { self.app == nil || self.app == app }
}

extension KintoneSandbox {
    /// The API token generated in app `app` with every permission (view, add, edit, delete, manage app).
    public static func appToken(_ app: Int) -> String { "sandbox-kintone-app-\(app)-token" }
    /// The API token generated in app `app` that may only view records.
    public static func appViewToken(_ app: Int) -> String { "sandbox-kintone-app-\(app)-view-token" }
}

extension KintoneState {
    /// kintone.dev "API tokens": up to 9 tokens in one request.
    static let maxTokensPerRequest = 9

    /// Routes an API token can never call, whatever its permissions (a login or OAuth is needed).
    static let tokenRefusedRoutes: Set<String> = [
        "GET apps.json", "POST preview/app.json", "GET plugins.json", "GET space.json", "DELETE space.json",
        "GET space/members.json", "PUT space/members.json", "PUT space/body.json", "PUT space/thread.json",
        "POST space/thread.json", "POST space/thread/comment.json", "POST template/space.json",
    ]

    /// The token of an app's settings (`KintoneSandbox.appToken`) for an app that exists.
    func appToken(_ token: String) -> KintoneToken? {
        let prefix = "sandbox-kintone-app-"
        guard token.hasPrefix(prefix) else { return nil }
        var rest = token.dropFirst(prefix.count)
        var permissions = KintoneToken.Permission.all
        if rest.hasSuffix("-view-token") {
            rest = rest.dropLast("-view-token".count)
            permissions = [.view]
        } else if rest.hasSuffix("-token") {
            rest = rest.dropLast("-token".count)
        } else {
            return nil
        }
        guard let id = Int(rest), apps[id] != nil else { return nil }
        return KintoneToken(app: id, permissions: permissions)
    }

    static let noTokenAPI = KintoneError(.forbidden, "GAIA_NO01", "Using this API token, you cannot run the specified API.")

    /// Whether the caller administers the app: a token of the app with the app-management permission, the
    /// `Administrator`, or the login that created the app.
    func administers(_ caller: KintoneCaller, _ appId: Int) -> Bool {
        if let tokens = caller.tokens { return tokens.contains { $0.reaches(appId) && $0.permissions.contains(.manage) } }
        return caller.code == KintoneSandbox.defaultLogin.user || apps[appId]?.creator["code"]?.stringValue == caller.code
    }

    /// Refuses a call the tokens may not make: a route tokens never reach (403 `GAIA_NO01`), an app none of the
    /// tokens belongs to (`GAIA_IA02`; status a guess), or a permission none of the app's tokens has (403 `GAIA_NO01`).
    func checkTokenScope(_ tokens: [KintoneToken], method: String, path: String, params: JSONObject) throws(KintoneError) {
        let route = "\(method) \(path)"
        if Self.tokenRefusedRoutes.contains(route) { throw Self.noTokenAPI }
        if route == "POST bulkRequest.json" {
            for request in params["requests"]?.arrayValue ?? [] {
                guard let api = request["api"]?.stringValue, let (_, inner) = Self.splitAPI(api) else { continue }
                try checkTokenScope(
                    tokens, method: request["method"]?.stringValue?.uppercased() ?? "", path: inner,
                    params: request["payload"]?.objectValue ?? JSONObject())
            }
            return
        }
        let needed = Self.tokenPermission(method: method, path: path, params: params)
        var appIDs: [Int] = []
        switch route {
        case "GET app.json":
            if let id = try? params.int("id") { appIDs = [id] }
        case "POST preview/app/deploy.json":
            appIDs = (params["apps"]?.arrayValue ?? []).compactMap { $0["app"]?.idString.flatMap { Int($0) } }
        case "GET preview/app/deploy.json":
            appIDs = (try? params.intList("apps")) ?? []
        case "GET records/cursor.json", "DELETE records/cursor.json":
            if let id = params.string("id"), let cursor = cursors[id] { appIDs = [cursor.app] }
        case "POST file.json", "GET file.json":
            // Files carry no app: any token with the permission will do.
            guard tokens.contains(where: { !$0.permissions.isDisjoint(with: needed) }) else { throw Self.noTokenAPI }
            return
        default:
            if let id = try? params.int("app") { appIDs = [id] }
        }
        for id in appIDs {
            let own = tokens.filter { $0.reaches(id) }
            guard !own.isEmpty else {
                throw KintoneError(.badRequest, "GAIA_IA02", "The API token does not match the app (ID: \(id)).")
            }
            guard own.contains(where: { !$0.permissions.isDisjoint(with: needed) }) else { throw Self.noTokenAPI }
        }
    }

    /// The token permissions that allow a call (any one of them).
    static func tokenPermission(method: String, path: String, params: JSONObject) -> Set<KintoneToken.Permission> {
        // Permissions are settings only app administrators see.
        if ["app/acl.json", "record/acl.json", "field/acl.json"].contains(path) { return [.manage] }
        if path.hasPrefix("preview/") || (method != "GET" && path.hasPrefix("app/")) { return [.manage] }
        switch (method, path) {
        case ("GET", _): return [.view]
        case ("POST", "records/cursor.json"): return [.view]
        case ("DELETE", "records/cursor.json"): return [.view]
        case ("POST", "record.json"), ("POST", "records.json"): return [.add]
        case ("PUT", "records.json") where params["upsert"]?.boolValue == true: return [.add, .edit]
        case ("PUT", _): return [.edit]
        case ("DELETE", "records.json"): return [.delete]
        case ("POST", "file.json"): return [.add, .edit]
        // Commenting needs only the right to see the record (a guess: the documents say no more).
        case ("POST", "record/comment.json"), ("DELETE", "record/comment.json"): return [.view]
        default: return [.manage]
        }
    }
}
