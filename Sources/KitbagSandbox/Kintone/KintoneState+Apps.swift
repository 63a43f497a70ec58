import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Apps: listing, metadata, every settings document (live and preview), form field changes,
/// new apps and the deploy flow.
extension KintoneState {
    static var endpoints: [KintoneEndpoint] {
        appEndpoints + recordEndpoints + commentEndpoints + fileEndpoints + spaceEndpoints + bulkEndpoints
    }

    static var appEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        var list: [E] = [
            E(.get, "apps.json") { s, c throws(KintoneError) in try s.getApps(c) },
            E(.get, "app.json") { s, c throws(KintoneError) in try s.getApp(c) },
            E(.post, "preview/app.json", writes: true) { s, c throws(KintoneError) in try s.addPreviewApp(c) },
            E(.post, "preview/app/deploy.json", writes: true) { s, c throws(KintoneError) in try s.deploy(c) },
            E(.get, "preview/app/deploy.json") { s, c throws(KintoneError) in try s.deployStatus(c) },
            E(.post, "preview/app/form/fields.json", writes: true) { s, c throws(KintoneError) in try s.changeFields(c, .add) },
            E(.put, "preview/app/form/fields.json", writes: true) { s, c throws(KintoneError) in try s.changeFields(c, .update) },
            E(.delete, "preview/app/form/fields.json", writes: true) { s, c throws(KintoneError) in try s.changeFields(c, .delete) },
            E(.get, "plugins.json") { s, c throws(KintoneError) in s.installedPluginList(c) },
            E(.post, "preview/app/plugins.json", writes: true) { s, c throws(KintoneError) in try s.addPlugins(c) },
        ]
        for setting in KintoneSetting.allCases {
            list.append(E(.get, setting.path) { s, c throws(KintoneError) in try s.getSetting(c, setting, preview: false) })
            list.append(E(.get, "preview/" + setting.path) { s, c throws(KintoneError) in try s.getSetting(c, setting, preview: true) })
            guard setting != .fields && setting != .plugins else { continue }
            list.append(E(.put, "preview/" + setting.path, writes: true) { s, c throws(KintoneError) in try s.putSetting(c, setting) })
            if [.appACL, .recordACL, .fieldACL].contains(setting) {
                // The live path writes the setting and deploys every pending preview setting of the app with it
                // (kintone/js-sdk AppClient.ts, commit 003b2770, the note on updateAppAcl/updateRecordAcl/updateFieldAcl).
                list.append(E(.put, setting.path, writes: true) { s, c throws(KintoneError) in try s.putSettingLive(c, setting) })
            }
        }
        return list
    }

    static let maxAppsPerPage = 100

    func getApps(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let p = call.params
        let limit = try p.int("limit") ?? Self.maxAppsPerPage
        guard (1...Self.maxAppsPerPage).contains(limit) else {
            throw KintoneError.invalid("limit", "must be between 1 and \(Self.maxAppsPerPage).")
        }
        let offset = try p.int("offset") ?? 0
        guard offset >= 0 else { throw KintoneError.invalid("offset", "must be 0 or more.") }
        let ids = try p.intList("ids").map(Set.init)
        let codes: Set<String>? = p.list("codes").map { Set($0.compactMap(\.idString)) }
        let spaceIds = try p.intList("spaceIds").map(Set.init)
        let name = p.string("name")?.lowercased()
        if let ids, ids.count > 100 { throw KintoneError.invalid("ids", "up to 100 ids.") }
        let matching = appOrder.compactMap { apps[$0] }.filter { (app: KintoneApp) -> Bool in
            guard app.isLive, inScope(app, call.guestSpaceId) else { return false }
            if let ids, !ids.contains(app.id) { return false }
            if let codes, !codes.contains(app.code) { return false }
            if let spaceIds, !spaceIds.contains(app.spaceId ?? -1) { return false }
            if let name, !name.isEmpty, app.name.lowercased().range(of: name) == nil { return false }
            return true
        }
        let page = matching.dropFirst(offset).prefix(limit)
        return SandboxReply(["apps": .array(page.map { $0.metadata() })])
    }

    func getApp(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        SandboxReply(try appParameter(call, "id").metadata())
    }

    func getSetting(_ call: KintoneCall, _ setting: KintoneSetting, preview: Bool) throws(KintoneError) -> SandboxReply {
        let app = try appParameter(call, preview: preview)
        if [.appACL, .recordACL, .fieldACL].contains(setting), !administers(call.caller, app.id) {
            throw KintoneError.noPermission
        }
        let settings = preview ? app.preview : app.live
        var out = settings[setting]
        out["revision"] = .string(String(settings.revision))
        return SandboxReply(.object(out))
    }

    // MARK: - Preview changes

    /// Checks an optional `revision` against the preview (`-1` skips the check).
    func checkSettingsRevision(_ call: KintoneCall, _ app: KintoneApp) throws(KintoneError) {
        guard let expected = try call.params.int("revision"), expected != -1 else { return }
        guard expected == app.preview.revision else {
            throw KintoneError(.conflict, "GAIA_CO02",
                               "The revision is not the latest. The app settings (app \(app.id)) are at revision \(app.preview.revision), not \(expected).")
        }
    }

    /// `PUT app/acl.json` (or record/field): writes the setting, then deploys the whole preview at once —
    /// every pending change of the app goes live with it, half-written or not. Refused while a deploy runs.
    mutating func putSettingLive(_ call: KintoneCall, _ setting: KintoneSetting) throws(KintoneError) -> SandboxReply {
        let id = try appParameter(call).id
        if apps[id]?.deploy != nil {
            throw KintoneError(.badRequest, "GAIA_DA02", "App \(id) is being deployed; wait until its deploy status is SUCCESS.")
        }
        let reply = try putSetting(call, setting)
        guard var app = apps[id] else { return reply }
        app.live = app.preview
        app.isLive = true
        app.rebuildUniqueIndex()
        if let name = app.live[.general]["name"]?.stringValue { app.name = name }
        apps[id] = app
        return reply
    }

    mutating func putSetting(_ call: KintoneCall, _ setting: KintoneSetting) throws(KintoneError) -> SandboxReply {
        var app = try appParameter(call, preview: true)
        try checkSettingsRevision(call, app)
        var doc = app.preview[setting]
        var answer = JSONObject()
        for (key, value) in call.params where key != "app" && key != "revision" {
            guard doc[key] != nil || Self.acceptsNewKey(setting) else {
                throw KintoneError.invalid(key, "is not a setting of \(setting.path).")
            }
            doc[key] = value
        }
        switch setting {
        case .views, .reports, .actions:
            let key = setting == .views ? "views" : setting.rawValue
            guard let named = doc[key]?.objectValue else { throw KintoneError.invalid(key, "must be an object keyed by name.") }
            let previous = app.preview[setting][key]?.objectValue ?? JSONObject()
            var rebuilt = JSONObject()
            var ids = JSONObject()
            for (index, entry) in named.enumerated() {
                guard var item = entry.value.objectValue else { throw KintoneError.invalid("\(key).\(entry.key)", "must be an object.") }
                var id = previous[entry.key]?["id"]?.idString ?? item["id"]?.idString.flatMap { existingID($0, in: previous) } ?? ""
                if id.isEmpty {
                    nextViewId += 1
                    id = String(1_000_000 + nextViewId)
                }
                item["id"] = .string(id)
                item["name"] = .string(entry.key)
                if item["index"] == nil { item["index"] = .string(String(index)) }
                rebuilt[entry.key] = .object(item)
                ids[entry.key] = ["id": .string(id)]
            }
            doc[key] = .object(rebuilt)
            answer[key] = .object(ids)
        case .status:
            if doc["enable"]?.boolValue == true {
                guard let states = doc["states"]?.objectValue, !states.isEmpty else {
                    throw KintoneError.invalid("states", "process management needs at least one status.")
                }
            }
            var fields = app.preview[.fields]
            var properties = fields["properties"]?.objectValue ?? JSONObject()
            for (code, field) in properties where ["STATUS", "STATUS_ASSIGNEE"].contains(field["type"]?.stringValue ?? "") {
                var f = field
                f["enabled"] = .bool(doc["enable"]?.boolValue ?? false)
                properties[code] = f
            }
            fields["properties"] = .object(properties)
            app.preview[.fields] = fields
        default:
            break
        }
        app.preview[setting] = doc
        app.preview.revision += 1
        answer["revision"] = .string(String(app.preview.revision))
        apps[app.id] = app
        return SandboxReply(.object(answer))
    }

    private func existingID(_ id: String, in previous: JSONObject) -> String? {
        previous.contains { $0.value["id"]?.idString == id } ? id : nil
    }

    static func acceptsNewKey(_ setting: KintoneSetting) -> Bool {
        setting == .general || setting == .customize || setting == .status || setting == .notificationsReminder
            || setting == .notificationsGeneral || setting == .adminNotes
    }

    enum FieldChange { case add, update, delete }

    static let fieldTypes: Set<String> = [
        "SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "NUMBER", "CALC", "RADIO_BUTTON", "CHECK_BOX",
        "MULTI_SELECT", "DROP_DOWN", "DATE", "TIME", "DATETIME", "LINK", "FILE", "USER_SELECT",
        "ORGANIZATION_SELECT", "GROUP_SELECT", "SUBTABLE", "REFERENCE_TABLE", "GROUP", "LABEL", "SPACER", "HR",
        "RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "STATUS", "STATUS_ASSIGNEE", "CATEGORY",
    ]
    static let systemFieldTypes: Set<String> = [
        "RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "STATUS", "STATUS_ASSIGNEE", "CATEGORY",
    ]

    mutating func changeFields(_ call: KintoneCall, _ change: FieldChange) throws(KintoneError) -> SandboxReply {
        var app = try appParameter(call, preview: true)
        try checkSettingsRevision(call, app)
        var properties = app.preview.properties
        var layout = app.preview[.layout]["layout"]?.arrayValue ?? []
        switch change {
        case .delete:
            guard let codes = call.params.list("fields")?.compactMap(\.idString), !codes.isEmpty else {
                throw KintoneError.invalid("fields", "Required field.")
            }
            for code in codes {
                guard let field = properties[code] else { throw KintoneError.invalid("fields", "field \(code) does not exist.") }
                if Self.systemFieldTypes.contains(field["type"]?.stringValue ?? "") {
                    throw KintoneError.invalid("fields", "field \(code) is a system field and cannot be deleted.")
                }
                properties[code] = nil
            }
            layout = Self.removing(Set(codes), from: layout)
        case .add, .update:
            guard let given = call.params["properties"]?.objectValue, !given.isEmpty else {
                throw KintoneError.invalid("properties", "Required field.")
            }
            let allCodes = Self.allFieldCodes(properties)
            for (code, value) in given {
                guard var field = value.objectValue else { throw KintoneError.invalid("properties.\(code)", "must be an object.") }
                if change == .add {
                    guard !allCodes.contains(code) else {
                        throw KintoneError.invalid("properties.\(code).code", "The field code \(code) is already in use.")
                    }
                    guard let type = field["type"]?.stringValue, Self.fieldTypes.contains(type), !Self.systemFieldTypes.contains(type) else {
                        throw KintoneError.invalid("properties.\(code).type", "Enter a valid field type.")
                    }
                    field["code"] = .string(code)
                    if field["label"] == nil { field["label"] = .string(code) }
                    if field["noLabel"] == nil { field["noLabel"] = false }
                    try Self.checkFieldDefinition(code, field)
                    properties[code] = .object(field)
                    if !["GROUP"].contains(type) {
                        let element: JSONValue = type == "SUBTABLE"
                            ? ["type": "SUBTABLE", "code": .string(code), "fields": .array((field["fields"]?.objectValue ?? JSONObject()).map { inner in
                                ["type": inner.value["type"] ?? "", "code": .string(inner.key)]
                            })]
                            : ["type": "ROW", "fields": [["type": .string(type), "code": .string(code)]]]
                        layout.append(element)
                    } else {
                        layout.append(["type": "GROUP", "code": .string(code), "layout": []])
                    }
                } else {
                    guard var existing = properties[code]?.objectValue else {
                        throw KintoneError.invalid("properties.\(code)", "field \(code) does not exist.")
                    }
                    if let type = field["type"]?.stringValue, type != existing["type"]?.stringValue {
                        throw KintoneError.invalid("properties.\(code).type", "the field type cannot be changed.")
                    }
                    field["code"] = nil
                    for (key, v) in field { existing[key] = v }
                    try Self.checkFieldDefinition(code, existing)
                    properties[code] = .object(existing)
                }
            }
        }
        var fields = app.preview[.fields]
        fields["properties"] = .object(properties)
        app.preview[.fields] = fields
        var layoutDoc = app.preview[.layout]
        layoutDoc["layout"] = .array(layout)
        app.preview[.layout] = layoutDoc
        app.preview.revision += 1
        apps[app.id] = app
        return SandboxReply(["revision": .string(String(app.preview.revision))])
    }

    static func checkFieldDefinition(_ code: String, _ field: JSONObject) throws(KintoneError) {
        let type = field["type"]?.stringValue ?? ""
        if ["RADIO_BUTTON", "CHECK_BOX", "MULTI_SELECT", "DROP_DOWN"].contains(type), field["options"]?.objectValue == nil {
            throw KintoneError.invalid("properties.\(code).options", "Required field.")
        }
        if type == "SUBTABLE" {
            guard let inner = field["fields"]?.objectValue, !inner.isEmpty else {
                throw KintoneError.invalid("properties.\(code).fields", "a table needs at least one field.")
            }
        }
        if let lookup = field["lookup"]?.objectValue {
            guard lookup["relatedApp"]?["app"]?.idString != nil, lookup["relatedKeyField"]?.stringValue != nil else {
                throw KintoneError.invalid("properties.\(code).lookup", "needs relatedApp.app and relatedKeyField.")
            }
        }
    }

    /// Every field code, table fields included.
    static func allFieldCodes(_ properties: JSONObject) -> Set<String> {
        var codes = Set(properties.keys)
        for (_, field) in properties where field["type"]?.stringValue == "SUBTABLE" {
            for inner in field["fields"]?.objectValue?.keys ?? [] { codes.insert(inner) }
        }
        return codes
    }

    static func removing(_ codes: Set<String>, from layout: [JSONValue]) -> [JSONValue] {
        layout.compactMap { element in
            guard var o = element.objectValue else { return element }
            if let code = o["code"]?.stringValue, codes.contains(code) { return nil }
            if let fields = o["fields"]?.arrayValue {
                o["fields"] = .array(fields.filter { !codes.contains($0["code"]?.stringValue ?? "\u{0}") })
                if o["type"]?.stringValue == "ROW", o["fields"]?.arrayValue?.isEmpty == true { return nil }
            }
            if let inner = o["layout"]?.arrayValue { o["layout"] = .array(removing(codes, from: inner)) }
            return .object(o)
        }
    }

    /// The stand-in for "Delete App" in Kintone's app settings (the REST API has no route for it; only tests call
    /// this, through `KintoneSandbox.appDeleteAppPath`): the app goes for good with its records, their comments and
    /// files, and its open cursors. Other apps' lookups and related-records fields keep pointing at its id.
    mutating func deleteAppAsInTheApp(_ id: Int) throws(KintoneError) {
        guard let app = apps[id] else { throw KintoneError.appNotFound(id) }
        for recordId in app.recordIds {
            for key in fileKeys(in: app.records[recordId]?.values ?? JSONObject()) { files[key] = nil }
        }
        apps[id] = nil
        appOrder.removeAll { $0 == id }
        cursors = cursors.filter { $0.value.app != id }
    }

    // MARK: - New apps and deploy

    mutating func addPreviewApp(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let name = call.params.string("name"), !name.isEmpty else { throw KintoneError.invalid("name", "Required field.") }
        guard name.count <= 64 else { throw KintoneError.invalid("name", "up to 64 characters.") }
        if call.caller.tokens == nil, withoutAppCreation.contains(call.caller.code) { throw KintoneError.noPermission }
        var spaceId: Int?
        var threadId: Int?
        if let space = try call.params.int("space") {
            guard let found = spaces[space] else { throw KintoneError(.notFound, "GAIA_SP01", "The space (ID: \(space)) not found.") }
            guard (found.isGuest ? found.id : nil) == call.guestSpaceId else {
                throw KintoneError(.forbidden, "CB_NO02", "No privilege to proceed: space \(space) needs the guest prefix /k/guest/\(space)/v1/ when it is a guest space, /k/v1/ otherwise.")
            }
            spaceId = space
            // kintone/js-sdk AppClient.ts addApp (commit 003b2770): `thread` is required with `space`; the SDK sends
            // the space's defaultThread.
            guard let thread = try call.params.int("thread") else { throw KintoneError.invalid("thread", "Required field.") }
            guard found.threads.contains(where: { $0.id == thread }) else {
                throw KintoneError.invalid("thread", "thread \(thread) is not in space \(space).")
            }
            threadId = thread
        } else if call.guestSpaceId != nil {
            throw KintoneError.invalid("space", "an app created under the guest prefix needs the guest space id.")
        }
        let id = nextAppId
        nextAppId += 1
        let settings = KintoneAppSettings(documents: Self.defaultSettings(name: name), revision: 1)
        let time = Self.dateTimeMillis(call.now)
        let app = KintoneApp(
            id: id, code: "", name: name, description: "", spaceId: spaceId, threadId: threadId,
            createdAt: time, creator: call.caller.entity, modifiedAt: time, modifier: call.caller.entity,
            isLive: false, live: settings, preview: settings, deploy: nil, records: KintoneApp.recordTable(id))
        apps[id] = app
        appOrder.append(id)
        return SandboxReply(["app": .string(String(id)), "revision": .string(String(settings.revision))])
    }

    mutating func deploy(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let list = call.params.list("apps"), !list.isEmpty else { throw KintoneError.invalid("apps", "Required field.") }
        guard list.count <= 300 else { throw KintoneError.invalid("apps", "up to 300 apps.") }
        let revert = call.params.bool("revert") ?? false
        var ids: [Int] = []
        for (i, entry) in list.enumerated() {
            guard let id = entry["app"]?.intValue ?? entry["app"]?.idString.flatMap({ Int($0) }) else {
                throw KintoneError.invalid("apps[\(i)].app", "Required field.")
            }
            let app = try app(id, call, preview: true)
            if let expected = entry["revision"]?.intValue ?? entry["revision"]?.idString.flatMap({ Int($0) }),
               expected != -1, expected != app.preview.revision {
                throw KintoneError(.conflict, "GAIA_CO02", "The revision is not the latest. App \(id) settings are at revision \(app.preview.revision).")
            }
            if app.deploy != nil {
                throw KintoneError(.badRequest, "GAIA_DA02", "App \(id) is being deployed; wait until its deploy status is SUCCESS.")
            }
            ids.append(id)
        }
        let started = deployClock.now()
        for id in ids { apps[id]?.deploy = KintoneDeploy(startedAt: started, revert: revert) }
        return SandboxReply(.object(JSONObject()))
    }

    mutating func deployStatus(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let ids = try call.params.intList("apps"), !ids.isEmpty else { throw KintoneError.invalid("apps", "Required field.") }
        var out: [JSONValue] = []
        for id in ids {
            let app = try app(id, call, preview: true)
            var status = "SUCCESS"
            if let deploy = app.deploy {
                if deploy.polled {
                    finishDeploy(id)
                } else {
                    apps[id]?.deploy?.polled = true
                    status = "PROCESSING"
                }
            }
            out.append(["app": .string(String(id)), "status": .string(status)])
        }
        return SandboxReply(["apps": .array(out)])
    }

    // MARK: - Plug-ins

    func installedPluginList(_ call: KintoneCall) -> SandboxReply {
        SandboxReply(["plugins": .array(installedPlugins.map { ["id": .string($0.key), "name": $0.value, "isMarketplacePlugin": false, "version": "1"] })])
    }

    mutating func addPlugins(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        var app = try appParameter(call, preview: true)
        guard let ids = call.params.list("ids")?.compactMap(\.idString), !ids.isEmpty else {
            throw KintoneError.invalid("ids", "Required field.")
        }
        try checkSettingsRevision(call, app)
        var doc = app.preview[.plugins]
        var list = doc["plugins"]?.arrayValue ?? []
        for id in ids {
            guard let name = installedPlugins[id] else {
                throw KintoneError(.notFound, "GAIA_PL01", "The plug-in (ID: \(id)) is not installed.")
            }
            if !list.contains(where: { $0["id"]?.stringValue == id }) {
                list.append(["id": .string(id), "name": name, "enabled": true])
            }
        }
        doc["plugins"] = .array(list)
        app.preview[.plugins] = doc
        app.preview.revision += 1
        apps[app.id] = app
        return SandboxReply(["revision": .string(String(app.preview.revision))])
    }

    // MARK: - Defaults

    static func systemFields(processEnabled: Bool) -> JSONObject {
        func field(_ code: String, _ type: String, _ label: String, enabled: Bool? = nil) -> (String, JSONValue) {
            var o = JSONObject([("type", .string(type)), ("code", .string(code)), ("label", .string(label)), ("noLabel", false)])
            if let enabled { o["enabled"] = .bool(enabled) }
            return (code, .object(o))
        }
        return JSONObject([
            field("Record_number", "RECORD_NUMBER", "Record number"),
            field("Created_by", "CREATOR", "Created by"),
            field("Created_datetime", "CREATED_TIME", "Created datetime"),
            field("Updated_by", "MODIFIER", "Updated by"),
            field("Updated_datetime", "UPDATED_TIME", "Updated datetime"),
            field("Status", "STATUS", "Status", enabled: processEnabled),
            field("Assignee", "STATUS_ASSIGNEE", "Assignee", enabled: processEnabled),
            field("Categories", "CATEGORY", "Categories", enabled: false),
        ])
    }

    static func defaultSettings(name: String, description: String = "") -> [KintoneSetting: JSONObject] {
        let entity: (String, String?) -> JSONValue = { type, code in
            ["type": .string(type), "code": code.map(JSONValue.string) ?? .null]
        }
        return [
            .fields: JSONObject([("properties", .object(systemFields(processEnabled: false)))]),
            .layout: JSONObject([("layout", [])]),
            .views: JSONObject([("views", .object(JSONObject()))]),
            .general: JSONObject([
                ("name", .string(name)), ("description", .string(description)),
                ("icon", ["type": "PRESET", "key": "APP72"]), ("theme", "WHITE"),
                ("titleField", ["selectionMode": "AUTO", "code": ""]),
                ("enableThumbnails", true), ("enableBulkDeletion", false), ("enableComments", true),
                ("enableDuplicateRecord", true), ("enableInlineRecordEditing", true),
                ("numberPrecision", ["digits": "16", "decimalPlaces": "4", "roundingMode": "HALF_EVEN"]),
                ("firstMonthOfFiscalYear", "4"),
            ]),
            .status: JSONObject([("enable", false), ("states", .null), ("actions", .null)]),
            .customize: JSONObject([
                ("scope", "ALL"), ("desktop", ["js": [], "css": []]), ("mobile", ["js": [], "css": []]),
            ]),
            .notificationsGeneral: JSONObject([("notifications", []), ("notifyToCommenter", true)]),
            .notificationsPerRecord: JSONObject([("notifications", [])]),
            .notificationsReminder: JSONObject([("notifications", []), ("timezone", "Asia/Tokyo")]),
            .reports: JSONObject([("reports", .object(JSONObject()))]),
            .actions: JSONObject([("actions", .object(JSONObject()))]),
            .appACL: JSONObject([("rights", [
                ["entity": entity("CREATOR", nil), "includeSubs": false, "appEditable": true, "recordViewable": true,
                 "recordAddable": true, "recordEditable": true, "recordDeletable": true, "recordImportable": true,
                 "recordExportable": true],
                ["entity": entity("GROUP", "everyone"), "includeSubs": false, "appEditable": false, "recordViewable": true,
                 "recordAddable": true, "recordEditable": true, "recordDeletable": true, "recordImportable": true,
                 "recordExportable": true],
            ])]),
            .recordACL: JSONObject([("rights", [])]),
            .fieldACL: JSONObject([("rights", [])]),
            .adminNotes: JSONObject([("content", ""), ("includeInTemplateAndDuplicates", false)]),
            .plugins: JSONObject([("plugins", [])]),
        ]
    }
}
