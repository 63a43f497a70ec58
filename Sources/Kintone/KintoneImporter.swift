import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Replays a Kintone archive into a Kintone domain: apps with their settings, then records through
/// `bulkRequest.json`, statuses, and comments, every step in the journal.
///
/// Apps. Each archived app becomes a new app (created in preview, settings written, deployed, the deploy polled),
/// in dependency order so a lookup or related-records field can point at its already deployed source app; a field
/// that points at an app not deployed yet (a cycle, or an app looking up itself) is added in a second deploy.
/// `--app-map SRC=DST` imports into an existing app instead and leaves its settings alone.
///
/// Records. Kintone assigns record ids, so kitbag cannot choose them in advance as it does for Kinopio. Records go
/// in chunks of up to 2,000 (20 requests of 100 in one `bulkRequest.json`, which is all or nothing). Before a chunk
/// is sent, the journal holds it as *attempted* together with a watermark: the highest record id of the target app
/// at that moment and how many records the chunk adds. Record ids only grow, so after a crash between the bulk and
/// the journal write, a rerun asks the target for records above the watermark: none means the bulk never landed
/// (send it again); exactly as many as the chunk means it landed, and the ids map onto the chunk in order; anything
/// else means someone else wrote to the app meanwhile, and the import stops rather than guess. The same check runs
/// at once when a bulk fails in a way that may have reached the server (a 5xx or a lost connection). Upserts by
/// `--update-key` need no watermark: sending them again changes nothing.
///
/// Files. Each FILE value is uploaded once (`POST file.json`) just before the chunk of its record, journaled by its
/// content digest and record place with the upload time; a rerun reuses the key unless it is older than 2½ days
/// (Kintone deletes unattached uploads after 3).
///
/// Statuses and comments. Statuses are reached by replaying process-management actions from the initial status
/// (`PUT records/status.json` in bulks); comments are added one by one, oldest first, each journaled before and
/// after its request (an uncertain one is looked up in the record's newest comments by its text).
public final class KintoneImporter {
    public let connection: KintoneConnection
    public let journal: ImportJournal?
    public let progress: ProgressReporter
    public let options: ImportOptions

    var summary = ImportSummary()
    var plannedRequests: [String: Int] = [:]
    /// Source app id → target app id.
    var appMap: [String: String] = [:]
    /// Source apps whose target is deployed with every field (lookups may point at them).
    var deployed: Set<String> = []
    /// Records per write request (≤ 100); a bulk carries 20 of them.
    let recordsPerRequest: Int

    var dryRun: Bool { options.dryRun }

    public init(connection: KintoneConnection, journal: ImportJournal?, progress: ProgressReporter, options: ImportOptions) {
        self.connection = connection
        self.journal = journal
        self.progress = progress
        self.options = options
        recordsPerRequest = min(KintoneSchema.writeBatchSize, max(1, options.batchSize ?? KintoneSchema.writeBatchSize))
    }

    /// One app of the archive with its settings documents (small; records are streamed).
    struct ArchivedApp {
        var id: String
        var folder: String
        var app: JSONValue
        var settings: [String: JSONValue]

        var name: String { app["name"]?.stringValue ?? "App \(id)" }
        var fieldProperties: JSONObject { settings[KintoneSchema.formFields.file]?["properties"]?.objectValue ?? JSONObject() }

        /// Source app ids this app's lookup and related-records fields point at.
        var dependencies: Set<String> {
            var out: Set<String> = []
            for (_, field) in fieldProperties {
                if let app = KintoneImporter.relatedApp(field) { out.insert(app) }
            }
            return out
        }
    }

    static let notImported: [NotExported] = [
        NotExported(kind: "space", reason: "new apps are created outside any space; spaces and threads stay in the archive (use --app-map to fill apps inside an existing space)"),
        NotExported(kind: "spaceMember", reason: "space members are not changed by an import"),
        NotExported(kind: "recordNumber", reason: "Kintone numbers each imported record itself (record ids and numbers are new)"),
        NotExported(kind: "commentAuthorship", reason: "Kintone sets each imported comment's author and time to the importing user and now"),
        NotExported(kind: "category", reason: "record categories cannot be set through the REST API"),
    ]

