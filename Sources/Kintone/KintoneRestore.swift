import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Kintone's part of `kitbag restore`. Kintone assigns record ids and numbers, so a deleted record comes back as a
/// new record: written through the importer's journaled bulk (`KintoneImporter.writeChunk`: plan, stamp, send, mark
/// created, so a killed run's rerun finds what landed and writes nothing twice), with its files uploaded again, its
/// status replayed and its comments posted again oldest first; the journal maps each archived record (`APP/ID`) and
/// comment (`APP/ID/COMMENT`) to its new id, and the comparison maps them back. A changed record is set back with
/// `PUT record.json` carrying the revision the comparison read (a record edited after the plan answers `GAIA_CO02`
/// and is left alone); a record added since is deleted with `DELETE records.json` and its revision (kintone/js-sdk
/// packages/rest-api-client/src/client/RecordClient.ts `updateRecord`, `deleteRecords`, commit
/// 003b2770edee77b314a7b67cb7645836f543b426). Kintone has no REST route to delete an app, nor one to restore it:
/// an app gone from the domain comes back as a new app through the importer's app creation (`addApp`,
/// `POST preview/app.json` into its space with the space's default thread, its settings written to the preview,
/// `deployApp` and `getDeployStatus` polled — AppClient.ts, same commit), journaled archived app id → new app id,
/// then filled with its records, statuses and comments as above under their `APP/ID` keys; the comparison reads the
/// new app under the archived id. Creating an app needs a login (API tokens cannot). `--revert` sets an app's name
/// and description back with `updateAppSettings` (`PUT preview/app/settings.json` with the settings revision) and
/// `deployApp` with the revision it answered.
extension KintoneConnection: RestoreTarget {
    public var liveRules: LiveRules { KintoneRestore.rules }

    public func restoreRefusal(kind: String, action: RestoreAction) -> String? {
        if kind == "app", action == .recreate, tokensOnly {
            return "API tokens cannot create apps (POST preview/app.json refuses them); sign in with \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) to create the app again"
        }
        return KintoneRestore.refusal(kind: kind, action: action)
    }

    /// A copy that reads records and comments only (no settings), every archived app when API tokens cannot list
    /// them, and, when the scope names records and nothing else, only those records (`$id in (…)`: their archived
    /// ids and the ids an earlier restore gave them) — one record of a 10,000-record app costs one records request.
    public func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> KintoneConnection {
        var reader = self
        reader.recordsOnly = true
        reader.recordFilter = nil
        if tokensOnly && defaultApps.isEmpty {
            reader.defaultApps = archive.jsonLinesEntries().filter { $0.kind == "app" }.compactMap {
                (try? archive.values(at: $0.path).first)??["appId"]?.idString.map { restored.forward["app"]?[$0] ?? $0 }
            }
        }
        if let ids = KintoneRestore.namedRecords(scope, restored: restored) {
            reader.recordFilter = KintoneRecordFilter(condition: "$id in (\(ids.joined(separator: ", ")))")
        }
        return reader
    }

    public func applyRestore(
        _ plan: RestorePlan, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs, journal: ImportJournal?,
        dryRun: Bool, progress: ProgressReporter
    ) async throws -> RestoreOutcome {
        let restorer = KintoneRestore(
            connection: self, archive: archive, live: live, restored: restored, journal: journal, dryRun: dryRun, progress: progress,
            recreating: Set(plan.steps.filter { $0.action == .recreate && $0.kind == "app" }.map(\.id)))
        return try await restorer.run(plan)
    }
}

final class KintoneRestore {
    /// Apps (their name and description, as the app listing holds them), records and comments are compared; the
    /// other settings are not.
    static let rules = LiveRules(
        ignoredKeys: [], containerKind: "app", kinds: ["app", "record", "comment"],
        shape: { kind, value, app in shape(kind, value, app: app) }, journalKinds: ["app", "record", "comment"],
        notRestorableKeys: ["record": ["$recordNumber", "$creator", "$createdTime"], "comment": ["creator", "createdAt"]],
        translate: { kind, value, ids in translate(kind, value, ids) })

