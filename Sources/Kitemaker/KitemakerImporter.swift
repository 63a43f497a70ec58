import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Replays a Kitemaker archive into a Kitemaker organization.
///
/// Spaces and statuses cannot be created through the API: source spaces are matched to target spaces (by
/// `containerMap`, else key, else name) and statuses by name; anything missing stops the import with a message
/// naming it. Labels are reused by name or created (`POST /label`); work items are created column by column,
/// top to bottom, with `placement: bottom`, so each status column keeps its order; comments that open a thread
/// go through `POST /comment`, replies through GraphQL `createCommentOnWorkItem(threadId:)`; then initiatives
/// (`POST /initiative` with their spaces, or GraphQL `createInitiative` with their dates and archived state, see
/// `importInitiative`), placed on the target's roadmap columns of the same names (`addInitiativesToRoadmap`);
/// then feedback persons, companies and feedback with its insight links (`createFeedback`).
///
/// Resumability: Kitemaker assigns ids, so an id can only be recorded once the API answers. Each create is
/// written to the journal as planned, then attempted just before its request, then created with the returned id
/// the moment the answer arrives. Creates are sent one at a time (work items: one at a time per status column, several
/// columns at once, see `importWorkItems(_:)`) and never blindly retried: after an answer
/// that may hide a created entity (5xx, reset, timeout) and on a rerun for an attempted entry, the importer looks
/// for it in the target — same title/body/contents (and status, thread or space), not yet claimed by another
/// journal entry — and records what it finds instead of creating it again.
final class KitemakerImporter {
    let connection: KitemakerConnection
    let journal: ImportJournal?
    let progress: ProgressReporter
    let options: ImportOptions
    var dryRun: Bool { options.dryRun }

    var summary = ImportSummary()
    var plannedRequests: [String: Int] = [:]
    /// Source id → (target id, state) per kind, from the journal and kept current as the import goes.
    var known: [String: [String: Mapping]] = [:]
    /// Target ids per kind that already stand for some source entity.
    var claimed: [String: Set<String>] = [:]
    /// Source user id → target user id, for users with the same username in both organizations.
    private var users: [String: String] = [:]
    /// Send each work item's archived `sort` (a restore puts an item back where it was in its column; an import
    /// orders whole columns instead).
    var keepSort = false
    /// The target organization's users (`targetSpaces()` sets them; a restore, from its live read).
    var targetUsers: [JSONValue] = []

    init(connection: KitemakerConnection, journal: ImportJournal?, progress: ProgressReporter, options: ImportOptions) {
        self.connection = connection
        self.journal = journal
        self.progress = progress
        self.options = options
    }

    struct Mapping: Sendable {
        var targetID: String
        var state: JournalState
    }

    struct ArchivedSpace: Sendable {
        var id: String
        var key: String
        var name: String
        var statuses: [JSONValue]
        var labels: [JSONValue]
        var workItems: [JSONValue]
        var comments: [JSONValue]
    }

    struct TargetSpace: Sendable {
        var id: String
        var key: String
        var name: String
        var statuses: [JSONValue]
        var labels: [JSONValue]
    }

    static let kinds = [
        "space", "status", "label", "workItem", "comment", "thread", "initiative", "initiativeLinks", "roadmapColumn",
        "roadmapPlacement", "company", "person", "feedback",
    ]

    func run(archive: SnapshotReader) async throws -> ImportSummary {
        guard archive.info.service == .kitemaker else {
            throw UserError(
                "this archive holds \(archive.info.service.rawValue) data; importing it into Kitemaker is not supported",
                exitStatus: .usage)
        }
        summary = ImportSummary(dryRun: dryRun)
        summary.notImported = [
            NotExported(kind: "organization", reason: "the target organization is the one the token belongs to; its name and settings are not changed"),
            NotExported(kind: "user", reason: "users cannot be created through the API; invite them in Kitemaker"),
            NotExported(kind: "application", reason: "applications are created in Kitemaker's developer settings, not imported"),
            NotExported(kind: "space", reason: "spaces cannot be created through the API; they are matched to existing spaces by key or name"),
            NotExported(kind: "integration", reason: "integrations and integration users are connected in Kitemaker's settings, not imported"),
        ]

        try loadJournal()

        let spaces = try readSpaces(archive)
        let initiatives = try accountValues(archive, "initiatives")
        let feedback = try accountValues(archive, "feedback")
        noteWhatCannotBeCarried(spaces: spaces, initiatives: initiatives, feedback: feedback)
        if !(try accountValues(archive, "roadmaps")).isEmpty {
            summary.notImported.append(
                NotExported(kind: "roadmap", reason: "the schema has no mutation that creates roadmaps or their columns: initiatives are placed on the target's columns of the same names"))
        }

        progress.beginStage("target")
        let targets = try await targetSpaces()
        var mapped: [(ArchivedSpace, TargetSpace)] = []
        for space in spaces { mapped.append((space, try match(space, in: targets))) }
        try mapStatuses(mapped)
        try mapUsers(archive)
        reportUnmappedUsers(spaces: spaces, initiatives: initiatives, feedback: feedback)

        progress.beginStage("labels", total: mapped.count)
        for (space, target) in mapped {
            try await importLabels(space, into: target)
            progress.advance(items: 1)
        }
        progress.beginStage("work items", total: spaces.reduce(0) { $0 + $1.workItems.count })
        try await importWorkItems(mapped)
        progress.beginStage("comments", total: spaces.reduce(0) { $0 + $1.comments.count })
        for (space, _) in mapped { try await importComments(space) }
        progress.beginStage("initiatives", total: initiatives.count)
        for initiative in initiatives { try await importInitiative(initiative) }
        try await placeOnRoadmaps(try accountValues(archive, "roadmaps"), initiatives: initiatives)
        progress.beginStage("feedback", total: feedback.count)
        try await importPeople(archive, feedback: feedback)
        for item in feedback { try await importFeedback(item) }
        progress.finish()
        summary.requests = dryRun ? plannedRequests : await connection.client.requestCounts()
        return summary
    }

    /// What earlier runs recorded: source id → target id and state per kind, and the target ids already taken.
    func loadJournal() throws {
        for kind in Self.kinds {
            let entries = try journal?.entries(kind: kind) ?? [:]
            known[kind] = entries.mapValues { Mapping(targetID: $0.targetID, state: $0.state) }
            claimed[kind] = Set(entries.values.filter { $0.state == .created }.map(\.targetID))
        }
    }

    // MARK: - Reading