    public func run(archive: SnapshotReader) async throws -> ImportSummary {
        guard archive.info.service == .kintone else {
            throw UserError(
                "this archive holds \(archive.info.service.rawValue) data; importing it into Kintone is not supported yet",
                exitStatus: .usage)
        }
        if options.updateKey != nil && options.containerMap.isEmpty {
            throw UserError("kintone: --update-key upserts into existing apps; add --app-map SRC=DST for each app", exitStatus: .usage)
        }
        summary = ImportSummary(dryRun: dryRun)
        summary.notImported = Self.notImported
        let apps = try readApps(archive)
        for source in options.containerMap.keys where !apps.contains(where: { $0.id == source }) {
            throw UserError("kintone: --app-map names app \(source), which is not in this archive", exitStatus: .usage)
        }
        if connection.tokensOnly, let unmapped = apps.first(where: { options.containerMap[$0.id] == nil }) {
            // POST preview/app.json refuses API tokens: say so before the first write.
            throw UserError(
                "kintone: API tokens cannot create apps, and app \(unmapped.id) (“\(unmapped.name)”) has no --app-map — sign in with"
                    + " \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) to create the apps, or pass --app-map \(unmapped.id)=DST"
                    + " for each archived app to fill existing apps (\(apps.count) in this archive) with their tokens",
                exitStatus: .usage)
        }
        let ordered = Self.dependencyOrder(apps)
        archiveAppIDs = Set(apps.map(\.id))

        progress.beginStage("apps", total: ordered.count)
        var deferred: [String: [String]] = [:]
        for app in ordered {
            if let target = options.containerMap[app.id] {
                appMap[app.id] = target
                deployed.insert(app.id)
                if !dryRun { try journal?.markCreated(kind: "app", [(app.id, target)]) }
            } else {
                deferred[app.id] = try await createApp(app, archive: archive)
            }
            progress.advance(items: 1)
        }
        for app in ordered where !(deferred[app.id] ?? []).isEmpty {
            try await addDeferredFields(app, codes: deferred[app.id]!)
        }

        for app in ordered {
            try await importRecords(of: app, archive: archive)
        }
        for app in ordered {
            try await importComments(of: app, archive: archive)
        }
        progress.finish()
        summary.requests = dryRun ? plannedRequests : await connection.client.requestCounts()
        return summary
    }

    // MARK: Reading

    func readApps(_ archive: SnapshotReader) throws -> [ArchivedApp] {
        var out: [ArchivedApp] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "app" {
            guard let app = try archive.values(at: entry.path).first, let id = app["appId"]?.idString else {
                throw UserError("\(entry.path): an app without an appId cannot be imported")
            }
            let folder = (entry.path as NSString).deletingLastPathComponent
            var settings: [String: JSONValue] = [:]
            for setting in KintoneSchema.settings {
                let path = "\(folder)/\(setting.file).jsonl"
                if archive.hasJSONLines(at: path), let value = try archive.values(at: path).first {
                    settings[setting.file] = value
                }
            }
            out.append(ArchivedApp(id: id, folder: folder, app: app, settings: settings))
        }
        return out.sorted { KintoneSchema.idLess($0.id, $1.id) }
    }

    /// Apps whose lookups point at other archived apps come after them; cycles keep id order.
    static func dependencyOrder(_ apps: [ArchivedApp]) -> [ArchivedApp] {
        let ids = Set(apps.map(\.id))
        var placed: Set<String> = []
        var out: [ArchivedApp] = []
        var rest = apps
        while !rest.isEmpty {
            if let next = rest.firstIndex(where: { app in
                app.dependencies.subtracting([app.id]).allSatisfy { !ids.contains($0) || placed.contains($0) }
            }) {
                placed.insert(rest[next].id)
                out.append(rest.remove(at: next))
            } else {
                placed.insert(rest[0].id)
                out.append(rest.removeFirst())
            }
        }
        return out
    }

