import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Kona's part of `kitbag restore`. Kona assigns ids itself, so what is gone comes back under new ids through the
/// importer's creates (journaled archived id → new id, settled by marker after an unknown outcome), with every
/// reference to it — a comment's `resource_id`, an item's `space_id` — pointing at the new entity; what still exists
/// keeps its id. `PUT` is a partial update for spaces, tasks and calendar events, and `DELETE` answers 204 for those
/// and conversations (KonaTeam/kona-api `sections/responses.md`, `sections/spaces.md`, `sections/tasks.md`,
/// `sections/calendar_events.md`, `sections/conversations.md`, commit 995e42935e5a62b3ca06a2bc07706d130771f78f).
/// Conversations have no update route and comments neither update nor delete: those are refused with the reason.
/// Kona has no optimistic lock: a revert reads the entity again just before its `PUT` and leaves it alone when it
/// moved since the plan, but an edit between that read and the write is overwritten.
extension KonaConnection: RestoreTarget {
    public var liveRules: LiveRules { KonaRestore.rules }

    public func restoreRefusal(kind: String, action: RestoreAction) -> String? {
        KonaRestore.refusal(kind: kind, action: action)
    }

    /// When the scope names items (tasks, conversations, calendar events) and nothing else, a copy that reads the
    /// comments of those items only (their archived ids and the ids an earlier restore gave them): the restore brings
    /// a recreated item's comments from the archive, and the rest of the space's comments are outside the scope.
    public func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> KonaConnection {
        let itemKinds: Set<String> = ["conversation", "task", "calendarEvent"]
        guard !scope.only.isEmpty, scope.containers.isEmpty, (scope.match ?? "").isEmpty,
            scope.only.allSatisfy({ itemKinds.contains($0.kind) })
        else { return self }
        var reader = self
        reader.commentItems = Set(scope.only.flatMap { [$0.id] + [restored.forward[$0.kind]?[$0.id]].compactMap { $0 } })
        return reader
    }

    public func applyRestore(
        _ plan: RestorePlan, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs, journal: ImportJournal?,
        dryRun: Bool, progress: ProgressReporter
    ) async throws -> RestoreOutcome {
        let restorer = KonaRestore(
            connection: self, archive: archive, live: live, restored: restored, journal: journal, dryRun: dryRun, progress: progress)
        return try await restorer.run(plan)
    }
}

final class KonaRestore {
    static let kinds: Set<String> = ["space", "conversation", "task", "calendarEvent", "comment"]

    /// Keys compared nowhere: the server's own (links, stamps, derived flags and numbers).
    static let ignoredKeys: Set<String> = [
        "href", "updated_at", "picture_thumb", "account_id", "space_type", "template", "published", "series_id",
        "num_in_series", "ics_feed_id", "completed_at", "completed_by_id", "group_complete",
    ]

    /// What Kona sets on an entity created again: its creator (the restoring user), its creation time, and — for a
    /// space — its people (kitbag invites nobody; items of a new space keep only the restoring user).
    static let notRestorable: [String: Set<String>] = [
        "space": ["created_at", "creator_id"],
        "conversation": ["created_at", "creator_id", "participants", "groups"],
        "task": ["created_at", "creator_id", "participants"],
        "calendarEvent": ["created_at", "creator_id", "participants"],
        "comment": ["created_at", "creator_id"],
    ]

    static let rules = LiveRules(
        ignoredKeys: ignoredKeys, containerKind: "space", kinds: kinds,
        normalize: { kind, value, _ in
            // A space's people (who accepted an invitation when) are not content, and kitbag never invites.
            guard kind == "space", var o = value.objectValue else { return value }
            o["participants"] = nil
            return .object(o)
        },
        journalKinds: ["space", "conversation", "task", "calendarEvent", "comment"], notRestorableKeys: notRestorable,
        translate: { kind, value, ids in translate(kind, value, ids) })

    /// A live entity with the ids the restore gave it turned back into archived ids: its own, its space's, and a
    /// comment's item.
    static func translate(_ kind: String, _ value: JSONValue, _ ids: RoundTripIDs) -> JSONValue {
        guard var o = value.objectValue else { return value }
        func back(_ kind: String, _ key: String) {
            guard let id = o[key]?.idString, let archived = ids.back[kind]?[id] else { return }
            o[key] = KonaImporter.idValue(archived)
        }
        back(kind, "id")
        if kind != "space" { back("space", "space_id") }
        if kind == "comment", let item = KonaSchema.kind(commentType: o["resource_type"]?.stringValue ?? "") {
            back(item, "resource_id")
        }
        return .object(o)
    }

