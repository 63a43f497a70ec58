import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// The app settings Kintone keeps in a preview copy and publishes on deploy.
enum KintoneSetting: String, Sendable, CaseIterable {
    case fields, layout, views, general, status, customize
    case notificationsGeneral, notificationsPerRecord, notificationsReminder
    case reports, actions, appACL, recordACL, fieldACL, adminNotes, plugins

    /// Path below `/k/v1/` of the live GET; the preview one adds `preview/`.
    var path: String {
        switch self {
        case .fields: "app/form/fields.json"
        case .layout: "app/form/layout.json"
        case .views: "app/views.json"
        case .general: "app/settings.json"
        case .status: "app/status.json"
        case .customize: "app/customize.json"
        case .notificationsGeneral: "app/notifications/general.json"
        case .notificationsPerRecord: "app/notifications/perRecord.json"
        case .notificationsReminder: "app/notifications/reminder.json"
        case .reports: "app/reports.json"
        case .actions: "app/actions.json"
        case .appACL: "app/acl.json"
        case .recordACL: "record/acl.json"
        case .fieldACL: "field/acl.json"
        case .adminNotes: "app/adminNotes.json"
        case .plugins: "app/plugins.json"
        }
    }
}

/// One version (live or preview) of an app's settings.
struct KintoneAppSettings: Sendable, Equatable {
    var documents: [KintoneSetting: JSONObject]
    var revision: Int

    subscript(setting: KintoneSetting) -> JSONObject {
        get { documents[setting] ?? JSONObject() }
        set { documents[setting] = newValue }
    }

    /// Field properties in form order.
    var properties: JSONObject { self[.fields]["properties"]?.objectValue ?? JSONObject() }
    var processEnabled: Bool { self[.status]["enable"]?.boolValue ?? false }
}

/// A stored record; values are kept without their `type` (the form supplies it).
struct KintoneRecord: Sendable, Equatable {
    var id: Int
    var revision: Int
    var values: JSONObject
    var creator: JSONValue
    var createdAt: Int64
    var modifier: JSONValue
    var updatedAt: Int64
    var status: String?
    var assignees: [JSONValue] = []
    var comments: [JSONObject] = []
    var nextCommentId = 1
}

struct KintoneApp: Sendable {
    var id: Int
    var code: String
    var name: String
    var description: String
    var spaceId: Int?
    var threadId: Int?
    var createdAt: String
    var creator: JSONValue
    var modifiedAt: String
    var modifier: JSONValue
    /// False until the first deploy: such an app is only reachable through the preview routes.
    var isLive: Bool
    var live: KintoneAppSettings
    var preview: KintoneAppSettings
    var deploy: KintoneDeploy?
    /// Records by id (`KintoneApp.recordTable(id)`), journaled: a write changes them in place, and a write that fails
    /// is undone key by key, so an import into a large app does not copy every record once per request.
    var records: SandboxTable<Int, KintoneRecord>
    /// Record ids ascending.
    var recordIds: [Int] = []
    var nextRecordId = 1
    /// Unique field code → value → record id, for duplicate checks and update keys (journaled like the records).
    var uniqueIndex: [String: SandboxTable<String, Int>] = [:]

    /// An empty record table for app `id`; the write log names its records `id/record`.
    static func recordTable(_ id: Int) -> SandboxTable<Int, KintoneRecord> { SandboxTable(kind: "record", idPrefix: "\(id)/") }

    func metadata() -> JSONValue {
        .object(JSONObject([
            ("appId", .string(String(id))), ("code", .string(code)), ("name", .string(name)),
            ("description", .string(description)),
            ("spaceId", spaceId.map { .string(String($0)) } ?? .null),
            ("threadId", threadId.map { .string(String($0)) } ?? .null),
            ("createdAt", .string(createdAt)), ("creator", creator),
            ("modifiedAt", .string(modifiedAt)), ("modifier", modifier),
        ]))
    }
}

struct KintoneDeploy: Sendable, Equatable {
    /// When it started, on the state's `deployClock`.
    var startedAt: Duration
    var polled = false
    var revert = false
}

