import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Who is calling: a signed-in user or an API token (which acts as the `Administrator` user).
struct KintoneCaller: Sendable {
    let code: String
    let name: String
    let canWrite: Bool
    /// The API tokens sent, nil for a login.
    var tokens: [KintoneToken]? = nil

    var entity: JSONValue { ["code": .string(code), "name": .string(name)] }
}

/// One authenticated Kintone call as a handler sees it.
struct KintoneCall: Sendable {
    let request: SandboxRequest
    /// Parameters from the query (GET, and DELETE without body) or the JSON body.
    let params: JSONObject
    /// The `{id}` of a `/k/guest/{id}/v1/` path; nil under `/k/v1/`.
    let guestSpaceId: Int?
    let caller: KintoneCaller
    /// Seconds since 1970.
    let now: Int64
}

typealias KintoneHandler = @Sendable (inout KintoneState, KintoneCall) throws(KintoneError) -> SandboxReply

/// One documented route below `/k/v1/` (e.g. `records.json`).
struct KintoneEndpoint: Sendable {
    let method: HTTPRequest.Method
    let path: String
    /// Writes need write rights and are all or nothing.
    let writes: Bool
    let handler: KintoneHandler

    init(_ method: HTTPRequest.Method, _ path: String, writes: Bool = false, _ handler: @escaping KintoneHandler) {
        self.method = method
        self.path = path
        self.writes = writes
        self.handler = handler
    }
}

/// Holds the Kintone state; every request runs against it one at a time.
typealias KintoneStore = SandboxStore<KintoneState>

extension SandboxStore where State == KintoneState {
    /// Authenticates and scopes the call, settles deploys and cursors, then runs the endpoint: a write all or nothing
    /// (and recorded), a read in place (reading a cursor moves it).
    func run(_ request: SandboxRequest, _ endpoint: KintoneEndpoint, params: JSONObject) -> SandboxReply {
        access { (state: inout KintoneState, writes: inout SandboxWriteLog) -> SandboxReply in
            if let basic = state.basicAuth {
                // A domain behind Basic authentication: the web server in front answers before Kintone does, with an
                // HTML page and `WWW-Authenticate`, not a Kintone error (get.kintone.help "Basic authentication").
                let sent = request.headers.first { $0.name.canonicalName == "authorization" }?.value ?? ""
                if sent != "Basic " + Data(basic.utf8).base64EncodedString() {
                    var headers = HTTPFields()
                    headers[HTTPFields.Element.Name("WWW-Authenticate")!] = "Basic realm=\"kintone\""
                    var reply = SandboxReply.bytes(
                        Array("<html><body><h1>401 Authorization Required</h1></body></html>".utf8), contentType: "text/html",
                        headers: headers)
                    reply.status = HTTPResponse.Status.unauthorized
                    return reply
                }
            }
            do throws(KintoneError) {
                let caller = try state.authenticate(request)
                if let tokens = caller.tokens {
                    try state.checkTokenScope(tokens, method: endpoint.method.rawValue, path: endpoint.path, params: params)
                } else if endpoint.writes && !caller.canWrite {
                    throw KintoneError.noPermission
                }
                let guest = try state.guestScope(request.pathParameters["guestSpaceId"])
                let now = state.clock()
                state.settle(now: now)
                if endpoint.writes { try state.checkLocked(method: endpoint.method.rawValue, path: endpoint.path, params: params) }
                let call = KintoneCall(request: request, params: params, guestSpaceId: guest, caller: caller, now: now)
                if endpoint.writes {
                    return try writes.allOrNothing(&state, method: request.method.rawValue, route: request.route) {
                        (state: inout KintoneState) throws(KintoneError) in try endpoint.handler(&state, call)
                    }
                }
                return try endpoint.handler(&state, call)
            } catch {
                return SandboxReply(error.body(id: KintoneErrorIDs.next()), status: error.status)
            }
        }
    }

    /// `KintoneSandbox.appDeleteAppPath`: authenticates as an API call does, then deletes the app, all or nothing and
    /// recorded like a write.
    func deleteAppAsInTheApp(_ request: SandboxRequest) -> SandboxReply {
        access { (state: inout KintoneState, writes: inout SandboxWriteLog) -> SandboxReply in
            do throws(KintoneError) {
                _ = try state.authenticate(request)
                guard let id = try KintoneRoutes.params(of: request, asQuery: false).int("id") else {
                    throw KintoneError.invalid("id", "Required field.")
                }
                return try writes.allOrNothing(&state, method: request.method.rawValue, route: request.route) {
                    (state: inout KintoneState) throws(KintoneError) in
                    try state.deleteAppAsInTheApp(id)
                    return SandboxReply(["app": .string(String(id))])
                }
            } catch {
                return SandboxReply(error.body(id: KintoneErrorIDs.next()), status: error.status)
            }
        }
    }

    func openCursorCount() -> Int {
        update { (state: inout KintoneState) -> Int in
            state.settle(now: state.clock())
            return state.cursors.count
        }
    }
}

enum KintoneRoutes {
    static let prefixes = ["/k/v1/", "/k/guest/:guestSpaceId/v1/"]

