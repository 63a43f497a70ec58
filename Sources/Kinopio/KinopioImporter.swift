import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Replays a Kinopio archive into a Kinopio account through the batch routes.
///
/// Target ids are chosen by kitbag (as Kinopio's own client does) and written to the journal before the
/// request that creates them; a rerun asks the target which planned ids exist and creates only the rest.
public final class KinopioImporter {
    public let connection: KinopioConnection
    public let journal: ImportJournal?
    public let progress: ProgressReporter
    public let dryRun: Bool
    /// Cards (and spaces) per write request.
    public var batchSize: Int
    /// Restore: every entity keeps its archived id (the space is going back into the account it came from) and a
    /// space keeps its own settings; no journal look-ups (the live comparison decided what is missing).
    var keepIDs = false

    private(set) var summary = ImportSummary()
    /// Requests counted per route on a dry run.
    private(set) var plannedRequests: [String: Int] = [:]

    public init(
        connection: KinopioConnection, journal: ImportJournal?, progress: ProgressReporter, dryRun: Bool = false,
        batchSize: Int = 100
    ) {
        self.connection = connection
        self.journal = journal
        self.progress = progress
        self.dryRun = dryRun
        self.batchSize = max(1, batchSize)
    }

    /// Spaces whose contents are imported at once: each space's requests wait on one another (lists, cards, boxes,
    /// connections), so while one space waits for an answer the next space's requests fill the rate limit's slots.
    public var spacesAtOnce = 4

    /// What a space's import needs from the run, as a value one child task takes: the ids planned for every entity
    /// and the routes this server was found not to serve.
    struct Setup: Sendable {
        let connection: KinopioConnection
        let journal: ImportJournal?
        let progress: ProgressReporter
        let dryRun: Bool
        let batchSize: Int
        let keepIDs: Bool
        let idMap: [String: [String: String]]
        let unservedRoutes: Set<String>
    }

    var setup: Setup {
        Setup(
            connection: connection, journal: journal, progress: progress, dryRun: dryRun, batchSize: batchSize,
            keepIDs: keepIDs, idMap: idMap, unservedRoutes: unservedRoutes)
    }

    /// An importer for one space's contents in a child task; what it did is merged back with `merge(_:)`.
    convenience init(_ setup: Setup) {
        self.init(
            connection: setup.connection, journal: setup.journal, progress: setup.progress, dryRun: setup.dryRun,
            batchSize: setup.batchSize)
        keepIDs = setup.keepIDs
        idMap = setup.idMap
        unservedRoutes = setup.unservedRoutes
        summary = ImportSummary(dryRun: setup.dryRun)
    }

    /// What one space's importer did: its counts and notes, the requests it counted on a dry run, and the routes it
    /// found unserved with the index of the note that says so.
    struct Part: Sendable {
        var summary: ImportSummary
        var plannedRequests: [String: Int]
        var discoveries: [Int: String]
        var unservedRoutes: Set<String>
    }

    var part: Part { Part(summary: summary, plannedRequests: plannedRequests, discoveries: discoveries, unservedRoutes: unservedRoutes) }

    /// Adds a space's part, in the archive's order of spaces: a route another space already found unserved is
    /// reported once, by the first space that found it, as an import one space after another reports it.
    func merge(_ part: Part) {
        summary.addCounts(of: part.summary)
        for (index, note) in part.summary.notImported.enumerated() {
            if let route = part.discoveries[index], unservedRoutes.contains(route) { continue }
            summary.notImported.append(note)
        }
        for (route, n) in part.plannedRequests { plannedRequests[route, default: 0] += n }
        unservedRoutes.formUnion(part.unservedRoutes)
    }

    /// One space of the archive, read from its JSON Lines.
    struct ArchivedSpace: Sendable {
        var id: String
        var meta: JSONValue
        var folder: String
    }

    /// Space files the importer knows how to replay (or deliberately leaves out, see `notImportableFiles`).
    static let knownSpaceFiles: Set<String> = [
        "space", "cards", "removedCards", "connections", "connectionTypes", "boxes", "tags", "users", "collaborators",
        "lists", "lines", "drawingStrokes",
    ]

    // Keys the server owns or that point into the source account; never sent on create.
    static let serverSpaceKeys: Set<String> = [
        "id", "ownerUserId", "users", "collaborators", "createdAt", "updatedAt", "editedAt", "editedByUserId", "url",
        "visits", "isRemoved", "removedByUserId", "isRestrictedByModerator", "previewImage", "previewThumbnailImage",
        "cards", "connections", "connectionTypes", "boxes", "tags", "removedCards", "lists", "lines", "drawingStrokes",
        // Reset below as Kinopio's own import does.
        "originSpaceId", "privacy", "showInExplore", "proposedShowInExplore", "isTemplate", "groupId", "group",
        "addedToGroupByUserId", "showInExploreUpdatedAt", "collaboratorKey", "readOnlyKey", "isHidden", "isFavorite",
        "drawingImage", "updateHash", "cacheDate", "previewImagePrivate", "previewThumbnailImagePrivate",
    ]

