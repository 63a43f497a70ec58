import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Replays a Kona archive into a Kona account: spaces in batches (`POST /spaces` with several objects), then in
/// each space its conversations, tasks and calendar events in batches, then the comments on them.
///
/// Kona assigns ids itself and documents no client key, so the journal cannot name target ids in advance. Each batch
/// is planned (source ids, no target yet) and marked attempted just before its `POST`; the ids in the answer are
/// recorded the moment it arrives. A batch whose outcome is unknown — the run was interrupted, or the request failed
/// in a way the server may still have acted on — is settled by its marker before anything is sent again: the fields
/// kitbag sent for each object. kitbag lists the target container (the account's spaces, the new space's items, the
/// new item's comments), sets aside objects the journal already maps, and claims the first unclaimed object whose sent
/// fields all match; only objects not found are created again. Creates are never retried blindly.
final class KonaImporter {
    let connection: KonaConnection
    let journal: ImportJournal?
    let progress: ProgressReporter
    let options: ImportOptions
    let batchSize: Int
    var dryRun: Bool { options.dryRun }

    private(set) var summary = ImportSummary()
    /// Requests a dry run would send, per route.
    private(set) var plannedRequests: [String: Int] = [:]
    /// kind → source id → target id, for everything created or found so far (a restore seeds it with what exists).
    var ids: [String: [String: String]] = [:]
    /// Source user id → target user id (JSON, as the API wants it).
    var users: [String: JSONValue] = [:]

    static let baseNotImported: [NotExported] = [
        NotExported(kind: "user", reason: "users cannot be created through the API; the importing user stands in for the archive's own user and for users with the same email"),
        NotExported(kind: "participant", reason: "kitbag does not invite people (POST /spaces/:id/participants would email them): each new space belongs to the importing user, and items keep only mapped users among their participants"),
        NotExported(kind: "timestamp", reason: "created_at, updated_at, completed_at and creator ids are set by Kona: imported entities carry the import time and the importing user (due, start and end dates are kept)"),
        NotExported(kind: "account", reason: "the target account is the importing token's own"),
        NotExported(kind: "currentUser", reason: "the target user is the importing token's own"),
    ]

    init(connection: KonaConnection, journal: ImportJournal?, progress: ProgressReporter, options: ImportOptions) {
        self.connection = connection
        self.journal = journal
        self.progress = progress
        self.options = options
        self.batchSize = min(max(options.batchSize ?? KonaSchema.defaultBatchSize, 1), KonaSchema.defaultBatchSize)
        self.spacesAtOnce = max(1, connection.client.parallelism)
    }

    /// Spaces whose contents are imported at once (each space's creates still go one after another: conversations,
    /// tasks, events, then the comments that name them); the connection's parallelism unless set.
    var spacesAtOnce: Int

    /// What one space's import needs from the run, as a value a child task takes: the ids mapped so far (spaces,
    /// users), the users map, and whether the server was found to take one object per create.
    struct Setup: Sendable {
        let connection: KonaConnection
        let journal: ImportJournal?
        let progress: ProgressReporter
        let options: ImportOptions
        let ids: [String: [String: String]]
        let users: [String: JSONValue]
        let oneByOne: Bool
    }

    var setup: Setup {
        Setup(
            connection: connection, journal: journal, progress: progress, options: options, ids: ids, users: users,
            oneByOne: oneByOne)
    }

    /// An importer for one space's contents in a child task; what it did comes back with `part` and is merged.
    convenience init(_ setup: Setup) {
        self.init(connection: setup.connection, journal: setup.journal, progress: setup.progress, options: setup.options)
        ids = setup.ids
        users = setup.users
        oneByOne = setup.oneByOne
        summary = ImportSummary(dryRun: setup.options.dryRun)
    }

    /// What one space's importer did: its counts, notes and dry-run requests, the ids it mapped, and whether it found
    /// the server creating one object per request.
    struct Part: Sendable {
        var summary: ImportSummary
        var plannedRequests: [String: Int]
        var ids: [String: [String: String]]
        var oneByOne: Bool
    }

    func part(since setup: Setup) -> Part {
        var own: [String: [String: String]] = [:]
        for (kind, map) in ids {
            let before = setup.ids[kind] ?? [:]
            for (source, target) in map where before[source] != target { own[kind, default: [:]][source] = target }
        }
        return Part(summary: summary, plannedRequests: plannedRequests, ids: own, oneByOne: oneByOne)
    }