    func readSpaces(_ archive: SnapshotReader) throws -> [ArchivedSpace] {
        let present = Set(archive.jsonLinesEntries().map(\.path))
        func values(_ folder: String, _ file: String) throws -> [JSONValue] {
            let path = "\(folder)/\(file).jsonl"
            return present.contains(path) ? try archive.values(at: path) : []
        }
        var out: [ArchivedSpace] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            for meta in try archive.values(at: entry.path) {
                guard let id = meta["id"]?.idString, let key = meta["key"]?.stringValue else {
                    throw UserError("kitemaker: \(entry.path) holds a space without id or key; the archive cannot be imported")
                }
                out.append(
                    ArchivedSpace(
                        id: id, key: key, name: meta["name"]?.stringValue ?? key, statuses: try values(folder, "statuses"),
                        labels: try values(folder, "labels"), workItems: try values(folder, "workItems"),
                        comments: try values(folder, "comments")))
            }
        }
        return out.sorted { $0.key < $1.key }
    }

    func accountValues(_ archive: SnapshotReader, _ file: String) throws -> [JSONValue] {
        let path = ArchivePath.jsonLines(container: .account, file: file)
        guard archive.hasJSONLines(at: path) else { return [] }
        return try archive.values(at: path)
    }

    func noteWhatCannotBeCarried(spaces: [ArchivedSpace], initiatives: [JSONValue], feedback: [JSONValue]) {
        func nonEmpty(_ v: JSONValue?) -> Bool { !(v?.arrayValue ?? []).isEmpty }
        // Members and watchers are carried for users with the same username in the target (users cannot be
        // created); the rest is reported once the target's users are known (see `reportUnmappedUsers`).
        for i in initiatives {
            let id = i["id"]?.idString
            if !(i["effort"]?.isNull ?? true) || !(i["impact"]?.isNull ?? true) {
                summary.notImported.append(
                    NotExported(kind: "initiative.effort", container: id, reason: "initiative effort and impact are set by ids (effortId/impactId) that the API does not list"))
            }
        }
        for f in feedback {
            let id = f["id"]?.idString
            let insights = f["insights"]?.arrayValue ?? []
            let contents = Self.feedbackContent(f)
            if insights.count > 1 || insights.contains(where: { Self.feedbackContent($0) != contents }) {
                summary.notImported.append(
                    NotExported(kind: "insight", container: id, reason: "createFeedback makes one insight holding the whole feedback text; its links are kept, the highlighted parts are not"))
            }
        }
        if initiatives.contains(where: { nonEmpty($0["comments"]) }) {
            summary.notImported.append(
                NotExported(kind: "initiative.comments", reason: "REST and the schema's mutations add comments to work items only; initiative comments stay in the archive"))
        }
        let items = spaces.flatMap(\.workItems)
        if !items.isEmpty || !initiatives.isEmpty || !feedback.isEmpty {
            summary.notImported.append(
                NotExported(kind: "actor", reason: "no route or mutation takes an author: what is imported is made by the token's user (the original authors stay in the archive)"))
            summary.notImported.append(
                NotExported(kind: "number", reason: "numbers are given by the target: work items, initiatives and feedback get its next ones (ACM-1 may become ACM-15), and numbers mentioned in text are not rewritten"))
        }
        if items.contains(where: { nonEmpty($0["activities"]) }) || initiatives.contains(where: { nonEmpty($0["activities"]) }) {
            summary.notImported.append(
                NotExported(kind: "activity", reason: "history cannot be written: each entity's activities stay in the archive, and the target records its own"))
        }
        if items.contains(where: { !($0["closedAt"]?.isNull ?? true) || !($0["archivedAt"]?.isNull ?? true) }) {
            summary.notImported.append(
                NotExported(kind: "workItem.closedAt", reason: "createWorkItem takes no closedAt or archivedAt: items in a done or archived status are closed or archived by the target, at the import's time"))
        }
        if spaces.contains(where: { !$0.comments.isEmpty }) {
            summary.notImported.append(
                NotExported(kind: "comment.createdAt", reason: "POST /comment and createCommentOnWorkItem take no date: comments carry the import's time, in their threads' order"))
        }
        if feedback.contains(where: { !($0["processedAt"]?.isNull ?? true) }) {
            summary.notImported.append(
                NotExported(kind: "feedback.processedAt", reason: "createFeedback takes processed but not since when: processed feedback carries the import's time"))
        }
        if initiatives.contains(where: { nonEmpty($0["watchers"]) }) {
            summary.notImported.append(
                NotExported(kind: "initiative.watchers", reason: "neither createInitiative nor editInitiative takes watchers (work items keep theirs); initiative watchers stay in the archive"))
        }
    }

    /// A feedback's or insight's text: `content` in the published GraphQL schema, `contents` in REST answers and
    /// archives written before kitbag followed the schema.
    static func feedbackContent(_ value: JSONValue) -> String {
        value["content"]?.stringValue ?? value["contents"]?.stringValue ?? ""
    }

    /// The entity ids an insight links to: `entities[].id` per the schema, `entityIds` in older archives.
    static func insightEntityIDs(_ insight: JSONValue) -> [String] {
        if let entities = insight["entities"]?.arrayValue { return entities.compactMap { $0["id"]?.idString } }
        return (insight["entityIds"]?.arrayValue ?? []).compactMap(\.idString)
    }

    /// Users cannot be created through the API: a source user stands for the target user with the same username.
    func mapUsers(_ archive: SnapshotReader) throws {
        var byName: [String: String] = [:]
        for u in targetUsers {
            if let id = u["id"]?.idString, let name = u["username"]?.stringValue?.lowercased() { byName[name] = id }
        }
        for u in try accountValues(archive, "users") {
            if let id = u["id"]?.idString, let name = u["username"]?.stringValue?.lowercased(), let t = byName[name] {
                users[id] = t
            }
        }
    }

    func reportUnmappedUsers(spaces: [ArchivedSpace], initiatives: [JSONValue], feedback: [JSONValue]) {
        func unmapped(_ v: JSONValue?) -> Bool {
            (v?.arrayValue ?? []).contains { $0["id"]?.idString.flatMap { users[$0] } == nil }
        }
        if spaces.contains(where: { $0.workItems.contains { unmapped($0["members"]) || unmapped($0["watchers"]) } })
            || initiatives.contains(where: { unmapped($0["members"]) }) || feedback.contains(where: { unmapped($0["owners"]) })
        {
            summary.notImported.append(
                NotExported(kind: "members", reason: "members, watchers and feedback owners without a user of the same username in the target organization are left out (users cannot be created through the API; invite them and run the import again)"))
        }
    }

    /// The target users for a list of `{id}` source users; those without a counterpart are left out.
    func mappedUsers(_ list: JSONValue?) -> [String] {
        (list?.arrayValue ?? []).compactMap { $0["id"]?.idString.flatMap { users[$0] } }
    }

    // MARK: - Target structure

    func targetSpaces() async throws -> [TargetSpace] {
        let data = try await connection.graphQL("organization", KitemakerSchema.organizationQuery)
        targetUsers = data["organization"]?["users"]?.arrayValue ?? []
        return (data["organization"]?["spaces"]?.arrayValue ?? []).compactMap { s in
            guard let id = s["id"]?.idString, let key = s["key"]?.stringValue else { return nil }
            return TargetSpace(
                id: id, key: key, name: s["name"]?.stringValue ?? key, statuses: s["statuses"]?.arrayValue ?? [],
                labels: s["labels"]?.arrayValue ?? [])
        }
    }

    /// The target space for a source space: `containerMap` (by source id or key → target id or key), else the
    /// same key, else the same name.
    func match(_ space: ArchivedSpace, in targets: [TargetSpace]) throws -> TargetSpace {
        func find(_ idOrKey: String) -> TargetSpace? {
            targets.first { $0.id == idOrKey } ?? targets.first { $0.key.lowercased() == idOrKey.lowercased() }
        }
        let mappedTo = options.containerMap[space.id]
            ?? options.containerMap.first { $0.key.lowercased() == space.key.lowercased() }?.value
        let found: TargetSpace?
        if let mappedTo {
            found = find(mappedTo)
            if found == nil {
                throw UserError(
                    "kitemaker: --space-map sends space \(space.key) to \(mappedTo), which is not a space id or key in the target organization (spaces: \(targets.map(\.key).joined(separator: ", ")))",
                    exitStatus: .usage)
            }
        } else {
            found = find(space.key) ?? targets.first { $0.name == space.name }
        }
        guard let target = found else {
            throw UserError(
                "kitemaker: space \(space.key) (“\(space.name)”) has no counterpart in the target organization (spaces: \(targets.map(\.key).joined(separator: ", "))); the Kitemaker API cannot create spaces — create a space with key \(space.key) in Kitemaker, or map it with --space-map \(space.key)=KEY")
        }
        if !dryRun { try journal?.markCreated(kind: "space", [(space.id, target.id)]) }
        known["space", default: [:]][space.id] = Mapping(targetID: target.id, state: .created)
        return target
    }

    /// Maps every status a work item uses to the target status of the same name; a missing one stops the import.
    func mapStatuses(_ mapped: [(ArchivedSpace, TargetSpace)]) throws {
        var missing: [String] = []
        var pairs: [(sourceID: String, targetID: String)] = []
        for (space, target) in mapped {
            let used = Set(space.workItems.compactMap { $0["status"]?["id"]?.idString })
            for status in space.statuses {
                guard let sid = status["id"]?.idString else { continue }
                let name = status["name"]?.stringValue ?? ""
                let match = target.statuses.first { ($0["name"]?.stringValue ?? "") == name }
                    ?? target.statuses.first { ($0["name"]?.stringValue ?? "").lowercased() == name.lowercased() }
                if let tid = match?["id"]?.idString {
                    pairs.append((sid, tid))
                } else if used.contains(sid) {
                    missing.append("“\(name)” (space \(space.key) → \(target.key))")
                } else {
                    summary.notImported.append(
                        NotExported(kind: "status", container: space.id, reason: "status “\(name)” is not in target space \(target.key) and no work item uses it"))
                }
            }
        }
        if !missing.isEmpty {
            let what = missing.count == 1 ? "status \(missing[0]) does" : "statuses \(missing.joined(separator: ", ")) do"
            let help = options.createMissing
                ? "--create-missing cannot help: the Kitemaker API has no route that creates statuses; add"
                : "the Kitemaker API cannot create statuses; add"
            throw UserError("kitemaker: \(what) not exist in the target; \(help) \(missing.count == 1 ? "it" : "them") in the space's settings in Kitemaker and run the import again")
        }
        if !dryRun { try journal?.markCreated(kind: "status", pairs) }
        for (s, t) in pairs { known["status", default: [:]][s] = Mapping(targetID: t, state: .created) }
    }

    func target(_ kind: String, _ source: String?) -> String? {
        guard let source, let e = known[kind]?[source], e.state == .created else { return nil }
        return e.targetID
    }

    // MARK: - Creating one entity

    /// Creates one entity unless the journal shows it exists; returns its target id (a placeholder on a dry run).
    /// `find` looks for an earlier, unrecorded copy in the target (see the type's documentation).
    func ensure(
        kind: String, source: String, route: String, send: () async throws -> JSONValue,
        id idOf: (JSONValue) -> String?, find: () async throws -> String?
    ) async throws -> String {
        if let entry = known[kind]?[source] {
            if entry.state == .created {
                summary.alreadyPresent[kind, default: 0] += 1
                return entry.targetID
            }
            if entry.state == .attempted, !dryRun, let found = try await find() {
                try record(kind, source, found)
                summary.alreadyPresent[kind, default: 0] += 1
                return found
            }
        }
        if dryRun {
            plannedRequests[route, default: 0] += 1
            summary.created[kind, default: 0] += 1
            return "dry-run-\(kind)-\(source)"
        }
        try journal?.plan(kind: kind, [(source, "")])
        try journal?.markAttempted(kind: kind, sourceIDs: [source])
        setKnown(kind, source, Mapping(targetID: "", state: .attempted))
        let retry = connection.client.retry
        var failures = 0
        while true {
            do {
                let answer = try await send()
                guard let id = idOf(answer) else {
                    throw UserError("kitemaker: \(route) answered without the new id; run the import again to continue")
                }
                try record(kind, source, id)
                summary.created[kind, default: 0] += 1
                return id
            } catch let failure as HTTPFailure where failure.mayHaveArrived {
                failures += 1
                if let found = try await find() {
                    try record(kind, source, found)
                    summary.created[kind, default: 0] += 1
                    return found
                }
                if failures >= retry.maxAttempts { throw failure }
                try await Task.sleep(for: retry.baseDelay * failures)
            }
        }
    }

    /// `ensure` for a GraphQL create: `field(input:)`, whose answer names the new entity as `{result {id}}`.
    func ensureCreated(
        kind: String, source: String, field: String, result: String, document: String, input: JSONObject,
        find: () async throws -> String?
    ) async throws -> String {
        try await ensure(
            kind: kind, source: source, route: "POST /graphql \(field)",
            send: {
                try await connection.graphQL(
                    field, document, variables: JSONObject([("input", .object(input))]), retryable: false)
            },
            id: { $0[field]?[result]?["id"]?.idString }, find: find)
    }

    func record(_ kind: String, _ source: String, _ targetID: String) throws {
        try journal?.markCreated(kind: kind, [(source, targetID)])
        setKnown(kind, source, Mapping(targetID: targetID, state: .created))
        claimed[kind, default: []].insert(targetID)
    }

    func isClaimed(_ kind: String, _ id: String) -> Bool { claimed[kind]?.contains(id) ?? false }

    // MARK: - Labels

    func importLabels(_ space: ArchivedSpace, into dest: TargetSpace) async throws {
        var existing = dest.labels
        for label in space.labels {
            guard let sid = label["id"]?.idString, let name = label["name"]?.stringValue else { continue }
            if target("label", sid) != nil {
                summary.alreadyPresent["label", default: 0] += 1
                continue
            }
            let same = existing.first { $0["name"]?.stringValue == name }
                ?? existing.first { $0["name"]?.stringValue?.lowercased() == name.lowercased() }
            if let tid = same?["id"]?.idString {
                if !dryRun { try record("label", sid, tid) } else { known["label", default: [:]][sid] = Mapping(targetID: tid, state: .created) }
                summary.alreadyPresent["label", default: 0] += 1
                continue
            }
            var body = JSONObject([("spaceId", .string(dest.id)), ("labelName", .string(name))])
            if let color = label["color"]?.stringValue { body["color"] = .string(color) }
            let tid = try await ensure(
                kind: "label", source: sid, route: "POST /label",
                send: {
                    try await connection.client.json(connection.rest(.POST, "/label", body: .object(body), retryable: false))
                },
                id: { $0["id"]?.idString },
                find: { [self] in
                    let list = try await connection.client.json(
                        connection.rest(.GET, "/metadata/labels", query: [("spaceId", dest.id)]))
                    return (list.arrayValue ?? []).last {
                        $0["label"]?.stringValue == name && !isClaimed("label", $0["id"]?.idString ?? "")
                    }?["id"]?.idString
                })
            existing.append(["id": .string(tid), "name": .string(name)])
            if dryRun { known["label", default: [:]][sid] = Mapping(targetID: tid, state: .created) }
        }
    }

    // MARK: - Work items

    /// Effort/impact as REST takes them (`small|medium|large`).
    static func restSize(_ v: JSONValue?) -> JSONValue? {
        guard let s = v?.stringValue, !s.isEmpty else { return nil }
        return .string(s.lowercased())
    }

    /// What a column's importer needs from the run, as a value one child task takes.
    struct Setup: Sendable {
        let connection: KitemakerConnection
        let journal: ImportJournal?
        let progress: ProgressReporter
        let options: ImportOptions
        let known: [String: [String: Mapping]]
        let claimed: [String: Set<String>]
        let users: [String: String]
        let keepSort: Bool
    }

    /// An importer for one status column's work items in a child task; `part` is merged back with `merge(_:)`.
    convenience init(_ setup: Setup) {
        self.init(connection: setup.connection, journal: setup.journal, progress: setup.progress, options: setup.options)
        known = setup.known
        claimed = setup.claimed
        users = setup.users
        keepSort = setup.keepSort
        summary = ImportSummary(dryRun: setup.options.dryRun)
    }

    /// What one column's importer did: counts and notes, requests counted on a dry run, and each mapping it set.
    struct Part: Sendable {
        var summary: ImportSummary
        var plannedRequests: [String: Int]
        var changes: [(kind: String, source: String, mapping: Mapping)]
    }

    private var changes: [(kind: String, source: String, mapping: Mapping)] = []

    /// Sets a mapping and remembers the change, for the run to merge a column's part.
    private func setKnown(_ kind: String, _ source: String, _ mapping: Mapping) {
        known[kind, default: [:]][source] = mapping
        changes.append((kind, source, mapping))
    }

    /// Work items, status column by status column, several columns at once (as many as the pacing lets run):
    /// within a column each create waits for the one before, since `createWorkItem` puts each at the top of its
    /// column and a create with an unclear answer is looked for before anything else goes in; columns are
    /// independent (a lookup matches the status too). Parts are merged in column order.
    func importWorkItems(_ mapped: [(ArchivedSpace, TargetSpace)]) async throws {
        var columns: [(space: ArchivedSpace, dest: TargetSpace, items: [JSONValue])] = []
        for (space, dest) in mapped {
            var byStatus: [String: Int] = [:]
            for item in orderedWorkItems(space) {
                let status = item["status"]?["id"]?.idString ?? ""
                if let index = byStatus[status] {
                    columns[index].items.append(item)
                } else {
                    byStatus[status] = columns.count
                    columns.append((space, dest, [item]))
                }
            }
        }
        try await Overlap.inOrder(columns, limit: connection.client.parallelism) {
            Setup(
                connection: connection, journal: journal, progress: progress, options: options, known: known,
                claimed: claimed, users: users, keepSort: keepSort)
        } _: { column, setup in
            let one = KitemakerImporter(setup)
            try await one.importWorkItems(column.items, of: column.space, into: column.dest)
            return Part(summary: one.summary, plannedRequests: one.plannedRequests, changes: one.changes)
        } merge: { part in
            merge(part)
        }
    }

    func merge(_ part: Part) {
        summary.addCounts(of: part.summary)
        summary.notImported += part.summary.notImported
        for (route, n) in part.plannedRequests { plannedRequests[route, default: 0] += n }
        for change in part.changes {
            known[change.kind, default: [:]][change.source] = change.mapping
            if change.mapping.state == .created { claimed[change.kind, default: []].insert(change.mapping.targetID) }
        }
    }

    /// A space's work items column by column, each column bottom to top: `createWorkItem` without `sort` puts each
    /// item at the top of its column, so the column keeps its order.
    func orderedWorkItems(_ space: ArchivedSpace) -> [JSONValue] {
        let order = Dictionary(
            space.statuses.enumerated().compactMap { n, s in s["id"]?.idString.map { ($0, n) } },
            uniquingKeysWith: { a, _ in a })
        return space.workItems.enumerated().sorted { a, b in
            let ca = a.element["status"]?["id"]?.idString.flatMap { order[$0] } ?? Int.max
            let cb = b.element["status"]?["id"]?.idString.flatMap { order[$0] } ?? Int.max
            if ca != cb { return ca < cb }
            let sa = a.element["sort"]?.stringValue ?? "", sb = b.element["sort"]?.stringValue ?? ""
            return sa == sb ? a.offset > b.offset : sa > sb
        }.map(\.element)
    }

    /// `items` (one column's, in `orderedWorkItems` order), one create after another.
    func importWorkItems(_ items: [JSONValue], of space: ArchivedSpace, into dest: TargetSpace) async throws {
        var recent: [JSONValue]?
        for item in items {
            guard let sid = item["id"]?.idString else { continue }
            guard let statusID = target("status", item["status"]?["id"]?.idString) else {
                throw UserError("kitemaker: work item \(space.key)-\(item["number"]?.idString ?? sid) has a status the import could not map")
            }
            let title = item["title"]?.stringValue ?? ""
            let description = item["description"]?.stringValue ?? ""
            // CreateWorkItemInput (kitemakerhq/km `src/kitemaker.graphql`, commit 8e752965e19e23af4df7984ff267bbb412a9bc5b),
            // used with createdAt/updatedAt as Kitemaker's own importer does (kitemakerhq/productboard-importer
            // `index.ts`, commit f3a462393e7b876c5c9f513d340eb850b72ceb0f).
            var input = JSONObject([("title", .string(title)), ("statusId", .string(statusID))])
            if !description.isEmpty { input["description"] = .string(description) }
            let labels = (item["labels"]?.arrayValue ?? []).compactMap { target("label", $0["id"]?.idString) }
            if !labels.isEmpty { input["labelIds"] = .array(labels.map(JSONValue.string)) }
            let members = mappedUsers(item["members"])
            if !members.isEmpty { input["memberIds"] = .array(members.map(JSONValue.string)) }
            let watchers = mappedUsers(item["watchers"])
            if !watchers.isEmpty { input["watcherIds"] = .array(watchers.map(JSONValue.string)) }
            for key in ["effort", "impact"] {
                if let v = item[key]?.stringValue, !v.isEmpty { input[key] = .string(v.uppercased()) }
            }
            for key in ["createdAt", "updatedAt"] {
                if let v = item[key]?.stringValue { input[key] = .string(v) }
            }
            if keepSort, let sort = item["sort"]?.stringValue { input["sort"] = .string(sort) }
            _ = try await ensureCreated(
                kind: "workItem", source: sid, field: "createWorkItem", result: "workItem",
                document: KitemakerSchema.createWorkItemMutation, input: input,
                find: { [self] in
                    func matches(_ w: JSONValue) -> Bool {
                        w["title"]?.stringValue == title && (w["description"]?.stringValue ?? "") == description
                            && w["status"]?["id"]?.idString == statusID && !isClaimed("workItem", w["id"]?.idString ?? "")
                    }
                    if recent == nil {
                        recent = try await connection.client.json(
                            connection.rest(.GET, "/recent/workitems", query: [("spaceId", dest.id), ("count", "50")])
                        ).arrayValue ?? []
                    }
                    if let hit = recent?.first(where: matches) { return hit["id"]?.idString }
                    guard (recent?.count ?? 0) >= 50 else { return nil }
                    return try await allWorkItems(space: dest.id).last(where: matches)?["id"]?.idString
                })
            recent = nil
            progress.advance(items: 1)
        }
    }

    /// Every work item of a target space (GraphQL, 50 per page), for finding an unrecorded create.
    func allWorkItems(space: String) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        var cursor: String?
        repeat {
            var vars = JSONObject([("spaceId", .string(space)), ("count", .int(KitemakerSchema.pageSize))])
            if let cursor { vars["cursor"] = .string(cursor) }
            let page = try await connection.graphQL("workItems", KitemakerSchema.workItemsQuery, variables: vars)["workItems"]
            out += page?["workItems"]?.arrayValue ?? []
            cursor = page?["hasMore"]?.boolValue == true ? page?["cursor"]?.stringValue : nil
        } while cursor != nil
        return out
    }

    // MARK: - Comments

    func importComments(_ space: ArchivedSpace) async throws {
        var opened = Set<String>()
        for comment in space.comments {
            guard let sid = comment["id"]?.idString, let body = comment["body"]?.stringValue else { continue }
            let sourceItem = comment["entity"]?["id"]?.idString
            let sourceThread = comment["threadId"]?.idString ?? sid
            guard let item = target("workItem", sourceItem) ?? (dryRun ? "dry-run" : nil) else {
                summary.notImported.append(
                    NotExported(kind: "comment", container: space.id, reason: "comment \(sid) belongs to no imported work item"))
                continue
            }
            // A reply once its thread is open: opened by this run, or earlier (a rerun, a restore into a thread
            // that is still there).
            let isReply = opened.contains(sourceThread) || target("thread", sourceThread) != nil
            opened.insert(sourceThread)
            let openedThread = target("thread", sourceThread)
            /// A comment on the target work item with this body, not yet claimed: in `thread` for a reply; for a
            /// thread opener, in a thread no other opener claimed (or the one this opener was recorded with).
            func findIn(thread: String?) async throws -> (id: String, thread: String)? {
                let data = try await connection.graphQL(
                    "workItem", KitemakerSchema.workItemCommentsQuery, variables: JSONObject([("id", .string(item))]))
                let hit = (data["workItem"]?["comments"]?.arrayValue ?? []).first { c in
                    let t = c["threadId"]?.idString ?? ""
                    guard c["body"]?.stringValue == body, !isClaimed("comment", c["id"]?.idString ?? "") else { return false }
                    if let thread { return t == thread }
                    return t == openedThread || !isClaimed("thread", t)
                }
                guard let id = hit?["id"]?.idString, let t = hit?["threadId"]?.idString else { return nil }
                return (id, t)
            }
            if !isReply {
                var threadFound: String?
                let created = try await ensure(
                    kind: "comment", source: sid, route: "POST /comment",
                    send: {
                        let answer = try await connection.client.json(
                            connection.rest(
                                .POST, "/comment",
                                body: .object(JSONObject([("workItemId", .string(item)), ("body", .string(body))])),
                                retryable: false))
                        if let t = answer["threadId"]?.idString, !dryRun { try record("thread", sourceThread, t) }
                        return answer
                    },
                    id: { $0["id"]?.idString },
                    find: {
                        let hit = try await findIn(thread: nil)
                        threadFound = hit?.thread
                        return hit?.id
                    })
                if dryRun {
                    known["thread", default: [:]][sourceThread] = Mapping(targetID: "dry-run", state: .created)
                } else if target("thread", sourceThread) == nil {
                    var thread = threadFound
                    if thread == nil {
                        let data = try await connection.graphQL(
                            "workItem", KitemakerSchema.workItemCommentsQuery, variables: JSONObject([("id", .string(item))]))
                        thread = (data["workItem"]?["comments"]?.arrayValue ?? [])
                            .first { $0["id"]?.idString == created }?["threadId"]?.idString
                    }
                    guard let thread else {
                        throw UserError("kitemaker: the thread of comment \(sid) could not be found in the target; run the import again")
                    }
                    try record("thread", sourceThread, thread)
                }
            } else {
                guard let thread = target("thread", sourceThread) ?? (dryRun ? "dry-run" : nil) else {
                    throw UserError("kitemaker: the thread that comment \(sid) replies to was not imported; run the import again")
                }
                let input = JSONObject([("id", .string(item)), ("body", .string(body)), ("threadId", .string(thread))])
                _ = try await ensureCreated(
                    kind: "comment", source: sid, field: "createCommentOnWorkItem", result: "comment",
                    document: KitemakerSchema.createReplyMutation, input: input,
                    find: { try await findIn(thread: thread)?.id })
            }
            progress.advance(items: 1)
        }
    }

    // MARK: - Initiatives and feedback

    /// One initiative. No single write keeps everything: REST `POST /initiative` takes its spaces but no dates and
    /// cannot archive; GraphQL `createInitiative` (kitemakerhq/km `src/kitemaker.graphql`, commit
    /// 8e752965e19e23af4df7984ff267bbb412a9bc5b) takes createdAt, updatedAt, archivedAt, members and work items but
    /// no spaces, and neither route nor mutation can add spaces later. So an active initiative with spaces in the
    /// target goes through REST (it keeps the spaces it is shown in; `editInitiative` adds its work items and
    /// members; its dates are reported), and every other one — archived, or in no imported space — through
    /// `createInitiative`, which keeps its dates and archived state (an archived one's spaces are reported).
    func importInitiative(_ initiative: JSONValue) async throws {
        guard let sid = initiative["id"]?.idString, let title = initiative["title"]?.stringValue else { return }
        let description = initiative["description"]?.stringValue ?? ""
        let sourceSpaces = (initiative["spaces"]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
        let spaces = sourceSpaces.compactMap { target("space", $0) }
        let labels = (initiative["labels"]?.arrayValue ?? []).compactMap { target("label", $0["id"]?.idString) }
        let workItems = (initiative["workItems"]?.arrayValue ?? []).compactMap { target("workItem", $0["id"]?.idString) }
        let members = mappedUsers(initiative["members"])
        let archivedAt = initiative["archivedAt"]?.stringValue
        let find: () async throws -> String? = { [self] in
            try await allPaged("initiatives", KitemakerSchema.initiativesQuery).last {
                $0["title"]?.stringValue == title && ($0["description"]?.stringValue ?? "") == description
                    && !isClaimed("initiative", $0["id"]?.idString ?? "")
            }?["id"]?.idString
        }
        func strings(_ ids: [String]) -> JSONValue { .array(ids.map(JSONValue.string)) }
        // Only a createInitiative this run sends carries the links; one recorded or attempted before gets them
        // through editInitiative.
        let sentBefore = known["initiative"]?[sid].map { $0.state == .created || $0.state == .attempted } ?? false
        let created: String
        var linksSent = false
        if !spaces.isEmpty && archivedAt == nil {
            var body = JSONObject([("title", .string(title))])
            if !description.isEmpty { body["description"] = .string(description) }
            if let color = initiative["color"]?.stringValue { body["color"] = .string(color) }
            body["spaceIds"] = strings(spaces)
            if !labels.isEmpty { body["labelIds"] = strings(labels) }
            created = try await ensure(
                kind: "initiative", source: sid, route: "POST /initiative",
                send: { try await connection.client.json(connection.rest(.POST, "/initiative", body: .object(body), retryable: false)) },
                id: { $0["id"]?.idString }, find: find)
            if spaces.count < sourceSpaces.count {
                let left = (initiative["spaces"]?.arrayValue ?? []).filter { target("space", $0["id"]?.idString) == nil }
                    .compactMap { $0["key"]?.stringValue ?? $0["id"]?.idString }
                summary.notImported.append(
                    NotExported(kind: "initiative.spaces", container: sid, reason: "created in its imported spaces only: \(left.joined(separator: ", ")) is not in this import"))
            }
            if initiative["createdAt"]?.stringValue != nil {
                summary.notImported.append(
                    NotExported(
                        kind: "initiative.createdAt", container: sid,
                        reason: "created through REST to keep its spaces, which takes no dates (the schema's createInitiative takes dates but no spaces): it carries the import's date"))
            }
        } else {
            var input = JSONObject([("title", .string(title))])
            if !description.isEmpty { input["description"] = .string(description) }
            if let color = initiative["color"]?.stringValue { input["color"] = .string(color) }
            if !labels.isEmpty { input["labelIds"] = strings(labels) }
            if !workItems.isEmpty { input["workItemIds"] = strings(workItems) }
            if !members.isEmpty { input["memberIds"] = strings(members) }
            for key in ["createdAt", "updatedAt", "archivedAt"] {
                if let v = initiative[key]?.stringValue { input[key] = .string(v) }
            }
            created = try await ensureCreated(
                kind: "initiative", source: sid, field: "createInitiative", result: "initiative",
                document: KitemakerSchema.createInitiativeMutation, input: input, find: find)
            linksSent = !sentBefore
            if !sourceSpaces.isEmpty {
                let keys = (initiative["spaces"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue ?? $0["id"]?.idString }
                let why = spaces.isEmpty
                    ? "none of its spaces (\(keys.joined(separator: ", "))) is in this import"
                    : "it is archived, and only createInitiative keeps that (and its dates); createInitiative takes no spaces and nothing adds them later"
                summary.notImported.append(
                    NotExported(kind: "initiative.spaces", container: sid, reason: "created without its spaces (\(keys.joined(separator: ", "))): \(why)"))
            }
        }
        // REST creates an initiative without work items or members; `editInitiative` adds them (adding a link
        // twice is no change, so a rerun may send it again safely; the journal records it as done). An initiative
        // found again after an unclear createInitiative gets them the same way.
        if dryRun { known["initiative", default: [:]][sid] = Mapping(targetID: created, state: .created) }
        if linksSent {
            if !dryRun { try journal?.markCreated(kind: "initiativeLinks", [(sid, created)]) }
            known["initiativeLinks", default: [:]][sid] = Mapping(targetID: created, state: .created)
        } else if !workItems.isEmpty || !members.isEmpty, known["initiativeLinks"]?[sid]?.state != .created {
            var input = JSONObject([("id", .string(created))])
            if !workItems.isEmpty { input["addWorkItemIds"] = strings(workItems) }
            if !members.isEmpty { input["addMemberIds"] = strings(members) }
            if dryRun {
                plannedRequests["POST /graphql editInitiative", default: 0] += 1
            } else {
                _ = try await connection.graphQL(
                    "editInitiative", KitemakerSchema.editInitiativeMutation, variables: JSONObject([("input", .object(input))]))
                try journal?.markCreated(kind: "initiativeLinks", [(sid, created)])
                known["initiativeLinks", default: [:]][sid] = Mapping(targetID: created, state: .created)
            }
        }
        progress.advance(items: 1)
    }

    /// Puts the imported initiatives on the target's roadmap columns: a source column stands for the column of the
    /// same name in the target roadmap of the same name (roadmaps and columns cannot be created: the schema has no
    /// mutation for them). One `addInitiativesToRoadmap` per column, its initiatives in the column's order; each
    /// placement is journaled, so a rerun — after the missing roadmaps were made in Kitemaker — places only the rest.
    func placeOnRoadmaps(_ roadmaps: [JSONValue], initiatives: [JSONValue]) async throws {
        struct Column {
            var id: String
            var roadmap: String
            var name: String
            var initiatives: [String]
        }
        var columns: [Column] = []
        for roadmap in roadmaps {
            let roadmapName = roadmap["name"]?.stringValue ?? ""
            for column in roadmap["columns"]?.arrayValue ?? [] {
                guard let id = column["id"]?.idString else { continue }
                let listed = (column["initiatives"]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
                columns.append(Column(id: id, roadmap: roadmapName, name: column["name"]?.stringValue ?? "", initiatives: listed))
            }
        }
        // An initiative that names a column its roadmap does not list under it (an older archive) is placed too.
        for initiative in initiatives {
            guard let sid = initiative["id"]?.idString else { continue }
            for c in (initiative["roadmapColumns"]?.arrayValue ?? []).compactMap({ $0["id"]?.idString }) {
                if let n = columns.firstIndex(where: { $0.id == c }), !columns[n].initiatives.contains(sid) {
                    columns[n].initiatives.append(sid)
                }
            }
        }
        let imported = Set(initiatives.compactMap { $0["id"]?.idString }.filter { target("initiative", $0) != nil })
        let wanted = columns.filter { $0.initiatives.contains(where: imported.contains) }
        guard !wanted.isEmpty else { return }

        let data = try await connection.graphQL("roadmaps", KitemakerSchema.roadmapsQuery)
        let targets = data["roadmaps"]?["roadmaps"]?.arrayValue ?? []
        func named<T>(_ list: [T], _ name: String, _ nameOf: (T) -> String?) -> T? {
            list.first { nameOf($0) == name } ?? list.first { nameOf($0)?.lowercased() == name.lowercased() }
        }
        // Roadmap name → the columns with initiatives that the target lacks, and whether it lacks the roadmap.
        var missing: [String: (names: [String], roadmapToo: Bool)] = [:]
        var mapped: [(Column, String)] = []
        for column in wanted {
            let roadmap = named(targets, column.roadmap) { $0["name"]?.stringValue }
            let match = named(roadmap?["columns"]?.arrayValue ?? [], column.name) { $0["name"]?.stringValue }
            if let tid = match?["id"]?.idString {
                mapped.append((column, tid))
            } else {
                missing["“\(column.roadmap)”", default: ([], roadmap == nil)].names.append("“\(column.name)”")
            }
        }
        for (roadmap, gap) in missing.sorted(by: { $0.key < $1.key }) {
            let columns = gap.names.joined(separator: ", ")
            let what = gap.roadmapToo
                ? "the target has no roadmap \(roadmap), so the initiatives in its columns \(columns) were not placed; make it with those columns"
                : "the target's roadmap \(roadmap) has no column \(columns), so the initiatives in \(gap.names.count == 1 ? "it" : "them") were not placed; add \(gap.names.count == 1 ? "it" : "them")"
            summary.notImported.append(
                NotExported(
                    kind: "roadmapColumn", container: roadmap,
                    reason: "\(what) in Kitemaker (the schema has no mutation that creates roadmaps or columns) and run the import again"))
        }
        if !dryRun { try journal?.markCreated(kind: "roadmapColumn", mapped.map { ($0.0.id, $0.1) }) }
        for (column, tid) in mapped {
            known["roadmapColumn", default: [:]][column.id] = Mapping(targetID: tid, state: .created)
            let pending = column.initiatives.filter { sid in
                target("initiative", sid) != nil && known["roadmapPlacement"]?[Self.placementKey(sid, column.id)]?.state != .created
            }
            let placedBefore = column.initiatives.filter(imported.contains).count - pending.count
            if placedBefore > 0 { summary.alreadyPresent["roadmapPlacement", default: 0] += placedBefore }
            guard !pending.isEmpty else { continue }
            summary.created["roadmapPlacement", default: 0] += pending.count
            if dryRun {
                plannedRequests["POST /graphql addInitiativesToRoadmap", default: 0] += 1
                continue
            }
            let input = JSONObject([
                ("columnId", .string(tid)), ("initiativeIds", .array(pending.compactMap { target("initiative", $0) }.map(JSONValue.string))),
            ])
            _ = try await connection.graphQL(
                "addInitiativesToRoadmap", KitemakerSchema.addInitiativesToRoadmapMutation,
                variables: JSONObject([("input", .object(input))]))
            let placed = pending.map { (Self.placementKey($0, column.id), tid) }
            try journal?.markCreated(kind: "roadmapPlacement", placed)
            for (key, _) in placed { known["roadmapPlacement", default: [:]][key] = Mapping(targetID: tid, state: .created) }
        }
    }

    /// The journal's source id of one initiative's place in one roadmap column.
    static func placementKey(_ initiative: String, _ column: String) -> String { "\(initiative) in \(column)" }

    /// Companies and persons of the archive (`companies.jsonl`, `persons.jsonl`, and any person a feedback names
    /// that the list lacks): one that exists in the target (same name / same email, else same name) is reused,
    /// the rest are created with `createCompany` / `createPerson`.
    /// `onlyNamed`: only the persons and companies `feedback` names (and those persons' companies) — a restore of some
    /// feedback items.
    func importPeople(_ archive: SnapshotReader, feedback: [JSONValue], onlyNamed: Bool = false) async throws {
        var companies = try accountValues(archive, "companies")
        var persons = try accountValues(archive, "persons")
        if onlyNamed {
            let named = Set(feedback.compactMap { $0["person"]?["id"]?.idString })
            persons = persons.filter { named.contains($0["id"]?.idString ?? "") }
            let firms = Set(feedback.compactMap { $0["company"]?["id"]?.idString } + persons.compactMap { $0["company"]?["id"]?.idString })
            companies = companies.filter { firms.contains($0["id"]?.idString ?? "") }
        }
        if persons.contains(where: { !($0["externalId"]?.stringValue ?? "").isEmpty }) {
            summary.notImported.append(
                NotExported(kind: "person.externalId", reason: "CreatePersonInput has no externalId: persons are created with name, email and company only"))
        }
        for f in feedback {
            if let p = f["person"], let id = p["id"]?.idString, !persons.contains(where: { $0["id"]?.idString == id }) {
                persons.append(p)
            }
        }
        guard !companies.isEmpty || !persons.isEmpty else { return }
        // A restore's dry run asks too (a read), so that its count leaves out the persons and companies still there.
        let existing = dryRun && !onlyNamed ? JSONValue.null : try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)
        let targetCompanies = existing["feedbackCompanies"]?.arrayValue ?? []
        let targetPersons = existing["feedbackPersons"]?.arrayValue ?? []
        for company in companies {
            guard let sid = company["id"]?.idString, let name = company["name"]?.stringValue else { continue }
            if let same = targetCompanies.first(where: { $0["name"]?.stringValue == name })?["id"]?.idString,
                !isClaimed("company", same), known["company"]?[sid]?.state != .created
            {
                if !dryRun { try record("company", sid, same) }
                summary.alreadyPresent["company", default: 0] += 1
                continue
            }
            var input = JSONObject([("name", .string(name))])
            if let domain = company["domain"]?.stringValue { input["domain"] = .string(domain) }
            let tid = try await ensureCreated(
                kind: "company", source: sid, field: "createCompany", result: "company",
                document: KitemakerSchema.createCompanyMutation, input: input,
                find: { [self] in
                    try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)["feedbackCompanies"]?
                        .arrayValue?.last { $0["name"]?.stringValue == name && !isClaimed("company", $0["id"]?.idString ?? "") }?[
                            "id"]?.idString
                })
            if dryRun { known["company", default: [:]][sid] = Mapping(targetID: tid, state: .created) }
        }
        for person in persons {
            guard let sid = person["id"]?.idString else { continue }
            let name = person["name"]?.stringValue ?? person["email"]?.stringValue ?? ""
            let email = person["email"]?.stringValue
            func same(_ p: JSONValue) -> Bool {
                if let email, !email.isEmpty { return p["email"]?.stringValue?.lowercased() == email.lowercased() }
                return p["name"]?.stringValue == name
            }
            if let hit = targetPersons.first(where: same)?["id"]?.idString, !isClaimed("person", hit),
                known["person"]?[sid]?.state != .created
            {
                if !dryRun { try record("person", sid, hit) }
                summary.alreadyPresent["person", default: 0] += 1
                continue
            }
            var input = JSONObject([("name", .string(name))])
            if let email, !email.isEmpty { input["email"] = .string(email) }
            if let company = target("company", person["company"]?["id"]?.idString) { input["companyId"] = .string(company) }
            let tid = try await ensureCreated(
                kind: "person", source: sid, field: "createPerson", result: "person",
                document: KitemakerSchema.createPersonMutation, input: input,
                find: { [self] in
                    try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)["feedbackPersons"]?
                        .arrayValue?.last { same($0) && !isClaimed("person", $0["id"]?.idString ?? "") }?["id"]?.idString
                })
            if dryRun { known["person", default: [:]][sid] = Mapping(targetID: tid, state: .created) }
        }
    }

    /// One feedback item through `createFeedback` (as Kitemaker's own importer sends it, with createdAt and
    /// updatedAt): content, processed state, person, company, owners (users of the same username), tags (mapped
    /// labels) and one insight linking its entities.
    func importFeedback(_ feedback: JSONValue) async throws {
        guard let sid = feedback["id"]?.idString, let title = feedback["title"]?.stringValue else { return }
        let contents = Self.feedbackContent(feedback)
        var input = JSONObject([("title", .string(title))])
        if !contents.isEmpty { input["content"] = .string(contents) }
        if feedback["processed"]?.boolValue == true { input["processed"] = true }
        if let person = target("person", feedback["person"]?["id"]?.idString) { input["personId"] = .string(person) }
        if let company = target("company", feedback["company"]?["id"]?.idString) { input["companyId"] = .string(company) }
        let owners = mappedUsers(feedback["owners"])
        if !owners.isEmpty { input["ownerIds"] = .array(owners.map(JSONValue.string)) }
        let tags = (feedback["tags"]?.arrayValue ?? []).compactMap { target("label", $0["id"]?.idString) }
        if !tags.isEmpty { input["tagIds"] = .array(tags.map(JSONValue.string)) }
        for key in ["createdAt", "updatedAt"] {
            if let v = feedback[key]?.stringValue { input[key] = .string(v) }
        }
        var entities: [String] = []
        for insight in feedback["insights"]?.arrayValue ?? [] {
            for e in Self.insightEntityIDs(insight) {
                if let t = target("workItem", e) ?? target("initiative", e), !entities.contains(t) {
                    entities.append(t)
                }
            }
        }
        if !entities.isEmpty { input["linkInsightToEntityIds"] = .array(entities.map(JSONValue.string)) }
        _ = try await ensureCreated(
            kind: "feedback", source: sid, field: "createFeedback", result: "feedback",
            document: KitemakerSchema.createFeedbackMutation, input: input,
            find: { [self] in
                try await allPaged("feedback", KitemakerSchema.feedbackQuery).last {
                    $0["title"]?.stringValue == title && Self.feedbackContent($0) == contents
                        && !isClaimed("feedback", $0["id"]?.idString ?? "")
                }?["id"]?.idString
            })
        progress.advance(items: 1)
    }

    /// Every item of an organization-wide GraphQL list (`initiatives`, `feedback`).
    func allPaged(_ operation: String, _ query: String) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        var cursor: String?
        repeat {
            var vars = JSONObject([("count", .int(KitemakerSchema.pageSize))])
            if let cursor { vars["cursor"] = .string(cursor) }
            let page = try await connection.graphQL(operation, query, variables: vars)[operation]
            out += page?[operation]?.arrayValue ?? []
            cursor = page?["hasMore"]?.boolValue == true ? page?["cursor"]?.stringValue : nil
        } while cursor != nil
        return out
    }
}

extension HTTPFailure {
    /// True when the request may have reached the service and taken effect before the failure.
    var mayHaveArrived: Bool {
        switch self {
        case .serverError, .timeout, .connectionLost, .truncatedBody: return true
        default: return false
        }
    }
}