    /// Built-in fields every app has under a code of its own, compared under one name (a recreated record's number
    /// and authorship are set aside by name).
    static let builtInKeys = ["RECORD_NUMBER": "$recordNumber", "CREATOR": "$creator", "CREATED_TIME": "$createdTime"]

    /// An archived entity in the shape the comparison sees: an app by `appId`; a record as `APP/ID` with its values
    /// (files by digest, server-kept fields left out, the built-in ones under fixed names); a comment as
    /// `APP/RECORD/ID` (comment ids count per record).
    static func shape(_ kind: String, _ value: JSONValue, app: String?) -> JSONValue {
        switch kind {
        case "app":
            guard let id = value["appId"]?.idString else { return value }
            return ["id": .string(id), "name": value["name"] ?? .null, "description": value["description"] ?? .null]
        case "record":
            guard let app, let id = KintoneRecordReader.recordID(value) else { return value }
            var out = JSONObject([("id", .string("\(app)/\(id)"))])
            for (code, field) in (value.objectValue ?? JSONObject()).sorted(by: { $0.key < $1.key }) {
                let type = field["type"]?.stringValue ?? ""
                if let name = builtInKeys[type] {
                    out[name] = field["value"]?["code"] ?? field["value"] ?? .null
                } else if !KintoneRoundTrip.volatileFieldTypes.contains(type) {
                    out[code] = KintoneRoundTrip.normalizeField(field)
                }
            }
            return .object(out)
        case "comment":
            guard let app, let record = value["recordId"]?.idString, let id = value["id"]?.idString else { return value }
            return [
                "id": .string("\(app)/\(record)/\(id)"), "text": value["text"] ?? .null, "mentions": value["mentions"] ?? .array([]),
                "creator": value["creator"]?["code"] ?? .null, "createdAt": value["createdAt"] ?? .null,
            ]
        default:
            return value
        }
    }

    /// A live app, record or comment a restore created again, under its archived id (the journal maps an app's id to
    /// the new app's, `APP/ID` to the new record id and `APP/ID/COMMENT` to the new comment id; the `APP` of a record
    /// or comment is already the archived app's, the comparison names a container by its archived id).
    static func translate(_ kind: String, _ value: JSONValue, _ ids: RoundTripIDs) -> JSONValue {
        guard var object = value.objectValue, let id = object["id"]?.idString else { return value }
        let parts = id.split(separator: "/").map(String.init)
        switch (kind, parts.count) {
        case ("app", 1):
            guard let archived = ids.back["app"]?[id] else { return value }
            object["id"] = .string(archived)
        case ("record", 2):
            if let archived = archivedRecord(app: parts[0], live: parts[1], ids) { object["id"] = .string(archived) }
        case ("comment", 3):
            let record = archivedRecord(app: parts[0], live: parts[1], ids) ?? "\(parts[0])/\(parts[1])"
            if let source = ids.created["comment"]?.first(where: { $0.target == parts[2] && $0.source.hasPrefix(record + "/") })?.source {
                object["id"] = .string(source)
            }
        default: return value
        }
        return .object(object)
    }

    /// The archived `APP/ID` of live record `live` of `app`, if a restore created it.
    static func archivedRecord(app: String, live: String, _ ids: RoundTripIDs) -> String? {
        // Record ids are per app: `back` holds one of the records with this id, another app's perhaps.
        guard let any = ids.back["record"]?[live] else { return nil }
        if any.hasPrefix(app + "/") { return any }
        return ids.created["record"]?.first { $0.target == live && $0.source.hasPrefix(app + "/") }?.source
    }

