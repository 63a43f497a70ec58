import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Records, files, statuses and comments of the import (see `KintoneImporter` for the journal design).
extension KintoneImporter {
    /// One archived record on its way in.
    struct PendingRecord {
        var sourceID: String
        var record: JSONValue
        var journalKey: String
    }

    /// Where a record wants to end up in process management.
    struct WantedStatus {
        var targetID: String
        var journalKey: String
        var status: String
        var assignee: String?
    }

    /// Field codes and types of the target app, so records carry only what it can take.
    func targetFieldTypes(_ app: ArchivedApp) async throws -> [String: String] {
        var properties = app.fieldProperties
        if let target = options.containerMap[app.id], !dryRun {
            properties = try await connection.call(.GET, "app/form/fields.json", query: [("app", target)])["properties"]?
                .objectValue ?? JSONObject()
        }
        var out: [String: String] = [:]
        for (code, field) in properties { out[code] = field["type"]?.stringValue ?? "" }
        return out
    }

    func importRecords(of app: ArchivedApp, archive: SnapshotReader) async throws {
        let path = "\(app.folder)/records.jsonl"
        guard let entry = archive.jsonLinesEntries().first(where: { $0.path == path }), let target = appMap[app.id] else { return }
        progress.beginStage("app \(app.id) records", total: entry.count)
        let types = try await targetFieldTypes(app)
        let authorship = try await keepsAuthorship(app, target: target)
        let process = app.settings[KintoneSchema.processManagement.file]
        let statusWanted = process?["enable"]?.boolValue == true && options.updateKey == nil
        let initialStatus = Self.initialStatus(process)
        var wanted: [WantedStatus] = []
        let chunkSize = recordsPerRequest * KintoneSchema.bulkRequestsPerCall
        var chunk: [PendingRecord] = []
        var chunkIndex = 0
        // A new app holds no records until kitbag writes some; on a rerun the target is asked.
        let started = try isDone("records-started", app.id)
        var watermark: String? = options.containerMap[app.id] == nil && !started ? "0" : nil
        try markDone("records-started", app.id)

        func flush() async throws {
            guard !chunk.isEmpty else { return }
            let created = try await writeChunk(
                chunk, index: chunkIndex, app: app, target: target, types: types, authorship: authorship, archive: archive,
                watermark: &watermark)
            if statusWanted {
                for (record, targetID) in zip(chunk, created) {
                    guard let targetID, let status = Self.fieldValue(record.record, type: "STATUS", in: app)?.stringValue,
                        status != initialStatus
                    else { continue }
                    let assignee = Self.fieldValue(record.record, type: "STATUS_ASSIGNEE", in: app)?.arrayValue?.first?["code"]?.stringValue
                    wanted.append(WantedStatus(targetID: targetID, journalKey: record.journalKey, status: status, assignee: assignee))
                }
            }
            progress.advance(items: chunk.count)
            chunk.removeAll(keepingCapacity: true)
            chunkIndex += 1
        }
        for line in try archive.lines(at: path) {
            guard let id = KintoneRecordReader.recordID(line) else {
                throw UserError("\(path): a record without $id cannot be imported")
            }
            chunk.append(PendingRecord(sourceID: id, record: line, journalKey: "\(app.id)/\(id)"))
            if chunk.count == chunkSize { try await flush() }
        }
        try await flush()
        if statusWanted, !wanted.isEmpty { try await applyStatuses(wanted, app: app, target: target) }
    }

    /// A record's value of the (first) field of `type`, found by the archived form (codes differ between apps).
    static func fieldValue(_ record: JSONValue, type: String, in app: ArchivedApp) -> JSONValue? {
        for (_, field) in record.objectValue ?? JSONObject() where field["type"]?.stringValue == type { return field["value"] }
        return nil
    }

