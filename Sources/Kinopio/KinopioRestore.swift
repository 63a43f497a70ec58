import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Kinopio's part of `kitbag restore`: Kinopio keeps the ids a client sends, so what is gone comes back with its
/// original id (a whole space through the importer's space creation, items through the batch create routes); what
/// is in the trash comes back through the restore routes (kinopio-client src/data/apiDocs.md "Spaces" and "Cards",
/// `PATCH /space/restore/:spaceId` and `PATCH /card/restore`; src/stores/useApiStore.js `restoreRemovedSpace` sends
/// no body, src/stores/useCardStore.js `restoreRemovedCard` sends the card; commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
extension KinopioConnection: RestoreTarget {
    public var liveRules: LiveRules { KinopioRestore.rules }

    public func restoreRefusal(kind: String, action: RestoreAction) -> String? {
        KinopioRestore.refusal(kind: kind, action: action)
    }

    public func applyRestore(
        _ plan: RestorePlan, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs, journal: ImportJournal?,
        dryRun: Bool, progress: ProgressReporter
    ) async throws -> RestoreOutcome {
        // Kinopio keeps the ids a client sends, so `restored` is always empty: what comes back has its archived id.
        let restorer = KinopioRestore(connection: self, archive: archive, live: live, journal: journal, dryRun: dryRun, progress: progress)
        return try await explainingScope("a restore", needs: "edit") {
            try await restorer.run(plan)
        }
    }
}

final class KinopioRestore {
    /// Kinds compared: the content of a space. Space users and collaborators are people, not content; connection
    /// types are legacy (folded into connections); drawing strokes have no ids.
    static let rules = LiveRules(
        ignoredKeys: [
            "updatedAt", "createdAt", "editedAt", "editedByUserId", "visits", "updateHash", "cacheDate", "url",
            "previewImage", "previewThumbnailImage", "previewImagePrivate", "previewThumbnailImagePrivate",
            "nameUpdatedAt", "nameUpdatedByUserId", "isCreatedThroughPublicApi", "shouldUpdateUrlPreview",
            "removedByUserId", "userId", "ownerUserId", "isHidden", "isFavorite", "user",
        ],
        removedKinds: ["removedCard": "card"], removedFlag: "isRemoved", containerKind: "space",
        kinds: ["space", "card", "box", "connection", "list", "line", "tag"], normalizeContext: "connectionTypes",
        normalize: { kind, value, types in
            // A connection is compared in the shape the current API writes (a legacy type's name and colour folded
            // in, item-id ends): that is how a restore can put it back.
            kind == "connection" ? KinopioSchema.currentConnection(value, types: types) : value
        })

    static func refusal(kind: String, action: RestoreAction) -> String? {
        switch (kind, action) {
        case ("space", _), ("card", _): return nil
        case ("box", .recreate), ("connection", .recreate), ("list", .recreate): return nil
        case ("box", .revert), ("connection", .revert), ("list", .revert): return nil
        case (_, .remove) where ["box", "connection", "list"].contains(kind):
            return "Kinopio has no trash for a \(kind); kitbag does not delete it for good — remove it in Kinopio if it should go"
        case ("tag", _):
            return "tags follow their card's name: they come back with their card (or with its name under --revert)"
        case ("line", _):
            return "no public route creates or changes a line on its own; lines come back with their whole space"
        default:
            return "restoring a \(kind) is not supported"
        }
    }

    let connection: KinopioConnection
    let archive: SnapshotReader
    let live: SnapshotReader
    let journal: ImportJournal?
    let dryRun: Bool
    let importer: KinopioImporter
    private var done: [String: Int] = [:]
    private var leftAlone: [RestoreSkip] = []

    init(
        connection: KinopioConnection, archive: SnapshotReader, live: SnapshotReader, journal: ImportJournal?, dryRun: Bool,
        progress: ProgressReporter
    ) {
        self.connection = connection
        self.archive = archive
        self.live = live
        self.journal = journal
        self.dryRun = dryRun
        importer = KinopioImporter(connection: connection, journal: nil, progress: progress, dryRun: dryRun)
        importer.keepIDs = true
    }