struct KintoneThread: Sendable, Equatable {
    var id: Int
    var name: String
    var body: String
    var comments: [JSONObject] = []
}

struct KintoneSpace: Sendable, Equatable {
    var id: Int
    var name: String
    var body: String
    var isGuest: Bool
    var isPrivate: Bool
    var useMultiThread: Bool
    var creator: JSONValue
    var modifier: JSONValue
    var members: [JSONValue]
    var threads: [KintoneThread]
    var coverKey = "GREEN"
    var fixedMember = false
    var showAnnouncement = true
    var nextCommentId = 1

    var defaultThread: Int { threads.first?.id ?? 0 }
}

/// A stored file: uploaded (temporary key) or attached to a record (download key).
struct KintoneFile: Sendable, Equatable {
    var name: String
    var contentType: String
    var bytes: [UInt8]

    func descriptor(key: String) -> JSONValue {
        .object(JSONObject([
            ("contentType", .string(contentType)), ("fileKey", .string(key)), ("name", .string(name)),
            ("size", .string(String(bytes.count))),
        ]))
    }
}

struct KintoneCursor: Sendable {
    var id: String
    var app: Int
    var recordIds: [Int]
    var position: Int
    var size: Int
    var fields: [String]?
    var expiresAt: Int64
}

/// Everything a Kintone sandbox stores: the user directory, apps with their settings and records,
/// spaces with threads, files, and open cursors.
struct KintoneState: Sendable {
    static let maxOpenCursors = 10
    static let cursorLifetime: Int64 = 600