    /// Writes one chunk (≤ 20 × 100 records) in one `bulkRequest.json`, journaled; returns each record's target id.
    func writeChunk(
        _ chunk: [PendingRecord], index: Int, app: ArchivedApp, target: String, types: [String: String], authorship: Bool,
        archive: SnapshotReader, watermark: inout String?
    ) async throws -> [String?] {
        let upsert = options.updateKey
        let chunkKey = "\(app.id)/\(chunk.count)/\(chunk.first!.sourceID)"
        var targets = [String?](repeating: nil, count: chunk.count)
        var todo = Array(chunk.indices)
        if let journal, !dryRun {
            let known = try journal.entries(kind: "record", sourceIDs: chunk.map(\.journalKey))
            todo = []
            for (i, record) in chunk.enumerated() {
                if let e = known[record.journalKey], e.state == .created {
                    targets[i] = e.targetID
                    summary.alreadyPresent["record", default: 0] += 1
                } else {
                    todo.append(i)
                }
            }
            if todo.isEmpty { return targets }
            let uncertain = todo.contains { known[chunk[$0].journalKey]?.state == .attempted }
            if upsert == nil, uncertain, let stamp = try journal.entry(kind: "recordChunkStamp", sourceID: chunkKey)?.targetID,
                let found = try await recover(attempt: stamp, app: target, records: todo.map { chunk[$0].record })
            {
                try journal.markCreated(kind: "record", zip(todo, found).map { (chunk[$0.0].journalKey, $0.1) })
                for (i, id) in zip(todo, found) { targets[i] = id }
                summary.alreadyPresent["record", default: 0] += todo.count
                watermark = found.last
                return targets
            }
        }

        // Files first: each FILE value of the chunk gets an upload key.
        var bodies: [JSONValue] = []
        for i in todo {
            let record = chunk[i]
            var fileIndex = 0
            var keys: [String] = []
            for (place, file) in KintoneSchema.fileValues(of: record.record) {
                guard let digest = file["sha256"]?.stringValue else {
                    throw UserError("kintone: record \(record.sourceID) of app \(app.id) names a file missing from the archive (\(place))")
                }
                keys.append(try await uploadedFileKey(journalKey: "\(digest)@\(record.journalKey)/\(place)", file: file, archive: archive))
            }
            let withKeys = KintoneSchema.mapFiles(record.record) { _ in
                defer { fileIndex += 1 }
                return ["fileKey": .string(keys[fileIndex])]
            }
            bodies.append(
                try recordBody(withKeys, types: types, app: app, sourceID: record.sourceID, authorship: authorship && upsert == nil))
        }

        if upsert == nil && watermark == nil && !dryRun {
            watermark = try await highestRecordID(target)
        }
        let stamp = "\(watermark ?? "0") \(todo.count)"
        if let journal, !dryRun {
            // The stamp first, then the records as attempted: a crash anywhere after this is found on the rerun.
            try journal.markCreated(kind: "recordChunkStamp", [(chunkKey, stamp)])
            try journal.plan(kind: "record", todo.map { (chunk[$0].journalKey, "") })
            try journal.markAttempted(kind: "record", sourceIDs: todo.map { chunk[$0].journalKey })
        }

        var requests: [JSONValue] = []
        for start in stride(from: 0, to: bodies.count, by: recordsPerRequest) {
            let slice = Array(bodies[start..<min(start + recordsPerRequest, bodies.count)])
            if upsert != nil {
                requests.append(
                    ["method": "PUT", "api": .string(connection.pathPrefix + "records.json"),
                     "payload": ["app": .string(target), "upsert": true, "records": .array(slice)]])
            } else {
                requests.append(
                    ["method": "POST", "api": .string(connection.pathPrefix + "records.json"),
                     "payload": ["app": .string(target), "records": .array(slice)]])
            }
        }
        var answer: JSONValue?
        var attempt = 0
        var fallbackUsers: Set<String> = []
        var fallbackRecords = 0
        while true {
            attempt += 1
            do {
                answer = try await send(.POST, "bulkRequest.json", body: ["requests": .array(requests)], retryable: upsert != nil)
                break
            } catch let failure as HTTPFailure {
                if authorship, upsert == nil, let missing = Self.missingAuthorshipUsers(failure, requests: requests, types: types),
                    !missing.isEmpty
                {
                    // A creator or modifier who is not a user of this domain: nothing of the bulk was written (all or
                    // nothing); send it again with the importing user in place of that user, and count the records.
                    let stripped = Self.withoutAuthorshipUsers(requests, codes: missing, types: types)
                    if stripped.count > 0 {
                        requests = stripped.requests
                        fallbackUsers.formUnion(missing)
                        fallbackRecords += stripped.count
                        attempt -= 1
                        continue
                    }
                }
                if let code = Self.errorCode(failure) {
                    try explain(code: code, failure: failure, app: app)
                }
                if case .clientError = failure, let place = Self.failingRecord(failure, perRequest: recordsPerRequest),
                    place < todo.count
                {
                    // bulkRequest is all or nothing: name the record the failing request refused.
                    let record = chunk[todo[place]]
                    throw UserError(
                        "kintone: app \(target) refused record \(record.sourceID) of archived app \(app.id) (\(failure.serviceMessage ?? "400"))"
                            + " — nothing of its bulk of \(todo.count) was written; fix the field it names in the target app (or in the archive) and run the import again")
                }
                // The bulk may have landed (a 5xx or a lost connection): look before sending it again.
                guard upsert == nil, !dryRun, Self.mayHaveLanded(failure) else { throw failure }
                if let found = try await recover(attempt: stamp, app: target, records: todo.map { chunk[$0].record }) {
                    return try finish(chunk, todo: todo, ids: found, targets: targets, watermark: &watermark)
                }
                guard attempt < connection.client.retry.maxAttempts else { throw failure }
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
        if fallbackRecords > 0 {
            summary.notImported.append(
                NotExported(
                    kind: "recordAuthorship", container: app.id,
                    reason: "\(fallbackRecords) record(s) name a creator or modifier who is not a user of the target domain (\(fallbackUsers.sorted().joined(separator: ", "))); Kintone made the importing user their creator/modifier, their times are kept"))
        }
        guard let answer else {
            summary.created["record", default: 0] += todo.count
            return targets
        }
        var ids: [String] = []
        for result in answer["results"]?.arrayValue ?? [] {
            if upsert != nil {
                ids += (result["records"]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
            } else {
                ids += (result["ids"]?.arrayValue ?? []).compactMap(\.idString)
            }
        }
        guard ids.count == todo.count else {
            throw HTTPFailure.invalidBody(
                service: "kintone", route: "POST bulkRequest.json", reason: "\(ids.count) record ids for \(todo.count) records")
        }
        return try finish(chunk, todo: todo, ids: ids, targets: targets, watermark: &watermark)
    }

    private func finish(
        _ chunk: [PendingRecord], todo: [Int], ids: [String], targets: [String?], watermark: inout String?
    ) throws -> [String?] {
        var targets = targets
        for (i, id) in zip(todo, ids) { targets[i] = id }
        try journal?.markCreated(kind: "record", zip(todo, ids).map { (chunk[$0.0].journalKey, $0.1) })
        summary.created["record", default: 0] += todo.count
        if options.updateKey == nil, let last = ids.max(by: KintoneSchema.idLess) { watermark = last }
        return targets
    }

    /// The place in a bulk's records of the record a failure names: the failing request (`bulkRequest request K of
    /// N`, as `KintoneConnection.errorMessage` writes it) and the record inside it (`records[J]` in `errors`).
    static func failingRecord(_ failure: HTTPFailure, perRequest: Int) -> Int? {
        guard let message = failure.serviceMessage,
            let request = message.firstMatch(of: #/bulkRequest request ([0-9]+) of/#).flatMap({ Int($0.1) }), request >= 1
        else { return nil }
        guard let record = message.firstMatch(of: #/records\[([0-9]+)\]/#).flatMap({ Int($0.1) }) else { return nil }
        return (request - 1) * perRequest + record
    }

    /// 5xx answers, lost connections and timeouts may come after the server applied the bulk.
    static func mayHaveLanded(_ failure: HTTPFailure) -> Bool {
        switch failure {
        case .serverError, .connectionLost, .timeout, .truncatedBody: return true
        default: return false
        }
    }

    /// Turns the errors a person can act on into one clear line.
    func explain(code: String, failure: HTTPFailure, app: ArchivedApp) throws {
        let target = appMap[app.id] ?? "?"
        switch code {
        case "GAIA_CO02":
            throw UserError(
                "kintone: a record of app \(target) changed in the target while kitbag wrote it (GAIA_CO02 revision conflict);"
                    + " nothing of that bulk was written — run the import again to write the current values")
        case "GAIA_IQ27":
            throw UserError(
                "kintone: --update-key \(options.updateKey ?? "?") is not a unique field of app \(target) (GAIA_IQ27)"
                    + " — pick a field with \"Prohibit duplicate values\" on")
        default: return
        }
    }

    /// Finds the records a chunk stamped `"<watermark> <count>"` created: the first `count` records above the
    /// watermark, checked field by field against the archived ones. Nil when nothing is above the watermark (the
    /// bulk never landed); an error when what is there is not kitbag's.
    func recover(attempt stamp: String, app target: String, records: [JSONValue]) async throws -> [String]? {
        let parts = stamp.split(separator: " ")
        guard parts.count == 2, let expected = Int(parts[1]) else { return nil }
        let watermark = String(parts[0])
        var found: [JSONValue] = []
        var last = watermark
        while found.count < expected {
            let limit = min(KintoneSchema.readPageSize, expected - found.count)
            let answer = try await connection.call(
                .GET, "records.json", query: [("app", target), ("query", "$id > \(last) order by $id asc limit \(limit)")])
            let page = answer["records"]?.arrayValue ?? []
            found += page
            guard page.count == limit, let id = page.last.flatMap(KintoneRecordReader.recordID) else { break }
            last = id
        }
        if found.isEmpty { return nil }
        let mismatch = found.count != expected || expected != records.count
            || zip(records, found).contains { !Self.sameContent($0, $1) }
        if mismatch {
            throw UserError(
                "kintone: app \(target) holds records above id \(watermark) that are not the \(expected) kitbag's interrupted bulk"
                    + " would have written; someone else wrote to the app meanwhile, so kitbag cannot tell which records are its own"
                    + " — check the app, delete records kitbag wrote twice if any, and rerun with a new --journal")
        }
        return found.compactMap(KintoneRecordReader.recordID)
    }

    /// True when the plain values (text, numbers, dates, choices) of an archived record and a target record agree.
    static func sameContent(_ archived: JSONValue, _ found: JSONValue) -> Bool {
        let plain: Set<String> = [
            "SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "NUMBER", "DATE", "TIME", "LINK", "RADIO_BUTTON", "DROP_DOWN",
        ]
        for (code, field) in archived.objectValue ?? JSONObject() where plain.contains(field["type"]?.stringValue ?? "") {
            guard let other = found[code] else { continue }
            if (field["value"]?.stringValue ?? "") != (other["value"]?.stringValue ?? "") { return false }
        }
        return true
    }

    /// The highest record id of an app now (`order by $id desc limit 1`), "0" when it is empty.
    func highestRecordID(_ target: String) async throws -> String {
        let answer = try await connection.call(
            .GET, "records.json", query: [("app", target), ("query", "order by $id desc limit 1"), ("fields[0]", "$id")])
        return answer["records"]?.arrayValue?.first.flatMap(KintoneRecordReader.recordID) ?? "0"
    }

    /// Field types Kintone lets an app administrator set when adding a record (not on update).
    static let authorshipTypes: Set<String> = ["CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME"]

    /// Whether new records of this app keep their Created by / Created datetime / Updated by / Updated datetime:
    /// an app kitbag created is administered by the importing login; an existing app (`--app-map`) is asked with
    /// `GET app/acl.json`, which only app administrators may read. API tokens need the app-management permission,
    /// which the same request proves.
    func keepsAuthorship(_ app: ArchivedApp, target: String) async throws -> Bool {
        guard options.updateKey == nil else { return false }
        guard let mapped = options.containerMap[app.id] else { return true }
        if dryRun { return true }
        do {
            _ = try await connection.call(.GET, KintoneSchema.appPermissions.readPath, query: [("app", mapped)])
            return true
        } catch let failure as HTTPFailure where failure.isForbidden {
            summary.notImported.append(
                NotExported(
                    kind: "recordAuthorship", container: app.id,
                    reason: "the importing credentials have no app administration rights in app \(target), so Kintone set each new record's creator, modifier and times (\(failure.serviceMessage ?? "403"))"))
            return false
        }
    }

    /// The user codes a refused bulk names as unknown creators or modifiers: each `records[J].<code>.value` entry of
    /// a creator/modifier field in the failing request (`bulkRequest request K of N`), looked up in what was sent.
    /// Nil when the failure is not about them.
    static func missingAuthorshipUsers(_ failure: HTTPFailure, requests: [JSONValue], types: [String: String]) -> Set<String>? {
        guard case .clientError = failure, let message = failure.serviceMessage,
            let request = message.firstMatch(of: #/bulkRequest request ([0-9]+) of/#).flatMap({ Int($0.1) }),
            request >= 1, request <= requests.count
        else { return nil }
        let records = requests[request - 1]["payload"]?["records"]?.arrayValue ?? []
        var codes: Set<String> = []
        for match in message.matches(of: #/records\[([0-9]+)\]\.([^.\s]+)\.value/#) {
            guard let index = Int(match.1), index < records.count, let type = types[String(match.2)],
                type == "CREATOR" || type == "MODIFIER",
                let user = records[index][String(match.2)]?["value"]?["code"]?.stringValue
            else { continue }
            codes.insert(user)
        }
        return codes.isEmpty ? nil : codes
    }

    /// The bulk's requests without the creator and modifier values naming `codes`, and how many records had one.
    static func withoutAuthorshipUsers(_ requests: [JSONValue], codes: Set<String>, types: [String: String]) -> (requests: [JSONValue], count: Int) {
        let fields = Set(types.filter { $0.value == "CREATOR" || $0.value == "MODIFIER" }.keys)
        var count = 0
        let out = requests.map { request -> JSONValue in
            var request = request
            guard var payload = request["payload"]?.objectValue, let records = payload["records"]?.arrayValue else { return request }
            payload["records"] = .array(records.map { record in
                guard var object = record.objectValue else { return record }
                var touched = false
                for field in fields {
                    if let user = object[field]?["value"]?["code"]?.stringValue, codes.contains(user) {
                        object[field] = nil
                        touched = true
                    }
                }
                if touched { count += 1 }
                return .object(object)
            })
            request["payload"] = .object(payload)
            return request
        }
        return (out, count)
    }

    /// The write form of a record: only fields the target has and may be written, values only, subtable rows
    /// without their ids; with `--update-key`, the key field moves to `updateKey`. With `authorship`, the creator,
    /// modifier and their times go too (Kintone takes them on add from an app administrator).
    func recordBody(
        _ record: JSONValue, types: [String: String], app: ArchivedApp, sourceID: String, authorship: Bool = false
    ) throws -> JSONValue {
        var fields = JSONObject()
        for (code, field) in record.objectValue ?? JSONObject() {
            guard let type = types[code], let fieldType = field["type"]?.stringValue else { continue }
            if authorship, Self.authorshipTypes.contains(type), type == fieldType {
                switch type {
                case "CREATOR", "MODIFIER":
                    if let user = field["value"]?["code"] { fields[code] = ["value": ["code": user]] }
                default:
                    if let time = field["value"]?.stringValue, !time.isEmpty { fields[code] = ["value": .string(time)] }
                }
                continue
            }
            guard !KintoneSchema.serverFieldTypes.contains(type), !KintoneSchema.serverFieldTypes.contains(fieldType) else { continue }
            fields[code] = ["value": Self.writable(field)]
        }
        guard let key = options.updateKey else { return .object(fields) }
        guard let value = fields[key]?["value"], value.stringValue.map({ !$0.isEmpty }) ?? !value.isNull else {
            throw UserError("kintone: record \(sourceID) of app \(app.id) has no value in --update-key field \(key), so it cannot be upserted")
        }
        fields[key] = nil
        return ["updateKey": ["field": .string(key), "value": value], "record": .object(fields)]
    }

    /// A field's value as Kintone takes it on write.
    static func writable(_ field: JSONValue) -> JSONValue {
        let value = field["value"] ?? .null
        switch field["type"]?.stringValue {
        case "SUBTABLE":
            return .array((value.arrayValue ?? []).map { row in
                var cells = JSONObject()
                for (code, cell) in row["value"]?.objectValue ?? JSONObject() {
                    guard let type = cell["type"]?.stringValue, !KintoneSchema.serverFieldTypes.contains(type) else { continue }
                    cells[code] = ["value": writable(cell)]
                }
                return ["value": .object(cells)]
            })
        case "USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT":
            return .array((value.arrayValue ?? []).compactMap { $0["code"].map { ["code": $0] } })
        default:
            return value
        }
    }

    // MARK: Files

    /// The upload key for one archived file, from the journal when a recent upload exists, else a new upload.
    func uploadedFileKey(journalKey: String, file: JSONValue, archive: SnapshotReader) async throws -> String {
        guard let digest = file["sha256"]?.stringValue else {
            throw UserError("kintone: a file in the archive has no sha256 (\(journalKey)); re-export the source")
        }
        if let journal, !dryRun, let entry = try journal.entry(kind: "upload", sourceID: journalKey), entry.state == .created {
            let parts = entry.targetID.split(separator: " ")
            if parts.count == 2, let at = Double(parts[1]), Date().timeIntervalSince1970 - at < KintoneSchema.uploadLifetime {
                summary.alreadyPresent["file", default: 0] += 1
                return String(parts[0])
            }
        }
        guard let url = archive.attachmentURL(sha256: digest) else {
            throw UserError("kintone: the archive lacks attachment \(digest) (\(file["name"]?.stringValue ?? "file")); verify the archive")
        }
        summary.created["file", default: 0] += 1
        if dryRun {
            plannedRequests["POST file.json", default: 0] += 1
            return "dry-run-\(digest.prefix(12))"
        }
        let upload = MultipartFile(
            field: "file", fileName: file["name"]?.stringValue ?? digest,
            contentType: file["contentType"]?.stringValue ?? "application/octet-stream", file: url)
        let answer = try await connection.client.json(
            APIRequest(method: .POST, path: connection.pathPrefix + "file.json", multipartFile: upload, route: "POST file.json"))
        guard let key = answer["fileKey"]?.idString else {
            throw HTTPFailure.invalidBody(service: "kintone", route: "POST file.json", reason: "no fileKey in the answer")
        }
        try journal?.markCreated(kind: "upload", [(journalKey, "\(key) \(Int(Date().timeIntervalSince1970))")])
        return key
    }

    // MARK: Statuses

    /// The first status of process management (new records start there).
    static func initialStatus(_ process: JSONValue?) -> String? {
        let states = process?["states"]?.objectValue ?? JSONObject()
        return states.min { ($0.value["index"]?.intValue ?? 0) < ($1.value["index"]?.intValue ?? 0) }?.key
    }

    /// The shortest list of action names that leads from `from` to `to`.
    static func actionPath(_ process: JSONValue?, from: String, to: String) -> [(action: String, to: String)]? {
        let actions = (process?["actions"]?.arrayValue ?? []).compactMap { a -> (String, String, String)? in
            guard let name = a["name"]?.stringValue, let f = a["from"]?.stringValue, let t = a["to"]?.stringValue else { return nil }
            return (name, f, t)
        }
        var previous: [String: (from: String, action: String)] = [:]
        var queue = [from]
        var seen: Set<String> = [from]
        while !queue.isEmpty {
            let state = queue.removeFirst()
            if state == to { break }
            for (name, f, t) in actions where f == state && !seen.contains(t) {
                seen.insert(t)
                previous[t] = (state, name)
                queue.append(t)
            }
        }
        guard from == to || previous[to] != nil else { return nil }
        var path: [(String, String)] = []
        var state = to
        while state != from, let step = previous[state] {
            path.insert((step.action, state), at: 0)
            state = step.from
        }
        return path
    }

    /// Walks each record through process management, one action per round, 100 records per request and 20
    /// requests per bulk. Each round is journaled per record; an uncertain round is checked against the target.
    func applyStatuses(_ wanted: [WantedStatus], app: ArchivedApp, target: String) async throws {
        let process = app.settings[KintoneSchema.processManagement.file]
        guard let initial = Self.initialStatus(process) else { return }
        var paths: [[(action: String, to: String)]] = []
        for w in wanted {
            guard let path = Self.actionPath(process, from: initial, to: w.status) else {
                summary.notImported.append(
                    NotExported(kind: "status", container: app.id, reason: "no sequence of actions leads to status \(w.status)"))
                paths.append([])
                continue
            }
            paths.append(path)
        }
        let rounds = paths.map(\.count).max() ?? 0
        progress.beginStage("app \(app.id) statuses", total: rounds)
        for round in 0..<rounds {
            let stepName = "status-\(round)"
            let attemptName = "status-attempt-\(round)"
            let done = try journal.map { try $0.steps(stepName) } ?? []
            let attempted = try journal.map { try $0.steps(attemptName) } ?? []
            var todo: [(WantedStatus, String, String)] = []
            var uncertain: [(WantedStatus, String, String)] = []
            for (w, path) in zip(wanted, paths) where path.count > round && !done.contains(w.journalKey) {
                let item = (w, path[round].action, path[round].to)
                if attempted.contains(w.journalKey) { uncertain.append(item) } else { todo.append(item) }
            }
            if !uncertain.isEmpty, !dryRun {
                let now = try await currentStatuses(uncertain.map(\.0.targetID), app: target)
                for item in uncertain {
                    if now[item.0.targetID] == item.2 {
                        try journal?.markStep(stepName, sourceIDs: [item.0.journalKey])
                    } else {
                        todo.append(item)
                    }
                }
            }
            let perBulk = KintoneSchema.writeBatchSize * KintoneSchema.bulkRequestsPerCall
            for start in stride(from: 0, to: todo.count, by: perBulk) {
                let slice = Array(todo[start..<min(start + perBulk, todo.count)])
                var requests: [JSONValue] = []
                for s in stride(from: 0, to: slice.count, by: KintoneSchema.writeBatchSize) {
                    let records: [JSONValue] = slice[s..<min(s + KintoneSchema.writeBatchSize, slice.count)].map { w, action, to in
                        var r = JSONObject([("id", .string(w.targetID)), ("action", .string(action))])
                        if let assignee = w.assignee, to == w.status { r["assignee"] = .string(assignee) }
                        return .object(r)
                    }
                    requests.append(
                        ["method": "PUT", "api": .string(connection.pathPrefix + "records/status.json"),
                         "payload": ["app": .string(target), "records": .array(records)]])
                }
                if !dryRun { try journal?.markStep(attemptName, sourceIDs: slice.map(\.0.journalKey)) }
                try await send(.POST, "bulkRequest.json", body: ["requests": .array(requests)], retryable: false)
                if !dryRun { try journal?.markStep(stepName, sourceIDs: slice.map(\.0.journalKey)) }
                summary.created["status", default: 0] += slice.filter { $0.2 == $0.0.status }.count
            }
            progress.advance(items: 1)
        }
    }

    /// The status of each record now, 100 ids per query.
    func currentStatuses(_ ids: [String], app target: String) async throws -> [String: String] {
        var out: [String: String] = [:]
        for start in stride(from: 0, to: ids.count, by: KintoneSchema.writeBatchSize) {
            let chunk = ids[start..<min(start + KintoneSchema.writeBatchSize, ids.count)]
            let answer = try await connection.call(
                .GET, "records.json",
                query: [("app", target), ("query", "$id in (\(chunk.joined(separator: ","))) limit \(KintoneSchema.writeBatchSize)")])
            for record in answer["records"]?.arrayValue ?? [] {
                guard let id = KintoneRecordReader.recordID(record) else { continue }
                for (_, field) in record.objectValue ?? JSONObject() where field["type"]?.stringValue == "STATUS" {
                    out[id] = field["value"]?.stringValue
                }
            }
        }
        return out
    }

    // MARK: Comments

    /// Adds every archived comment (or those `include` accepts), oldest first per record, each journaled before and
    /// after its request. A comment's record is the one the journal created for it, else `existing(recordID)` (a
    /// restore's record that is still there).
    func importComments(
        of app: ArchivedApp, archive: SnapshotReader, include: ((JSONValue) -> Bool)? = nil,
        existing: ((String) -> String?)? = nil
    ) async throws {
        let path = "\(app.folder)/comments.jsonl"
        guard let entry = archive.jsonLinesEntries().first(where: { $0.path == path }), (entry.count ?? 0) > 0,
            let target = appMap[app.id]
        else { return }
        progress.beginStage("app \(app.id) comments", total: entry.count)
        var batch: [JSONValue] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let recordKeys = Set(batch.compactMap { $0["recordId"]?.idString.map { "\(app.id)/\($0)" } })
            let records = try journal?.entries(kind: "record", sourceIDs: recordKeys) ?? [:]
            let keys = batch.map { "\(app.id)/\($0["recordId"]?.idString ?? "")/\($0["id"]?.idString ?? "")" }
            let known = try journal?.entries(kind: "comment", sourceIDs: keys) ?? [:]
            for (comment, key) in zip(batch, keys) {
                let recordKey = "\(app.id)/\(comment["recordId"]?.idString ?? "")"
                if let e = known[key], e.state == .created {
                    summary.alreadyPresent["comment", default: 0] += 1
                    continue
                }
                let record = records[recordKey]?.targetID ?? existing?(comment["recordId"]?.idString ?? "") ?? (dryRun ? "dry-run" : nil)
                guard let record, !record.isEmpty else {
                    throw UserError("kintone: comment \(key) belongs to a record that was not imported; run the import again")
                }
                let text = comment["text"]?.stringValue ?? ""
                if known[key]?.state == .attempted, let found = try await findComment(text: text, app: target, record: record) {
                    try journal?.markCreated(kind: "comment", [(key, found)])
                    summary.alreadyPresent["comment", default: 0] += 1
                    continue
                }
                var body = JSONObject([("text", .string(text))])
                let mentions = (comment["mentions"]?.arrayValue ?? []).compactMap { m -> JSONValue? in
                    guard let code = m["code"], let type = m["type"] else { return nil }
                    return ["code": code, "type": type]
                }
                if !mentions.isEmpty { body["mentions"] = .array(mentions) }
                if let journal, !dryRun {
                    try journal.plan(kind: "comment", [(key, "")])
                    try journal.markAttempted(kind: "comment", sourceIDs: [key])
                }
                let commentID = try await addComment(.object(body), text: text, app: target, record: record)
                if let commentID, let journal { try journal.markCreated(kind: "comment", [(key, commentID)]) }
                summary.created["comment", default: 0] += 1
                progress.advance(items: 1)
            }
            batch.removeAll(keepingCapacity: true)
        }
        for line in try archive.lines(at: path) where include?(line) ?? true {
            batch.append(line)
            if batch.count == KintoneSchema.readPageSize { try await flush() }
        }
        try await flush()
    }

    /// `POST record/comment.json`, never repeated blindly: after an answer that may hide a success, the record's
    /// newest comments are checked first. Returns the new comment's id (nil on a dry run).
    func addComment(_ comment: JSONValue, text: String, app target: String, record: String) async throws -> String? {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let answer = try await send(
                    .POST, "record/comment.json", body: ["app": .string(target), "record": .string(record), "comment": comment],
                    retryable: false)
                return answer.map { $0["id"]?.idString ?? "?" }
            } catch let failure as HTTPFailure where Self.mayHaveLanded(failure) && attempt < connection.client.retry.maxAttempts {
                if let found = try await findComment(text: text, app: target, record: record) { return found }
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }

    /// The id of a comment with exactly `text` among the record's ten newest, if any.
    func findComment(text: String, app target: String, record: String) async throws -> String? {
        let answer = try await connection.call(
            .GET, "record/comments.json",
            query: [("app", target), ("record", record), ("order", "desc"), ("limit", String(KintoneSchema.commentPageSize))])
        return answer["comments"]?.arrayValue?.first { $0["text"]?.stringValue == text }?["id"]?.idString
    }
}
