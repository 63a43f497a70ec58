import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Kitemaker's part of `kitbag restore`: spaces hold work items and their comments. Kitemaker's API deletes and
/// archives nothing and creates no spaces or statuses (kitemakerhq/km `src/kitemaker.graphql`, commit
/// 8e752965e19e23af4df7984ff267bbb412a9bc5b; kitemakerhq/rest-docs `_api/*.md`, commit
/// 2f0c66b3c459eb969218810464bd1d8afe5a3ca6). A work item deleted in the app comes back as a new work item
/// through the importer's own creates (`createWorkItem` with its archived position, status and labels of the live
/// space, then its comments oldest first), journaled archived id → new id; Kitemaker gives it a new number.
/// `--revert` sets a work item's title, description, status, effort and impact back through REST `PUT /workitem`
/// ("Only provided fields will be updated") and adds labels it lost (that route only adds labels). A label deleted from
/// the space is created again (`POST /label`, journaled) when the plan or a work item put back needs it. There is no
/// optimistic lock: a revert reads the work item again just before its `PUT` and leaves it alone when it changed
/// since the plan, but an edit between that read and the write is overwritten.
///
/// Initiatives and feedback (the account folder) are compared as entities of no space when the scope takes them (see
/// `liveReader`); deleted ones come back through the importer's creates (`restoreAccount`), surviving ones are linked
/// to the work items, initiatives and labels put back, and `--revert` sets an initiative back through
/// `editInitiative` and a feedback item through `editFeedback` — each read again just before (`initiative(id:)`,
/// `feedbackById(id:)`) and left alone when it changed since the plan, as work items are. The schema has no mutation
/// that deletes either.
extension KitemakerConnection: RestoreTarget {
    public var liveRules: LiveRules { KitemakerRestore.rules }

    public func restoreRefusal(kind: String, action: RestoreAction) -> String? {
        KitemakerRestore.refusal(kind: kind, action: action)
    }

    /// When the scope names work items and comments and nothing else, a copy that reads only those work items (a
    /// comment through its work item), each by id — under its archived id and under the id an earlier restore gave
    /// it — instead of every work item of their spaces. A work item Kitemaker no longer has is left out of the live
    /// read, so it compares as deleted.
    ///
    /// Initiatives and feedback (the account folder) are read only when the scope may take them: everything, `--match`,
    /// or `--only initiative:ID` / `--only feedback:ID`. A scope of initiatives and feedback only reads no space's work
    /// items but those the named ones link to (by id, to link the copies put back to them).
    public func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> KitemakerConnection {
        var reader = self
        let kinds = scope.only.map(\.kind)
        reader.liveAccount = scope.isEverything || !(scope.match ?? "").isEmpty || kinds.contains(where: KitemakerRestore.accountKinds.contains)
        var named: [String: [String]]
        if !kinds.isEmpty, scope.containers.isEmpty, (scope.match ?? "").isEmpty, kinds.allSatisfy(KitemakerRestore.accountKinds.contains) {
            let linked = (try? KitemakerRestore.linkedWorkItems(scope, archive: archive)) ?? []
            named = (try? KitemakerRestore.namedWorkItems(RestoreScope(only: linked.map { ("workItem", $0) }), archive: archive, unknownEverywhere: false)) ?? [:]
        } else {
            guard !scope.only.isEmpty, scope.containers.isEmpty, (scope.match ?? "").isEmpty,
                kinds.allSatisfy({ $0 == "workItem" || $0 == "comment" }),
                let items = try? KitemakerRestore.namedWorkItems(scope, archive: archive)
            else { return reader }
            named = items
        }
        reader.liveWorkItems = named.mapValues { ids in
            var out: [String] = []
            for id in ids {
                for candidate in [id, restored.forward["workItem"]?[id]].compactMap({ $0 }) where !out.contains(candidate) {
                    out.append(candidate)
                }
            }
            return out
        }
        return reader
    }

    public func applyRestore(
        _ plan: RestorePlan, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs, journal: ImportJournal?,
        dryRun: Bool, progress: ProgressReporter
    ) async throws -> RestoreOutcome {
        let restorer = KitemakerRestore(
            connection: self, archive: archive, live: live, restored: restored, journal: journal, dryRun: dryRun, progress: progress)
        return try await restorer.run(plan)
    }
}

final class KitemakerRestore {
    static let kinds: Set<String> = ["space", "status", "label", "workItem", "comment", "initiative", "feedback"]
    /// Kinds of the account folder compared (entities of no space).
    static let accountKinds: Set<String> = ["initiative", "feedback"]

    /// Keys compared nowhere: the server's (`updatedAt`) and history (`activities`, which the server writes).
    static let ignoredKeys: Set<String> = ["updatedAt", "activities"]

    /// What Kitemaker sets on a work item or comment created again: a new number, the restoring user as its actor, the
    /// time of the restore (and, in a done or archived status, closedAt/archivedAt of that time).
    static let notRestorable: [String: Set<String>] = [
        "workItem": ["number", "actor", "createdAt", "closedAt", "archivedAt"],
        "comment": ["actor", "createdAt"],
        "label": ["createdAt"],
        // Effort and impact are set by ids the API does not list; comments and watchers no route writes; an active
        // initiative goes through REST (to keep its spaces), which takes no dates.
        "initiative": ["number", "actor", "createdAt", "effort", "impact", "comments", "watchers"],
        "feedback": ["number", "actor", "processedAt"],
    ]

    static let rules = LiveRules(
        ignoredKeys: ignoredKeys, containerKind: "space", kinds: kinds,
        normalize: { kind, value, _ in normalize(kind, value) },
        journalKinds: ["workItem", "comment", "thread", "label", "initiative", "feedback", "person", "company"],
        notRestorableKeys: notRestorable, translate: { kind, value, ids in translate(kind, value, ids) },
        accountKinds: accountKinds)