    var users: JSONObject = JSONObject()        // code → name
    var organizations: JSONObject = JSONObject()
    var groups: JSONObject = JSONObject()
    var logins: [String: String] = [:]
    /// With no `logins` configured, the `Administrator` may also sign in with any configured credential as its
    /// password, so one secret drives a sandbox through tokens and through a login alike.
    var credentialPasswords: Set<String> = []
    /// API tokens of the domain (besides the per-app tokens `KintoneSandbox.appToken` names).
    var tokens: [String: KintoneToken] = [:]
    var apps: [Int: KintoneApp] = [:]
    var appOrder: [Int] = []
    var nextAppId = 1
    var spaces: [Int: KintoneSpace] = [:]
    var spaceOrder: [Int] = []
    var nextSpaceId = 1
    var nextThreadId = 1
    /// Space templates `template/space.json` can create from: id → name.
    var spaceTemplates: [Int: String] = [:]
    /// Plug-ins installed in the domain: id → name.
    var installedPlugins: JSONObject = JSONObject()
    var files: [String: KintoneFile] = [:]
    var uploads: [String: KintoneFile] = [:]
    var cursors: [String: KintoneCursor] = [:]
    var nextRowId = 1
    var nextViewId = 1
    var keys = SandboxIDGenerator(seed: 0x4B49_4E54_4F4E_4521)
    var fileSerial = 0
    var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970.rounded(.down)) }
    /// A filtered search matching more records than this answers `X-Cybozu-Warning` (Kintone: 100,000).
    var filterWarningAbove = 100_000
    /// `user:password` a domain behind Basic authentication wants in `Authorization: Basic` (nil: none asked).
    var basicAuth: String?
    /// Writes to an app answered `GAIA_DA02` right after each of its deploys reads SUCCESS (0: none), as real
    /// Kintone does for a moment while the new settings settle (api-facts.md; cli-kintone retries them).
    var lockedWritesAfterDeploy = 0
    /// Logins without the app creation permission (cybozu.com common administration → Permissions for App Creation).
    var withoutAppCreation: Set<String> = []
    /// App id → writes still to be refused with `GAIA_DA02`.
    var lockedWrites: [Int: Int] = [:]
    /// A deploy not polled twice finishes on its own after this long.
    static let deployDuration: Duration = .seconds(2)
    /// The clock deploys run on (`SandboxOptions.clock`: a test's manual clock keeps a deploy processing until polled).
    var deployClock: any SandboxClock = SandboxSystemClock()

    // MARK: - Auth

    func header(_ request: SandboxRequest, _ name: String) -> String? {
        request.headers.first { $0.name.canonicalName == name }?.value
    }

    func authenticate(_ request: SandboxRequest) throws(KintoneError) -> KintoneCaller {
        if let encoded = header(request, "x-cybozu-authorization") {
            guard let data = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                throw KintoneError(.unauthorized, "CB_WA01", "Password authentication failed: X-Cybozu-Authorization must be base64 of login:password.")
            }
            let login = String(text[..<colon]), password = String(text[text.index(after: colon)...])
            guard logins[login] == password || (login == KintoneSandbox.defaultLogin.user && credentialPasswords.contains(password))
            else {
                throw KintoneError(.unauthorized, "CB_WA01", "Password authentication failed. Check the login name and password.")
            }
            return KintoneCaller(code: login, name: users[login]?.stringValue ?? login, canWrite: true)
        }
        if let tokenHeader = header(request, "x-cybozu-api-token") {
            let list = tokenHeader.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else {
                throw KintoneError(.unauthorized, "CB_WA01", "API token authentication failed. Check the API token.")
            }
            guard list.count <= Self.maxTokensPerRequest else {
                // kintone.dev: up to 9 API tokens in one request (status and code a guess).
                throw KintoneError(.badRequest, "CB_VA01", "X-Cybozu-API-Token: up to \(Self.maxTokensPerRequest) API tokens may be sent in one request.")
            }
            var granted: [KintoneToken] = []
            for token in list {
                guard let grant = tokens[token] ?? appToken(token) else {
                    throw KintoneError(.unauthorized, "GAIA_IA02", "The specified API token does not match the API token generated via an app.")
                }
                granted.append(grant)
            }
            return KintoneCaller(
                code: "Administrator", name: users["Administrator"]?.stringValue ?? "Administrator",
                canWrite: granted.contains { !$0.permissions.subtracting([.view]).isEmpty }, tokens: granted)
        }
        throw KintoneError(.unauthorized, "CB_AU01", "Please login: send X-Cybozu-API-Token or X-Cybozu-Authorization.")
    }

    /// The guest space of a `/k/guest/{id}/v1/` path (403 when it is no guest space).
    func guestScope(_ raw: String?) throws(KintoneError) -> Int? {
        guard let raw else { return nil }
        guard let id = Int(raw), let space = spaces[id], space.isGuest else {
            throw KintoneError(.forbidden, "CB_NO02", "No privilege to proceed: \(raw) is not a guest space you belong to.")
        }
        return id
    }

    /// Finishes deploys that have run long enough and drops expired cursors.
    mutating func settle(now: Int64) {
        let precise = deployClock.now()
        for id in appOrder where apps[id]?.deploy != nil {
            if let deploy = apps[id]?.deploy, precise - deploy.startedAt >= Self.deployDuration { finishDeploy(id) }
        }
        cursors = cursors.filter { $0.value.expiresAt > now }
    }

    mutating func finishDeploy(_ id: Int) {
        guard var app = apps[id], let deploy = app.deploy else { return }
        if deploy.revert {
            app.preview = app.live
        } else {
            app.live = app.preview
            app.isLive = true
            app.rebuildUniqueIndex()
            if lockedWritesAfterDeploy > 0 { lockedWrites[id] = lockedWritesAfterDeploy }
            if let name = app.live[.general]["name"]?.stringValue { app.name = name }
            if let description = app.live[.general]["description"]?.stringValue { app.description = description }
        }
        app.deploy = nil
        apps[id] = app
    }

    /// Refuses a write to an app still settling after a deploy: 400 `GAIA_DA02` (nothing is changed).
    mutating func checkLocked(method: String, path: String, params: JSONObject) throws(KintoneError) {
        guard !lockedWrites.isEmpty else { return }
        var ids: [Int] = []
        if path == "bulkRequest.json" {
            ids = (params["requests"]?.arrayValue ?? []).compactMap { $0["payload"]?["app"]?.idString.flatMap { Int($0) } }
        } else if path != "preview/app/deploy.json", let id = try? params.int("app") {
            ids = [id]
        }
        guard let locked = ids.first(where: { (lockedWrites[$0] ?? 0) > 0 }) else { return }
        lockedWrites[locked]! -= 1
        if lockedWrites[locked] == 0 { lockedWrites[locked] = nil }
        throw KintoneError(.badRequest, "GAIA_DA02", "Failed to lock the database. Please try again later.")
    }

    // MARK: - Apps

    func spaceOf(_ app: KintoneApp) -> KintoneSpace? { app.spaceId.flatMap { spaces[$0] } }

    /// Whether the app lives in the scope of the request's prefix.
    func inScope(_ app: KintoneApp, _ guest: Int?) -> Bool {
        let appGuest = spaceOf(app).flatMap { $0.isGuest ? $0.id : nil }
        return appGuest == guest
    }

    /// A live app reachable through the call's prefix.
    func app(_ id: Int, _ call: KintoneCall, preview: Bool = false) throws(KintoneError) -> KintoneApp {
        guard let app = apps[id], app.isLive || preview else { throw KintoneError.appNotFound(id) }
        guard inScope(app, call.guestSpaceId) else {
            if let space = spaceOf(app), space.isGuest {
                throw KintoneError(.forbidden, "CB_NO02", "No privilege to proceed: app \(id) is in guest space \(space.id); use /k/guest/\(space.id)/v1/.")
            }
            throw KintoneError(.forbidden, "CB_NO02", "No privilege to proceed: app \(id) is not in this guest space; use /k/v1/.")
        }
        return app
    }

    func appParameter(_ call: KintoneCall, _ key: String = "app", preview: Bool = false) throws(KintoneError) -> KintoneApp {
        try app(try call.params.requiredInt(key), call, preview: preview)
    }

    /// The id and live settings of the call's app, for writes: holding no copy of the app keeps its `recordIds`
    /// unshared, so writes append to them in place.
    func writableApp(_ call: KintoneCall) throws(KintoneError) -> (id: Int, live: KintoneAppSettings) {
        let app = try appParameter(call)
        return (app.id, app.live)
    }

    // MARK: - Directory

    func userEntity(_ code: String) -> JSONValue? {
        users[code].map { ["code": .string(code), "name": $0] }
    }

    // MARK: - Keys

    mutating func newDownloadKey(at now: Int64) -> String {
        fileSerial += 1
        let t = Timestamp.civil(secondsSince1970: now)
        let stamp = String(format: "%04d%02d%02d%02d%02d%02d", t.year, t.month, t.day, t.hour, t.minute, t.second)
        let hex = keys.uuid().replacingOccurrences(of: "-", with: "").uppercased()
        return "\(stamp)\(hex)\(String(format: "%03d", fileSerial % 1000))"
    }

    mutating func newUploadKey() -> String { keys.uuid() }

    // MARK: - Snapshot

    /// The whole state for tests: directory (no passwords or tokens), apps with live and preview
    /// settings and records (comments included), spaces with threads, file names and sizes, cursors.
    func snapshot() -> JSONValue {
        func settings(_ s: KintoneAppSettings) -> JSONValue {
            var out = JSONObject([("revision", .int(s.revision))])
            for setting in KintoneSetting.allCases { out[setting.rawValue] = .object(s[setting]) }
            return .object(out)
        }
        let appValues: [JSONValue] = appOrder.compactMap { id in
            guard let app = apps[id] else { return nil }
            var out = app.metadata().objectValue ?? JSONObject()
            out["isLive"] = .bool(app.isLive)
            out["live"] = settings(app.live)
            out["preview"] = settings(app.preview)
            out["records"] = .array(app.recordIds.compactMap { rid in
                guard let record = app.records[rid] else { return nil }
                var r = JSONObject([("id", .int(record.id)), ("revision", .int(record.revision))])
                r["values"] = .object(record.values)
                r["creator"] = record.creator
                r["createdAt"] = .string(Self.dateTime(record.createdAt))
                r["modifier"] = record.modifier
                r["updatedAt"] = .string(Self.dateTime(record.updatedAt))
                r["status"] = record.status.map(JSONValue.string) ?? .null
                r["assignees"] = .array(record.assignees)
                r["comments"] = .array(record.comments.map(JSONValue.object))
                return .object(r)
            })
            return .object(out)
        }
        let spaceValues: [JSONValue] = spaceOrder.compactMap { id in
            guard let space = spaces[id] else { return nil }
            return .object(JSONObject([
                ("id", .int(space.id)), ("name", .string(space.name)), ("body", .string(space.body)),
                ("isGuest", .bool(space.isGuest)), ("members", .array(space.members)),
                ("threads", .array(space.threads.map { thread in
                    .object(JSONObject([
                        ("id", .int(thread.id)), ("name", .string(thread.name)), ("body", .string(thread.body)),
                        ("comments", .array(thread.comments.map(JSONValue.object))),
                    ]))
                })),
            ]))
        }
        let fileValues: [JSONValue] = files.keys.sorted().map { key in
            let file = files[key]!
            return .object(JSONObject([("fileKey", .string(key)), ("name", .string(file.name)),
                                       ("contentType", .string(file.contentType)), ("size", .int(file.bytes.count))]))
        }
        return .object(JSONObject([
            ("users", .object(users)), ("organizations", .object(organizations)), ("groups", .object(groups)),
            ("apps", .array(appValues)), ("spaces", .array(spaceValues)), ("files", .array(fileValues)),
            ("uploads", .int(uploads.count)), ("openCursors", .int(cursors.count)),
        ]))
    }

    // MARK: - Time

    /// `2024-03-01T09:30:00Z`.
    static func dateTime(_ seconds: Int64) -> String {
        let t = Timestamp.civil(secondsSince1970: seconds)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    /// `2024-03-01T09:30:00.000Z` (app metadata).
    static func dateTimeMillis(_ seconds: Int64) -> String { SandboxTime.iso8601(millis: seconds * 1000) }

    static func date(_ seconds: Int64) -> String { String(dateTime(seconds).prefix(10)) }

    /// Parses `2024-03-01`, `2024-03-01T09:30Z`, `2024-03-01T09:30:15.123+09:00` (UTC when no zone).
    static func parseDateTime(_ text: String) -> Int64? {
        let chars = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var n = 0
            for c in chars[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard let year = number(0, 4), chars.count >= 10, chars[4] == 45, let month = number(5, 2), chars[7] == 45,
              let day = number(8, 2), (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0
        var i = 10
        if chars.count > 10 {
            guard chars[10] == 84 || chars[10] == 32, let h = number(11, 2), chars.count > 13, chars[13] == 58,
                  let m = number(14, 2), h < 24, m < 60 else { return nil }
            hour = h; minute = m; i = 16
            if i < chars.count, chars[i] == 58 {
                guard let s = number(i + 1, 2), s < 61 else { return nil }
                second = s; i += 3
                if i < chars.count, chars[i] == 46 {
                    i += 1
                    while i < chars.count, chars[i] >= 48 && chars[i] <= 57 { i += 1 }
                }
            }
        }
        var offset = 0
        if i < chars.count {
            if chars[i] == 90 && i == chars.count - 1 {
                offset = 0
            } else if chars[i] == 43 || chars[i] == 45, let oh = number(i + 1, 2) {
                var om = 0
                if chars.count == i + 6, chars[i + 3] == 58, let m = number(i + 4, 2) { om = m }
                else if chars.count == i + 5, let m = number(i + 3, 2) { om = m }
                else if chars.count != i + 3 { return nil }
                offset = (oh * 60 + om) * 60 * (chars[i] == 43 ? 1 : -1)
            } else {
                return nil
            }
        }
        let millis = SandboxTime.millis(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return millis / 1000 - Int64(offset)
    }

    /// Kintone keeps record date-times to the minute.
    static func truncatedToMinute(_ seconds: Int64) -> Int64 { seconds - ((seconds % 60) + 60) % 60 }
}