    func run(_ plan: RestorePlan) async throws -> RestoreOutcome {
        let before = await connection.client.requestCounts()
        let spaces = Dictionary(try importer.readSpaces(archive).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func steps(_ action: RestoreAction, _ kind: String) -> [RestoreStep] {
            plan.steps.filter { $0.action == action && $0.kind == kind }
        }

        // Spaces in the trash first: their contents come back with them.
        for step in steps(.undelete, "space") {
            try await write("undelete", "space", [step.id]) {
                _ = try await importer.send(
                    APIRequest(method: .PATCH, path: "/space/restore/\(step.id.urlPathEscaped)", route: "PATCH /space/restore/:spaceId"))
            }
        }

        // Spaces that are gone, with everything in them, under their own ids.
        let recreated = steps(.recreate, "space").compactMap { spaces[$0.id] }
        if !recreated.isEmpty {
            try await write("recreate", "space", recreated.map(\.id)) {
                try await importer.createSpaces(recreated, archive: archive)
                for space in recreated { try await importer.importContents(of: space, archive: archive) }
            }
        }

        // Items gone from spaces that are still there, container by container.
        let items = plan.steps.filter { $0.action == .recreate && $0.kind != "space" }
        for container in Set(items.compactMap(\.container)).sorted() {
            guard let space = spaces[container] else { continue }
            let wanted = Set(items.filter { $0.container == container }.map { "\($0.kind)/\($0.id)" })
            func archived(_ file: String, _ kind: String) throws -> [JSONValue] {
                try importer.values(archive, space, file: file).filter { wanted.contains("\(kind)/\($0["id"]?.idString ?? "")") }
            }
            let lists = try archived("lists", "list")
            if !lists.isEmpty {
                try await write("recreate", "list", lists.compactMap { $0["id"]?.idString }) {
                    _ = try await importer.createLists(lists, space: space)
                }
            }
            let cards = try archived("cards", "card")
            if !cards.isEmpty {
                let ids = Set(cards.compactMap { $0["id"]?.idString })
                let tags = try importer.values(archive, space, file: "tags").filter { ids.contains($0["cardId"]?.idString ?? "") }
                try await write("recreate", "card", ids.sorted()) {
                    try await importer.createCards(cards, tags: tags, space: space, listsCreated: true)
                }
            }
            let boxes = try archived("boxes", "box")
            if !boxes.isEmpty {
                try await write("recreate", "box", boxes.compactMap { $0["id"]?.idString }) {
                    try await importer.createBatched(
                        kind: "box", values: boxes, space: space, path: "/box/multiple", route: "POST /box/multiple",
                        fallback: (path: "/box", route: "POST /box", onePerRequest: true)) { _ in [] }
                }
            }
            let types = try importer.values(archive, space, file: "connectionTypes")
            let connections = try archived("connections", "connection").map { KinopioSchema.currentConnection($0, types: types) }
            if !connections.isEmpty {
                try await write("recreate", "connection", connections.compactMap { $0["id"]?.idString }) {
                    try await importer.createBatched(
                        kind: "connection", values: connections, space: space, path: "/connection/multiple",
                        route: "POST /connection/multiple",
                        fallback: (path: "/connection", route: "POST /connection", onePerRequest: false)) { _ in [] }
                }
            }
        }

        // Cards in the trash: the card as the trash lists it, taken out (as the client's restoreRemovedCard sends it).
        let trashed = steps(.undelete, "card")
        if !trashed.isEmpty {
            let inTrash = try liveValues(kind: "removedCard")
            for step in trashed {
                var card = inTrash[step.id]?.objectValue ?? JSONObject([("id", .string(step.id))])
                card["isRemoved"] = false
                for key in KinopioSchema.secretKeys { card[key] = nil }
                try await write("undelete", "card", [step.id]) {
                    _ = try await importer.send(
                        APIRequest(method: .PATCH, path: "/card/restore", body: .object(card), route: "PATCH /card/restore"))
                }
            }
        }

        // Changed fields back to the archived values.
        let reverts = plan.steps.filter { $0.action == .revert }
        if !reverts.isEmpty {
            let archivedValues = try archivedEntities(for: reverts)
            // Kinopio has no optimistic lock: each space with something to set back is read again just before the
            // writes, and what was edited (or removed) since the plan's read is left as it is now.
            let spaceIDs = Set(reverts.map { $0.kind == "space" ? $0.id : $0.container ?? $0.id })
            let planned = dryRun ? [:] : try entities(inLiveSpaces: spaceIDs)
            let now = dryRun ? nil : try await currentEntities(inSpaces: spaceIDs)
            for (kind, path) in [("card", "/card/multiple"), ("space", "/space"), ("box", "/box"), ("connection", "/connection"), ("list", "/list")] {
                let bodies: [(String, JSONValue)] = reverts.filter { $0.kind == kind }.compactMap { step in
                    guard let old = archivedValues["\(kind)/\(step.id)"] else { return nil }
                    if let now, let reason = Self.editedSincePlan(planned["\(kind)/\(step.id)"], now["\(kind)/\(step.id)"]) {
                        leftAlone.append(
                            RestoreSkip(
                                entry: LiveDiff.Entry(
                                    kind: kind, container: step.container, id: step.id, title: step.title, change: .changed,
                                    fields: step.fields),
                                reason: reason))
                        return nil
                    }
                    var o = JSONObject([("id", .string(step.id))])
                    for field in step.fields ?? [] { o[field] = old[field] ?? .null }
                    return (step.id, .object(o))
                }
                for chunk in bodies.chunked(importer.batchSize) {
                    try await write("revert", kind, chunk.map(\.0)) {
                        _ = try await importer.send(
                            APIRequest(method: .PATCH, path: path, body: .array(chunk.map(\.1)), route: "PATCH \(path)"))
                    }
                }
            }
        }

        // Added since the snapshot, only when asked: into Kinopio's trash, from where the app can restore them.
        for kind in ["card", "space"] {
            for chunk in steps(.remove, kind).map(\.id).chunked(importer.batchSize) {
                try await write("remove", kind, Array(chunk)) {
                    _ = try await importer.send(
                        APIRequest(
                            method: .DELETE, path: "/\(kind)", body: .array(chunk.map { JSONValue.object(JSONObject([("id", .string($0))])) }),
                            route: "DELETE /\(kind)"))
                }
            }
        }

        let requests: [String: Int]
        if dryRun {
            requests = importer.plannedRequests
        } else {
            // Write requests only: a revert's fresh look at its spaces counts with the comparison's reads.
            requests = RestoreJobs.requests(await connection.client.requestCounts(), since: before).filter { !$0.key.hasPrefix("GET ") }
        }
        return RestoreOutcome(requests: requests, done: done, leftAlone: leftAlone)
    }

    /// Why an entity the plan read as `planned` is not set back now that it reads `now`: gone, or edited since.
    static func editedSincePlan(_ planned: JSONValue?, _ now: JSONValue?) -> String? {
        guard let now else {
            return "removed in Kinopio after the plan was made; left as it is now (run the restore again to compare afresh)"
        }
        guard let planned, LiveComparison.changedFields(planned, now, rules: rules).isEmpty else {
            return "edited in Kinopio after the plan was made; left as it is now (run the restore again to compare afresh)"
        }
        return nil
    }

    /// The spaces' entities the plan compared, from the live read, keyed `kind/id` (connections in the current
    /// shape).
    private func entities(inLiveSpaces ids: Set<String>) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for id in ids {
            var byKind: [String: [JSONValue]] = [:]
            for entry in live.jsonLinesEntries(in: KinopioSchema.container(space: id)) {
                byKind[entry.kind ?? "", default: []] += try live.values(at: entry.path)
            }
            Self.key(byKind, into: &out)
        }
        return out
    }