    /// The record ids to read when the scope names records (and comments) only: each one's archived id and the id a
    /// restore gave it; nil when the scope needs whole apps.
    static func namedRecords(_ scope: RestoreScope, restored: RoundTripIDs) -> [String]? {
        guard scope.containers.isEmpty, (scope.match ?? "").isEmpty, !scope.only.isEmpty else { return nil }
        var ids: Set<String> = []
        for named in scope.only {
            let parts = named.id.split(separator: "/").map(String.init)
            guard ["record", "comment"].contains(named.kind), parts.count >= 2, Int(parts[1]) != nil else { return nil }
            ids.insert(parts[1])
            if let live = restored.forward["record"]?["\(parts[0])/\(parts[1])"] { ids.insert(live) }
        }
        return ids.sorted(by: KintoneSchema.idLess)
    }

    static func refusal(kind: String, action: RestoreAction) -> String? {
        switch (kind, action) {
        case ("record", .recreate), ("record", .revert), ("record", .remove), ("comment", .recreate), ("app", .recreate),
            ("app", .revert):
            return nil
        case ("app", .remove):
            return "Kintone has no REST route to delete an app; delete it in Kintone if it should go"
        case ("comment", .revert):
            return "Kintone comments cannot be edited"
        case ("comment", .remove):
            return "kitbag does not delete comments; delete it in Kintone if it should go"
        default:
            return "restoring a \(kind) is not supported"
        }
    }

    let connection: KintoneConnection
    let archive: SnapshotReader
    let live: SnapshotReader
    let restored: RoundTripIDs
    let journal: ImportJournal?
    let dryRun: Bool
    let importer: KintoneImporter
    private var done: [String: Int] = [:]
    private var leftAlone: [RestoreSkip] = []
    private var notRestored: [NotExported] = []

    /// Archived ids of the apps the plan creates again.
    let recreating: Set<String>

    init(
        connection: KintoneConnection, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs,
        journal: ImportJournal?, dryRun: Bool, progress: ProgressReporter, recreating: Set<String> = []
    ) {
        self.connection = connection
        self.archive = archive
        self.live = live
        self.restored = restored
        self.journal = journal
        self.dryRun = dryRun
        self.recreating = recreating
        // Every app that is there is its own target (or the app an earlier restore created for it): records go back
        // into the app they came from. An app created again now gets its target from the importer's creation.
        let archived = archive.jsonLinesEntries().filter { $0.kind == "app" }.compactMap { entry in
            (try? archive.values(at: entry.path).first)??["appId"]?.idString
        }
        let apps = Dictionary(
            archived.filter { !recreating.contains($0) }.map { ($0, restored.forward["app"]?[$0] ?? $0) }, uniquingKeysWith: { a, _ in a })
        importer = KintoneImporter(
            connection: connection, journal: journal, progress: progress, options: ImportOptions(dryRun: dryRun, containerMap: apps))
        importer.appMap = apps
        importer.archiveAppIDs = Set(archived)
        importer.deployed = Set(apps.keys)
        importer.keepsArchivedSpace = true
    }