    /// Notes said once per run, whichever space found them first (in archive order), as one space after another says them.
    static func saidOnce(_ note: NotExported) -> Bool {
        note.kind == "group" || note.kind == "server.batches" || note.kind.hasSuffix(".tags")
    }

    /// Adds a space's part, in the archive's order of spaces, so the summary is the one a run of one space after
    /// another gives.
    func merge(_ part: Part) {
        summary.addCounts(of: part.summary)
        for note in part.summary.notImported {
            if Self.saidOnce(note), summary.notImported.contains(where: { $0.kind == note.kind }) { continue }
            summary.notImported.append(note)
        }
        for (route, n) in part.plannedRequests { plannedRequests[route, default: 0] += n }
        for (kind, map) in part.ids { ids[kind, default: [:]].merge(map) { _, new in new } }
        oneByOne = oneByOne || part.oneByOne
    }

    struct ArchivedSpace: Sendable {
        var id: String
        var meta: JSONValue
        var folder: String
    }

    /// One object to create: its source id and the body kitbag sends (also its marker).
    typealias Pending = (source: String, body: JSONObject)

    func run(archive: SnapshotReader) async throws -> ImportSummary {
        guard archive.info.service == .kona else {
            throw UserError(
                "this archive holds \(archive.info.service.rawValue) data; importing it into Kona is not supported yet",
                exitStatus: .usage)
        }
        summary = ImportSummary(dryRun: dryRun)
        summary.notImported = Self.baseNotImported
        let spaces = try readSpaces(archive)
        try await mapUsers(archive)

        progress.beginStage("spaces", total: spaces.count)
        var toCreate: [Pending] = []
        for space in spaces {
            if let existing = options.containerMap[space.id] {
                ids["space", default: [:]][space.id] = existing
                if !dryRun { try journal?.markCreated(kind: "space", [(space.id, existing)]) }
            } else {
                toCreate.append((space.id, spaceBody(space.meta)))
            }
        }
        try await createSpaces(toCreate)
        progress.advance(items: spaces.count)

        progress.beginStage("contents", total: spaces.count)
        try await importContents(of: spaces, archive: archive)
        summary.requests = dryRun ? plannedRequests : await connection.client.requestCounts()
        return summary
    }

    /// Imports the contents of `spaces`, up to `spacesAtOnce` at a time: spaces are independent (a space's items and
    /// comments name only its own), each space's creates go in their order, each batch journaled as planned →
    /// attempted → created. Parts are merged in the archive's order, so the summary is the same as one space after
    /// another; a space started later learns what the merged ones found (a server that takes one object per create).
    func importContents(of spaces: [ArchivedSpace], archive: SnapshotReader) async throws {
        try await Overlap.inOrder(spaces, limit: spacesAtOnce, prepare: { setup }) { space, setup in
            let one = KonaImporter(setup)
            try await one.importContents(of: space, archive: archive)
            return one.part(since: setup)
        } merge: { part in
            merge(part)
            progress.advance(items: 1)
        }
    }