    /// Every endpoint under both prefixes; POST routes also serve `X-HTTP-Method-Override: GET`.
    static func all(_ store: KintoneStore) -> [SandboxRoute] {
        let endpoints = KintoneState.endpoints
        var paths: [String] = []
        var table: [String: [HTTPRequest.Method: KintoneEndpoint]] = [:]
        for endpoint in endpoints {
            if table[endpoint.path] == nil { paths.append(endpoint.path) }
            table[endpoint.path, default: [:]][endpoint.method] = endpoint
        }
        var routes: [SandboxRoute] = [
            SandboxRoute(.post, KintoneSandbox.appDeleteAppPath) { request throws(SandboxHTTPError) in
                await store.deleteAppAsInTheApp(request)
            }
        ]
        for path in paths {
            let methods = table[path] ?? [:]
            for prefix in prefixes {
                for (method, endpoint) in methods where method != .post {
                    routes.append(SandboxRoute(method, prefix + path) { request throws(SandboxHTTPError) in
                        await store.run(request, endpoint, params: params(of: request, asQuery: method == .get))
                    })
                }
                let get = methods[.get]
                let post = methods[.post]
                guard get != nil || post != nil else { continue }
                routes.append(SandboxRoute(.post, prefix + path) { request throws(SandboxHTTPError) in
                    if let get, isGetOverride(request) {
                        return await store.run(request, get, params: params(of: request, asQuery: false))
                    }
                    guard let post else {
                        return SandboxReply(
                            KintoneError(.methodNotAllowed, "CB_IJ01",
                                         "POST is not supported for \(path); send X-HTTP-Method-Override: GET to read").body(id: KintoneErrorIDs.next()),
                            status: .methodNotAllowed)
                    }
                    return await store.run(request, post, params: params(of: request, asQuery: false))
                })
            }
        }
        return routes
    }

    static func isGetOverride(_ request: SandboxRequest) -> Bool {
        request.headers.first { $0.name.canonicalName == "x-http-method-override" }?.value.uppercased() == "GET"
    }

    /// Query parameters for GET; otherwise the JSON body (or the query when there is no body).
    static func params(of request: SandboxRequest, asQuery: Bool) -> JSONObject {
        if !asQuery, !request.body.isEmpty, let object = (try? JSONValue(parsing: request.body))?.objectValue {
            return object
        }
        return queryObject(request.rawQuery)
    }

    /// `a=1&ids[0]=2&ids[1]=3&x=4&x=5` → `{a: "1", ids: ["2","3"], x: ["4","5"]}`.
    static func queryObject(_ raw: String?) -> JSONObject {
        guard let raw, !raw.isEmpty else { return JSONObject() }
        var scalars: [(String, String)] = []
        var indexed: [String: [(Int, String)]] = [:]
        for (key, value) in SandboxRouter.queryPairs(raw) {
            if let open = key.firstIndex(of: "["), key.hasSuffix("]") {
                let name = String(key[..<open])
                let inner = key[key.index(after: open)..<key.index(before: key.endIndex)]
                let index = Int(inner) ?? (indexed[name]?.count ?? 0)
                indexed[name, default: []].append((index, value))
                if !scalars.contains(where: { $0.0 == name }) { scalars.append((name, "")) }
            } else {
                scalars.append((key, value))
            }
        }
        var out = JSONObject()
        for (name, value) in scalars {
            if let list = indexed[name] {
                out[name] = .array(list.sorted { $0.0 < $1.0 }.map { .string($0.1) })
            } else if let existing = out[name] {
                var list = existing.arrayValue ?? [existing]
                list.append(.string(value))
                out[name] = .array(list)
            } else {
                out[name] = .string(value)
            }
        }
        return out
    }
}

// MARK: - Parameter access

extension JSONObject {
    /// An integer parameter given as a number or a numeric string.
    func int(_ key: String) throws(KintoneError) -> Int? {
        guard let value = self[key], !value.isNull else { return nil }
        if case .string(let s) = value, s.isEmpty { return nil }
        guard let n = value.intValue ?? value.idString.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw KintoneError.invalid(key, "must be an integer.")
        }
        return n
    }

    func requiredInt(_ key: String) throws(KintoneError) -> Int {
        guard let n = try int(key) else { throw KintoneError.invalid(key, "Required field.") }
        return n
    }

    func string(_ key: String) -> String? {
        guard let value = self[key] else { return nil }
        return value.idString
    }

    func bool(_ key: String) -> Bool? {
        guard let value = self[key] else { return nil }
        if let b = value.boolValue { return b }
        if let s = value.stringValue { return s.lowercased() == "true" ? true : (s.lowercased() == "false" ? false : nil) }
        return nil
    }

    /// An array parameter; a single scalar counts as a one-element array.
    func list(_ key: String) -> [JSONValue]? {
        guard let value = self[key], !value.isNull else { return nil }
        if let array = value.arrayValue { return array }
        if case .string(let s) = value, s.isEmpty { return [] }
        return [value]
    }

    /// A list of integers where `null` stands for "no value" (Kintone's `revisions`: null or -1 skips the check).
    func optionalIntList(_ key: String) throws(KintoneError) -> [Int?]? {
        guard let values = list(key) else { return nil }
        var out: [Int?] = []
        for (i, value) in values.enumerated() {
            if value == .null {
                out.append(nil)
                continue
            }
            guard let n = value.intValue ?? value.idString.flatMap({ Int($0) }) else {
                throw KintoneError.invalid("\(key)[\(i)]", "must be an integer or null.")
            }
            out.append(n)
        }
        return out
    }

    func intList(_ key: String) throws(KintoneError) -> [Int]? {
        guard let values = list(key) else { return nil }
        var out: [Int] = []
        for (i, value) in values.enumerated() {
            guard let n = value.intValue ?? value.idString.flatMap({ Int($0) }) else {
                throw KintoneError.invalid("\(key)[\(i)]", "must be an integer.")
            }
            out.append(n)
        }
        return out
    }
}
