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
extension KitemakerConnection: RestoreTarget {
    public var liveRules: LiveRules { KitemakerRestore.rules }

    public func restoreRefusal(kind: String, action: RestoreAction) -> String? {
        KitemakerRestore.refusal(kind: kind, action: action)
    }

    /// When the scope names work items and comments and nothing else, a copy that reads only those work items (a
    /// comment through its work item), each by id — under its archived id and under the id an earlier restore gave
    /// it — instead of every work item of their spaces. A work item Kitemaker no longer has is left out of the live
    /// read, so it compares as deleted.
    public func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> KitemakerConnection {
        guard !scope.only.isEmpty, scope.containers.isEmpty, (scope.match ?? "").isEmpty,
            scope.only.allSatisfy({ $0.kind == "workItem" || $0.kind == "comment" }),
            let named = try? KitemakerRestore.namedWorkItems(scope, archive: archive)
        else { return self }
        var reader = self
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
    static let kinds: Set<String> = ["space", "status", "label", "workItem", "comment"]

    /// Keys compared nowhere: the server's (`updatedAt`) and history (`activities`, which the server writes).
    static let ignoredKeys: Set<String> = ["updatedAt", "activities"]

    /// What Kitemaker sets on a work item or comment created again: a new number, the restoring user as its actor, the
    /// time of the restore (and, in a done or archived status, closedAt/archivedAt of that time).
    static let notRestorable: [String: Set<String>] = [
        "workItem": ["number", "actor", "createdAt", "closedAt", "archivedAt"],
        "comment": ["actor", "createdAt"],
        "label": ["createdAt"],
    ]

    static let rules = LiveRules(
        ignoredKeys: ignoredKeys, containerKind: "space", kinds: kinds,
        normalize: { kind, value, _ in normalize(kind, value) },
        journalKinds: ["workItem", "comment", "thread", "label"], notRestorableKeys: notRestorable,
        translate: { kind, value, ids in translate(kind, value, ids) })

    /// A work item's labels are a set (`PUT /workitem` adds a label it lost at the end): compared in id order.
    static func normalize(_ kind: String, _ value: JSONValue) -> JSONValue {
        guard kind == "workItem", var o = value.objectValue, let labels = o["labels"]?.arrayValue, labels.count > 1 else { return value }
        o["labels"] = .array(labels.sorted { ($0["id"]?.idString ?? "") < ($1["id"]?.idString ?? "") })
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
    static func namedWorkItems(_ scope: RestoreScope, archive: SnapshotReader) throws -> [String: [String]] {
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
        for space in out.keys { out[space]! += unknown.filter { !out[space]!.contains($0) } }
        return out
    }

    static func refusal(kind: String, action: RestoreAction) -> String? {
        switch (kind, action) {
        case ("workItem", .recreate), ("comment", .recreate), ("workItem", .revert), ("label", .recreate):
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
        note("initiative", "initiatives and feedback are in the archive's account folder, which the live comparison does not read: they are neither compared nor put back, and a work item put back is not linked again to its initiatives or feedback")
        try await explainingPermission {
            let recreate = plan.steps.filter { $0.action == .recreate }
            let reverts = plan.steps.filter { $0.action == .revert && $0.kind == "workItem" }
            guard !recreate.isEmpty || !reverts.isEmpty else { return }
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
    static let readOperations: Set<String> = ["POST /graphql organization", "POST /graphql workItems", "POST /graphql workItem"]

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
        for (kind, ids) in stale.sorted(by: { $0.key < $1.key }) { try journal.forget(kind: kind, sourceIDs: ids) }
    }

    /// What still exists keeps its id (unless the journal of an earlier run recorded another): work items, threads,
    /// labels, and the space itself.
    private func seed(_ space: KitemakerImporter.ArchivedSpace, target: KitemakerImporter.TargetSpace) throws {
        func keep(_ kind: String, _ id: String) {
            guard importer.known[kind]?[id] == nil else { return }
            importer.known[kind, default: [:]][id] = KitemakerImporter.Mapping(targetID: id, state: .created)
            importer.claimed[kind, default: []].insert(id)
        }
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
                    if let moved = try await movedSincePlan(liveID, planned: now) {
                        leftAlone.append(
                            RestoreSkip(
                                entry: LiveDiff.Entry(
                                    kind: step.kind, container: step.container, id: step.id, title: step.title, change: .changed,
                                    fields: step.fields),
                                reason: moved))
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

    /// Kitemaker has no optimistic lock: the work item is read again just before its `PUT` (`workItem(id:)`); why it
    /// is left alone when it was deleted or edited since the plan's live read saw it, else nil.
    private func movedSincePlan(_ id: String, planned: JSONValue?) async throws -> String? {
        guard var current = try await connection.workItem(id: id)?.objectValue else {
            return "deleted in Kitemaker after the plan was made; left as it is (run the restore again to put it back)"
        }
        current["comments"] = nil
        current["space"] = nil
        guard let planned else { return nil }
        let fields = LiveComparison.changedFields(
            Self.normalize("workItem", planned), Self.normalize("workItem", .object(current)), rules: Self.rules)
        guard !fields.isEmpty else { return nil }
        return "edited in Kitemaker after the plan was made (\(fields.joined(separator: ", "))); left as it is now (run the restore again to compare afresh)"
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
