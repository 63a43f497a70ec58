import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Record writes: add, update (by id or update key, with upsert), delete, status and assignees,
/// and `bulkRequest.json`. Every write is all or nothing (the store rolls back on a throw).
extension KintoneState {
    static let maxRecordsPerWrite = 100
    static let maxBulkRequests = 20

    static var recordWriteEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        return [
            E(.post, "record.json", writes: true) { s, c throws(KintoneError) in try s.addRecords(c, single: true) },
            E(.post, "records.json", writes: true) { s, c throws(KintoneError) in try s.addRecords(c, single: false) },
            E(.put, "record.json", writes: true) { s, c throws(KintoneError) in try s.updateRecords(c, single: true) },
            E(.put, "records.json", writes: true) { s, c throws(KintoneError) in try s.updateRecords(c, single: false) },
            E(.delete, "records.json", writes: true) { s, c throws(KintoneError) in try s.deleteRecords(c) },
            E(.put, "record/status.json", writes: true) { s, c throws(KintoneError) in try s.updateStatuses(c, single: true) },
            E(.put, "records/status.json", writes: true) { s, c throws(KintoneError) in try s.updateStatuses(c, single: false) },
            E(.put, "record/assignees.json", writes: true) { s, c throws(KintoneError) in try s.updateAssignees(c) },
        ]
    }

    static var bulkEndpoints: [KintoneEndpoint] {
        [KintoneEndpoint(.post, "bulkRequest.json", writes: true) { s, c throws(KintoneError) in try s.bulkRequest(c) }]
    }

    // MARK: - Add

    mutating func addRecords(_ call: KintoneCall, single: Bool) throws(KintoneError) -> SandboxReply {
        let app = try writableApp(call)
        let given: [JSONValue]
        if single {
            given = [call.params["record"] ?? .object(JSONObject())]
        } else {
            guard let list = call.params["records"]?.arrayValue, !list.isEmpty else {
                throw KintoneError.invalid("records", "Required field.")
            }
            guard list.count <= Self.maxRecordsPerWrite else {
                throw KintoneError.invalid("records", "up to \(Self.maxRecordsPerWrite) records per request.")
            }
            given = list
        }
        var errors: [(String, String)] = []
        var added: [KintoneRecord] = []
        for (i, value) in given.enumerated() {
            let path = single ? "record" : "records[\(i)]"
            guard let object = value.objectValue else { errors.append((path, "must be an object.")); continue }
            if let record = insertRecord(app.id, object, path: path, call: call, errors: &errors) { added.append(record) }
        }
        if !errors.isEmpty { throw KintoneError.invalid(errors) }
        if single {
            return SandboxReply(["id": .string(String(added[0].id)), "revision": .string(String(added[0].revision))])
        }
        return SandboxReply(["ids": .array(added.map { .string(String($0.id)) }),
                             "revisions": .array(added.map { .string(String($0.revision)) })])
    }

    /// Adds one record (defaults, lookups, uniqueness, first status); nil when it had errors.
    mutating func insertRecord(
        _ appId: Int, _ given: JSONObject, path: String, call: KintoneCall, errors: inout [(String, String)]
    ) -> KintoneRecord? {
        guard let live = apps[appId]?.live, let nextId = apps[appId]?.nextRecordId else { return nil }
        let before = errors.count
        var record = KintoneRecord(
            id: nextId, revision: 1, values: JSONObject(), creator: call.caller.entity,
            createdAt: Self.truncatedToMinute(call.now), modifier: call.caller.entity,
            updatedAt: Self.truncatedToMinute(call.now), status: nil)
        apply(given, to: &record, appId: appId, live: live, path: path, isNew: true, call: call, errors: &errors)
        checkRequiredAndUnique(record, appId: appId, path: path, errors: &errors)
        guard errors.count == before else { return nil }
        if live.processEnabled, let first = firstState(live) {
            record.status = first.name
            record.assignees = assignees(of: first.value, record: record)
        }
        apps[appId]?.records[record.id] = record
        apps[appId]?.recordIds.append(record.id)
        apps[appId]?.nextRecordId += 1
        apps[appId]?.reindex(old: nil, new: record)
        return record
    }

    // MARK: - Update

    mutating func updateRecords(_ call: KintoneCall, single: Bool) throws(KintoneError) -> SandboxReply {
        let app = try writableApp(call)
        let entries: [JSONObject]
        if single {
            entries = [call.params]
        } else {
            guard let list = call.params["records"]?.arrayValue, !list.isEmpty else {
                throw KintoneError.invalid("records", "Required field.")
            }
            guard list.count <= Self.maxRecordsPerWrite else {
                throw KintoneError.invalid("records", "up to \(Self.maxRecordsPerWrite) records per request.")
            }
            var objects: [JSONObject] = []
            for (i, value) in list.enumerated() {
                guard let o = value.objectValue else { throw KintoneError.invalid("records[\(i)]", "must be an object.") }
                objects.append(o)
            }
            entries = objects
        }
        let upsert = call.params.bool("upsert") ?? false
        var errors: [(String, String)] = []
        var results: [JSONValue] = []
        var seen = Set<Int>()
        for (i, entry) in entries.enumerated() {
            let base = single ? "" : "records[\(i)]."
            let path = single ? "record" : "records[\(i)].record"
            let given = entry["record"]?.objectValue ?? JSONObject()
            guard let target = try findTarget(entry, appId: app.id, base: base) else {
                guard upsert else {
                    if let key = entry["updateKey"]?.objectValue {
                        throw KintoneError(.notFound, "GAIA_RE20",
                                           "No record matches the update key \(key["field"]?.stringValue ?? "")=\(key["value"]?.idString ?? "").")
                    }
                    throw KintoneError.recordNotFound(try entry.int("id") ?? 0)
                }
                var withKey = given
                if let key = entry["updateKey"]?.objectValue, let field = key["field"]?.stringValue {
                    withKey[field] = ["value": key["value"] ?? ""]
                }
                if let record = insertRecord(app.id, withKey, path: path, call: call, errors: &errors) {
                    results.append(["id": .string(String(record.id)), "revision": .string(String(record.revision)), "operation": "INSERT"])
                }
                continue
            }
            guard seen.insert(target).inserted else {
                throw KintoneError.invalid("\(base)id", "record \(target) appears twice in one request.")
            }
            guard let original = apps[app.id]?.records[target] else { throw KintoneError.recordNotFound(target) }
            var record = original
            if let expected = try entry.int("revision"), expected != -1, expected != record.revision {
                throw KintoneError.conflict(target, expected: expected, actual: record.revision)
            }
            if let key = entry["updateKey"]?.objectValue, let field = key["field"]?.stringValue, given[field] != nil {
                errors.append(("\(path).\(field).value", "The update key field cannot be changed in the same request."))
            }
            let before = errors.count
            apply(given, to: &record, appId: app.id, live: app.live, path: path, isNew: false, call: call, errors: &errors)
            checkRequiredAndUnique(record, appId: app.id, path: path, errors: &errors, only: Set(given.keys))
            guard errors.count == before else { continue }
            record.revision += 1
            record.modifier = call.caller.entity
            record.updatedAt = Self.truncatedToMinute(call.now)
            apps[app.id]?.records[target] = record
            apps[app.id]?.reindex(old: original, new: record)
            var result = JSONObject([("id", .string(String(target))), ("revision", .string(String(record.revision)))])
            if upsert { result["operation"] = "UPDATE" }
            results.append(.object(result))
        }
        if !errors.isEmpty { throw KintoneError.invalid(errors) }
        if single {
            var out = JSONObject([("revision", results[0]["revision"] ?? "")])
            if upsert {
                out["id"] = results[0]["id"]
                out["operation"] = results[0]["operation"]
            }
            return SandboxReply(.object(out))
        }
        return SandboxReply(["records": .array(results)])
    }

    /// The record an update addresses by `id` or `updateKey`; nil when none matches.
    func findTarget(_ entry: JSONObject, appId: Int, base: String) throws(KintoneError) -> Int? {
        guard let app = apps[appId] else { throw KintoneError.appNotFound(appId) }
        if let key = entry["updateKey"]?.objectValue {
            guard entry["id"] == nil else { throw KintoneError.invalid("\(base)id", "give either id or updateKey, not both.") }
            guard let field = key["field"]?.stringValue, let value = key["value"]?.idString, !value.isEmpty else {
                throw KintoneError.invalid("\(base)updateKey", "needs field and value.")
            }
            guard let property = app.live.properties[field]?.objectValue else {
                throw KintoneError.invalid("\(base)updateKey.field", "the field \(field) does not exist.")
            }
            let type = property["type"]?.stringValue ?? ""
            guard ["SINGLE_LINE_TEXT", "NUMBER"].contains(type), property["unique"]?.boolValue == true else {
                throw KintoneError(.badRequest, "GAIA_IQ27",
                                   "The field \(field) cannot be an update key: it must be a text or number field set to prohibit duplicate values.")
            }
            if let index = app.uniqueIndex[field] { return index[value] }
            return app.recordIds.first { app.records[$0]?.values[field]?.idString == value }
        }
        guard let id = try entry.int("id") else { throw KintoneError.invalid("\(base)id", "Required field: id or updateKey.") }
        return app.records[id] == nil ? nil : id
    }

    // MARK: - Delete

    mutating func deleteRecords(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let app = try writableApp(call)
        guard let ids = try call.params.intList("ids"), !ids.isEmpty else { throw KintoneError.invalid("ids", "Required field.") }
        guard ids.count <= Self.maxRecordsPerWrite else {
            throw KintoneError.invalid("ids", "up to \(Self.maxRecordsPerWrite) records per request.")
        }
        let revisions = try call.params.optionalIntList("revisions")
        if let revisions, revisions.count != ids.count {
            throw KintoneError.invalid("revisions", "give one revision per id.")
        }
        for (i, id) in ids.enumerated() {
            guard let record = apps[app.id]?.records[id] else { throw KintoneError.recordNotFound(id) }
            if let expected = revisions?[i] ?? nil, expected != -1, expected != record.revision {
                throw KintoneError.conflict(id, expected: expected, actual: record.revision)
            }
        }
        let gone = Set(ids)
        for id in gone {
            let record = apps[app.id]?.records[id]
            for key in fileKeys(in: record?.values ?? JSONObject()) { files[key] = nil }
            apps[app.id]?.reindex(old: record, new: nil)
            apps[app.id]?.records[id] = nil
        }
        apps[app.id]?.recordIds.removeAll { gone.contains($0) }
        return SandboxReply(.object(JSONObject()))
    }

    func fileKeys(in values: JSONObject) -> [String] {
        var keys: [String] = []
        for (_, value) in values {
            for item in value.arrayValue ?? [] {
                if let key = item["fileKey"]?.stringValue { keys.append(key) }
                if let cells = item["value"]?.objectValue { keys += fileKeys(in: cells) }
            }
        }
        return keys
    }

    // MARK: - Process management

    func firstState(_ live: KintoneAppSettings) -> (name: String, value: JSONValue)? {
        let states = live[.status]["states"]?.objectValue ?? JSONObject()
        return states.min { ($0.value["index"]?.intValue ?? 0) < ($1.value["index"]?.intValue ?? 0) }
            .map { ($0.key, $0.value) }
    }

    /// Users a status assigns: listed users, and users of `FIELD_ENTITY` fields (creator or user fields).
    func assignees(of state: JSONValue, record: KintoneRecord) -> [JSONValue] {
        var out: [JSONValue] = []
        for item in state["assignee"]?["entities"]?.arrayValue ?? [] {
            let type = item["entity"]?["type"]?.stringValue ?? ""
            let code = item["entity"]?["code"]?.stringValue ?? ""
            if type == "USER", let user = userEntity(code) { out.append(user) }
            if type == "FIELD_ENTITY" {
                if code == "Created_by" { out.append(record.creator) }
                else if let users = record.values[code]?.arrayValue { out += users }
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0["code"]?.stringValue ?? "").inserted }
    }

    mutating func updateStatuses(_ call: KintoneCall, single: Bool) throws(KintoneError) -> SandboxReply {
        let app = try writableApp(call)
        guard app.live.processEnabled else {
            throw KintoneError(.badRequest, "GAIA_ST02", "Process management is turned off for app \(app.id).")
        }
        let entries: [JSONObject]
        if single {
            entries = [call.params]
        } else {
            guard let list = call.params["records"]?.arrayValue, !list.isEmpty else {
                throw KintoneError.invalid("records", "Required field.")
            }
            guard list.count <= Self.maxRecordsPerWrite else {
                throw KintoneError.invalid("records", "up to \(Self.maxRecordsPerWrite) records per request.")
            }
            entries = list.compactMap(\.objectValue)
        }
        let states = app.live[.status]["states"]?.objectValue ?? JSONObject()
        let actions = app.live[.status]["actions"]?.arrayValue ?? []
        var results: [JSONValue] = []
        for (i, entry) in entries.enumerated() {
            let base = single ? "" : "records[\(i)]."
            let id = try entry.requiredInt("id")
            guard var record = apps[app.id]?.records[id] else { throw KintoneError.recordNotFound(id) }
            if let expected = try entry.int("revision"), expected != -1, expected != record.revision {
                throw KintoneError.conflict(id, expected: expected, actual: record.revision)
            }
            guard let actionName = entry.string("action"), !actionName.isEmpty else {
                throw KintoneError.invalid("\(base)action", "Required field.")
            }
            guard let action = actions.first(where: { $0["name"]?.stringValue == actionName && $0["from"]?.stringValue == record.status }),
                  let next = action["to"]?.stringValue else {
                throw KintoneError.invalid("\(base)action", "the action \(actionName) cannot run from the status \(record.status ?? "").")
            }
            if let code = entry.string("assignee"), !code.isEmpty {
                guard let user = userEntity(code) else { throw KintoneError.invalid("\(base)assignee", "user \(code) does not exist.") }
                record.assignees = [user]
            } else {
                record.assignees = states[next].map { assignees(of: $0, record: record) } ?? []
            }
            record.status = next
            record.revision += 2
            record.modifier = call.caller.entity
            record.updatedAt = Self.truncatedToMinute(call.now)
            apps[app.id]?.records[id] = record
            results.append(["id": .string(String(id)), "revision": .string(String(record.revision))])
        }
        if single { return SandboxReply(["revision": results[0]["revision"] ?? ""]) }
        return SandboxReply(["records": .array(results)])
    }

    mutating func updateAssignees(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let app = try writableApp(call)
        guard app.live.processEnabled else {
            throw KintoneError(.badRequest, "GAIA_ST02", "Process management is turned off for app \(app.id).")
        }
        let id = try call.params.requiredInt("id")
        guard var record = apps[app.id]?.records[id] else { throw KintoneError.recordNotFound(id) }
        if let expected = try call.params.int("revision"), expected != -1, expected != record.revision {
            throw KintoneError.conflict(id, expected: expected, actual: record.revision)
        }
        let codes = call.params.list("assignees")?.compactMap(\.idString) ?? []
        guard codes.count <= 100 else { throw KintoneError.invalid("assignees", "up to 100 assignees.") }
        var list: [JSONValue] = []
        for (i, code) in codes.enumerated() {
            guard let user = userEntity(code) else { throw KintoneError.invalid("assignees[\(i)]", "user \(code) does not exist.") }
            list.append(user)
        }
        record.assignees = list
        record.revision += 1
        record.modifier = call.caller.entity
        record.updatedAt = Self.truncatedToMinute(call.now)
        apps[app.id]?.records[id] = record
        return SandboxReply(["revision": .string(String(record.revision))])
    }

    // MARK: - Bulk

    static let bulkRoutes: Set<String> = [
        "POST record.json", "POST records.json", "PUT record.json", "PUT records.json", "DELETE records.json",
        "PUT record/status.json", "PUT records/status.json", "PUT record/assignees.json",
    ]

    mutating func bulkRequest(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let requests = call.params["requests"]?.arrayValue, !requests.isEmpty else {
            throw KintoneError.invalid("requests", "Required field.")
        }
        guard requests.count <= Self.maxBulkRequests else {
            throw KintoneError.invalid("requests", "up to \(Self.maxBulkRequests) requests per bulk request.")
        }
        let table = Dictionary(Self.recordWriteEndpoints.map { ("\($0.method.rawValue) \($0.path)", $0) }, uniquingKeysWith: { a, _ in a })
        var results: [JSONValue] = []
        for (index, request) in requests.enumerated() {
            do throws(KintoneError) {
                let method = request["method"]?.stringValue?.uppercased() ?? ""
                let api = request["api"]?.stringValue ?? ""
                guard let (guest, path) = Self.splitAPI(api) else {
                    throw KintoneError.invalid("requests[\(index)].api", "\(api) is not a Kintone API path.")
                }
                guard Self.bulkRoutes.contains("\(method) \(path)"), let endpoint = table["\(method) \(path)"] else {
                    throw KintoneError.invalid("requests[\(index)].api", "\(method) \(api) cannot be used in a bulk request.")
                }
                guard let payload = request["payload"]?.objectValue else {
                    throw KintoneError.invalid("requests[\(index)].payload", "Required field.")
                }
                let scope = try guestScope(guest)
                let inner = KintoneCall(request: call.request, params: payload, guestSpaceId: scope, caller: call.caller, now: call.now)
                let reply = try endpoint.handler(&self, inner)
                results.append(reply.body)
            } catch {
                var marked: [JSONValue] = Array(repeating: .object(JSONObject()), count: requests.count)
                marked[index] = error.body(id: KintoneErrorIDs.next())
                var failure = KintoneError(.badRequest, error.code, "Request \(index) of the bulk request failed: \(error.message) Nothing was changed.",
                                           errors: error.errors)
                failure.extra = JSONObject([("results", .array(marked))])
                failure.resultsOnly = true
                throw failure
            }
        }
        return SandboxReply(["results": .array(results)])
    }

    /// `/k/v1/records.json` → (nil, "records.json"); `/k/guest/2/v1/records.json` → ("2", "records.json").
    static func splitAPI(_ api: String) -> (String?, String)? {
        let parts = api.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.first == "k" else { return nil }
        if parts.count >= 3, parts[1] == "v1" { return (nil, parts[2...].joined(separator: "/")) }
        if parts.count >= 5, parts[1] == "guest", parts[3] == "v1" { return (parts[2], parts[4...].joined(separator: "/")) }
        return nil
    }
}