    /// The source app a lookup or related-records field points at.
    static func relatedApp(_ field: JSONValue) -> String? {
        field["lookup"]?["relatedApp"]?["app"]?.idString ?? field["referenceTable"]?["relatedApp"]?["app"]?.idString
    }

    // MARK: Sending

    /// Sends a request, or in a dry run only counts it.
    @discardableResult
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        retryable: Bool = true
    ) async throws -> JSONValue? {
        if dryRun {
            plannedRequests["\(method.rawValue) \(path)", default: 0] += 1
            return nil
        }
        return try await connection.call(method, path, query: query, body: body, retryable: retryable)
    }

    /// The Kintone error code (`CB_VA01`, `GAIA_CO02`…) inside a failure's message.
    static func errorCode(_ failure: HTTPFailure) -> String? {
        guard let message = failure.serviceMessage else { return nil }
        let scanned = message.replacingOccurrences(of: "bulkRequest request ", with: "")
        return scanned.split(whereSeparator: { $0 == ":" || $0 == " " }).map(String.init).first { word in
            word.contains("_") && word == word.uppercased() && word.last?.isNumber == true
        }
    }

    func isDone(_ step: String, _ app: String) throws -> Bool {
        guard let journal, !dryRun else { return false }
        return try journal.steps(step).contains(app)
    }

    func markDone(_ step: String, _ app: String) throws {
        guard let journal, !dryRun else { return }
        try journal.markStep(step, sourceIDs: [app])
    }

    /// Runs one journaled step of an app once.
    func step(_ name: String, _ app: String, _ body: () async throws -> Void) async throws {
        if try isDone(name, app) { return }
        try await body()
        try markDone(name, app)
    }

    // MARK: Apps

    /// Creates the app in preview, writes its form and preview settings, deploys it and waits. Returns the codes of
    /// fields left for a second deploy because the app they point at is not deployed yet.
    func createApp(_ app: ArchivedApp, archive: SnapshotReader) async throws -> [String] {
        var target: String
        if let entry = try journal?.entry(kind: "app", sourceID: app.id), entry.state == .created {
            target = entry.targetID
            summary.alreadyPresent["app", default: 0] += 1
        } else {
            var body = JSONObject([("name", .string(String(app.name.prefix(64))))])
            if let space = connection.guestSpaceID {
                // As the SDK's addApp does (kintone/js-sdk AppClient.ts): the target space's default thread, read
                // from space.json — the archived space and thread ids belong to the source domain.
                body["space"] = .string(space)
                body["thread"] = .string(try await guestDefaultThread(space))
            } else if keepsArchivedSpace, let space = app.app["spaceId"]?.idString {
                // A restore goes back into the domain the archive came from: into the app's space, if it is still
                // there, with its default thread as the SDK's addApp sends.
                if let thread = try await defaultThread(ofSpace: space) {
                    body["space"] = .string(space)
                    body["thread"] = .string(thread)
                } else {
                    summary.notImported.append(
                        NotExported(kind: "appSpace", container: app.id, reason: "space \(space) of app \(app.id) is gone, so the app came back outside any space"))
                }
            }
            if let journal, !dryRun {
                // Attempted before it is sent: an answer lost to a crash or a dropped connection is known to the rerun.
                if try journal.entry(kind: "app", sourceID: app.id)?.state == .attempted {
                    summary.notImported.append(
                        NotExported(
                            kind: "appCreation", container: app.id,
                            reason: "an earlier run stopped while Kintone created app \(app.id) (“\(app.name)”) and never read its answer; this run created it again, so an empty, undeployed app of that name may be left in Kintone — delete it if you find one"))
                }
                _ = try journal.plan(kind: "app", [(app.id, "")])
                try journal.markAttempted(kind: "app", sourceIDs: [app.id])
            }
            let answer = try await send(.POST, "preview/app.json", body: .object(body), retryable: false)
            target = answer?["app"]?.idString ?? "dry-run-\(app.id)"
            if !dryRun {
                guard answer?["app"]?.idString != nil else {
                    throw HTTPFailure.invalidBody(service: "kintone", route: "POST preview/app.json", reason: "no app id in the answer")
                }
                try journal?.markCreated(kind: "app", [(app.id, target)])
            }
            summary.created["app", default: 0] += 1
        }
        appMap[app.id] = target
        let deferredCodes = app.fieldProperties.compactMap { code, field -> String? in
            guard let related = Self.relatedApp(field), related == app.id || (appMapsIntoArchive(related) && !deployed.contains(related))
            else { return nil }
            return code
        }
        let deferred = Set(deferredCodes)

        try await step("form-fields", app.id) { try await writeFields(app, target: target, leaving: deferred) }
        if let layout = app.settings[KintoneSchema.formLayout.file] {
            try await step("form-layout", app.id) {
                try await send(
                    .PUT, KintoneSchema.formLayout.writePath!,
                    body: ["app": .string(target), "layout": .array(Self.layout(layout["layout"]?.arrayValue ?? [], without: deferred))])
            }
        }
        // Permissions, admin notes and plug-ins too go through `preview/`: their live paths would deploy the
        // half-written app. Everything is written before the one deploy.
        for setting in KintoneSchema.settings where setting != KintoneSchema.formFields && setting != KintoneSchema.formLayout {
            guard let value = app.settings[setting.file] else { continue }
            try await step(setting.file, app.id) {
                try await writeSetting(setting, value: value, app: app, target: target, archive: archive)
            }
        }
        try await step("deploy", app.id) { try await deploy(target) }
        if deferred.isEmpty { deployed.insert(app.id) }
        return deferredCodes
    }

    /// The default thread of the guest space new apps go into (asked once per import).
    func guestDefaultThread(_ space: String) async throws -> String {
        guard let thread = try await defaultThread(ofSpace: space, missingIsError: true) else {
            throw HTTPFailure.invalidBody(service: "kintone", route: "GET space.json", reason: "no defaultThread in the answer")
        }
        return thread
    }

    /// The default thread of a space (`GET space.json`, asked once per space); nil when the space is gone (404),
    /// unless `missingIsError`.
    func defaultThread(ofSpace space: String, missingIsError: Bool = false) async throws -> String? {
        if let known = defaultThreads[space] { return known }
        if dryRun {
            plannedRequests["GET space.json", default: 0] += 1
            defaultThreads[space] = "dry-run"
            return "dry-run"
        }
        let answer: JSONValue
        do {
            answer = try await connection.call(.GET, "space.json", query: [("id", space)])
        } catch let failure as HTTPFailure where failure.isNotFound && !missingIsError {
            return nil
        }
        guard let thread = answer["defaultThread"]?.idString else {
            throw HTTPFailure.invalidBody(service: "kintone", route: "GET space.json", reason: "no defaultThread in the answer")
        }
        defaultThreads[space] = thread
        return thread
    }

    var defaultThreads: [String: String] = [:]
    /// New apps go into the archived app's space (a restore into the domain the archive came from).
    var keepsArchivedSpace = false

    /// True when `source` is an app of this archive (so its target id comes from this import).
    func appMapsIntoArchive(_ source: String) -> Bool {
        archiveAppIDs.contains(source)
    }

    var archiveAppIDs: Set<String> = []

    /// Renames the built-in fields to the archived codes and labels, then adds the rest (except `leaving`).
    func writeFields(_ app: ArchivedApp, target: String, leaving: Set<String>) async throws {
        var current = JSONObject()
        if !dryRun {
            current = try await connection.call(.GET, "preview/app/form/fields.json", query: [("app", target)])["properties"]?
                .objectValue ?? JSONObject()
        } else {
            plannedRequests["GET preview/app/form/fields.json", default: 0] += 1
        }
        var renames = JSONObject()
        var additions = JSONObject()
        for (code, field) in app.fieldProperties {
            guard let type = field["type"]?.stringValue else { continue }
            if KintoneSchema.builtInFieldTypes.contains(type) {
                guard ["RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME"].contains(type),
                    let (oldCode, old) = current.first(where: { $0.value["type"]?.stringValue == type })
                else { continue }
                if oldCode != code || old["label"] != field["label"] || old["noLabel"] != field["noLabel"] {
                    var change = JSONObject()
                    change["type"] = .string(type)
                    change["code"] = .string(code)
                    if let label = field["label"] { change["label"] = label }
                    if let noLabel = field["noLabel"] { change["noLabel"] = noLabel }
                    renames[oldCode] = .object(change)
                }
                continue
            }
            if leaving.contains(code) || current[code] != nil { continue }
            additions[code] = rewriteAppReferences(field)
        }
        if !renames.isEmpty {
            try await send(.PUT, "preview/app/form/fields.json", body: ["app": .string(target), "properties": .object(renames)])
        }
        if !additions.isEmpty {
            try await send(.POST, "preview/app/form/fields.json", body: ["app": .string(target), "properties": .object(additions)])
        }
    }

    /// Points lookups, related-records tables and actions at the target ids of apps imported in this run.
    func rewriteAppReferences(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(var o):
            for key in o.keys {
                if ["relatedApp", "destApp"].contains(key), var related = o[key]?.objectValue {
                    if let source = related["app"]?.idString, let target = appMap[source] {
                        related["app"] = .string(target)
                        // The code belongs to the source domain; the id alone names the app.
                        related["code"] = nil
                    }
                    o[key] = .object(related)
                } else {
                    o[key] = rewriteAppReferences(o[key]!)
                }
            }
            return .object(o)
        case .array(let a): return .array(a.map(rewriteAppReferences))
        default: return value
        }
    }

    /// A layout without the rows' entries for `codes` (fields added in a later deploy).
    static func layout(_ rows: [JSONValue], without codes: Set<String>) -> [JSONValue] {
        guard !codes.isEmpty else { return rows }
        return rows.compactMap { row in
            var row = row
            if let code = row["code"]?.stringValue, codes.contains(code) { return nil }
            if let fields = row["fields"]?.arrayValue {
                row["fields"] = .array(fields.filter { f in f["code"]?.stringValue.map { !codes.contains($0) } ?? true })
            }
            if let nested = row["layout"]?.arrayValue { row["layout"] = .array(layout(nested, without: codes)) }
            return row
        }
    }

    /// Writes one settings document (minus its revision) with app ids and customisation files rewritten.
    func writeSetting(
        _ setting: KintoneSchema.Setting, value: JSONValue, app: ArchivedApp, target: String, archive: SnapshotReader
    ) async throws {
        guard var object = value.objectValue, let path = setting.writePath else { return }
        object["revision"] = nil
        switch setting {
        case KintoneSchema.generalSettings:
            if object["icon"]?["type"]?.stringValue == "FILE" {
                object["icon"] = nil
                summary.notImported.append(
                    NotExported(kind: "appIcon", container: app.id, reason: "an uploaded app icon is not downloadable through the REST API"))
            }
        case KintoneSchema.views:
            if var views = object["views"]?.objectValue {
                for name in views.keys { views[name]?["id"] = nil }
                object["views"] = .object(views)
            }
        case KintoneSchema.graphs:
            if var reports = object["reports"]?.objectValue {
                for name in reports.keys { reports[name]?["id"] = nil }
                object["reports"] = .object(reports)
            }
        case KintoneSchema.actions:
            if var actions = object["actions"]?.objectValue {
                for name in actions.keys { actions[name]?["id"] = nil }
                object["actions"] = .object(actions)
            }
        case KintoneSchema.customization:
            object = try await uploadCustomizationFiles(object, app: app, archive: archive)
        case KintoneSchema.plugins:
            let ids = (object["plugins"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            guard !ids.isEmpty else { return }
            object = JSONObject([("ids", .array(ids.map(JSONValue.string)))])
        default: break
        }
        var body = JSONObject()
        body["app"] = .string(target)
        for (k, v) in object { body[k] = rewriteAppReferences(v) }
        do {
            try await send(setting == KintoneSchema.plugins ? .POST : .PUT, path, body: .object(body))
        } catch let failure as HTTPFailure where Self.isSettingRefusal(failure, setting) {
            // Users, groups or plug-ins of the source domain may not exist here; the rest of the app still comes.
            summary.notImported.append(
                NotExported(
                    kind: setting.file, container: app.id,
                    reason: "the target refused \(setting.file) (\(failure.serviceMessage ?? failure.description)); set it by hand"))
        }
    }

    /// Permissions, notifications, plug-ins and notes can name things the target lacks; those refusals are reported, not fatal.
    static func isSettingRefusal(_ failure: HTTPFailure, _ setting: KintoneSchema.Setting) -> Bool {
        guard case .clientError = failure else { return false }
        return ![KintoneSchema.formFields, KintoneSchema.formLayout].contains(setting)
    }

    /// `type: FILE` customisation entries get a fresh upload of the archived file.
    func uploadCustomizationFiles(_ object: JSONObject, app: ArchivedApp, archive: SnapshotReader) async throws -> JSONObject {
        var out = object
        for platform in ["desktop", "mobile"] {
            guard var section = out[platform]?.objectValue else { continue }
            for kind in ["js", "css"] {
                guard var list = section[kind]?.arrayValue else { continue }
                for i in list.indices where list[i]["type"]?.stringValue == "FILE" {
                    let file = list[i]["file"] ?? .null
                    guard let digest = file["sha256"]?.stringValue else { continue }
                    let key = try await uploadedFileKey(
                        journalKey: "customize/\(app.id)/\(platform)/\(kind)/\(i)/\(digest)", file: file, archive: archive)
                    list[i]["file"] = ["fileKey": .string(key)]
                }
                section[kind] = .array(list)
            }
            out[platform] = .object(section)
        }
        return out
    }

    /// `POST preview/app/deploy.json`, then polls `GET preview/app/deploy.json` with backoff until it settles.
    func deploy(_ target: String) async throws {
        // Deploying the same preview twice is harmless, so a failed attempt may simply be repeated.
        do {
            try await send(.POST, "preview/app/deploy.json", body: ["apps": [["app": .string(target)]]])
        } catch let failure as HTTPFailure where Self.errorCode(failure) == "GAIA_DA02" {
            // A deploy is still running — one a killed run started just before it died. Let it settle, then deploy
            // again, so whatever that run wrote after its deploy request is deployed too.
            try await waitForDeploy(target)
            try await send(.POST, "preview/app/deploy.json", body: ["apps": [["app": .string(target)]]])
        }
        if dryRun {
            plannedRequests["GET preview/app/deploy.json", default: 0] += 1
            return
        }
        try await waitForDeploy(target)
    }

    /// Polls `GET preview/app/deploy.json` with backoff until the app's deploy settles.
    func waitForDeploy(_ target: String) async throws {
        var delay = Duration.milliseconds(50)
        let deadline = ContinuousClock.now + .seconds(600)
        while true {
            let answer = try await connection.call(.GET, "preview/app/deploy.json", query: [("apps[0]", target)])
            let status = answer["apps"]?.arrayValue?.first { $0["app"]?.idString == target }?["status"]?.stringValue
            switch status {
            case "SUCCESS": return
            case "PROCESSING", nil: break
            default:
                throw UserError("kintone: deploying app \(target) ended with \(status ?? "?") — open the app's settings in Kintone, fix what it reports, and run the import again")
            }
            if ContinuousClock.now > deadline {
                throw UserError("kintone: app \(target) was still deploying after 10 minutes — run the import again later; it continues where it stopped")
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// Fields that pointed at apps not yet deployed: added now, with the full layout, and deployed again.
    func addDeferredFields(_ app: ArchivedApp, codes: [String]) async throws {
        guard let target = appMap[app.id] else { return }
        try await step("deferred-fields", app.id) {
            var additions = JSONObject()
            for code in codes { if let field = app.fieldProperties[code] { additions[code] = rewriteAppReferences(field) } }
            try await send(.POST, "preview/app/form/fields.json", body: ["app": .string(target), "properties": .object(additions)])
            if let layout = app.settings[KintoneSchema.formLayout.file] {
                try await send(.PUT, KintoneSchema.formLayout.writePath!, body: ["app": .string(target), "layout": layout["layout"] ?? .array([])])
            }
            try await deploy(target)
        }
        deployed.insert(app.id)
    }

}