    /// A work item's labels are a set (`PUT /workitem` adds a label it lost at the end): compared in id order; so are
    /// an initiative's labels, work items, members and spaces and a feedback's tags and owners. A feedback's insights
    /// are compared by what a client sets — their text and the entities they link (in id order) — not by their own ids,
    /// authors and times, which `createFeedback` gives anew.
    static func normalize(_ kind: String, _ value: JSONValue) -> JSONValue {
        guard var o = value.objectValue else { return value }
        func byID(_ list: JSONValue?) -> JSONValue? {
            guard let items = list?.arrayValue, items.count > 1 else { return list }
            return .array(items.sorted { ($0["id"]?.idString ?? "") < ($1["id"]?.idString ?? "") })
        }
        switch kind {
        case "workItem":
            guard let labels = o["labels"], labels.arrayValue?.count ?? 0 > 1 else { return value }
            o["labels"] = byID(labels)
        case "initiative":
            for key in ["labels", "workItems", "members", "spaces"] where o[key] != nil { o[key] = byID(o[key]) }
        case "feedback":
            for key in ["tags", "owners"] where o[key] != nil { o[key] = byID(o[key]) }
            if let insights = o["insights"]?.arrayValue {
                o["insights"] = .array(insights.map { insight in
                    .object(JSONObject([
                        ("content", .string(KitemakerImporter.feedbackContent(insight))),
                        ("entities", .array(KitemakerImporter.insightEntityIDs(insight).sorted().map(JSONValue.string))),
                    ]))
                })
            }
        default:
            return value
        }
        return .object(o)
    }

    /// A live entity with the ids the restore gave turned back into archived ids: its own, a comment's thread and
    /// work item, a work item's labels.
    static func translate(_ kind: String, _ value: JSONValue, _ ids: RoundTripIDs) -> JSONValue {
        guard var o = value.objectValue else { return value }
        func back(_ kind: String, _ id: String?) -> String? { id.flatMap { ids.back[kind]?[$0] } }
        if let id = back(kind, o["id"]?.idString) { o["id"] = .string(id) }
        if kind == "workItem", let labels = o["labels"]?.arrayValue {
            o["labels"] = .array(labels.map { label in
                guard var l = label.objectValue, let id = back("label", l["id"]?.idString) else { return label }
                l["id"] = .string(id)
                return .object(l)
            })
        }
        /// `{id}` objects of a list whose ids the restore gave, turned back (`kinds`: the kinds an id may be of).
        func list(_ key: String, _ kinds: [String]) {
            guard let items = o[key]?.arrayValue else { return }
            o[key] = .array(items.map { item in
                guard var i = item.objectValue, let id = i["id"]?.idString,
                    let old = kinds.lazy.compactMap({ back($0, id) }).first
                else { return item }
                i["id"] = .string(old)
                return .object(i)
            })
        }
        if kind == "initiative" {
            list("workItems", ["workItem"])
            list("labels", ["label"])
        }
        if kind == "feedback" {
            list("tags", ["label"])
            for key in ["person", "company"] {
                if var who = o[key]?.objectValue, let old = back(key, who["id"]?.idString) {
                    who["id"] = .string(old)
                    o[key] = .object(who)
                }
            }
            if let insights = o["insights"]?.arrayValue {
                o["insights"] = .array(insights.map { insight in
                    guard var i = insight.objectValue, let entities = i["entities"]?.arrayValue else { return insight }
                    i["entities"] = .array(entities.map { e in
                        guard var x = e.objectValue, let id = x["id"]?.idString,
                            let old = back("workItem", id) ?? back("initiative", id)
                        else { return e }
                        x["id"] = .string(old)
                        return .object(x)
                    })
                    return .object(i)
                })
            }
        }
        if kind == "comment" {
            if let thread = back("thread", o["threadId"]?.idString) { o["threadId"] = .string(thread) }
            if var entity = o["entity"]?.objectValue, let item = back("workItem", entity["id"]?.idString) {
                entity["id"] = .string(item)
                o["entity"] = .object(entity)
            }
        }
        return .object(o)
    }