    static func refusal(kind: String, action: RestoreAction) -> String? {
        switch (kind, action) {
        case (_, .undelete):
            return "Kona has no trash to take a \(kind) out of"
        case ("space", _), ("task", _), ("calendarEvent", _), ("conversation", .recreate), ("conversation", .remove),
            ("comment", .recreate):
            return nil
        case ("conversation", .revert):
            return "Kona documents no route to change a conversation (create, read and delete only); it is left as it is"
        case ("comment", .revert):
            return "Kona documents no route to change a comment; it is left as it is"
        case ("comment", .remove):
            return "Kona documents no route to delete a comment; remove it in Kona if it should go"
        default:
            return "restoring a \(kind) is not supported"
        }
    }

    /// API path of each kind's resource.
    static func path(_ kind: String) -> String? {
        kind == "space" ? "spaces" : KonaSchema.itemKinds.first { $0.kind == kind }?.path
    }

    let connection: KonaConnection
    let archive: SnapshotReader
    let live: SnapshotReader
    /// Archived id → live id of what earlier runs of this restore created (from its journal).
    let restored: RoundTripIDs
    let journal: ImportJournal?
    let dryRun: Bool
    let importer: KonaImporter
    private var done: [String: Int] = [:]
    private var counted: [String: Int] = [:]
    private var leftAlone: [RestoreSkip] = []
    private var notRestored: [NotExported] = []
    /// Live entities by kind and live id.
    private var liveValues: [String: [String: JSONValue]] = [:]

    init(
        connection: KonaConnection, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs,
        journal: ImportJournal?, dryRun: Bool, progress: ProgressReporter
    ) {
        self.connection = connection
        self.archive = archive
        self.live = live
        self.restored = restored
        self.journal = journal
        self.dryRun = dryRun
        importer = KonaImporter(connection: connection, journal: journal, progress: progress, options: ImportOptions(dryRun: dryRun))
    }