    /// What every new space gets, as kinopio-client src/utils.js `resetSpaceMeta` sets it on import (commit
    /// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): private, not in Explore, not a template, in no group.
    static let importedSpaceMeta: [(String, JSONValue)] = [
        ("privacy", "private"), ("showInExplore", false), ("proposedShowInExplore", false), ("isTemplate", false),
        ("groupId", .null),
    ]

    /// Keys `importedSpaceMeta` and `originSpaceId` set on every imported space; a round trip sets them aside.
    public static let resetSpaceKeys: Set<String> = [
        "privacy", "showInExplore", "proposedShowInExplore", "isTemplate", "groupId", "group", "addedToGroupByUserId",
        "originSpaceId", "showInExploreUpdatedAt", "isHidden", "isFavorite",
    ]
    /// Settings a restored space keeps from the archive (an import resets them); its group is not set again.
    static let restoredSpaceKeys: Set<String> = [
        "privacy", "showInExplore", "proposedShowInExplore", "isTemplate", "originSpaceId",
    ]
    static let serverItemKeys: Set<String> = [
        "createdAt", "updatedAt", "nameUpdatedAt", "nameUpdatedByUserId", "userId", "isRemoved", "removedByUserId",
        "isCreatedThroughPublicApi", "user", "connectionTypeId", "startCardId", "endCardId",
    ]

    public func run(archive: SnapshotReader) async throws -> ImportSummary {
        guard archive.info.service == .kinopio else {
            throw UserError(
                "this archive holds \(archive.info.service.rawValue) data; importing it into Kinopio is not supported yet",
                exitStatus: .usage)
        }
        summary = ImportSummary(dryRun: dryRun)
        summary.notImported = [
            NotExported(kind: "user", reason: "user accounts cannot be created through the API; spaces are owned by the importing key's user"),
            NotExported(kind: "collaborator", reason: "the API has no route to add collaborators; invite them again in Kinopio"),
            NotExported(kind: "spaceUser", reason: "a space's users are its owner and members; the importing key's user owns the new spaces"),
            NotExported(kind: "notification", reason: "notifications are created by the server, not imported"),
            NotExported(kind: "favoriteSpace", reason: "favourites are account preferences of the source user, not content"),
            NotExported(kind: "favoriteUser", reason: "favourites are account preferences of the source user, not content"),
            NotExported(kind: "favoriteColor", reason: "favourites are account preferences of the source user, not content"),
            NotExported(kind: "group", reason: "groups are memberships of the source account; imported spaces are in no group"),
            NotExported(
                kind: "connectionType",
                reason: "legacy connection types are folded into their connections' own name and color, as Kinopio's own import does; the current API has no connection-type routes"),
            NotExported(
                kind: "spaceSettings",
                reason: "every imported space is private, not in Explore, not a template and in no group, with originSpaceId set to the source space, as Kinopio's own import makes it"),
        ]

        let spaces = try readSpaces(archive)
        progress.beginStage("plan", total: spaces.count)
        if keepIDs || spaces.contains(where: Self.namesContents) {
            try planIDs(archive: archive, spaces: spaces, kinds: Self.spaceKinds + Self.contentKinds)
            progress.beginStage("spaces", total: spaces.count)
            try await createSpaces(spaces, archive: archive)
        } else {
            // What creating the spaces needs is planned first; the contents' ids (most of the archive: every card) are
            // planned in a child task while the spaces are created, and are all planned before the first content
            // request, so a link into another space still finds its id.
            try planIDs(archive: archive, spaces: spaces, kinds: Self.spaceKinds)
            let planning = ContentPlanning(archive: archive, spaces: spaces, known: idMap, journal: journal, dryRun: dryRun)
            let contents = Task { try planning.run() }
            progress.beginStage("spaces", total: spaces.count)
            do {
                try await createSpaces(spaces, archive: archive)
            } catch {
                // Nothing is left writing to the journal once the import has stopped.
                _ = try? await contents.value
                throw error
            }
            idMap.merge(try await contents.value) { _, new in new }
        }
        progress.beginStage("contents", total: spaces.count)
        try await importContents(of: spaces, archive: archive)
        try await removeSpaces(spaces)
        progress.finish()
        summary.requests = dryRun ? plannedRequests : await connection.client.requestCounts()
        return summary
    }