    /// The spaces as Kinopio answers now (one `GET /space/:spaceId` each), keyed `kind/id` as the archive splits
    /// them; a space that is gone contributes nothing.
    private func currentEntities(inSpaces ids: Set<String>) async throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for id in ids.sorted() {
            let raw: JSONValue
            do {
                raw = try await connection.client.json(
                    APIRequest(method: .GET, path: "/space/\(id.urlPathEscaped)", route: "GET /space/:spaceId"))
            } catch let failure as HTTPFailure where failure.isNotFound {
                continue
            }
            guard let parts = KinopioSchema.spaceParts(raw) else { continue }
            var byKind: [String: [JSONValue]] = ["space": [.object(parts.meta)]]
            for a in parts.arrays { byKind[a.kind, default: []] += a.values }
            Self.key(byKind, into: &out)
        }
        return out
    }

    /// Entities of the kinds a revert writes, keyed `kind/id`; connections folded into the current shape with their
    /// space's legacy connection types, as the comparison does.
    private static func key(_ byKind: [String: [JSONValue]], into out: inout [String: JSONValue]) {
        let types = byKind["connectionType"] ?? []
        for kind in ["space", "card", "box", "connection", "list"] {
            for v in byKind[kind] ?? [] {
                guard let id = v["id"]?.idString else { continue }
                out["\(kind)/\(id)"] = rules.normalize?(kind, v, types) ?? v
            }
        }
    }

    /// Runs the writes of one step for `ids`, journaled: planned and marked sent before, marked done after (a
    /// recreated entity in the id map under its own id, every other action as a step `ACTION-KIND`).
    private func write(_ action: String, _ kind: String, _ ids: [String], _ body: () async throws -> Void) async throws {
        if let journal, !dryRun, action == "recreate" {
            try journal.plan(kind: kind, ids.map { ($0, $0) })
            try journal.markAttempted(kind: kind, sourceIDs: ids)
        }
        try await body()
        done["\(action) \(kind)", default: 0] += ids.count
        guard let journal, !dryRun else { return }
        if action == "recreate" {
            try journal.markCreated(kind: kind, ids.map { ($0, $0) })
        } else {
            try journal.markStep("\(action)-\(kind)", sourceIDs: ids)
        }
    }

    /// Entities of one archived kind in the live export, by id.
    private func liveValues(kind: String) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for entry in live.jsonLinesEntries() where entry.kind == kind {
            for v in try live.values(at: entry.path) { if let id = v["id"]?.idString { out[id] = v } }
        }
        return out
    }

    /// The archived objects the revert steps need, keyed `kind/id` (a container's files only).
    private func archivedEntities(for steps: [RestoreStep]) throws -> [String: JSONObject] {
        let wanted = Set(steps.map { "\($0.kind)/\($0.id)" })
        let folders = Set(steps.map { KinopioSchema.container(space: $0.container ?? $0.id).archiveFolder })
        var out: [String: JSONObject] = [:]
        for entry in archive.jsonLinesEntries() where folders.contains((entry.path as NSString).deletingLastPathComponent) {
            let kind = Self.rules.removedKinds[entry.kind ?? ""] ?? entry.kind ?? ""
            for v in try archive.values(at: entry.path) {
                let key = "\(kind)/\(v["id"]?.idString ?? "")"
                if wanted.contains(key), let o = v.objectValue { out[key] = o }
            }
        }
        return out
    }
}