    func run(_ plan: RestorePlan) async throws -> RestoreOutcome {
        let before = await connection.client.requestCounts()
        try readLive()
        try await seedIDs(plan)
        let me = archive.info.source.account.id
        let spaces = Dictionary(try importer.readSpaces(archive).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func steps(_ action: RestoreAction, _ kind: String? = nil) -> [RestoreStep] {
            plan.steps.filter { $0.action == action && (kind == nil || $0.kind == kind) }
        }
        try await explainingPermission {
            // Spaces that are gone, with everything in them: created again, then filled as an import fills a space.
            let recreated = steps(.recreate, "space").compactMap { spaces[$0.id] }
            if !recreated.isEmpty {
                importer.users = [me: KonaImporter.idValue(me)]
                try await importer.createSpaces(recreated.map { ($0.id, importer.spaceBody($0.meta)) })
                for space in recreated { try await importer.importContents(of: space, archive: archive) }
                note("space.participants", "a space created again has only you as its participant: kitbag invites nobody (an invitation emails them), so its conversations, tasks and events keep only you among their participants")
            }

            // Items and comments gone from spaces that are still there: a comment of an item created again goes
            // with it, oldest first, pointing at the new item; others keep pointing at what is there.
            let items = plan.steps.filter { $0.action == .recreate && $0.kind != "space" }
            for container in Set(items.compactMap(\.container)).sorted(by: KonaSchema.idOrder) {
                guard let space = spaces[container], let liveSpace = importer.ids["space"]?[container] else { continue }
                let people = (liveValues["space"]?[liveSpace]?["participants"]?.arrayValue ?? []).compactMap { $0["user_id"] }
                importer.users = Dictionary(people.compactMap { p in p.idString.map { ($0, p) } }, uniquingKeysWith: { a, _ in a })
                importer.users[me] = KonaImporter.idValue(me)
                var wanted = Set(items.filter { $0.container == container }.map { "\($0.kind)/\($0.id)" })
                // An item's comments went with it (Kona deletes them with it): they come back with it, whatever the
                // selection named.
                for comment in try importer.values(archive, space, file: "comments") {
                    guard let type = comment["resource_type"]?.stringValue, let kind = KonaSchema.kind(commentType: type),
                        let item = comment["resource_id"]?.idString, wanted.contains("\(kind)/\(item)"),
                        let id = comment["id"]?.idString
                    else { continue }
                    wanted.insert("comment/\(id)")
                }
                try await importer.importContents(of: space, archive: archive, only: wanted)
                if wanted.contains(where: { $0.hasPrefix("comment/") }) {
                    note("comment.order", "Kona lists comments newest first by the time it sets: a comment put back on an item that kept later comments comes after them")
                }
            }
            for (kind, n) in importer.summary.created { done["recreate \(kind)", default: 0] += n }
            if importer.summary.created.values.contains(where: { $0 > 0 }) {
                note("timestamp", "created_at, updated_at and creator_id are set by Kona: what came back carries the time of the restore and you as its creator (due, start and end dates are kept)")
            }
            for n in importer.summary.notImported where !KonaImporter.baseNotImported.contains(n) { notRestored.append(n) }

            try await revert(steps(.revert))
            try await remove(steps(.remove))
        }

        // Write requests only: the reads (a revert's fresh look, a create settled by listing) count with the comparison's.
        let requests: [String: Int]
        if dryRun {
            requests = importer.plannedRequests.merging(counted, uniquingKeysWith: +)
        } else {
            requests = RestoreJobs.requests(await connection.client.requestCounts(), since: before).filter { !$0.key.hasPrefix("GET ") }
        }
        return RestoreOutcome(requests: requests, done: done, leftAlone: leftAlone, notRestored: notRestored)
    }

    private func note(_ kind: String, _ reason: String) {
        guard !notRestored.contains(where: { $0.kind == kind }) else { return }
        notRestored.append(NotExported(kind: kind, reason: reason))
    }

    /// The live export's entities, by kind and id.
    private func readLive() throws {
        for entry in live.jsonLinesEntries() where Self.kinds.contains(entry.kind ?? "") {
            guard (entry.path as NSString).deletingLastPathComponent != ContainerRef.account.archiveFolder else { continue }
            for v in try live.values(at: entry.path) {
                if let id = v["id"]?.idString { liveValues[entry.kind!, default: [:]][id] = v }
            }
        }
    }

    /// What exists keeps its id; what an earlier run created is found under the id its journal recorded. Such an
    /// entity that the plan says is gone, and that is not in the live export, is asked for by id (it may be outside
    /// the part read): when Kona answers 404 it was deleted again, and its journal entry is forgotten so that it is
    /// created once more.
    private func seedIDs(_ plan: RestorePlan) async throws {
        // Only what the archive holds too: an entity added since is no archived entity's copy (a rerun may claim it).
        let archived = try archivedIDs(plan)
        for (kind, values) in liveValues {
            for id in values.keys where archived.contains("\(kind)/\(id)") { importer.ids[kind, default: [:]][id] = id }
        }
        for kind in Self.kinds {
            let gone = Set(plan.steps.filter { $0.action == .recreate && $0.kind == kind }.map(\.id))
            var stale: [String] = []
            for (archived, liveID) in restored.forward[kind] ?? [:] {
                if gone.contains(archived), liveValues[kind]?[liveID] == nil, !(try await exists(kind, liveID)) {
                    stale.append(archived)
                } else {
                    importer.ids[kind, default: [:]][archived] = liveID
                }
            }
            if let journal, !stale.isEmpty, !dryRun { try journal.forget(kind: kind, sourceIDs: stale) }
        }
    }

    /// `kind/id` of every entity the archive holds in the spaces the live export read or the plan writes into.
    private func archivedIDs(_ plan: RestorePlan) throws -> Set<String> {
        var containers = Set(plan.steps.map { $0.container ?? $0.id })
        for id in (liveValues["space"] ?? [:]).keys { containers.insert(restored.back["space"]?[id] ?? id) }
        let folders = Set(containers.map { KonaSchema.container(space: $0).archiveFolder })
        var out: Set<String> = []
        for entry in archive.jsonLinesEntries() where Self.kinds.contains(entry.kind ?? "") {
            guard folders.contains((entry.path as NSString).deletingLastPathComponent) else { continue }
            for v in try archive.values(at: entry.path) {
                if let id = v["id"]?.idString { out.insert("\(entry.kind!)/\(id)") }
            }
        }
        return out
    }

    /// Whether Kona still has the entity (`GET /PATH/:id`; 404 when it does not).
    private func exists(_ kind: String, _ id: String) async throws -> Bool {
        guard let path = Self.path(kind) else { return false }
        do {
            _ = try await connection.client.send(APIRequest(method: .GET, path: "/\(path)/\(id.urlPathEscaped)", route: "GET /\(path)/:id"))
            return true
        } catch let failure as HTTPFailure where failure.isNotFound {
            return false
        }
    }

    /// The archived object of one entity.
    private func archived(_ step: RestoreStep) throws -> JSONValue? {
        let container = step.container ?? step.id
        let folder = KonaSchema.container(space: container).archiveFolder
        let file = step.kind == "space" ? "space" : KonaSchema.itemKinds.first { $0.kind == step.kind }?.file ?? step.kind
        let path = "\(folder)/\(file).jsonl"
        guard archive.hasJSONLines(at: path) else { return nil }
        return try archive.values(at: path).first { $0["id"]?.idString == step.id }
    }

    /// Changed fields back to the archived values (`PUT`, partial), each entity read again first: one that moved
    /// since the plan is left alone. Fields Kona does not let a client set are reported.
    private func revert(_ steps: [RestoreStep]) async throws {
        for step in steps {
            guard let path = Self.path(step.kind), let old = try archived(step),
                let liveID = importer.ids[step.kind]?[step.id], let planned = liveValues[step.kind]?[liveID]
            else { continue }
            let targetSpace = step.kind == "space" ? liveID : (planned["space_id"]?.idString ?? "")
            let full = step.kind == "space" ? importer.spaceBody(old) : importer.itemBody(old, kind: step.kind, targetSpace: targetSpace)
            var body = JSONObject()
            var unset: [String] = []
            for field in step.fields ?? [] {
                if field == "participants" && step.kind != "space" {
                    body["participant_ids"] = full["participant_ids"] ?? .array([])
                    body["editor_ids"] = full["editor_ids"] ?? .array([])
                } else if let v = full[field] {
                    body[field] = v
                } else if (step.kind == "space" ? KonaImporter.spaceKeys : KonaImporter.itemKeys[step.kind] ?? []).contains(field) {
                    body[field] = .null
                } else {
                    unset.append(field)
                }
            }
            for field in unset {
                notRestored.append(
                    NotExported(
                        kind: "\(step.kind).\(field)", container: step.id,
                        reason: "Kona does not let a client set \(field) (read-only or set by the server); it stays as it is"))
            }
            guard !body.isEmpty else { continue }
            let route = "\(path)/:id"
            if dryRun {
                counted["PUT /\(route)", default: 0] += 1
                done["revert \(step.kind)", default: 0] += 1
                continue
            }
            // The one entity read again: an edit since the plan is not overwritten.
            let query: [(String, String)] = step.kind == "conversation" || step.kind == "comment" ? [] : [("include", "participants")]
            let now = try await connection.client.json(
                APIRequest(method: .GET, path: "/\(path)/\(liveID.urlPathEscaped)", query: query, route: "GET /\(route)"))
            if let current = now[path]?.arrayValue?.first,
                !LiveComparison.changedFields(Self.rules.normalize?(step.kind, planned, []) ?? planned,
                    Self.rules.normalize?(step.kind, current, []) ?? current, rules: Self.rules).isEmpty
            {
                leftAlone.append(
                    RestoreSkip(
                        entry: LiveDiff.Entry(kind: step.kind, container: step.container, id: step.id, title: step.title, change: .changed, fields: step.fields),
                        reason: "edited in Kona after the plan was made; left as it is now (run the restore again to compare afresh)"))
                continue
            }
            _ = try await connection.client.send(
                APIRequest(method: .PUT, path: "/\(path)/\(liveID.urlPathEscaped)", body: .object(JSONObject([(path, .array([.object(body)]))])), route: "PUT /\(route)"))
            try journal?.markStep("revert-\(step.kind)", sourceIDs: [step.id])
            done["revert \(step.kind)", default: 0] += 1
        }
    }

    /// What was added since the snapshot, only when asked: deleted (Kona has no trash; a space takes its contents).
    private func remove(_ steps: [RestoreStep]) async throws {
        for step in steps {
            guard let path = Self.path(step.kind) else { continue }
            let route = "DELETE /\(path)/:id"
            if dryRun {
                counted[route, default: 0] += 1
            } else {
                do {
                    _ = try await connection.client.send(
                        APIRequest(method: .DELETE, path: "/\(path)/\(step.id.urlPathEscaped)", route: route))
                } catch let failure as HTTPFailure where failure.isNotFound {
                    // Gone already (a rerun, or deleted with its space): nothing to do.
                }
                try journal?.markStep("remove-\(step.kind)", sourceIDs: [step.id])
            }
            done["remove \(step.kind)", default: 0] += 1
        }
    }

    /// A 403 on a write says which permission the token's user lacks, in one line.
    private func explainingPermission(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as HTTPFailure {
            guard case .forbidden(_, let route, _, let message) = failure else { throw failure }
            let what =
                route.hasPrefix("DELETE") ? "delete there" : route.hasPrefix("PUT") ? "change it" : "create there"
            throw UserError(
                "kona: \(route) answered 403 Forbidden\(message.map { " (\($0))" } ?? "") — the token's user may not \(what); restore with the token of the space's owner (Kona lets only a space's owner change or delete it, and only an item's creator or the space's owner delete the item)")
        }
    }
}