    /// Imports the contents of `spaces`, up to `spacesAtOnce` at a time, each space's requests in their order (lists,
    /// cards, boxes, connections, removals) and each batch journaled as planned → attempted → created. Spaces are
    /// independent: every id was planned before the first request, so a link into another space needs no order.
    /// Parts are merged in the archive's order, so the summary is the same as one space after another.
    func importContents(of spaces: [ArchivedSpace], archive: SnapshotReader) async throws {
        try await Overlap.inOrder(spaces, limit: spacesAtOnce, prepare: { setup }) { space, setup in
            let one = KinopioImporter(setup)
            try await one.importContents(of: space, archive: archive)
            return one.part
        } merge: { part in
            merge(part)
            progress.advance(items: 1)
        }
    }

    // MARK: Reading

    func readSpaces(_ archive: SnapshotReader) throws -> [ArchivedSpace] {
        var out: [ArchivedSpace] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            for line in try archive.lines(at: entry.path) {
                guard let id = line["id"]?.idString else {
                    throw UserError("\(entry.path): a space without an id cannot be imported")
                }
                out.append(ArchivedSpace(id: id, meta: line, folder: (entry.path as NSString).deletingLastPathComponent))
            }
        }
        return out.sorted { $0.id < $1.id }
    }

    func values(_ archive: SnapshotReader, _ space: ArchivedSpace, file: String) throws -> [JSONValue] {
        try Self.values(archive, space, file: file)
    }

    static func values(_ archive: SnapshotReader, _ space: ArchivedSpace, file: String) throws -> [JSONValue] {
        let path = "\(space.folder)/\(file).jsonl"
        guard archive.hasJSONLines(at: path) else { return [] }
        return Array(try archive.lines(at: path))
    }

    // MARK: Planning

    /// Maps of source id → target id for every kind, filled from the journal and new plans.
    private var idMap: [String: [String: String]] = [:]

    func target(_ kind: String, _ source: String?) -> String? {
        guard let source else { return nil }
        if keepIDs { return source }
        return idMap[kind]?[source]
    }

    /// Kinds whose ids creating the spaces needs: the spaces' own, and their lines' and drawing strokes' (sent inside
    /// the space). Every other kind belongs to the contents.
    static let spaceKinds = ["space", "line", "drawingStroke"]
    static let contentKinds = ["card", "mention", "connection", "box", "list", "tag"]

    /// Plans a target id for every entity of `kinds` not yet in the journal: one journal read and one write per kind
    /// for the whole archive (not per space), so a large archive starts sending sooner.
    func planIDs(archive: SnapshotReader, spaces: [ArchivedSpace], kinds: [String]) throws {
        let planned = try Self.plannedIDs(
            archive: archive, spaces: spaces, kinds: kinds, known: idMap, journal: journal, dryRun: dryRun
        ) { [progress] in progress.advance(items: 1) }
        idMap.merge(planned) { _, new in new }
    }

    /// The id maps of `kinds` after planning what `known` lacks (journal first, then new ids written down before any
    /// request may use them). Touches nothing of an importer, so it can run in a child task beside the spaces' creates.
    static func plannedIDs(
        archive: SnapshotReader, spaces: [ArchivedSpace], kinds: [String], known: [String: [String: String]],
        journal: ImportJournal?, dryRun: Bool, perSpace: () -> Void = {}
    ) throws -> [String: [String: String]] {
        let wanted = Set(kinds)
        var sources: [String: [String]] = ["space": spaces.map(\.id)]
        for space in spaces {
            if wanted.contains("card") || wanted.contains("mention") {
                let cards = try spaceCards(archive, space)
                sources["card", default: []] += (cards.live + cards.removed).compactMap { $0["id"]?.idString }
                sources["mention", default: []] += (cards.live + cards.removed).flatMap(mentions).compactMap { $0["id"]?.idString }
            }
            for (kind, file) in [("connection", "connections"), ("box", "boxes"), ("list", "lists"), ("line", "lines"), ("tag", "tags")]
            where wanted.contains(kind) {
                sources[kind, default: []] += try values(archive, space, file: file).compactMap { $0["id"]?.idString }
            }
            if wanted.contains("drawingStroke") {
                sources["drawingStroke", default: []] +=
                    try values(archive, space, file: "drawingStrokes").flatMap { $0.arrayValue ?? [] }.compactMap { $0["id"]?.idString }
            }
            perSpace()
        }
        var out: [String: [String: String]] = [:]
        for kind in kinds {
            var fresh: [(sourceID: String, targetID: String)] = []
            var map = known[kind] ?? [:]
            var seen = Set<String>()
            let unmapped = (sources[kind] ?? []).filter { map[$0] == nil && seen.insert($0).inserted }
            let journaled = try journal?.entries(kind: kind, sourceIDs: unmapped) ?? [:]
            for s in unmapped {
                if let k = journaled[s] { map[s] = k.targetID } else { fresh.append((s, KinopioID.make())) }
            }
            if !fresh.isEmpty {
                if let journal, !dryRun {
                    for (s, t) in try journal.plan(kind: kind, fresh) { map[s] = t }
                } else {
                    for p in fresh { map[p.sourceID] = p.targetID }
                }
            }
            out[kind] = map
        }
        return out
    }

    /// The contents' part of the plan as a value a child task takes.
    struct ContentPlanning: Sendable {
        let archive: SnapshotReader
        let spaces: [ArchivedSpace]
        let known: [String: [String: String]]
        let journal: ImportJournal?
        let dryRun: Bool

        func run() throws -> [String: [String: String]] {
            try KinopioImporter.plannedIDs(
                archive: archive, spaces: spaces, kinds: KinopioImporter.contentKinds, known: known, journal: journal, dryRun: dryRun)
        }
    }

    /// Whether a space's own fields (what `createSpaces` sends besides its lines and strokes) name an entity of its
    /// contents, whose id must then be planned before the space is created.
    static func namesContents(_ space: ArchivedSpace) -> Bool {
        let keys: Set<String> = ["linkToCardId", "cardId", "startItemId", "endItemId", "listId"]
        return space.meta.objectValue?.keys.contains(where: keys.contains) ?? false
    }

    // MARK: Writing

    /// Sends a request, or in a dry run only counts it.
    func send(_ request: APIRequest) async throws -> JSONValue? {
        if dryRun {
            plannedRequests[request.route, default: 0] += 1
            return nil
        }
        return try await connection.client.json(request)
    }

    /// Splits source ids into those already created in the target and those still to create. Planned ids
    /// from an interrupted run are looked up in the target first (`exists`), so nothing is created twice.
    func pending(
        kind: String, sources: [String], exists: ([String]) async throws -> Set<String>,
        confirmed onConfirmed: ([String]) throws -> Void = { _ in }
    ) async throws -> [String] {
        guard let journal, !dryRun else { return sources }
        let entries = try journal.entries(kind: kind, sourceIDs: sources)
        var todo: [String] = []
        var unsure: [String] = []
        for s in sources {
            switch entries[s]?.state {
            case .created: summary.alreadyPresent[kind, default: 0] += 1
            case .attempted: unsure.append(s)
            case .planned, nil: todo.append(s)
            }
        }
        if !unsure.isEmpty {
            let found = try await exists(unsure.compactMap { target(kind, $0) })
            var confirmed: [(sourceID: String, targetID: String)] = []
            for s in unsure {
                if let t = target(kind, s), found.contains(t) {
                    confirmed.append((s, t))
                    summary.alreadyPresent[kind, default: 0] += 1
                } else {
                    todo.append(s)
                }
            }
            try journal.markCreated(kind: kind, confirmed)
            try onConfirmed(confirmed.map(\.sourceID))
        }
        return todo
    }

    /// Notes in the journal that the request creating these entities is about to be sent.
    func recordAttempt(_ kind: String, _ sources: [String]) throws {
        guard let journal, !dryRun else { return }
        try journal.markAttempted(kind: kind, sourceIDs: sources)
    }

    func recordCreated(_ kind: String, _ sources: [String]) throws {
        summary.created[kind, default: 0] += sources.count
        guard let journal, !dryRun else { return }
        try journal.markCreated(kind: kind, sources.compactMap { s in target(kind, s).map { (s, $0) } })
    }

    func existingSpaces(_ ids: [String]) async throws -> Set<String> {
        var found = Set<String>()
        for chunk in ids.chunked(60) {
            let v = try await connection.client.json(
                APIRequest(
                    method: .GET, path: "/space/multiple", query: [("spaceIds", chunk.joined(separator: ","))],
                    route: "GET /space/multiple"))
            for s in v.arrayValue ?? [] { if let id = s["id"]?.idString { found.insert(id) } }
            // Removed spaces may be left out of /space/multiple; ask for each missing one.
            for id in chunk where !found.contains(id) {
                if try await exists(path: "/space/\(id.urlPathEscaped)", route: "GET /space/:spaceId") { found.insert(id) }
            }
        }
        return found
    }

    func existingCards(_ ids: [String]) async throws -> Set<String> {
        var found = Set<String>()
        for chunk in ids.chunked(60) {
            let v = try await connection.client.json(
                APIRequest(
                    method: .GET, path: "/card/multiple", query: [("cardIds", chunk.joined(separator: ","))],
                    route: "GET /card/multiple"))
            for c in v.arrayValue ?? [] { if let id = c["id"]?.idString { found.insert(id) } }
            for id in chunk where !found.contains(id) {
                if try await exists(path: "/card/\(id.urlPathEscaped)", route: "GET /card/:cardId") { found.insert(id) }
            }
        }
        return found
    }

    func existing(_ ids: [String], path: String, route: String) async throws -> Set<String> {
        var found = Set<String>()
        for id in ids where try await exists(path: "\(path)/\(id.urlPathEscaped)", route: route) { found.insert(id) }
        return found
    }

    func exists(path: String, route: String) async throws -> Bool {
        do {
            _ = try await connection.client.json(APIRequest(method: .GET, path: path, route: route))
            return true
        } catch let failure as HTTPFailure where failure.isNotFound {
            return false
        }
    }

    /// Creates the spaces, several per request (`POST /space/multiple`, as the client's `createSpaces` sends whole
    /// spaces). Lines and drawing strokes travel inside the space body with new ids: no public route creates them one
    /// by one, and Kinopio's own import sends them inside the whole space too (kinopio-client src/components/Import.vue
    /// and src/stores/useSpaceStore.js `saveImportSpace`, commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7; it queues a
    /// `createSpace` operation). That the public space routes keep them is not documented; the sandbox does.
    func createSpaces(_ spaces: [ArchivedSpace], archive: SnapshotReader) async throws {
        // A space found in the target from an interrupted run came with its lines and strokes.
        let todo = Set(
            try await pending(kind: "space", sources: spaces.map(\.id), exists: existingSpaces) { [self] confirmed in
                for space in spaces where confirmed.contains(space.id) {
                    let lines = try values(archive, space, file: "lines").compactMap { $0["id"]?.idString }
                    let points = try values(archive, space, file: "drawingStrokes").flatMap { $0.arrayValue ?? [] }
                        .compactMap { $0["id"]?.idString }
                    if !lines.isEmpty { try recordCreated("line", lines) }
                    if !points.isEmpty { try recordCreated("drawingStroke", points) }
                }
            })
        var bodies: [(String, JSONValue)] = []
        var carried: [String: (lines: [String], points: [String])] = [:]
        for space in spaces where todo.contains(space.id) {
            var o = JSONObject()
            o["id"] = .string(target("space", space.id)!)
            for (k, v) in space.meta.objectValue ?? JSONObject()
            where !Self.serverSpaceKeys.contains(k) || (keepIDs && Self.restoredSpaceKeys.contains(k)) {
                o[k] = rewriteLinks(k, v)
            }
            if !keepIDs {
                for (k, v) in Self.importedSpaceMeta { o[k] = v }
                o["originSpaceId"] = .string(space.id)
            }
            let lines = try values(archive, space, file: "lines")
            if !lines.isEmpty {
                o["lines"] = .array(lines.compactMap { line in
                    guard var l = line.objectValue, let id = target("line", line["id"]?.idString) else { return nil }
                    l["id"] = .string(id)
                    for k in Self.serverItemKeys { l[k] = nil }
                    if l["spaceId"] != nil { l["spaceId"] = o["id"] }
                    return .object(l)
                })
            }
            let strokes = try values(archive, space, file: "drawingStrokes")
            var points: [String] = []
            if !strokes.isEmpty {
                o["drawingStrokes"] = .array(strokes.map { stroke in
                    .array((stroke.arrayValue ?? []).compactMap { point in
                        guard var p = point.objectValue, let source = point["id"]?.idString, let id = target("drawingStroke", source)
                        else { return point }
                        points.append(source)
                        p["id"] = .string(id)
                        p["userId"] = nil
                        return .object(p)
                    })
                })
            }
            carried[space.id] = (lines.compactMap { $0["id"]?.idString }, points)
            bodies.append((space.id, .object(o)))
        }
        for chunk in bodies.chunked(batchSize) {
            try recordAttempt("space", chunk.map(\.0))
            let array = JSONValue.array(chunk.map(\.1))
            _ = try await send(
                APIRequest(method: .POST, path: "/space/multiple", body: array, route: "POST /space/multiple"),
                orOnNotFound: APIRequest(method: .POST, path: "/space", body: array, route: "POST /space"))
            try recordCreated("space", chunk.map(\.0))
            // Kinds older archives do not have are counted only when present.
            let lines = chunk.flatMap { carried[$0.0]?.lines ?? [] }, points = chunk.flatMap { carried[$0.0]?.points ?? [] }
            if !lines.isEmpty { try recordCreated("line", lines) }
            if !points.isEmpty { try recordCreated("drawingStroke", points) }
            progress.advance(items: chunk.count)
        }
    }

    /// Routes that answered 404 here, so their fallbacks are used at once.
    private var unservedRoutes: Set<String> = []
    /// Index in `summary.notImported` → the route that note reports unserved.
    private var discoveries: [Int: String] = [:]

    /// Notes that `route` answered 404 here, so its fallback is used from now on.
    func learnUnserved(_ route: String, _ note: NotExported) {
        unservedRoutes.insert(route)
        discoveries[summary.notImported.count] = route
        summary.notImported.append(note)
    }

    /// Sends `request`; if the server does not serve its route (404 before anything was written), sends `fallback`.
    func send(_ request: APIRequest, orOnNotFound fallback: APIRequest) async throws -> JSONValue? {
        if !unservedRoutes.contains(request.route) {
            do {
                return try await send(request)
            } catch let failure as HTTPFailure where failure.isNotFound {
                // Creates only: a 404 here means the route is not served (if the fallback also 404s, that error stands).
                learnUnserved(
                    request.route,
                    NotExported(kind: "route", reason: "\(request.route) answered 404 on this server; used \(fallback.route) instead"))
            }
        }
        return try await send(fallback)
    }

    func removeSpaces(_ spaces: [ArchivedSpace]) async throws {
        let done = try journal?.steps("remove-space") ?? []
        for space in spaces where space.meta["isRemoved"]?.boolValue == true && !done.contains(space.id) {
            _ = try await send(
                APIRequest(
                    method: .DELETE, path: "/space", body: ["id": .string(target("space", space.id)!)],
                    route: "DELETE /space"))
            if !dryRun { try journal?.markStep("remove-space", sourceIDs: [space.id]) }
        }
    }

    /// Rewrites a reference-carrying key through the id maps; other values pass unchanged.
    func rewriteLinks(_ key: String, _ value: JSONValue) -> JSONValue {
        switch key {
        case "linkToSpaceId", "spaceId": return target("space", value.idString).map(JSONValue.string) ?? value
        case "linkToCardId", "cardId":
            return target("card", value.idString).map(JSONValue.string) ?? value
        // A connection end is a card or a box.
        case "startItemId", "endItemId":
            return (target("card", value.idString) ?? target("box", value.idString)).map(JSONValue.string) ?? value
        case "listId": return target("list", value.idString).map(JSONValue.string) ?? value
        default: return value
        }
    }

    /// A create body: the archived entity minus server-owned keys, with its new id and rewritten references.
    func body(_ value: JSONValue, kind: String, space: ArchivedSpace) -> JSONValue? {
        guard let source = value["id"]?.idString, let id = target(kind, source), let obj = value.objectValue else {
            return nil
        }
        var o = JSONObject()
        o["id"] = .string(id)
        for (k, v) in obj where k != "id" && !Self.serverItemKeys.contains(k) {
            o[k] = rewriteLinks(k, v)
        }
        o["spaceId"] = .string(target("space", space.id)!)
        return .object(o)
    }

    /// A space's cards and removed cards, each card once: one archived in both (a removed card the server also
    /// returned inside `cards`) counts as removed.
    func spaceCards(_ archive: SnapshotReader, _ space: ArchivedSpace) throws -> (live: [JSONValue], removed: [JSONValue]) {
        try Self.spaceCards(archive, space)
    }

    static func spaceCards(_ archive: SnapshotReader, _ space: ArchivedSpace) throws -> (live: [JSONValue], removed: [JSONValue]) {
        var seen = Set<String>()
        let removed = try values(archive, space, file: "removedCards").filter { seen.insert($0["id"]?.idString ?? "").inserted }
        var live = try values(archive, space, file: "cards").filter { !seen.contains($0["id"]?.idString ?? "") }
        var removedToo = removed
        removedToo += live.filter { $0["isRemoved"]?.boolValue == true }
        live = live.filter { $0["isRemoved"]?.boolValue != true }
        return (live, removedToo)
    }

    /// `atUserMentions` and `atDateMentions` of a card.
    static func mentions(_ card: JSONValue) -> [JSONValue] {
        (card["atUserMentions"]?.arrayValue ?? []) + (card["atDateMentions"]?.arrayValue ?? [])
    }

    /// A card's mentions with new ids and their `cardId`/`spaceId` rewritten, as kinopio-client src/utils.js
    /// `uniqueSpaceItems` does (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
    func rewriteMentions(_ body: inout JSONValue) {
        guard var o = body.objectValue else { return }
        for key in ["atUserMentions", "atDateMentions"] {
            guard let list = o[key]?.arrayValue else { continue }
            o[key] = .array(list.map { mention in
                guard var m = mention.objectValue else { return mention }
                if let id = target("mention", mention["id"]?.idString) { m["id"] = .string(id) }
                m["cardId"] = o["id"] ?? m["cardId"]
                if m["spaceId"] != nil { m["spaceId"] = o["spaceId"] }
                return .object(m)
            })
        }
        body = .object(o)
    }

    func importContents(of space: ArchivedSpace, archive: SnapshotReader) async throws {
        // Lists first: cards point at them through listId.
        let lists = try values(archive, space, file: "lists")
        let listsCreated = try await createLists(lists, space: space)

        let tags = try values(archive, space, file: "tags")
        let (cards, removed) = try spaceCards(archive, space)
        try await createCards(cards + removed, tags: tags, space: space, listsCreated: listsCreated)

        // Boxes before connections: a connection may end at a box.
        let boxes = try values(archive, space, file: "boxes")
        try await createBatched(
            kind: "box", values: boxes, space: space, path: "/box/multiple", route: "POST /box/multiple",
            fallback: (path: "/box", route: "POST /box", onePerRequest: true)) { [self] ids in
            try await existing(ids, path: "/box", route: "GET /box/:boxId")
        }

        // Connections in the current shape: item-id ends, their own name and colour (legacy types folded in).
        let types = try values(archive, space, file: "connectionTypes")
        let items = Set((cards + removed + boxes).compactMap { $0["id"]?.idString })
        var connections: [JSONValue] = []
        for raw in try values(archive, space, file: "connections") {
            let c = KinopioSchema.currentConnection(raw, types: types)
            let ends = KinopioSchema.connectionEnds(c)
            let missing = [ends.start, ends.end].filter { !items.contains($0 ?? "") }
            if !missing.isEmpty {
                summary.notImported.append(
                    NotExported(
                        kind: "connection", container: space.id,
                        reason: "connection \(raw["id"]?.idString ?? "?") ends at \(missing.map { $0 ?? "(none)" }.joined(separator: " and ")), which is not a card or box in this archive"))
                continue
            }
            connections.append(c)
        }
        try await createBatched(
            kind: "connection", values: connections, space: space, path: "/connection/multiple",
            route: "POST /connection/multiple", fallback: (path: "/connection", route: "POST /connection", onePerRequest: false)) {
            [self] ids in
            try await existing(ids, path: "/connection", route: "GET /connection/:connectionId")
        }

        // Arrays a newer Kinopio added that kitbag does not know have no documented create route.
        let prefix = space.folder + "/"
        for entry in archive.jsonLinesEntries() where entry.path.hasPrefix(prefix) && (entry.count ?? 0) > 0 {
            let file = String(entry.path.dropFirst(prefix.count).dropLast(".jsonl".count))
            if !file.contains("/"), !Self.knownSpaceFiles.contains(file) {
                summary.notImported.append(
                    NotExported(
                        kind: entry.kind ?? file, container: space.id,
                        reason: "the Kinopio API documents no route to create \(file); kept in the archive only"))
            }
        }

        // Removed cards go in like the others, then are removed again.
        let done = try journal?.steps("remove-card") ?? []
        for card in removed {
            guard let source = card["id"]?.idString, !done.contains(source), let id = target("card", source) else { continue }
            _ = try await send(APIRequest(method: .DELETE, path: "/card", body: ["id": .string(id)], route: "DELETE /card"))
            if !dryRun { try journal?.markStep("remove-card", sourceIDs: [source]) }
        }
    }

    /// `POST /card/multiple` for the cards not yet in the target, each with its tags (from `tags`, by `cardId`) and
    /// its mentions; without `listId` when the lists could not be created.
    func createCards(_ cards: [JSONValue], tags: [JSONValue], space: ArchivedSpace, listsCreated: Bool) async throws {
        // Tags travel inside their card's create body (with their own new ids and colours).
        var tagsByCard: [String: [JSONValue]] = [:]
        for tag in tags {
            if let card = tag["cardId"]?.idString { tagsByCard[card, default: []].append(tag) }
        }
        try await createBatched(
            kind: "card", values: cards, space: space, path: "/card/multiple", route: "POST /card/multiple",
            exists: existingCards,
            decorate: { [self] source, body in
                rewriteMentions(&body)
                if !listsCreated, var o = body.objectValue {
                    o["listId"] = nil
                    o["listPositionIndex"] = nil
                    body = .object(o)
                }
                guard let tags = tagsByCard[source], !tags.isEmpty else { return }
                body["tags"] = .array(tags.compactMap { tagBody($0) })
            },
            created: { [self] sources in
                try recordCreated("tag", sources.flatMap { tagsByCard[$0] ?? [] }.compactMap { $0["id"]?.idString })
                let byID = Dictionary(cards.compactMap { c in c["id"]?.idString.map { ($0, c) } }, uniquingKeysWith: { a, _ in a })
                let mentions = sources.flatMap { Self.mentions(byID[$0] ?? .null) }.compactMap { $0["id"]?.idString }
                if !mentions.isEmpty { try recordCreated("mention", mentions) }
            })
    }

    /// `POST /list` for each list not yet in the target. Returns false when the server has no list routes (an older
    /// one): the lists are then reported as not imported and cards go in without `listId`.
    func createLists(_ lists: [JSONValue], space: ArchivedSpace) async throws -> Bool {
        guard !lists.isEmpty else { return true }
        if unservedRoutes.contains("POST /list") { return false }
        let todo = Set(
            try await pending(kind: "list", sources: lists.compactMap { $0["id"]?.idString }) { [self] ids in
                try await existing(ids, path: "/list", route: "GET /list/:listId")
            })
        for list in lists {
            guard let source = list["id"]?.idString, todo.contains(source), let b = body(list, kind: "list", space: space)
            else { continue }
            try recordAttempt("list", [source])
            do {
                _ = try await send(APIRequest(method: .POST, path: "/list", body: b, route: "POST /list"))
            } catch let failure as HTTPFailure where failure.isNotFound {
                learnUnserved(
                    "POST /list",
                    NotExported(
                        kind: "list", container: space.id,
                        reason: "POST /list answered 404 (an older Kinopio server); the lists were not created and their cards went in without listId"))
                return false
            }
            try recordCreated("list", [source])
        }
        return true
    }

    func createBatched(
        kind: String, values: [JSONValue], space: ArchivedSpace, path: String, route: String,
        fallback: (path: String, route: String, onePerRequest: Bool)? = nil,
        exists: @escaping ([String]) async throws -> Set<String>,
        decorate: (String, inout JSONValue) -> Void = { _, _ in },
        created: ([String]) throws -> Void = { _ in }
    ) async throws {
        // Entities found in the target from an interrupted run count as created, with what came along with them.
        let todo = Set(
            try await pending(
                kind: kind, sources: values.compactMap { $0["id"]?.idString }, exists: exists, confirmed: created))
        let bodies: [(String, JSONValue)] = values.compactMap { v in
            guard let s = v["id"]?.idString, todo.contains(s), var b = body(v, kind: kind, space: space) else { return nil }
            decorate(s, &b)
            return (s, b)
        }
        for chunk in bodies.chunked(batchSize) {
            try recordAttempt(kind, chunk.map(\.0))
            let request = APIRequest(method: .POST, path: path, body: .array(chunk.map(\.1)), route: route)
            if let fallback, fallback.onePerRequest {
                if !unservedRoutes.contains(route) {
                    do {
                        let answer = try await send(request)
                        if let answer { try checkIDsKept(answer, sent: chunk.map(\.1), route: route) }
                        try recordCreated(kind, chunk.map(\.0))
                        try created(chunk.map(\.0))
                        continue
                    } catch let failure as HTTPFailure where failure.isNotFound {
                        learnUnserved(
                            route, NotExported(kind: "route", reason: "\(route) answered 404 on this server; used \(fallback.route) instead"))
                    }
                }
                for (_, one) in chunk {
                    _ = try await send(APIRequest(method: .POST, path: fallback.path, body: one, route: fallback.route))
                }
                try recordCreated(kind, chunk.map(\.0))
                try created(chunk.map(\.0))
                continue
            }
            let answer: JSONValue?
            if let fallback {
                answer = try await send(
                    request, orOnNotFound: APIRequest(method: .POST, path: fallback.path, body: request.body ?? .null, route: fallback.route))
            } else {
                answer = try await send(request)
            }
            if let answer { try checkIDsKept(answer, sent: chunk.map(\.1), route: route) }
            try recordCreated(kind, chunk.map(\.0))
            try created(chunk.map(\.0))
        }
    }

    /// A tag as sent inside its card: new id, name, colour and any other keys; the server sets card and space.
    func tagBody(_ tag: JSONValue) -> JSONValue? {
        guard let source = tag["id"]?.idString, let id = target("tag", source), let obj = tag.objectValue else { return nil }
        var o = JSONObject()
        o["id"] = .string(id)
        for (k, v) in obj where !["id", "cardId", "spaceId"].contains(k) && !Self.serverItemKeys.contains(k) { o[k] = v }
        return .object(o)
    }

    /// kitbag relies on the target keeping the ids it sends; a server that assigns its own would break references.
    func checkIDsKept(_ answer: JSONValue, sent: [JSONValue], route: String) throws {
        guard let returned = answer.arrayValue, returned.count == sent.count else { return }
        for (a, s) in zip(returned, sent) {
            if let got = a["id"]?.idString, let want = s["id"]?.idString, got != want {
                throw UserError(
                    "kinopio: \(route) answered with new id \(got) instead of \(want); this server does not keep client ids, so references cannot be kept")
            }
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