    /// Per archived space id, the work items a scope of work items and comments names (a comment by its work item),
    /// in the order named. A work item the archive does not hold is asked for in every space read (it may have been
    /// added since).
    static func namedWorkItems(_ scope: RestoreScope, archive: SnapshotReader, unknownEverywhere: Bool = true) throws -> [String: [String]] {
        let items = Set(scope.only.filter { $0.kind == "workItem" }.map(\.id))
        let comments = Set(scope.only.filter { $0.kind == "comment" }.map(\.id))
        var spaceOf: [String: String] = [:]
        var itemOf: [String: String] = [:]
        let present = Set(archive.jsonLinesEntries().map(\.path))
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            guard folder != ContainerRef.account.archiveFolder,
                let space = try archive.values(at: entry.path).first?["id"]?.idString
            else { continue }
            if !items.isEmpty, present.contains("\(folder)/workItems.jsonl") {
                for item in try archive.values(at: "\(folder)/workItems.jsonl") {
                    if let id = item["id"]?.idString, items.contains(id) { spaceOf[id] = space }
                }
            }
            if !comments.isEmpty, present.contains("\(folder)/comments.jsonl") {
                for comment in try archive.values(at: "\(folder)/comments.jsonl") {
                    if let id = comment["id"]?.idString, comments.contains(id), let item = comment["entity"]?["id"]?.idString {
                        itemOf[id] = item
                        spaceOf[item] = space
                    }
                }
            }
        }
        var out: [String: [String]] = [:]
        var unknown: [String] = []
        for o in scope.only {
            let item = o.kind == "workItem" ? o.id : itemOf[o.id]
            guard let item, let space = spaceOf[item] else {
                if o.kind == "workItem" { unknown.append(o.id) }
                continue
            }
            if !(out[space]?.contains(item) ?? false) { out[space, default: []].append(item) }
        }
        if unknownEverywhere { for space in out.keys { out[space]! += unknown.filter { !out[space]!.contains($0) } } }
        return out
    }

    /// The work items the initiatives and feedback a scope names link to in the archive (an initiative's work items, a
    /// feedback's insight entities), in order.
    static func linkedWorkItems(_ scope: RestoreScope, archive: SnapshotReader) throws -> [String] {
        var out: [String] = []
        for (file, kind) in [("initiatives", "initiative"), ("feedback", "feedback")] {
            let wanted = Set(scope.only.filter { $0.kind == kind }.map(\.id))
            let path = ArchivePath.jsonLines(container: .account, file: file)
            guard !wanted.isEmpty, archive.hasJSONLines(at: path) else { continue }
            for v in try archive.values(at: path) where wanted.contains(v["id"]?.idString ?? "") {
                let ids = kind == "initiative"
                    ? (v["workItems"]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
                    : (v["insights"]?.arrayValue ?? []).flatMap(KitemakerImporter.insightEntityIDs)
                for id in ids where !out.contains(id) { out.append(id) }
            }
        }
        return out
    }

    static func refusal(kind: String, action: RestoreAction) -> String? {
        switch (kind, action) {
        case ("workItem", .recreate), ("comment", .recreate), ("workItem", .revert), ("label", .recreate),
            ("initiative", .recreate), ("feedback", .recreate), ("initiative", .revert), ("feedback", .revert):
            return nil
        case (_, .undelete):
            return "Kitemaker has no trash to take a \(kind) out of"
        case (_, .remove):
            return "Kitemaker's API deletes nothing (no REST DELETE route, no delete mutation); delete it in Kitemaker if it should go"
        case ("space", .recreate):
            return "Kitemaker's API cannot create spaces; create it in Kitemaker, then `kitbag import` the archive into it"
        case ("status", .recreate):
            return "Kitemaker's API cannot create statuses; add it in the space's settings in Kitemaker"
        case ("comment", .revert):
            return "Kitemaker's API has no route to change a comment; it is left as it is"
        case (_, .revert):
            return "Kitemaker's API has no route to change a \(kind); it is left as it is"
        default:
            return "restoring a \(kind) is not supported"
        }
    }

    let connection: KitemakerConnection
    let archive: SnapshotReader
    let live: SnapshotReader
    /// Archived id → live id of what earlier runs of this restore created (from its journal).
    let restored: RoundTripIDs
    let journal: ImportJournal?
    let dryRun: Bool
    let importer: KitemakerImporter
    private var done: [String: Int] = [:]
    private var counted: [String: Int] = [:]
    private var notRestored: [NotExported] = []
    private var leftAlone: [RestoreSkip] = []
    /// `kind/id` of what the plan creates again (a dry run links to placeholders of those).
    private var planned: Set<String> = []

    init(
        connection: KitemakerConnection, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs = .none,
        journal: ImportJournal?, dryRun: Bool, progress: ProgressReporter
    ) {
        self.connection = connection
        self.archive = archive
        self.live = live
        self.restored = restored
        self.journal = journal
        self.dryRun = dryRun
        importer = KitemakerImporter(connection: connection, journal: journal, progress: progress, options: ImportOptions(dryRun: dryRun))
        importer.keepSort = true
    }

    func run(_ plan: RestorePlan) async throws -> RestoreOutcome {
        let before = await connection.client.requestCounts()
        let accountRead = live.hasJSONLines(at: ArchivePath.jsonLines(container: .account, file: "initiatives"))
        if !accountRead {
            note("initiative", "the scope names no initiative or feedback, so they were not read: they are neither compared nor put back by this run, and a work item put back is not linked again to its initiatives or feedback (a restore without --only or --container does both)")
        }
        try await explainingPermission {
            let recreate = plan.steps.filter { $0.action == .recreate }
            let reverts = plan.steps.filter { $0.action == .revert && $0.kind == "workItem" }
            let accountReverts = plan.steps.filter { $0.action == .revert && Self.accountKinds.contains($0.kind) }
            // An initiative or feedback that lost a link to a work item put back (changed, left alone by the plan) is
            // linked to the copy.
            let lostLinks = accountRead && plan.skipped.contains {
                Self.accountKinds.contains($0.entry.kind) && $0.entry.change == .changed
                    && !Set($0.entry.fields ?? []).isDisjoint(with: ["workItems", "labels", "members", "roadmapColumns", "insights", "tags"])
            }
            planned = Set(recreate.map { "\($0.kind)/\($0.id)" })
            guard !recreate.isEmpty || !reverts.isEmpty || !accountReverts.isEmpty || lostLinks else { return }
            let archived = try importer.readSpaces(archive)
            try forgetGoneAgain(recreate, archived: archived)
            try importer.loadJournal()
            let targets = try liveTargets()
            try importer.mapUsers(archive)
            for container in Set(plan.steps.compactMap(\.container)).sorted() {
                guard let space = archived.first(where: { $0.id == container }),
                    let target = targets.first(where: { $0.id == container })
                else { continue }
                try seed(space, target: target)
                try await recreateLabels(space: space, target: target, steps: recreate, reverts: reverts)
                let items = Set(recreate.filter { $0.container == container && $0.kind == "workItem" }.map(\.id))
                let comments = Set(recreate.filter { $0.container == container && $0.kind == "comment" }.map(\.id))
                var wanted = space
                wanted.workItems = space.workItems.filter { items.contains($0["id"]?.idString ?? "") }
                // A work item's comments went with it: they come back with it, oldest first, whatever the selection named.
                wanted.comments = space.comments.filter {
                    comments.contains($0["id"]?.idString ?? "") || items.contains($0["entity"]?["id"]?.idString ?? "")
                }
                if !wanted.workItems.isEmpty || !wanted.comments.isEmpty {
                    try importer.mapStatuses([(wanted, target)])
                    try await importer.importWorkItems([(wanted, target)])
                    try await importer.importComments(wanted)
                }
                try await revert(reverts.filter { $0.container == container }, space: space, target: target)
            }
            if accountRead {
                try await restoreAccount(recreate, reverts: accountReverts, archived: archived, targets: targets)
            }
            for (kind, n) in importer.summary.created { done["recreate \(kind)", default: 0] += n }
            if (importer.summary.created["workItem"] ?? 0) > 0 {
                note("number", "Kitemaker numbers work items itself: a work item put back has a new number (ACM-3 may come back as ACM-15), and numbers mentioned in text are not rewritten")
                note("actor", "what is put back is made by the token's user at the time of the restore (no route takes an author); a work item in a done or archived status is closed or archived at that time")
            }
            if (importer.summary.created["comment"] ?? 0) > 0 {
                note("comment.createdAt", "comments put back carry the time of the restore and the token's user as author, in their threads' order")
            }
        }
        let requests: [String: Int]
        if dryRun {
            requests = importer.plannedRequests.merging(counted, uniquingKeysWith: +)
        } else {
            // Write requests only: the reads (the organization, a create settled by listing) count with the comparison's.
            requests = RestoreJobs.requests(await connection.client.requestCounts(), since: before).filter {
                !$0.key.hasPrefix("GET ") && !Self.readOperations.contains($0.key)
            }
        }
        return RestoreOutcome(requests: requests, done: done, leftAlone: leftAlone, notRestored: notRestored)
    }

    /// GraphQL queries the restore may send (POSTs that only read).
    static let readOperations: Set<String> = [
        "POST /graphql organization", "POST /graphql workItems", "POST /graphql workItem", "POST /graphql initiatives",
        "POST /graphql feedback", "POST /graphql roadmaps", "POST /graphql feedbackPeople", "POST /graphql initiative",
        "POST /graphql feedbackById",
    ]

    private func note(_ kind: String, _ reason: String, container: String? = nil) {
        guard !notRestored.contains(where: { $0.kind == kind && $0.container == container }) else { return }
        notRestored.append(NotExported(kind: kind, container: container, reason: reason))
    }

    /// The spaces the comparison read, as the importer's targets (statuses and labels as they are now), and the
    /// organization's users — from the live read, so that the organization is not asked for a second time.
    private func liveTargets() throws -> [KitemakerImporter.TargetSpace] {
        let present = Set(live.jsonLinesEntries().map(\.path))
        func values(_ path: String) throws -> [JSONValue] { present.contains(path) ? try live.values(at: path) : [] }
        importer.targetUsers = try values(ArchivePath.jsonLines(container: .account, file: "users"))
        var out: [KitemakerImporter.TargetSpace] = []
        for entry in live.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            guard folder != ContainerRef.account.archiveFolder, let space = try live.values(at: entry.path).first,
                let id = space["id"]?.idString, let key = space["key"]?.stringValue
            else { continue }
            out.append(
                KitemakerImporter.TargetSpace(
                    id: id, key: key, name: space["name"]?.stringValue ?? key, statuses: try values("\(folder)/statuses.jsonl"),
                    labels: try values("\(folder)/labels.jsonl")))
        }
        return out
    }

    /// What an earlier restore created and the comparison finds gone again (deleted once more in the app) is forgotten
    /// by the journal, so that it is created afresh instead of counted as present: the work items, comments and labels
    /// the plan recreates whose journal entry says created, and the comment threads of such work items. Entries only
    /// attempted stay: the importer asks Kitemaker whether those arrived.
    private func forgetGoneAgain(_ recreate: [RestoreStep], archived: [KitemakerImporter.ArchivedSpace]) throws {
        guard let journal, !dryRun else { return }
        var stale: [String: [String]] = [:]
        for step in recreate where restored.forward[step.kind]?[step.id] != nil { stale[step.kind, default: []].append(step.id) }
        let items = Set(stale["workItem"] ?? [])
        if !items.isEmpty {
            var threads = Set<String>()
            for space in archived {
                for c in space.comments where items.contains(c["entity"]?["id"]?.idString ?? "") {
                    if let thread = c["threadId"]?.idString, restored.forward["thread"]?[thread] != nil { threads.insert(thread) }
                }
            }
            if !threads.isEmpty { stale["thread"] = threads.sorted() }
        }
        // An initiative put back and deleted again: its links and roadmap places go with it.
        if let initiatives = stale["initiative"] {
            stale["initiativeLinks"] = initiatives
            let columns = try importer.accountValues(archive, "roadmaps").flatMap { ($0["columns"]?.arrayValue ?? []).compactMap { $0["id"]?.idString } }
            let placements = initiatives.flatMap { i in columns.map { KitemakerImporter.placementKey(i, $0) } }
            if !placements.isEmpty { stale["roadmapPlacement"] = placements }
        }
        for (kind, ids) in stale.sorted(by: { $0.key < $1.key }) { try journal.forget(kind: kind, sourceIDs: ids) }
    }

    /// What still exists keeps its id, unless the journal of an earlier run recorded another.
    private func keep(_ kind: String, _ id: String) {
        guard importer.known[kind]?[id] == nil else { return }
        importer.known[kind, default: [:]][id] = KitemakerImporter.Mapping(targetID: id, state: .created)
        importer.claimed[kind, default: []].insert(id)
    }

    /// What still exists keeps its id (unless the journal of an earlier run recorded another): work items, threads,
    /// labels, and the space itself.
    private func seed(_ space: KitemakerImporter.ArchivedSpace, target: KitemakerImporter.TargetSpace) throws {
        keep("space", space.id)
        // Only what the archive holds too: a work item or thread added since is no archived one's copy (a rerun after
        // a kill may claim it as the copy it sent).
        let archivedItems = Set(space.workItems.compactMap { $0["id"]?.idString })
        let archivedThreads = Set(space.comments.compactMap { $0["threadId"]?.idString })
        let folder = KitemakerSchema.container(space: target.id).archiveFolder
        let present = Set(live.jsonLinesEntries().map(\.path))
        for file in ["workItems", "comments"] where present.contains("\(folder)/\(file).jsonl") {
            for v in try live.values(at: "\(folder)/\(file).jsonl") {
                guard let id = v["id"]?.idString else { continue }
                if file == "workItems" {
                    if archivedItems.contains(id) { keep("workItem", id) }
                } else if let thread = v["threadId"]?.idString, archivedThreads.contains(thread) {
                    keep("thread", thread)
                }
            }
        }
        // Labels by name in the live space (a label gone since is created again by `recreateLabels`).
        for label in space.labels {
            guard let id = label["id"]?.idString, importer.known["label"]?[id] == nil else { continue }
            let name = label["name"]?.stringValue ?? ""
            if let tid = target.labels.first(where: { $0["name"]?.stringValue == name })?["id"]?.idString {
                importer.known["label", default: [:]][id] = KitemakerImporter.Mapping(targetID: tid, state: .created)
            }
        }
    }

    /// Labels gone from the live space that the plan puts back, or that a work item put back or set back carries:
    /// created again through the importer's `POST /label` (its name and colour, journaled archived id → new id).
    private func recreateLabels(
        space: KitemakerImporter.ArchivedSpace, target: KitemakerImporter.TargetSpace, steps: [RestoreStep], reverts: [RestoreStep]
    ) async throws {
        var wanted = Set(steps.filter { $0.container == space.id && $0.kind == "label" }.map(\.id))
        let carried = Set(steps.filter { $0.container == space.id && $0.kind == "workItem" }.map(\.id))
            .union(reverts.filter { $0.container == space.id && ($0.fields ?? []).contains("labels") }.map(\.id))
        for item in space.workItems where carried.contains(item["id"]?.idString ?? "") {
            for label in item["labels"]?.arrayValue ?? [] { if let id = label["id"]?.idString { wanted.insert(id) } }
        }
        var missing = space
        missing.labels = space.labels.filter { l in
            guard let id = l["id"]?.idString else { return false }
            return wanted.contains(id) && importer.target("label", id) == nil
        }
        guard !missing.labels.isEmpty else { return }
        try await importer.importLabels(missing, into: target)
    }

    /// Changed fields of work items back to the archived values through `PUT /workitem`, which changes only the fields
    /// it is given and adds (never removes) labels. What it cannot set is reported.
    private func revert(_ steps: [RestoreStep], space: KitemakerImporter.ArchivedSpace, target: KitemakerImporter.TargetSpace) async throws {
        for step in steps {
            guard let old = space.workItems.first(where: { $0["id"]?.idString == step.id }),
                let liveID = importer.target("workItem", step.id)
            else { continue }
            let folder = KitemakerSchema.container(space: target.id).archiveFolder
            let now = try live.values(at: "\(folder)/workItems.jsonl").first { $0["id"]?.idString == liveID }
            var body = JSONObject([("id", .string(liveID))])
            var unset: [String] = []
            for field in step.fields ?? [] {
                switch field {
                case "title":
                    body["title"] = old["title"] ?? .null
                case "description":
                    body["description"] = .string(old["description"]?.stringValue ?? "")
                case "status":
                    let name = old["status"]?["name"]?.stringValue ?? ""
                    if let id = target.statuses.first(where: { $0["name"]?.stringValue == name })?["id"]?.idString {
                        body["statusId"] = .string(id)
                    } else {
                        unset.append(field)
                    }
                case "effort", "impact":
                    if let size = KitemakerImporter.restSize(old[field]) { body[field] = size } else { unset.append(field) }
                case "labels":
                    let had = Set((now?["labels"]?.arrayValue ?? []).compactMap { $0["id"]?.idString })
                    let wanted = (old["labels"]?.arrayValue ?? []).compactMap { importer.target("label", $0["id"]?.idString) }
                    let missing = wanted.filter { !had.contains($0) }
                    if !missing.isEmpty { body["labelIds"] = .array(missing.map(JSONValue.string)) }
                    if !had.subtracting(wanted).isEmpty { unset.append(field) }
                default:
                    unset.append(field)
                }
            }
            for field in unset {
                notRestored.append(
                    NotExported(
                        kind: "workItem.\(field)", container: step.id,
                        reason: field == "labels"
                            ? "PUT /workitem only adds labels: remove the labels added since in Kitemaker"
                            : "PUT /workitem cannot set \(field) to what the archive holds; it stays as it is"))
            }
            if body.count > 1 {
                if dryRun {
                    counted["PUT /workitem", default: 0] += 1
                } else {
                    if let moved = try await movedSincePlan(step.kind, liveID, planned: now) {
                        leaveAlone(step, moved)
                        continue
                    }
                    _ = try await connection.client.send(connection.rest(.PUT, "/workitem", body: .object(body)))
                    try journal?.markStep("revert-workItem", sourceIDs: [step.id])
                }
                done["revert workItem", default: 0] += 1
            }
            if body["statusId"] != nil {
                note("workItem.sort", "a work item whose status is set back goes to the top of its column (PUT /workitem places it top or bottom only)", container: step.id)
            }
        }
    }

    /// Kitemaker has no optimistic lock: a work item, initiative or feedback item (`kind`) is read again just before
    /// its write (`workItem(id:)`, `initiative(id:)`, `feedbackById(id:)`, with the fields the live read asked for);
    /// why it is left alone when it was deleted or edited since the plan's live read saw it, else nil.
    private func movedSincePlan(_ kind: String, _ id: String, planned: JSONValue?) async throws -> String? {
        let read: JSONValue?
        switch kind {
        case "initiative": read = try await connection.initiative(id: id)
        case "feedback": read = try await connection.feedback(id: id)
        default: read = try await connection.workItem(id: id)
        }
        guard var current = read?.objectValue else {
            return "deleted in Kitemaker after the plan was made; left as it is (run the restore again to put it back)"
        }
        if kind == "workItem" {
            // The live read keeps a work item's comments apart and knows its space from the folder.
            current["comments"] = nil
            current["space"] = nil
        }
        guard let planned else { return nil }
        let fields = LiveComparison.changedFields(
            Self.normalize(kind, planned), Self.normalize(kind, .object(current)), rules: Self.rules)
        guard !fields.isEmpty else { return nil }
        return "edited in Kitemaker after the plan was made (\(fields.joined(separator: ", "))); left as it is now (run the restore again to compare afresh)"
    }

    /// A revert step not sent because its item moved since the plan, listed under "left alone" with the reason.
    private func leaveAlone(_ step: RestoreStep, _ reason: String) {
        leftAlone.append(
            RestoreSkip(
                entry: LiveDiff.Entry(
                    kind: step.kind, container: step.container, id: step.id, title: step.title, change: .changed, fields: step.fields),
                reason: reason))
    }

    // MARK: - Initiatives and feedback

    private func liveAccount(_ file: String) throws -> [JSONValue] {
        let path = ArchivePath.jsonLines(container: .account, file: file)
        return live.hasJSONLines(at: path) ? try live.values(at: path) : []
    }

    /// Initiatives and feedback: the deleted ones created again through the importer's own creates (an initiative with
    /// its spaces, labels, members, work items — the copies where they were put back — and dates or archived state, then
    /// placed on the live roadmap columns of the same names; a feedback item with its person and company, created again
    /// where they are gone too, owners, tags and insight links), journaled archived id → new id. An initiative or
    /// feedback item that still exists but lost its link to a work item put back is linked to the copy
    /// (`editInitiative` `addWorkItemIds`, `addEntitiesToInsight`); with `--revert`, an initiative's changed fields
    /// are set back through `editInitiative` and a feedback item's through `editFeedback`, each read again first.
    private func restoreAccount(
        _ recreate: [RestoreStep], reverts: [RestoreStep], archived: [KitemakerImporter.ArchivedSpace],
        targets: [KitemakerImporter.TargetSpace]
    ) async throws {
        let archivedInitiatives = try importer.accountValues(archive, "initiatives")
        let archivedFeedback = try importer.accountValues(archive, "feedback")
        let liveInitiatives = try liveAccount("initiatives")
        let liveFeedback = try liveAccount("feedback")
        // What the live read holds keeps its id: spaces (and their labels, by name), the work items read, initiatives.
        for space in archived {
            if let target = targets.first(where: { $0.id == space.id }) { try seed(space, target: target) }
        }
        let archivedInitiativeIDs = Set(archivedInitiatives.compactMap { $0["id"]?.idString })
        for i in liveInitiatives {
            if let id = i["id"]?.idString, archivedInitiativeIDs.contains(id) { keep("initiative", id) }
        }
        let archivedFeedbackIDs = Set(archivedFeedback.compactMap { $0["id"]?.idString })
        for f in liveFeedback {
            if let id = f["id"]?.idString, archivedFeedbackIDs.contains(id) { keep("feedback", id) }
        }
        let notedBefore = importer.summary.notImported.count
        let initiativeIDs = Set(recreate.filter { $0.kind == "initiative" }.map(\.id))
        let feedbackIDs = Set(recreate.filter { $0.kind == "feedback" }.map(\.id))
        let initiatives = archivedInitiatives.filter { initiativeIDs.contains($0["id"]?.idString ?? "") }
        let feedback = archivedFeedback.filter { feedbackIDs.contains($0["id"]?.idString ?? "") }
        if !initiatives.isEmpty || !feedback.isEmpty {
            importer.noteWhatCannotBeCarried(spaces: [], initiatives: initiatives, feedback: feedback)
            importer.reportUnmappedUsers(spaces: [], initiatives: initiatives, feedback: feedback)
        }
        // A copy an earlier, interrupted run created gets what that run had not sent yet: its links (`editInitiative`,
        // unless journaled) and its roadmap places (unless journaled).
        let liveIDs = Set(liveInitiatives.compactMap { $0["id"]?.idString })
        let resumed = archivedInitiatives.filter { i in
            guard let id = i["id"]?.idString, !initiativeIDs.contains(id), let now = importer.target("initiative", id) else { return false }
            return now != id && liveIDs.contains(now)
        }
        for initiative in initiatives + resumed { try await importer.importInitiative(initiative) }
        if !initiatives.isEmpty || !resumed.isEmpty {
            try await importer.placeOnRoadmaps(try importer.accountValues(archive, "roadmaps"), initiatives: initiatives + resumed)
        }
        if !feedback.isEmpty {
            try await importer.importPeople(archive, feedback: feedback, onlyNamed: true)
            for item in feedback { try await importer.importFeedback(item) }
        }
        // The importer's general lines on authors and numbers are said below, for what this restore created.
        for n in importer.summary.notImported.dropFirst(notedBefore) where n.kind != "actor" && n.kind != "number" {
            if !notRestored.contains(where: { $0.kind == n.kind && $0.container == n.container }) { notRestored.append(n) }
        }
        if !initiatives.isEmpty {
            note("initiative.number", "Kitemaker numbers initiatives and feedback itself: one put back has a new number, made by the token's user")
        }
        // Set back before the links below are added: a revert reads its item again and compares it with the plan's live
        // read, which a link this run added (an insight's entity, a tag) would fail. An initiative set back gets its
        // links there.
        try await revertInitiatives(reverts.filter { $0.kind == "initiative" }, archived: archivedInitiatives, live: liveInitiatives)
        try await revertFeedback(reverts.filter { $0.kind == "feedback" }, archived: archivedFeedback, live: liveFeedback)
        let reverted = Set(reverts.filter { $0.kind == "initiative" }.map(\.id))
        try await relink(
            initiatives: archivedInitiatives.filter { !initiativeIDs.contains($0["id"]?.idString ?? "") && !reverted.contains($0["id"]?.idString ?? "") },
            live: liveInitiatives,
            feedback: archivedFeedback.filter { !feedbackIDs.contains($0["id"]?.idString ?? "") }, liveFeedback: liveFeedback,
            tagsReverted: Set(reverts.filter { $0.kind == "feedback" && ($0.fields ?? []).contains("tags") }.map(\.id)))
    }

    /// The live id of an archived work item, initiative or label that a restore created again, this run or an earlier
    /// one (nil when it keeps its id); on a dry run, a placeholder for one the plan creates.
    private func copy(_ kind: String, _ id: String) -> String? {
        if let t = importer.target(kind, id), t != id { return t }
        if let t = restored.forward[kind]?[id], t != id { return t }
        return dryRun && planned.contains("\(kind)/\(id)") ? "dry-run-\(kind)-\(id)" : nil
    }

    /// Links to copies: an initiative still in Kitemaker gets the copies of its archived work items and labels it
    /// lacks (`editInitiative`); a feedback item, the copies of its tags (`addTagsToFeedback`) and its insights those of
    /// the work items and initiatives they linked (`addEntitiesToInsight`). Adding a link it has is no change, so a
    /// rerun after a kill sends only what is still missing (the live read shows it).
    /// `tagsReverted`: feedback whose tags `--revert` sets back (not added here too).
    private func relink(
        initiatives: [JSONValue], live: [JSONValue], feedback: [JSONValue], liveFeedback: [JSONValue], tagsReverted: Set<String>
    ) async throws {
        func missing(_ archived: JSONValue?, _ now: JSONValue?, _ kind: String) -> [String] {
            let has = Set((now?.arrayValue ?? []).compactMap { $0["id"]?.idString })
            return (archived?.arrayValue ?? []).compactMap { copy(kind, $0["id"]?.idString ?? "") }.filter { !has.contains($0) }
        }
        for initiative in initiatives {
            guard let id = initiative["id"]?.idString, let now = live.first(where: { $0["id"]?.idString == id }) else { continue }
            var input = JSONObject([("id", .string(id))])
            let items = missing(initiative["workItems"], now["workItems"], "workItem")
            let labels = missing(initiative["labels"], now["labels"], "label")
            if !items.isEmpty { input["addWorkItemIds"] = .array(items.map(JSONValue.string)) }
            if !labels.isEmpty { input["addLabelIds"] = .array(labels.map(JSONValue.string)) }
            guard input.count > 1 else { continue }
            try await send("editInitiative", KitemakerSchema.editInitiativeMutation, input)
            done["link initiative", default: 0] += 1
        }
        for item in feedback {
            guard let id = item["id"]?.idString, let now = liveFeedback.first(where: { $0["id"]?.idString == id }) else { continue }
            var linked = false
            let tags = tagsReverted.contains(id) ? [] : missing(item["tags"], now["tags"], "label")
            if !tags.isEmpty {
                let input = JSONObject([("id", .string(id)), ("tagIds", .array(tags.map(JSONValue.string)))])
                try await send("addTagsToFeedback", KitemakerSchema.addTagsToFeedbackMutation, input)
                linked = true
            }
            for insight in item["insights"]?.arrayValue ?? [] {
                guard let insightID = insight["id"]?.idString,
                    let nowInsight = (now["insights"]?.arrayValue ?? []).first(where: { $0["id"]?.idString == insightID })
                else { continue }
                let has = Set(KitemakerImporter.insightEntityIDs(nowInsight))
                let missing = KitemakerImporter.insightEntityIDs(insight).compactMap { copy("workItem", $0) ?? copy("initiative", $0) }
                    .filter { !has.contains($0) }
                guard !missing.isEmpty else { continue }
                let input = JSONObject([("id", .string(insightID)), ("entityIds", .array(missing.map(JSONValue.string)))])
                try await send("addEntitiesToInsight", KitemakerSchema.addEntitiesToInsightMutation, input)
                linked = true
            }
            if linked { done["link feedback", default: 0] += 1 }
        }
    }

    /// One GraphQL write (counted on a dry run).
    private func send(_ field: String, _ document: String, _ input: JSONObject) async throws {
        if dryRun {
            counted["POST /graphql \(field)", default: 0] += 1
            return
        }
        _ = try await connection.graphQL(field, document, variables: JSONObject([("input", .object(input))]))
    }

    /// `--revert` for initiatives through `editInitiative`: title, description and colour set back; labels, work items
    /// and members added and removed to match the archive (mapped to the live ones). What it cannot set is reported.
    /// Kitemaker has no optimistic lock: the initiative is read again just before its edit (`initiative(id:)`) and left
    /// alone, listed with the fields that moved, when it was deleted or edited since the plan's live read; an edit in
    /// the moment between that read and the write is overwritten.
    private func revertInitiatives(_ steps: [RestoreStep], archived: [JSONValue], live: [JSONValue]) async throws {
        for step in steps {
            guard let old = archived.first(where: { $0["id"]?.idString == step.id }),
                let liveID = importer.target("initiative", step.id),
                let now = live.first(where: { $0["id"]?.idString == liveID })
            else { continue }
            var input = JSONObject([("id", .string(liveID))])
            var unset: [String] = []
            func ids(_ v: JSONValue?) -> [String] { (v?.arrayValue ?? []).compactMap { $0["id"]?.idString } }
            for field in step.fields ?? [] {
                switch field {
                case "title", "description", "color":
                    if let v = old[field]?.stringValue { input[field] = .string(v) } else { unset.append(field) }
                case "labels", "workItems", "members":
                    let kind = field == "labels" ? "label" : "workItem"
                    let wanted = field == "members" ? importer.mappedUsers(old["members"]) : ids(old[field]).compactMap { importer.target(kind, $0) }
                    let has = ids(now[field])
                    let name = field == "labels" ? "Label" : field == "workItems" ? "WorkItem" : "Member"
                    let add = wanted.filter { !has.contains($0) }, remove = has.filter { !wanted.contains($0) }
                    if !add.isEmpty { input["add\(name)Ids"] = .array(add.map(JSONValue.string)) }
                    if !remove.isEmpty { input["remove\(name)Ids"] = .array(remove.map(JSONValue.string)) }
                    if wanted.count < ids(old[field]).count { unset.append(field) }
                default:
                    unset.append(field)
                }
            }
            reportUnset(unset, of: step, routes: "editInitiative")
            guard input.count > 1 else { continue }
            if !dryRun, let moved = try await movedSincePlan(step.kind, liveID, planned: now) {
                leaveAlone(step, moved)
                continue
            }
            try await send("editInitiative", KitemakerSchema.editInitiativeMutation, input)
            if !dryRun { try journal?.markStep("revert-initiative", sourceIDs: [step.id]) }
            done["revert initiative", default: 0] += 1
        }
    }

    /// `--revert` for feedback: title, content, processed state, person and company through `editFeedback`; tags it lost
    /// added again (`addTagsToFeedback`). What no route sets this way (owners, tags added since, insights) is reported.
    /// As for initiatives, the item is read again just before its writes (`feedbackById(id:)`) and left alone when it
    /// was deleted or edited since the plan.
    private func revertFeedback(_ steps: [RestoreStep], archived: [JSONValue], live: [JSONValue]) async throws {
        for step in steps {
            guard let old = archived.first(where: { $0["id"]?.idString == step.id }),
                let liveID = importer.target("feedback", step.id),
                let now = live.first(where: { $0["id"]?.idString == liveID })
            else { continue }
            var input = JSONObject([("id", .string(liveID))])
            var unset: [String] = []
            var tags: [String] = []
            for field in step.fields ?? [] {
                switch field {
                case "title":
                    if let v = old["title"]?.stringValue { input["title"] = .string(v) } else { unset.append(field) }
                case "content", "contents":
                    input["content"] = .string(KitemakerImporter.feedbackContent(old))
                case "processed":
                    input["processed"] = .bool(old["processed"]?.boolValue ?? false)
                case "processedAt":
                    // Cleared by setting processed back to false; a time cannot be given.
                    if !((old["processedAt"]?.isNull ?? true) && (step.fields ?? []).contains("processed")) { unset.append(field) }
                case "person", "company":
                    // Only one Kitemaker still has (a restore paired it, or it keeps its id); one gone is not created here.
                    let id = old[field]?["id"]?.idString ?? ""
                    if let t = importer.target(field, id) {
                        input["\(field)Id"] = .string(t)
                    } else if !id.isEmpty, try await livePeople()[field]?.contains(id) == true {
                        input["\(field)Id"] = .string(id)
                    } else {
                        unset.append(field)
                    }
                case "tags":
                    let has = Set((now["tags"]?.arrayValue ?? []).compactMap { $0["id"]?.idString })
                    let wanted = (old["tags"]?.arrayValue ?? []).compactMap { importer.target("label", $0["id"]?.idString) }
                    tags = wanted.filter { !has.contains($0) }
                    if !has.subtracting(wanted).isEmpty || wanted.count < (old["tags"]?.arrayValue?.count ?? 0) { unset.append(field) }
                default:
                    unset.append(field)
                }
            }
            reportUnset(unset, of: step, routes: "editFeedback and addTagsToFeedback")
            guard input.count > 1 || !tags.isEmpty else { continue }
            if !dryRun, let moved = try await movedSincePlan(step.kind, liveID, planned: now) {
                leaveAlone(step, moved)
                continue
            }
            if input.count > 1 { try await send("editFeedback", KitemakerSchema.editFeedbackMutation, input) }
            if !tags.isEmpty {
                try await send(
                    "addTagsToFeedback", KitemakerSchema.addTagsToFeedbackMutation,
                    JSONObject([("id", .string(liveID)), ("tagIds", .array(tags.map(JSONValue.string)))]))
            }
            if !dryRun { try journal?.markStep("revert-feedback", sourceIDs: [step.id]) }
            done["revert feedback", default: 0] += 1
        }
    }

    /// The fields of a revert step that `routes` cannot set back, in the report.
    private func reportUnset(_ fields: [String], of step: RestoreStep, routes: String) {
        for field in fields {
            notRestored.append(
                NotExported(
                    kind: "\(step.kind).\(field)", container: step.id,
                    reason: "\(routes) cannot set \(field) to what the archive holds; it stays as it is"))
        }
    }

    private var people: [String: Set<String>]?

    /// The ids of the live feedback persons and companies (`person`, `company`), read once when a revert needs them.
    private func livePeople() async throws -> [String: Set<String>] {
        if let people { return people }
        let data = try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)
        func ids(_ key: String) -> Set<String> { Set((data[key]?.arrayValue ?? []).compactMap { $0["id"]?.idString }) }
        let read = ["person": ids("feedbackPersons"), "company": ids("feedbackCompanies")]
        people = read
        return read
    }

    /// A 401/403 on a write says which permission the token lacks, in one line.
    private func explainingPermission(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as HTTPFailure {
            guard case .forbidden(_, let route, _, let message) = failure else { throw failure }
            throw UserError(
                "kitemaker: \(route) answered 403 Forbidden\(message.map { " (\($0))" } ?? "") — the token may not create or change work items in this space; restore with the token of a member of the space who may edit it (not a guest)")
        }
    }
}