    /// Creates spaces (journaled), settling an unsure create by listing the account's spaces.
    func createSpaces(_ toCreate: [Pending]) async throws {
        try await createAll(kind: "space", toCreate, path: "/spaces", key: "spaces") { [self] unsure in
            // `hidden=true` may list hidden spaces only: both lists are read.
            var listed = try await list("/spaces", key: "spaces", query: [("hidden", "true")], route: "GET /spaces")
            let seen = Set(listed.compactMap { $0["id"]?.idString })
            listed += try await list("/spaces", key: "spaces", query: [], route: "GET /spaces")
                .filter { ($0["id"]?.idString).map { !seen.contains($0) } ?? false }
            return try claim(unsure, among: listed, kind: "space")
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
        return out.sorted { KonaSchema.idOrder($0.id, $1.id) }
    }

    func values(_ archive: SnapshotReader, _ space: ArchivedSpace, file: String) throws -> [JSONValue] {
        let path = "\(space.folder)/\(file).jsonl"
        guard archive.hasJSONLines(at: path) else { return [] }
        return Array(try archive.lines(at: path))
    }

    /// The archive's own user, and users with the importing user's email, become the importing user.
    func mapUsers(_ archive: SnapshotReader) async throws {
        let me = try await connection.currentUser()
        guard let myID = me["id"] else { return }
        let myEmail = me["email"]?.stringValue?.lowercased()
        var sources: [JSONValue] = []
        for path in ["data/account/currentUser.jsonl", "data/account/users.jsonl"]
        where archive.hasJSONLines(at: path) {
            sources += Array(try archive.lines(at: path))
        }
        var pairs: [(sourceID: String, targetID: String)] = []
        for (n, user) in sources.enumerated() {
            guard let id = user["id"]?.idString, users[id] == nil else { continue }
            let sameEmail = myEmail != nil && user["email"]?.stringValue?.lowercased() == myEmail
            if n == 0 && archive.hasJSONLines(at: "data/account/currentUser.jsonl") || sameEmail {
                users[id] = myID
                pairs.append((id, myID.idString ?? ""))
            }
        }
        if !dryRun { try journal?.markCreated(kind: "user", pairs) }
    }

    // MARK: Bodies

    static let spaceKeys = ["name", "details", "welcome_message", "category", "hidden"]
    static let itemKeys: [String: [String]] = [
        "conversation": ["name", "details", "stakeholder", "default_role", "external_object"],
        "task": [
            "name", "location", "details", "end_at", "status", "visibility", "stakeholder", "default_role", "period",
            "frequency", "sel_days", "series_end_at", "external_object",
        ],
        "calendarEvent": [
            "name", "location", "details", "all_day", "start_at", "end_at", "status", "visibility", "stakeholder",
            "default_role", "period", "frequency", "sel_days", "series_end_at", "external_object",
        ],
    ]
    /// Keys a marker leaves out: they are rewritten or filtered, or they scope the listing already.
    static let unmarkedKeys: Set<String> = ["participants", "participant_ids", "editor_ids", "space_id", "resource_id"]

    func spaceBody(_ meta: JSONValue) -> JSONObject {
        var o = JSONObject()
        for key in Self.spaceKeys { if let v = meta[key], !v.isNull { o[key] = v } }
        return o
    }

    static func idValue(_ id: String) -> JSONValue { Int(id).map { .int($0) } ?? .string(id) }

    func itemBody(_ item: JSONValue, kind: String, targetSpace: String) -> JSONObject {
        var o = JSONObject()
        for key in Self.itemKeys[kind] ?? [] { if let v = item[key], !v.isNull { o[key] = v } }
        o["space_id"] = Self.idValue(targetSpace)
        let mapped: [(user: JSONValue, role: Int)] = (item["participants"]?.arrayValue ?? []).compactMap { p in
            guard let source = p["user_id"]?.idString, let target = users[source] else { return nil }
            return (target, p["role"]?.intValue ?? 2)
        }
        guard !mapped.isEmpty else { return o }
        if kind == "conversation" {
            o["participants"] = .array(mapped.map { ["user_id": $0.user, "role": .int($0.role)] })
        } else {
            o["participant_ids"] = .array(mapped.map(\.user))
            let editors = mapped.filter { $0.role == 1 }.map(\.user)
            if !editors.isEmpty { o["editor_ids"] = .array(editors) }
        }
        return o
    }

    // MARK: Contents

    /// Creates a space's items, then the comments on them, oldest first. `only` (`kind/id` keys) limits both to
    /// those named (a restore puts back only what is gone); a comment's item is then either created here or
    /// already in `ids`.
    func importContents(of space: ArchivedSpace, archive: SnapshotReader, only: Set<String>? = nil) async throws {
        guard let targetSpace = ids["space"]?[space.id] else { return }
        func wanted(_ kind: String, _ value: JSONValue) -> Bool {
            only.map { $0.contains("\(kind)/\(value["id"]?.idString ?? "")") } ?? true
        }
        for kind in KonaSchema.itemKinds {
            let items = try values(archive, space, file: kind.file).filter { wanted(kind.kind, $0) }
            if kind == KonaSchema.conversations,
                items.contains(where: { !($0["groups"]?.arrayValue ?? []).isEmpty }),
                !summary.notImported.contains(where: { $0.kind == "group" })
            {
                summary.notImported.append(
                    NotExported(kind: "group", reason: "groups belong to the source account; conversations are imported without them"))
            }
            // Tags are read-only on tasks and events (KonaTeam/kona-api `sections/tasks.md`,
            // `sections/calendar_events.md`, commit 995e42935e5a62b3ca06a2bc07706d130771f78f).
            if items.contains(where: { !($0["tags"]?.arrayValue ?? []).isEmpty }),
                !summary.notImported.contains(where: { $0.kind == "\(kind.kind).tags" })
            {
                summary.notImported.append(
                    NotExported(kind: "\(kind.kind).tags", reason: "Kona documents tags as read-only: they stay in the archive and are not set on the imported items"))
            }
            let pending: [Pending] = items.compactMap { item in
                guard let id = item["id"]?.idString else { return nil }
                return (id, itemBody(item, kind: kind.kind, targetSpace: targetSpace))
            }
            var query = [("space_id", targetSpace)]
            if kind == KonaSchema.calendarEvents { query += KonaSchema.eventWindow }
            try await createAll(kind: kind.kind, pending, path: "/\(kind.path)", key: kind.path) { [self] unsure in
                // The server may not filter by `space_id`: only items of the new space can be claimed.
                let listed = try await list("/\(kind.path)", key: kind.path, query: query, route: "GET /\(kind.path)")
                    .filter { ($0["space_id"].flatMap(\.idString) ?? targetSpace) == targetSpace }
                return try claim(unsure, among: listed, kind: kind.kind)
            }
        }

        var comments: [Pending] = []
        for comment in Self.oldestFirst(try values(archive, space, file: "comments").filter({ wanted("comment", $0) })) {
            guard let id = comment["id"]?.idString, let type = comment["resource_type"]?.stringValue,
                let kind = KonaSchema.kind(commentType: type), let source = comment["resource_id"]?.idString,
                let target = ids[kind]?[source]
            else {
                if !summary.notImported.contains(where: { $0.kind == "comment" && $0.container == space.id }) {
                    summary.notImported.append(
                        NotExported(kind: "comment", container: space.id, reason: "a comment's resource was not imported"))
                }
                continue
            }
            var o = JSONObject()
            for key in ["content", "priority"] { if let v = comment[key], !v.isNull { o[key] = v } }
            o["resource_type"] = .string(type)
            o["resource_id"] = Self.idValue(target)
            comments.append((id, o))
        }
        try await createAll(kind: "comment", comments, path: "/comments", key: "comments") { [self] unsure in
            var found: [String: String] = [:]
            var byResource: [String: [Pending]] = [:]
            for p in unsure {
                byResource["\(p.body["resource_type"]?.stringValue ?? "")/\(p.body["resource_id"]?.idString ?? "")", default: []].append(p)
            }
            for key in byResource.keys.sorted() {
                let group = byResource[key]!
                let listed = try await list(
                    "/comments", key: "comments",
                    query: [
                        ("resource_type", group[0].body["resource_type"]?.stringValue ?? ""),
                        ("resource_id", group[0].body["resource_id"]?.idString ?? ""),
                    ], route: "GET /comments")
                found.merge(try claim(group, among: listed, kind: "comment")) { a, _ in a }
            }
            return found
        }
    }

    /// Kona lists comments newest first (KonaTeam/kona-api `sections/comments.md`, commit
    /// 995e42935e5a62b3ca06a2bc07706d130771f78f: "paged comments starting from most recent"), so the archive holds
    /// each thread newest first. Replayed in that order every thread would be reversed: they are sent oldest first,
    /// by `created_at`, and comments with equal or no time in the reverse of their listed order.
    static func oldestFirst(_ comments: [JSONValue]) -> [JSONValue] {
        let listed = Array(comments.enumerated())
        return listed.sorted { a, b in
            let ta = KonaSchema.millis(a.element["created_at"])
            let tb = KonaSchema.millis(b.element["created_at"])
            if let ta, let tb, ta != tb { return ta < tb }
            return a.offset > b.offset
        }.map(\.element)
    }

    // MARK: Creating

    /// Creates what the journal does not know as created, settling attempted objects by their marker first.
    func createAll(
        kind: String, _ items: [Pending], path: String, key: String,
        find: @escaping ([Pending]) async throws -> [String: String]
    ) async throws {
        guard !items.isEmpty else { return }
        if dryRun {
            plannedRequests["POST \(path)", default: 0] += (items.count + batchSize - 1) / batchSize
            summary.created[kind, default: 0] += items.count
            for item in items { ids[kind, default: [:]][item.source] = "dry-run-\(item.source)" }
            return
        }
        let entries = try journal?.entries(kind: kind, sourceIDs: items.map(\.source)) ?? [:]
        var unsure: [Pending] = []
        var todo: [Pending] = []
        for item in items {
            switch entries[item.source]?.state {
            case .created:
                ids[kind, default: [:]][item.source] = entries[item.source]!.targetID
                summary.alreadyPresent[kind, default: 0] += 1
            case .attempted: unsure.append(item)
            case .planned, nil: todo.append(item)
            }
        }
        if !unsure.isEmpty {
            let found = try await find(unsure)
            try record(kind, found.map { ($0.key, $0.value) })
            summary.alreadyPresent[kind, default: 0] += found.count
            let again = Set(unsure.map(\.source)).subtracting(found.keys).union(todo.map(\.source))
            todo = items.filter { again.contains($0.source) }
        }
        for start in stride(from: 0, to: todo.count, by: batchSize) {
            try await createBatch(kind: kind, Array(todo[start..<min(start + batchSize, todo.count)]), path: path, key: key, find: find)
        }
    }

    /// One `POST` of several objects. A failure after which the server may have acted is settled by marker, then
    /// what is still missing is sent again (three rounds at most).
    ///
    /// Kona documents batches for no resource but risks (where it says they are not supported): a server that
    /// answers with fewer objects than were sent has its answer matched to the objects sent (by the fields kitbag
    /// sent, else in order), and the rest of the run sends one object per request. A comment refused with 404 in a
    /// batch is sent alone; alone, a 404 on a comment with `@user:` mentions (Kona's answer to a mention of a
    /// non-participant) is sent once more with the mentions as plain text, and reported.
    func createBatch(
        kind: String, _ batch: [Pending], path: String, key: String,
        find: ([Pending]) async throws -> [String: String]
    ) async throws {
        try journal?.plan(kind: kind, batch.map { ($0.source, "") })
        try journal?.markAttempted(kind: kind, sourceIDs: batch.map(\.source))
        var remaining = batch
        var rounds = 0
        var alone = oneByOne
        while !remaining.isEmpty {
            let sending = alone ? [remaining[0]] : remaining
            let request = APIRequest(
                method: .POST, path: path, body: .object(JSONObject([(key, .array(sending.map { .object($0.body) }))])),
                route: "POST \(path)", retryable: false)
            do {
                let response = try await connection.client.send(request)
                let created = try response.json()[key]?.arrayValue ?? []
                var targets = created.compactMap { $0["id"]?.idString }
                if targets.isEmpty, sending.count == 1, let location = response.header("Location"),
                    let last = location.split(separator: "/").last
                {
                    targets = [String(last)]
                }
                if targets.count >= sending.count {
                    try record(kind, zip(sending, targets).map { ($0.source, $1) })
                    summary.created[kind, default: 0] += sending.count
                    remaining.removeFirst(sending.count)
                    rounds = 0  // three unknown outcomes in a row at most, per object when sent one by one
                    continue
                }
                guard !targets.isEmpty else {
                    throw UserError(
                        "kona: POST \(path) answered 2xx but created none of the \(sending.count) objects sent — run the"
                            + " import again; objects created so far are in the journal")
                }
                let made = matchCreated(sending, created: created, targets: targets, kind: kind)
                try record(kind, made.map { ($0.key, $0.value) })
                summary.created[kind, default: 0] += made.count
                remaining.removeAll { made[$0.source] != nil }
                alone = true
                noteOneByOne(path: path, sent: sending.count, created: targets.count)
            } catch let failure as HTTPFailure where failure.outcomeUnknown && rounds < 3 {
                rounds += 1
                let found = try await find(sending)
                try record(kind, found.map { ($0.key, $0.value) })
                summary.created[kind, default: 0] += found.count
                remaining.removeAll { found[$0.source] != nil }
            } catch let failure as HTTPFailure where failure.isNotFound && kind == "comment" {
                if sending.count > 1 {
                    alone = true
                    continue
                }
                let item = sending[0]
                remaining.removeFirst()
                try await createWithoutMentions(item, path: path, key: key)
            }
        }
        progress.advance(items: batch.count)
    }

    /// Whether the server has shown it creates one object per request (then every later batch is one object).
    var oneByOne = false

    /// Which of `sending` the server created: each created object claims the first sent object whose sent fields it
    /// shows; created objects that show none of them take the unclaimed sent objects in order.
    func matchCreated(_ sending: [Pending], created: [JSONValue], targets: [String], kind: String) -> [String: String] {
        var made: [String: String] = [:]
        var unmatched: [String] = []
        for (n, target) in targets.enumerated() {
            let object = n < created.count ? created[n] : JSONValue.null
            if let item = sending.first(where: { item in
                made[item.source] == nil
                    && item.body.filter { !Self.unmarkedKeys.contains($0.key) }.allSatisfy { object[$0.key] == $0.value }
            }) {
                made[item.source] = target
            } else {
                unmatched.append(target)
            }
        }
        for (item, target) in zip(sending.filter { made[$0.source] == nil }, unmatched) { made[item.source] = target }
        return made
    }

    func noteOneByOne(path: String, sent: Int, created: Int) {
        oneByOne = true
        guard !summary.notImported.contains(where: { $0.kind == "server.batches" }) else { return }
        summary.notImported.append(
            NotExported(
                kind: "server.batches", container: path,
                reason: "POST \(path) created \(created) of the \(sent) objects sent; this server takes one object per create, so kitbag sent the rest one by one (nothing was lost)"))
    }

    /// A comment refused with 404: sent again with its `@user:` mentions as plain text, else reported.
    func createWithoutMentions(_ item: Pending, path: String, key: String) async throws {
        let content = item.body["content"]?.stringValue ?? ""
        let plain = Self.unmentioned(content)
        var sent = false
        if plain != content {
            var body = item.body
            body["content"] = .string(plain)
            let request = APIRequest(
                method: .POST, path: path, body: .object(JSONObject([(key, .array([.object(body)]))])),
                route: "POST \(path)", retryable: false)
            do {
                let response = try await connection.client.send(request)
                var target = try response.json()[key]?.arrayValue?.first?["id"]?.idString
                if target == nil, let location = response.header("Location") {
                    target = location.split(separator: "/").last.map(String.init)
                }
                if let target {
                    try record("comment", [(item.source, target)])
                    summary.created["comment", default: 0] += 1
                    sent = true
                }
            } catch let failure as HTTPFailure where failure.isNotFound {}
        }
        summary.notImported.append(
            NotExported(
                kind: "comment.mention", container: item.source,
                reason: sent
                    ? "Kona refused a mention in this comment (404: the person is not a participant); it was imported with the mention as plain text"
                    : "Kona answered 404 for this comment (its item or a mentioned person is not there); it was not imported"))
    }

    /// `@user:123` and `@user:joe@example.com` become `123` and `joe@example.com` (no notification is sent).
    static func unmentioned(_ text: String) -> String {
        text.replacingOccurrences(of: "@user:", with: "")
    }

    func record(_ kind: String, _ pairs: [(String, String)]) throws {
        for (source, target) in pairs { ids[kind, default: [:]][source] = target }
        try journal?.markCreated(kind: kind, pairs.map { (sourceID: $0.0, targetID: $0.1) })
    }

    /// Claims, for each unsure object in order, the first listed object not mapped yet whose marker fields match.
    func claim(_ unsure: [Pending], among listed: [JSONValue], kind: String) throws -> [String: String] {
        var taken = Set(ids[kind]?.values.map { $0 } ?? [])
        if let all = try journal?.entries(kind: kind) {
            for entry in all.values where entry.state == .created { taken.insert(entry.targetID) }
        }
        var pool = listed.filter { ($0["id"]?.idString).map { !taken.contains($0) } ?? false }
        var found: [String: String] = [:]
        for item in unsure {
            let marker = item.body.filter { !Self.unmarkedKeys.contains($0.key) }
            guard let index = pool.firstIndex(where: { candidate in marker.allSatisfy { candidate[$0.key] == $0.value } }),
                let id = pool[index]["id"]?.idString
            else { continue }
            found[item.source] = id
            pool.remove(at: index)
        }
        return found
    }

    /// Every page of a target list (see `KonaPaging`).
    func list(_ path: String, key: String, query: [(String, String)], route: String) async throws -> [JSONValue] {
        try await connection.allPages(path, key: key, query: query, route: route)
    }
}

extension HTTPFailure {
    /// The request may or may not have been carried out (5xx, a dropped connection, a timeout, a cut body).
    var outcomeUnknown: Bool {
        switch self {
        case .serverError, .connectionLost, .timeout, .truncatedBody: return true
        default: return false
        }
    }
}