    func run(_ plan: RestorePlan) async throws -> RestoreOutcome {
        let before = await connection.client.requestCounts()
        let apps = Dictionary(try importer.readApps(archive).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func steps(_ action: RestoreAction, _ kind: String) -> [RestoreStep] {
            plan.steps.filter { $0.action == action && $0.kind == kind }
        }

        // Apps gone: created again as new apps (lookups into another app gone too wait for its creation), then
        // filled with every archived record.
        let newApps = KintoneImporter.dependencyOrder(steps(.recreate, "app").compactMap { apps[$0.id] })
        var newRecords = 0
        var deferred: [String: [String]] = [:]
        for app in newApps {
            try forgetStaleApp(app.id)
            deferred[app.id] = try await creatingApp(app.id) { try await importer.createApp(app, archive: archive) }
            done["recreate app", default: 0] += 1
        }
        // Fields pointing at an app created in this run after theirs (a cycle, or the app itself): added once all are.
        for app in newApps where !(deferred[app.id] ?? []).isEmpty {
            try await creatingApp(app.id) { try await importer.addDeferredFields(app, codes: deferred[app.id]!) }
        }
        for app in newApps {
            guard let target = importer.appMap[app.id] else { continue }
            try await writing("add records to", app: target, needs: "Add records") {
                newRecords += try await recreateRecords(nil, of: app)
            }
        }
        if newRecords > 0 { done["recreate record", default: 0] += newRecords }
        if !newApps.isEmpty { try noteNewApps(newApps) }

        // Records gone: created again, app by app, with their files, statuses and comments.
        let recreated = steps(.recreate, "record")
        var recreatedKeys: Set<String> = []
        for (appID, group) in Dictionary(grouping: recreated, by: { $0.container ?? "" }).sorted(by: { KintoneSchema.idLess($0.key, $1.key) }) {
            guard let app = apps[appID] else { continue }
            let keys = Set(group.map(\.id))
            try await writing("recreate records in", app: importer.appMap[appID] ?? appID, needs: "Add records") {
                _ = try await recreateRecords(keys, of: app)
            }
            recreatedKeys.formUnion(keys)
            done["recreate record", default: 0] += keys.count
        }

        // Comments gone from records that are there, and every comment of a recreated record: posted again, oldest first.
        let comments = Set(steps(.recreate, "comment").map(\.id))
        let wholeApps = Set(newApps.map(\.id))
        for appID in Set(recreated.compactMap(\.container)).union(steps(.recreate, "comment").compactMap(\.container)).union(wholeApps)
            .sorted(by: KintoneSchema.idLess)
        {
            guard let app = apps[appID] else { continue }
            var posted = 0
            try await writing("post comments in", app: importer.appMap[appID] ?? appID, needs: "View records (comments are posted by whoever may view the record)") {
                let before = importer.summary.created["comment"] ?? 0
                try await importer.importComments(
                    of: app, archive: archive,
                    include: { c in
                        let record = "\(appID)/\(c["recordId"]?.idString ?? "")"
                        return wholeApps.contains(appID) || recreatedKeys.contains(record)
                            || comments.contains("\(record)/\(c["id"]?.idString ?? "")")
                    },
                    existing: { [restored] record in restored.forward["record"]?["\(appID)/\(record)"] ?? record })
                posted = (importer.summary.created["comment"] ?? 0) - before
            }
            if posted > 0 { done["recreate comment", default: 0] += posted }
        }
        if !recreated.isEmpty {
            notRestored.append(
                NotExported(
                    kind: "recordNumber",
                    reason: "Kintone gives each record it creates a new id and record number: \(recreated.count) record(s) came back under new ones (the journal maps them)"))
        }
        if done["recreate comment"] != nil {
            notRestored.append(
                NotExported(kind: "commentAuthorship", reason: "Kintone makes the restoring user the author of each comment posted again, at the time of the restore, after the record's newer comments"))
        }
        notRestored += importer.summary.notImported.filter { !KintoneImporter.notImported.contains($0) }

        // Changed records set back, each with the revision the comparison read.
        let reverts = steps(.revert, "record")
        if !reverts.isEmpty {
            let archived = try archivedRecords(Set(reverts.map(\.id)))
            let now = try liveRecords()
            for step in reverts {
                guard let app = step.container, let old = archived[step.id], let current = now[step.id] else { continue }
                try await writing("set records back in", app: app, needs: "Edit records") {
                    try await revert(step, app: app, archived: old, live: current)
                }
            }
        }

        // Apps renamed or described anew: set back in the preview with its revision, then deployed.
        for step in steps(.revert, "app") {
            guard let app = apps[step.id] else { continue }
            let target = importer.appMap[step.id] ?? step.id
            try await writing("change the settings of", app: target, needs: "App management") {
                try await revertApp(step, app: app, target: target)
            }
        }

        // Records added since the snapshot, only when asked; never one this restore created (a rerun's comparison
        // may not know it yet).
        let removals = steps(.remove, "record")
        if !removals.isEmpty {
            let now = try liveRecords()
            let ours = Set(
                try journal?.entries(kind: "record").filter { $0.value.state == .created }.map { key, entry in
                    "\(key.split(separator: "/").first ?? "")/\(entry.targetID)"
                } ?? [])
            for (app, group) in Dictionary(grouping: removals, by: { $0.container ?? "" }).sorted(by: { KintoneSchema.idLess($0.key, $1.key) }) {
                let targets = group.filter { step in !ours.contains(step.id) }
                try await writing("delete records in", app: app, needs: "Delete records") {
                    try await remove(targets, app: app, live: now)
                }
            }
        }

        // Write requests only: the reads a write needs (the app's fields, its highest record id) count with the reads.
        let requests = (dryRun ? importer.plannedRequests : RestoreJobs.requests(await connection.client.requestCounts(), since: before))
            .filter { !$0.key.hasPrefix("GET ") }
        return RestoreOutcome(requests: requests, done: done, leftAlone: leftAlone, notRestored: notRestored)
    }

    /// The archived records `keys` (`APP/ID`; every record of the app when nil) of one app, through the importer's
    /// bulk into the app's target, then their statuses. Returns how many there were.
    private func recreateRecords(_ keys: Set<String>?, of app: KintoneImporter.ArchivedApp) async throws -> Int {
        let path = "\(app.folder)/records.jsonl"
        guard archive.hasJSONLines(at: path) else { return 0 }
        let target = importer.appMap[app.id] ?? app.id
        var pending: [KintoneImporter.PendingRecord] = []
        for line in try archive.lines(at: path) {
            guard let id = KintoneRecordReader.recordID(line), keys?.contains("\(app.id)/\(id)") ?? true else { continue }
            pending.append(KintoneImporter.PendingRecord(sourceID: id, record: line, journalKey: "\(app.id)/\(id)"))
        }
        guard !pending.isEmpty else { return 0 }
        if keys != nil { try forgetStale(pending.map(\.journalKey)) }
        let types = try await importer.targetFieldTypes(app)
        let authorship = try await importer.keepsAuthorship(app, target: target)
        let process = app.settings[KintoneSchema.processManagement.file]
        let initial = KintoneImporter.initialStatus(process)
        var wanted: [KintoneImporter.WantedStatus] = []
        var watermark: String?
        let size = importer.recordsPerRequest * KintoneSchema.bulkRequestsPerCall
        for (index, start) in stride(from: 0, to: pending.count, by: size).enumerated() {
            let chunk = Array(pending[start..<min(start + size, pending.count)])
            let created = try await importer.writeChunk(
                chunk, index: index, app: app, target: target, types: types, authorship: authorship, archive: archive,
                watermark: &watermark)
            guard process?["enable"]?.boolValue == true else { continue }
            // A dry run creates nothing: its statuses are counted against a stand-in id.
            for (record, target) in zip(chunk, created.map { $0 ?? (dryRun ? "dry-run" : nil) }) {
                guard let target, let status = KintoneImporter.fieldValue(record.record, type: "STATUS", in: app)?.stringValue,
                    status != initial
                else { continue }
                let assignee = KintoneImporter.fieldValue(record.record, type: "STATUS_ASSIGNEE", in: app)?.arrayValue?.first?["code"]?.stringValue
                wanted.append(KintoneImporter.WantedStatus(targetID: target, journalKey: record.journalKey, status: status, assignee: assignee))
            }
        }
        if !wanted.isEmpty { try await importer.applyStatuses(wanted, app: app, target: target) }
        return pending.count
    }

    /// An app an earlier restore created again (and deployed) that the comparison found gone again: deleted since.
    /// What the journal holds of it — the app, its steps, its records, comments, uploads and statuses — is forgotten,
    /// so that it is created once more. One created but not yet deployed (a run stopped midway) is not listed by
    /// Kintone: its creation goes on where it stopped.
    private func forgetStaleApp(_ id: String) throws {
        guard let journal, !dryRun, try journal.entry(kind: "app", sourceID: id)?.state == .created,
            try journal.steps("deploy").contains(id)
        else { return }
        let records = try journal.entries(kind: "record").keys.filter { $0.hasPrefix(id + "/") }
        try journal.forget(kind: "app", sourceIDs: [id], steps: [id] + records)
        for kind in ["record", "comment", "recordChunkStamp"] { try journal.forget(kind: kind, matching: [id + "/%"]) }
        try journal.forget(kind: "upload", matching: ["%@" + id + "/%", "customize/" + id + "/%"])
    }

    /// Runs the creation of an app; a 403 becomes one line: creating apps is a domain permission.
    @discardableResult
    private func creatingApp<T>(_ app: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as HTTPFailure where failure.isForbidden {
            throw UserError(
                "kintone: the signed-in user may not create app \(app) again (\(failure.serviceMessage ?? "403")) — creating an app needs the App Creation permission (cybozu.com common administration → Permissions for App Creation, or the space's settings for an app in a space); grant it and run the restore again")
        }
    }

    /// What a recreated app does not bring back: its id, its record numbers, and what other apps pointed at it.
    private func noteNewApps(_ created: [KintoneImporter.ArchivedApp]) throws {
        let ids = created.map { "\($0.id) → \(importer.appMap[$0.id] ?? "?")" }.joined(separator: ", ")
        notRestored.append(
            NotExported(
                kind: "appID",
                reason: "Kintone gives each app it creates a new id: app \(ids) (the journal maps them; links and bookmarks to the old app do not follow)"))
        let gone = Set(created.map(\.id))
        let pointing = try importer.readApps(archive).filter { !gone.contains($0.id) }.compactMap { other -> String? in
            let targets = other.dependencies.intersection(gone)
            return targets.isEmpty ? nil : "app \(other.id) → \(targets.sorted(by: KintoneSchema.idLess).joined(separator: ", "))"
        }
        if !pointing.isEmpty {
            notRestored.append(
                NotExported(
                    kind: "appReference",
                    reason: "lookup or related-records fields of other apps still point at the old app id (\(pointing.joined(separator: "; "))); a restore does not change other apps' settings — point them at the new app in their settings"))
        }
    }

    /// Records an earlier restore created (the journal says so) that the comparison found gone again: deleted since.
    /// What the journal holds of them — the record, its comments, its uploads, its statuses — is forgotten, so that
    /// they are created again instead of being taken for present.
    private func forgetStale(_ keys: [String]) throws {
        guard let journal, !dryRun else { return }
        let known = try journal.entries(kind: "record", sourceIDs: keys)
        let stale = keys.filter { known[$0]?.state == .created }
        guard !stale.isEmpty else { return }
        for key in stale {
            let escaped = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            try journal.forget(kind: "record", matching: [escaped])
            try journal.forget(kind: "comment", matching: [escaped + "/%"])
            try journal.forget(kind: "upload", matching: ["%@" + escaped + "/%"], steps: [key])
        }
    }

    /// `PUT record.json` with the archived values of the step's writable fields and the live revision; a revision
    /// conflict (edited after the comparison) leaves the record alone.
    private func revert(_ step: RestoreStep, app: String, archived: JSONValue, live: JSONValue) async throws {
        let fields = Set(step.fields ?? [])
        var record = JSONObject()
        var computed: [String] = []
        for code in fields.sorted() {
            guard let field = archived[code], let type = field["type"]?.stringValue else {
                computed.append(code)
                continue
            }
            if KintoneSchema.serverFieldTypes.contains(type) || live[code] == nil {
                computed.append(code)
                continue
            }
            var value = field
            if type == "FILE" || type == "SUBTABLE" {
                var index = 0
                var keys: [String] = []
                for (place, file) in KintoneSchema.fileValues(of: [code: field]) {
                    keys.append(
                        try await importer.uploadedFileKey(
                            journalKey: "\(file["sha256"]?.stringValue ?? "")@\(step.id)/\(place)", file: file, archive: archive))
                }
                value = KintoneSchema.mapFiles([code: field]) { _ in
                    defer { index += 1 }
                    return ["fileKey": .string(keys[index])]
                }[code] ?? field
            }
            record[code] = ["value": KintoneImporter.writable(value)]
        }
        let entry = LiveDiff.Entry(kind: "record", container: app, id: step.id, title: step.title, change: .changed, fields: step.fields)
        guard !record.isEmpty else {
            leftAlone.append(RestoreSkip(entry: entry, reason: "only fields Kintone computes or sets itself changed (\(computed.joined(separator: ", "))); a restore cannot write them"))
            return
        }
        guard let id = KintoneRecordReader.recordID(live) else { return }
        var body = JSONObject([("app", .string(app)), ("id", .string(id)), ("record", .object(record))])
        if let revision = live["$revision"]?["value"]?.idString { body["revision"] = .string(revision) }
        do {
            try await importer.send(.PUT, "record.json", body: .object(body), retryable: true)
        } catch let failure as HTTPFailure where KintoneImporter.errorCode(failure) == "GAIA_CO02" {
            leftAlone.append(RestoreSkip(entry: entry, reason: "edited in Kintone after the comparison (GAIA_CO02: its revision moved on); left as it is — run the restore again to compare afresh"))
            return
        }
        if !computed.isEmpty {
            notRestored.append(
                NotExported(kind: "record", container: app, reason: "record \(step.id): \(computed.joined(separator: ", ")) not set back (Kintone computes or sets it)"))
        }
        done["revert record", default: 0] += 1
        if let journal, !dryRun { try journal.markStep("revert-record", sourceIDs: [step.id]) }
    }

    /// The app's name and description set back (`PUT preview/app/settings.json` with the preview's revision, then
    /// `POST preview/app/deploy.json` with the revision that answered, as the SDK's `updateAppSettings` and
    /// `deployApp` send them). Left alone when the app has settings changes waiting to be deployed (a deploy would
    /// publish them too), when it was renamed again after the comparison, or when its revision moved on meanwhile
    /// (`GAIA_CO02`).
    private func revertApp(_ step: RestoreStep, app: KintoneImporter.ArchivedApp, target: String) async throws {
        let fields = (step.fields ?? []).filter { ["name", "description"].contains($0) }
        guard !fields.isEmpty else { return }
        let entry = LiveDiff.Entry(kind: "app", container: nil, id: step.id, title: step.title, change: .changed, fields: step.fields)
        func leave(_ reason: String) { leftAlone.append(RestoreSkip(entry: entry, reason: reason)) }
        var body = JSONObject([("app", .string(target))])
        for field in fields { body[field] = app.app[field] ?? .string("") }
        if !dryRun {
            let live = try await connection.call(.GET, KintoneSchema.generalSettings.readPath, query: [("app", target)])
            let preview = try await connection.call(.GET, "preview/" + KintoneSchema.generalSettings.readPath, query: [("app", target)])
            guard let revision = preview["revision"]?.idString, revision == live["revision"]?.idString else {
                return leave("the app has settings changes waiting to be deployed in Kintone, which a restore's deploy would publish too; deploy or discard them, then run the restore again")
            }
            let planned = try liveApp(target)
            guard fields.allSatisfy({ (live[$0] ?? .null) == (planned?[$0] ?? .null) }) else {
                return leave("its settings were changed in Kintone after the comparison; left as they are now (run the restore again to compare afresh)")
            }
            body["revision"] = .string(revision)
        }
        do {
            let answer = try await importer.send(.PUT, KintoneSchema.generalSettings.writePath!, body: .object(body))
            var deploy = JSONObject([("app", .string(target))])
            if let revision = answer?["revision"] { deploy["revision"] = revision }
            try await importer.send(.POST, "preview/app/deploy.json", body: ["apps": [.object(deploy)]])
        } catch let failure as HTTPFailure where KintoneImporter.errorCode(failure) == "GAIA_CO02" {
            return leave("its settings were changed in Kintone while the restore wrote them (GAIA_CO02: the revision moved on); left as they are — run the restore again to compare afresh")
        }
        if !dryRun { try await importer.waitForDeploy(target) }
        done["revert app", default: 0] += 1
        if let journal, !dryRun { try journal.markStep("revert-app", sourceIDs: [step.id]) }
    }

    /// The live export's listing of app `target` (what the comparison saw).
    private func liveApp(_ target: String) throws -> JSONValue? {
        for entry in live.jsonLinesEntries() where entry.kind == "app" {
            if let app = try live.values(at: entry.path).first, app["appId"]?.idString == target { return app }
        }
        return nil
    }

    /// `DELETE records.json` with the live revisions, 100 at a time; a refused revision sends the records one by one
    /// and leaves the edited ones alone.
    private func remove(_ steps: [RestoreStep], app: String, live: [String: JSONValue]) async throws {
        let targets: [(step: RestoreStep, id: String, revision: String)] = steps.compactMap { step in
            guard let record = live[step.id], let id = KintoneRecordReader.recordID(record) else { return nil }
            return (step, id, record["$revision"]?["value"]?.idString ?? "-1")
        }
        func delete(_ chunk: [(step: RestoreStep, id: String, revision: String)]) async throws {
            try await importer.send(
                .DELETE, "records.json",
                body: ["app": .string(app), "ids": .array(chunk.map { .string($0.id) }), "revisions": .array(chunk.map { .string($0.revision) })])
            done["remove record", default: 0] += chunk.count
        }
        for start in stride(from: 0, to: targets.count, by: KintoneSchema.writeBatchSize) {
            let chunk = Array(targets[start..<min(start + KintoneSchema.writeBatchSize, targets.count)])
            do {
                try await delete(chunk)
            } catch let failure as HTTPFailure where KintoneImporter.errorCode(failure) == "GAIA_CO02" {
                for one in chunk {
                    do {
                        try await delete([one])
                    } catch let failure as HTTPFailure where KintoneImporter.errorCode(failure) == "GAIA_CO02" {
                        let entry = LiveDiff.Entry(kind: "record", container: app, id: one.step.id, title: one.step.title, change: .added)
                        leftAlone.append(RestoreSkip(entry: entry, reason: "edited in Kintone after the comparison (GAIA_CO02); not deleted"))
                    }
                }
            }
        }
    }

    /// Runs the writes of one app; a 403 becomes one line naming the permission the credentials lack there.
    private func writing(_ what: String, app: String, needs permission: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as HTTPFailure where failure.isForbidden {
            let who = connection.tokensOnly ? "the API token of app \(app)" : "the signed-in user"
            throw UserError(
                "kintone: \(who) may not \(what) app \(app) (\(failure.serviceMessage ?? "403")) — a restore needs the \(permission) permission there; grant it (App settings → \(connection.tokensOnly ? "API Token" : "Permissions for App")) and run the restore again")
        }
    }

    /// Archived records by `APP/ID`, for the given keys.
    private func archivedRecords(_ keys: Set<String>) throws -> [String: JSONValue] {
        try records(in: archive, keys: keys)
    }

    /// Live records by archived `APP/ID` (a record a restore created under its archived key).
    private func liveRecords() throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (key, value) in try records(in: live, keys: nil) {
            let parts = key.split(separator: "/").map(String.init)
            let archived = parts.count == 2 ? Self.archivedRecord(app: parts[0], live: parts[1], restored) ?? key : key
            out[archived] = value
        }
        return out
    }

    private func records(in reader: SnapshotReader, keys: Set<String>?) throws -> [String: JSONValue] {
        let apps = keys.map { Set($0.compactMap { $0.split(separator: "/").first.map(String.init) }) }
        var out: [String: JSONValue] = [:]
        for entry in reader.jsonLinesEntries() where entry.kind == "record" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            let app = ArchivePath.decodeComponent(String(folder.split(separator: "/").last ?? ""))
            if let apps, !apps.contains(app) { continue }
            for line in try reader.lines(at: entry.path) {
                guard let id = KintoneRecordReader.recordID(line) else { continue }
                let key = "\(app)/\(id)"
                if keys?.contains(key) ?? true { out[key] = line }
            }
        }
        return out
    }
}
