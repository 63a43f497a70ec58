import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Kitemaker
import Testing

// Restore into the live organization (issue 19), over real HTTP against the Kitemaker sandbox. Kitemaker's API
// deletes nothing, so the work item is deleted through the sandbox's stand-in for the app
// (`KitemakerSandbox.appDeleteWorkItemPath`); the edit goes through REST `PUT /workitem` (kitemakerhq/rest-docs
// `_api/workitem_put.md`, see ContractTests.swift).

/// The demo organization, its archive, and the damage done since: in ACM the work item "Sign-in page flickers on
/// Safari" deleted in the app (with its two threads, four comments), in OPS "Upgrade the CI runners" renamed.
struct KitemakerDamaged {
    let sandbox: RunningSandbox
    let connection: KitemakerConnection
    let dir: URL
    let archive: URL
    var deleted = ""
    var deletedComments: [JSONValue] = []
    var edited = ""
    var acm = ""

    static let deletedTitle = "Sign-in page flickers on Safari"
    static let editedTitle = "Upgrade the CI runners"

    static func make() async throws -> KitemakerDamaged {
        let sandbox = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let connection = try Kite.connect(sandbox, token: Kite.sourceToken)
        let dir = try Fixture.tempDir()
        var d = KitemakerDamaged(sandbox: sandbox, connection: connection, dir: dir, archive: dir.appendingPathComponent("before.tar.zst"))
        _ = try await Kite.export(connection, to: d.archive)
        let reader = try SnapshotReader.open(d.archive)
        defer { reader.close() }
        for entry in reader.jsonLinesEntries() where entry.path.hasSuffix("/workItems.jsonl") {
            let folder = (entry.path as NSString).deletingLastPathComponent
            for item in try reader.values(at: entry.path) {
                if item["title"]?.stringValue == deletedTitle {
                    d.deleted = item["id"]?.idString ?? ""
                    d.acm = ArchivePath.decodeComponent((folder as NSString).lastPathComponent)
                    d.deletedComments = try reader.values(at: folder + "/comments.jsonl").filter { $0["entity"]?["id"]?.idString == d.deleted }
                }
                if item["title"]?.stringValue == editedTitle { d.edited = item["id"]?.idString ?? "" }
            }
        }
        #expect(!d.deleted.isEmpty && !d.edited.isEmpty && d.deletedComments.count == 4)
        try await d.deleteInTheApp(d.deleted)
        _ = try await d.send(.PUT, "/developers/rest/v1/workitem", ["id": .string(d.edited), "title": "edited since the backup"])
        return d
    }

    func send(_ method: HTTPMethod, _ path: String, _ body: JSONValue) async throws -> JSONValue {
        try await connection.client.json(
            APIRequest(method: method, path: path, body: body, route: "\(method.rawValue) \(path)", extraHeaders: [("X-API-KEY", Kite.sourceToken)]))
    }

    /// The sandbox's stand-in for deleting a work item in Kitemaker's app (the API deletes nothing).
    func deleteInTheApp(_ id: String) async throws {
        _ = try await send(.POST, KitemakerSandbox.appDeleteWorkItemPath, ["id": .string(id)])
    }

    var journal: URL { dir.appendingPathComponent("restore.sqlite") }

    func restore(_ options: RestoreOptions = RestoreOptions()) async throws -> (RestoreReport, [SandboxWrite]) {
        let mark = await sandbox.writeMark()
        let report = try await RestoreJobs.restore(archive, connector: connection, options: options, journalURL: journal, progress: .silent)
        return (report, await sandbox.writes(since: mark))
    }

    func diff(_ scope: RestoreScope = RestoreScope()) async throws -> LiveDiff {
        try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, journalURL: journal, progress: .silent)
    }

    /// The live work items of ACM with the given title, and the comments of the first one as GraphQL lists them.
    func live(titled title: String) async throws -> (items: [JSONValue], comments: [JSONValue]) {
        let query = "query($spaceId: ID!) { workItems(spaceId: $spaceId, count: 50) { workItems { id number title sort comments { id body threadId } } } }"
        let answer = try await connection.client.json(
            APIRequest(
                method: .POST, path: "/developers/graphql", body: ["query": .string(query), "variables": ["spaceId": .string(acm)]],
                route: "POST /graphql", extraHeaders: [("Authorization", "Bearer \(Kite.sourceToken)")]))
        let items = (answer["data"]?["workItems"]?["workItems"]?.arrayValue ?? []).filter { $0["title"]?.stringValue == title }
        return (items, items.first?["comments"]?.arrayValue ?? [])
    }

    func stop() async {
        await connection.shutdown()
        await sandbox.stop()
        Scratch.remove(dir)
    }
}

@Suite("Kitemaker restore into the live organization")
struct KitemakerRestoreTests {
    @Test func aWorkItemDeletedInTheAppComesBackAsANewOneWithItsCommentsInOrderAndOnce() async throws {
        let d = try await KitemakerDamaged.make()
        let lost = try await d.diff()
        let commentIDs = d.deletedComments.compactMap { $0["id"]?.idString }
        // The feedback "Safari sign-in is broken" linked the deleted work item in its insight: it changed too.
        let safari = try #require(try d.archived("feedback").first { $0["title"] == "Safari sign-in is broken" }?["id"]?.idString)
        #expect(
            lost.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" }.sorted()
                == (["deleted workItem \(d.deleted)", "changed workItem \(d.edited)", "changed feedback \(safari)"]
                    + commentIDs.map { "deleted comment \($0)" }).sorted(),
            "\(lost.entries)")
        #expect(lost.entries.first { $0.id == d.edited }?.fields == ["title"])
        #expect(lost.entries.first { $0.id == safari }?.fields == ["insights"])

        // A dry run counts the writes and writes nothing, not even a journal: the work item, its comments, and the link
        // of the feedback's insight to the copy.
        let (dry, dryWrites) = try await d.restore(RestoreOptions(dryRun: true))
        #expect(dryWrites.isEmpty && dry.dryRun && dry.writeRequests == 6, "\(dry.requests)")
        #expect(!FileManager.default.fileExists(atPath: d.journal.path))

        let (report, writes) = try await d.restore()
        #expect(report.writeRequests == dry.writeRequests && writes.count == report.writeRequests, "\(report.requests)")
        #expect(report.done["recreate workItem"] == 1 && report.done["recreate comment"] == 4, "\(report.done)")
        #expect(report.plan.skipped.contains { $0.entry.id == d.edited && $0.reason.contains("--revert") })
        #expect(!writes.flatMap(\.changes).contains { $0.id == d.edited }, "the edited work item was not touched")
        #expect(report.notRestored.contains { $0.kind == "number" && $0.reason.contains("new number") })
        // Initiatives and feedback were compared (the whole account was): the feedback links the copy again.
        #expect(!report.notRestored.contains { $0.kind == "initiative" && $0.reason.contains("neither compared nor put back") })
        #expect(report.done["link feedback"] == 1 && writes.contains { $0.route == "POST /developers/graphql" }, "\(report.done)")

        // Back under a new id and number, at its place, with its two threads in order.
        let (items, comments) = try await d.live(titled: KitemakerDamaged.deletedTitle)
        let back = try #require(items.first)
        #expect(items.count == 1 && back["id"]?.idString != d.deleted)
        #expect(comments.map { $0["body"]?.stringValue } == d.deletedComments.map { $0["body"]?.stringValue })
        let threads = comments.map { $0["threadId"]?.idString ?? "" }
        #expect(threads[0] == threads[1] && threads[1] == threads[2] && threads[3] != threads[0], "\(threads)")

        // The journal pairs the new work item and comments with the archived ones: only the edit still differs, and a
        // second restore writes nothing.
        let after = try await d.diff()
        #expect(after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["changed workItem \(d.edited)"], "\(after.entries)")
        let (again, none) = try await d.restore()
        #expect(none.isEmpty && again.plan.steps.isEmpty && again.writeRequests == 0)
        #expect(try await d.live(titled: KitemakerDamaged.deletedTitle).items.count == 1)
        await d.stop()
    }

    @Test func aWorkItemPutBackAndDeletedAgainComesBackAgain() async throws {
        let d = try await KitemakerDamaged.make()
        _ = try await d.restore()
        let first = try #require(try await d.live(titled: KitemakerDamaged.deletedTitle).items.first?["id"]?.idString)
        // Deleted once more in the app: the journal still says created, the live account lacks it.
        try await d.deleteInTheApp(first)
        let lost = try await d.diff()
        #expect(lost.entries.contains { $0.id == d.deleted && $0.change == .deleted }, "\(lost.entries)")
        let (report, _) = try await d.restore()
        #expect(report.done["recreate workItem"] == 1 && report.done["recreate comment"] == 4, "\(report.done)")
        let (items, comments) = try await d.live(titled: KitemakerDamaged.deletedTitle)
        #expect(items.count == 1 && items.first?["id"]?.idString != first)
        #expect(comments.map { $0["body"]?.stringValue } == d.deletedComments.map { $0["body"]?.stringValue })
        // Paired again through the journal: only the edit differs.
        let after = try await d.diff()
        #expect(after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["changed workItem \(d.edited)"], "\(after.entries)")
        await d.stop()
    }

    @Test func onlyOneWorkItemBringsItsCommentsAndLeavesTheRest() async throws {
        let d = try await KitemakerDamaged.make()
        let scope = RestoreScope(only: [("workItem", d.deleted)])
        let (report, writes) = try await d.restore(RestoreOptions(scope: scope, revert: true))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate workItem \(d.deleted)"])
        #expect(writes.count == 5 && report.done["recreate comment"] == 4, "\(report.done)")
        // Only the named work item is read (by id; it is gone), not its space's list, and no account-level lists
        // (initiatives, feedback, roadmaps, people).
        #expect(report.requests["POST /graphql workItems"] == nil && report.requests["POST /graphql workItem"] == 1, "\(report.requests)")
        #expect(!report.requests.keys.contains { ["initiatives", "feedback", "roadmaps", "feedbackPeople"].contains($0.split(separator: " ").last.map(String.init) ?? "") }, "\(report.requests)")
        // So the report says initiatives and feedback were neither compared nor linked again.
        #expect(report.notRestored.contains { $0.kind == "initiative" && $0.reason.contains("neither compared nor put back") }, "\(report.notRestored)")
        // The edit in the other space was outside the scope: still there.
        let rest = try await d.diff()
        // The feedback that linked the work item was outside the narrow read: it still lacks the copy, until a restore of
        // everything links it (and writes nothing else).
        let safari = try #require(try d.archived("feedback").first { $0["title"] == "Safari sign-in is broken" }?["id"]?.idString)
        #expect(
            rest.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["changed feedback \(safari)", "changed workItem \(d.edited)"],
            "\(rest.entries)")
        let (all, linkWrites) = try await d.restore()
        #expect(all.done["link feedback"] == 1 && linkWrites.count == 1 && all.plan.steps.isEmpty, "\(all.done)")
        let linked = try await d.diff()
        #expect(linked.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["changed workItem \(d.edited)"], "\(linked.entries)")
        await d.stop()
    }

    @Test func oneWorkItemOfAFullSpaceIsReadAloneByIdThenUnderItsNewId() async throws {
        // 300 work items, 150 per space: three GraphQL pages each if the space were read whole.
        let sandbox = try await Kite.sandbox(.generated(cards: 300), token: Kite.sourceToken)
        let connection = try Kite.connect(sandbox, token: Kite.sourceToken)
        let dir = try Fixture.tempDir()
        let archive = dir.appendingPathComponent("before.tar.zst")
        let journal = dir.appendingPathComponent("restore.sqlite")
        _ = try await Kite.export(connection, to: archive)
        let reader = try SnapshotReader.open(archive)
        var item = "", comment = ""
        for entry in reader.jsonLinesEntries() where entry.path.hasSuffix("/workItems.jsonl") {
            if let hit = try reader.values(at: entry.path).first(where: { $0["title"] == "Generated work item 1" }) {
                item = hit["id"]?.idString ?? ""
                let folder = (entry.path as NSString).deletingLastPathComponent
                comment = try reader.values(at: folder + "/comments.jsonl").first { $0["entity"]?["id"]?.idString == item }?["id"]?.idString ?? ""
            }
        }
        reader.close()
        #expect(!item.isEmpty && !comment.isEmpty)
        _ = try await connection.client.send(
            APIRequest(
                method: .POST, path: KitemakerSandbox.appDeleteWorkItemPath, body: ["id": .string(item)], route: "app delete",
                extraHeaders: [("X-API-KEY", Kite.sourceToken)]))

        func restore(_ options: RestoreOptions) async throws -> (RestoreReport, served: Int, writes: [SandboxWrite]) {
            let before = await sandbox.stats().totalRequests
            let mark = await sandbox.writeMark()
            let report = try await RestoreJobs.restore(archive, connector: connection, options: options, journalURL: journal, progress: .silent)
            return (report, await sandbox.stats().totalRequests - before, await sandbox.writes(since: mark))
        }
        let scope = RestoreScope(only: [("workItem", item)])
        let (report, served, writes) = try await restore(RestoreOptions(scope: scope))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate workItem \(item)"])
        #expect(writes.map(\.route) == ["POST /developers/graphql", "POST /developers/rest/v1/comment"], "\(writes.map(\.route))")
        // The account check, the organization once (spaces, statuses, labels, users: the writes use the live read's),
        // the one work item asked for by id (not found: gone), and the two writes — counted by the sandbox too.
        #expect(report.requests == [
            "GET /organization": 1, "POST /graphql organization": 1, "POST /graphql workItem": 1,
            "POST /graphql createWorkItem": 1, "POST /comment": 1,
        ], "\(report.requests)")
        #expect(served == 5 && report.requests.values.reduce(0, +) == served, "\(served)")

        // The rerun reads the work item under its archived id (gone) and under the id the restore gave it (there):
        // nothing missing, nothing written.
        let (again, servedAgain, none) = try await restore(RestoreOptions(scope: scope))
        #expect(none.isEmpty && again.plan.steps.isEmpty && again.plan.skipped.isEmpty, "\(again.plan)")
        #expect(again.requests["POST /graphql workItem"] == 2 && again.requests["POST /graphql workItems"] == nil, "\(again.requests)")
        #expect(servedAgain == 4, "\(again.requests)")
        // A comment is read through its work item.
        let byComment = try await RestoreJobs.diffLive(
            archive, connector: connection, scope: RestoreScope(only: [("comment", comment)]), journalURL: journal, progress: .silent)
        #expect(byComment.isEmpty, "\(byComment.entries)")
        await connection.shutdown()
        await sandbox.stop()
        Scratch.remove(dir)
    }

    @Test func aLabelDeletedInTheAppIsCreatedAgainAndTheWorkItemsPutBackCarryIt() async throws {
        let d = try await KitemakerDamaged.make()
        // Also deleted in the app: ACM's "bug" (the deleted work item had it) and OPS's "infra" (the edited one had it).
        let ops = try #require(try await d.spaces()["Operations"])
        let bug = try #require(try await d.labels(space: d.acm)["bug"])
        let infra = try #require(try await d.labels(space: ops)["infra"])
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteLabelPath, ["id": .string(bug)])
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteLabelPath, ["id": .string(infra)])
        let lost = try await d.diff()
        #expect(lost.entries.contains { $0.kind == "label" && $0.id == bug && $0.change == .deleted }, "\(lost.entries)")

        // One work item: its label comes back first (not in the plan, which names the work item only), then the item
        // carrying it.
        let (one, oneWrites) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("workItem", d.deleted)])))
        #expect(oneWrites.first?.route == "POST /developers/rest/v1/label" && oneWrites.filter { $0.route.hasSuffix("/label") }.count == 1, "\(oneWrites.map(\.route))")
        #expect(one.done["recreate label"] == 1, "\(one.done)")
        let newBug = try #require(try await d.labels(space: d.acm)["bug"])
        #expect(newBug != bug)
        let back = try #require(try await d.live(titled: KitemakerDamaged.deletedTitle).items.first)
        #expect(try await d.workItem(back["id"]?.idString ?? "")?["labels"]?.arrayValue?.map { $0["id"]?.idString } == [newBug])

        // The rest, with --revert: OPS's "infra" is planned and created again, and the work items that lost a label
        // get it back (the edited one with its title); ACM's "bug" is not created twice.
        let (rest, writes) = try await d.restore(RestoreOptions(revert: true))
        #expect(rest.plan.steps.contains { $0.action == .recreate && $0.kind == "label" && $0.id == infra }, "\(rest.plan.steps)")
        #expect(!rest.plan.steps.contains { $0.kind == "label" && $0.id == bug }, "paired with the one the first run created")
        #expect(writes.filter { $0.route.hasSuffix("/label") }.count == 1 && rest.done["recreate label"] == 1, "\(writes.map(\.route))")
        let newInfra = try #require(try await d.labels(space: ops)["infra"])
        let edited = try #require(try await d.workItem(d.edited))
        #expect(edited["title"] == .string(KitemakerDamaged.editedTitle))
        #expect(edited["labels"]?.arrayValue?.map { $0["id"]?.idString } == [newInfra])
        // Through the journal the new labels pair with the archived ones: nothing differs any more, and a third
        // restore writes nothing.
        let after = try await d.diff()
        #expect(after.isEmpty, "\(after.entries)")
        let (again, none) = try await d.restore(RestoreOptions(revert: true))
        #expect(none.isEmpty && again.plan.steps.isEmpty, "\(again.plan.steps)")
        await d.stop()
    }

    @Test func aRevertLeavesAloneAWorkItemEditedAfterThePlan() async throws {
        let d = try await KitemakerDamaged.make()
        // The plan is made from a live read (the narrowed one: the work item alone); the item is edited again before
        // the write.
        let scope = RestoreScope(only: [("workItem", d.edited)])
        let (archive, now, plan) = try await d.revertPlan(scope)
        defer {
            archive.close()
            now.close()
        }
        #expect(plan.steps.map { "\($0.action.rawValue) \($0.id)" } == ["revert \(d.edited)"])
        _ = try await d.send(.PUT, "/developers/rest/v1/workitem", ["id": .string(d.edited), "description": "edited after the plan"])

        let mark = await d.sandbox.writeMark()
        let outcome = try await d.connection.applyRestore(
            plan, archive: archive, live: now, restored: .none, journal: nil, dryRun: false, progress: .silent)
        #expect(await d.sandbox.writes(since: mark).isEmpty)
        #expect(outcome.leftAlone.map(\.entry.id) == [d.edited] && outcome.done["revert workItem"] == nil, "\(outcome.done)")
        #expect(outcome.leftAlone.first?.reason.contains("after the plan") == true && outcome.leftAlone.first?.reason.contains("description") == true, "\(outcome.leftAlone)")
        let kept = try #require(try await d.workItem(d.edited))
        #expect(kept["title"] == "edited since the backup")

        // A restore run again compares afresh and sets both back.
        let (again, writes) = try await d.restore(RestoreOptions(scope: scope, revert: true))
        #expect(again.done["revert workItem"] == 1 && again.leftAlone.isEmpty && writes.count == 1, "\(again.done)")
        #expect(try await d.workItem(d.edited)?["title"] == .string(KitemakerDamaged.editedTitle))
        await d.stop()
    }

    @Test func revertSetsTheTitleBackThroughPutWorkitemAndDeletingAndSpacesAreRefused() async throws {
        let d = try await KitemakerDamaged.make()
        let added = try await d.send(.POST, "/developers/rest/v1/workitem", [
            "title": "added since the backup",
            "statusId": .string(try await d.firstStatus()),
        ])
        let (report, writes) = try await d.restore(RestoreOptions(revert: true, deleteAdded: true))
        #expect(report.done["revert workItem"] == 1 && report.done["recreate workItem"] == 1, "\(report.done)")
        #expect(writes.filter { $0.route.hasPrefix("PUT") }.map(\.route) == ["PUT /developers/rest/v1/workitem"], "\(writes.map(\.route))")
        let addedID = try #require(added["id"]?.idString)
        let refusal = try #require(report.plan.skipped.first { $0.entry.id == addedID })
        #expect(refusal.reason.contains("deletes nothing"), "\(refusal.reason)")
        #expect(!writes.flatMap(\.changes).contains { $0.id == addedID })
        let after = try await d.diff()
        #expect(after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["added workItem \(addedID)"], "\(after.entries)")
        #expect(d.connection.restoreRefusal(kind: "space", action: .recreate)?.contains("cannot create spaces") == true)
        #expect(d.connection.restoreRefusal(kind: "comment", action: .revert) != nil)
        await d.stop()
    }
}

@Suite("Kitemaker restore of initiatives and feedback")
struct KitemakerInitiativeRestoreTests {
    /// The demo after `KitemakerDamaged.make()`, with the initiative "Q2 polish" (in ACM and OPS, on the roadmap column
    /// "Now", three work items) and the feedback "CSV export, please" (from Tom Berg, linking two work items) deleted
    /// in the app.
    static func damaged() async throws -> (KitemakerDamaged, initiative: JSONValue, feedback: JSONValue) {
        let d = try await KitemakerDamaged.make()
        let initiative = try #require(try d.archived("initiatives").first { $0["title"] == "Q2 polish" })
        let feedback = try #require(try d.archived("feedback").first { $0["title"] == "CSV export, please" })
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteInitiativePath, ["id": .string(initiative["id"]?.idString ?? "")])
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteFeedbackPath, ["id": .string(feedback["id"]?.idString ?? "")])
        return (d, initiative, feedback)
    }

    @Test func aDeletedInitiativeAndFeedbackAreListedThenPutBackOnceWithTheirLinks() async throws {
        let (d, initiative, feedback) = try await Self.damaged()
        let iid = try #require(initiative["id"]?.idString), fid = try #require(feedback["id"]?.idString)
        let lost = try await d.diff()
        let deleted = lost.entries.filter { $0.change == .deleted && ($0.kind == "initiative" || $0.kind == "feedback") }
        #expect(deleted.map { "\($0.kind) \($0.id) \($0.title ?? "")" } == ["feedback \(fid) CSV export, please", "initiative \(iid) Q2 polish"], "\(lost.entries)")
        #expect(lost.kinds["initiative"]?.deleted == 1 && lost.kinds["initiative"]?.unchanged == 1, "\(lost.kinds)")

        let (dry, dryWrites) = try await d.restore(RestoreOptions(dryRun: true))
        #expect(dryWrites.isEmpty && dry.done["recreate initiative"] == 1 && dry.done["recreate feedback"] == 1, "\(dry.done)")
        let (report, writes) = try await d.restore()
        #expect(report.done["recreate initiative"] == 1 && report.done["recreate feedback"] == 1, "\(report.done)")
        #expect(writes.count == report.writeRequests && report.writeRequests == dry.writeRequests, "\(report.requests) vs \(dry.requests)")
        // What Kitemaker gives anew is reported: numbers, and the initiative's comments and watchers no route writes.
        #expect(report.notRestored.contains { $0.kind == "initiative.number" }, "\(report.notRestored)")
        #expect(report.notRestored.contains { $0.kind == "initiative.comments" } && report.notRestored.contains { $0.kind == "initiative.watchers" })

        // Back once, under new ids, with their spaces, roadmap column, work items (the copy of the one put back too),
        // person and insight links.
        let initiatives = try await d.liveList("initiatives", "initiatives", "id title spaces { key } workItems { id } roadmapColumns { name }")
        let back = initiatives.filter { $0["title"] == "Q2 polish" }
        #expect(back.count == 1 && back.first?["id"]?.idString != iid)
        #expect(back.first?["spaces"]?.arrayValue?.compactMap { $0["key"]?.stringValue }.sorted() == ["ACM", "OPS"])
        #expect(back.first?["roadmapColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Now"])
        #expect(back.first?["workItems"]?.arrayValue?.count == initiative["workItems"]?.arrayValue?.count)
        let items = try await d.liveList("feedback", "feedback", "id title person { name } insights { entities { ... on WorkItem { id } } }")
        let fb = items.filter { $0["title"] == "CSV export, please" }
        #expect(fb.count == 1 && fb.first?["id"]?.idString != fid && fb.first?["person"]?["name"] == "Tom Berg")
        #expect(fb.first?["insights"]?.arrayValue?.first?["entities"]?.arrayValue?.count == 2)

        // Paired through the journal: the re-export equals the archive for them but for what the report names; only the
        // work item's edit still differs, and a second restore writes nothing.
        let after = try await d.diff()
        #expect(after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" } == ["changed workItem \(d.edited)"], "\(after.entries)")
        let (again, none) = try await d.restore()
        #expect(none.isEmpty && again.plan.steps.isEmpty && again.writeRequests == 0, "\(again.plan.steps)")
        #expect(try await d.liveList("initiatives", "initiatives", "id title").filter { $0["title"] == "Q2 polish" }.count == 1)
        await d.stop()
    }

    @Test func onlyOneInitiativeReadsNoWorkItemListAndRevertSetsAnInitiativeAndAFeedbackBack() async throws {
        let (d, initiative, _) = try await Self.damaged()
        let iid = try #require(initiative["id"]?.idString)
        let scope = RestoreScope(only: [("initiative", iid)])
        let (report, writes) = try await d.restore(RestoreOptions(scope: scope))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate initiative \(iid)"], "\(report.plan)")
        // No space's work item list: the initiative's work items by id, the organization, initiatives and feedback.
        #expect(report.requests["POST /graphql workItems"] == nil, "\(report.requests)")
        #expect(writes.count == report.writeRequests && report.done["recreate initiative"] == 1, "\(report.requests)")
        #expect(try await d.liveList("initiatives", "initiatives", "id title").filter { $0["title"] == "Q2 polish" }.count == 1)
        let (again, none) = try await d.restore(RestoreOptions(scope: scope))
        #expect(none.isEmpty && again.plan.steps.isEmpty, "\(again.plan)")

        // The other initiative renamed in the app: --revert sets it back through editInitiative.
        let other = try #require(try d.archived("initiatives").first { $0["title"] == "Reliability" }?["id"]?.idString)
        _ = try await d.graphQL(
            "mutation($input: EditInitiativeInput!) { editInitiative(input: $input) { initiative { id } } }",
            ["input": ["id": .string(other), "title": "renamed since"]])
        let (reverted, revertWrites) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("initiative", other)]), revert: true))
        #expect(reverted.done["revert initiative"] == 1 && revertWrites.count == 1, "\(reverted.done)")
        // The account check, the organization, the initiative's two work items by id, one page each of initiatives and
        // feedback, the roadmaps (the journal holds the copy of "Q2 polish" put back above, whose roadmap place is
        // checked); then the initiative read again just before its one write.
        #expect(reverted.requests == [
            "GET /organization": 1, "POST /graphql organization": 1, "POST /graphql workItem": 2, "POST /graphql initiatives": 1,
            "POST /graphql feedback": 1, "POST /graphql roadmaps": 1, "POST /graphql initiative": 1, "POST /graphql editInitiative": 1,
        ] && reverted.writeRequests == 1, "\(reverted.requests)")
        #expect(try await d.liveList("initiatives", "initiatives", "id title").contains { $0["id"]?.idString == other && $0["title"] == "Reliability" })

        // A feedback item renamed and marked processed in the app: --revert sets both back through one editFeedback.
        let praise = try #require(try d.archived("feedback").first { $0["title"] == "General praise" }?["id"]?.idString)
        _ = try await d.graphQL(
            "mutation($input: EditFeedbackInput!) { editFeedback(input: $input) { feedback { id } } }",
            ["input": ["id": .string(praise), "title": "renamed since", "processed": true]])
        let changed = try await d.diff(RestoreScope(only: [("feedback", praise)]))
        #expect(changed.entries.map { "\($0.change.rawValue) \($0.id) \($0.fields ?? [])" } == ["changed \(praise) [\"processed\", \"processedAt\", \"title\"]"], "\(changed.entries)")
        let (fixed, fixWrites) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("feedback", praise)]), revert: true))
        #expect(fixed.done["revert feedback"] == 1 && fixWrites.count == 1, "\(fixed.done) \(fixWrites.map(\.route))")
        #expect(!fixed.notRestored.contains { $0.container == praise }, "\(fixed.notRestored)")
        #expect(try await d.diff(RestoreScope(only: [("feedback", praise)])).isEmpty)
        await d.stop()
    }
}

extension KitemakerInitiativeRestoreTests {
    @Test func aRevertLeavesAloneAnInitiativeAndAFeedbackItemEditedAfterThePlan() async throws {
        let d = try await KitemakerDamaged.make()
        func id(_ file: String, _ title: String) throws -> String {
            try #require(try d.archived(file).first { $0["title"] == .string(title) }?["id"]?.idString)
        }
        let q2 = try id("initiatives", "Q2 polish"), reliability = try id("initiatives", "Reliability")
        let praise = try id("feedback", "General praise"), csv = try id("feedback", "CSV export, please")
        // Renamed in the app since the backup; the plan sets all four back.
        for initiative in [q2, reliability] {
            _ = try await d.graphQL(
                "mutation($input: EditInitiativeInput!) { editInitiative(input: $input) { initiative { id } } }",
                ["input": ["id": .string(initiative), "title": "renamed since"]])
        }
        for item in [praise, csv] {
            _ = try await d.graphQL(
                "mutation($input: EditFeedbackInput!) { editFeedback(input: $input) { feedback { id } } }",
                ["input": ["id": .string(item), "title": "renamed since"]])
        }
        let scope = RestoreScope(only: [("initiative", q2), ("initiative", reliability), ("feedback", praise), ("feedback", csv)])
        let (archive, now, plan) = try await d.revertPlan(scope)
        defer {
            archive.close()
            now.close()
        }
        #expect(
            Set(plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id) \($0.fields ?? [])" })
                == Set([("initiative", q2), ("initiative", reliability), ("feedback", praise), ("feedback", csv)].map { "revert \($0.0) \($0.1) [\"title\"]" }),
            "\(plan.steps)")
        // Edited again between the plan and the write: one initiative's description, one feedback item's content.
        _ = try await d.graphQL(
            "mutation($input: EditInitiativeInput!) { editInitiative(input: $input) { initiative { id } } }",
            ["input": ["id": .string(reliability), "description": "edited after the plan"]])
        _ = try await d.graphQL(
            "mutation($input: EditFeedbackInput!) { editFeedback(input: $input) { feedback { id } } }",
            ["input": ["id": .string(csv), "content": "edited after the plan"]])

        let mark = await d.sandbox.writeMark()
        let before = await d.sandbox.stats().totalRequests
        let outcome = try await d.connection.applyRestore(
            plan, archive: archive, live: now, restored: .none, journal: nil, dryRun: false, progress: .silent)
        let served = await d.sandbox.stats().totalRequests - before
        let writes = await d.sandbox.writes(since: mark)
        // The edited ones are left alone, listed with the fields that moved; nothing is sent for them.
        #expect(Set(outcome.leftAlone.map(\.entry.id)) == [reliability, csv], "\(outcome.leftAlone)")
        let initiativeReason = outcome.leftAlone.first { $0.entry.id == reliability }?.reason ?? ""
        let feedbackReason = outcome.leftAlone.first { $0.entry.id == csv }?.reason ?? ""
        #expect(initiativeReason.contains("edited in Kitemaker after the plan was made (description)"), "\(initiativeReason)")
        #expect(feedbackReason.contains("edited in Kitemaker after the plan was made (content)"), "\(feedbackReason)")
        #expect(!writes.flatMap(\.changes).contains { $0.id == reliability || $0.id == csv }, "\(writes)")
        // The others are set back: one write each, after one read each of the four.
        #expect(outcome.done["revert initiative"] == 1 && outcome.done["revert feedback"] == 1, "\(outcome.done)")
        #expect(outcome.requests == ["POST /graphql editInitiative": 1, "POST /graphql editFeedback": 1], "\(outcome.requests)")
        #expect(writes.count == 2 && served == 6, "\(served) \(writes)")
        let initiatives = try await d.liveList("initiatives", "initiatives", "id title description")
        #expect(initiatives.first { $0["id"]?.idString == q2 }?["title"] == "Q2 polish")
        #expect(initiatives.first { $0["id"]?.idString == reliability }?["title"] == "renamed since")
        #expect(initiatives.first { $0["id"]?.idString == reliability }?["description"] == "edited after the plan")
        let feedback = try await d.liveList("feedback", "feedback", "id title content")
        #expect(feedback.first { $0["id"]?.idString == praise }?["title"] == "General praise")
        #expect(feedback.first { $0["id"]?.idString == csv }?["title"] == "renamed since")
        #expect(feedback.first { $0["id"]?.idString == csv }?["content"] == "edited after the plan")

        // A restore run again compares afresh and sets the two left alone back, reading each once before its write.
        let (again, againWrites) = try await d.restore(RestoreOptions(scope: scope, revert: true))
        #expect(again.done["revert initiative"] == 1 && again.done["revert feedback"] == 1 && again.leftAlone.isEmpty, "\(again.done)")
        #expect(again.requests["POST /graphql initiative"] == 1 && again.requests["POST /graphql feedbackById"] == 1, "\(again.requests)")
        #expect(again.writeRequests == 2 && againWrites.count == 2, "\(again.requests)")
        #expect(try await d.diff(scope).isEmpty)
        await d.stop()
    }

    @Test func aRevertLeavesAloneAnInitiativeDeletedAfterThePlan() async throws {
        let d = try await KitemakerDamaged.make()
        let reliability = try #require(try d.archived("initiatives").first { $0["title"] == "Reliability" }?["id"]?.idString)
        _ = try await d.graphQL(
            "mutation($input: EditInitiativeInput!) { editInitiative(input: $input) { initiative { id } } }",
            ["input": ["id": .string(reliability), "title": "renamed since"]])
        let scope = RestoreScope(only: [("initiative", reliability)])
        let (archive, now, plan) = try await d.revertPlan(scope)
        defer {
            archive.close()
            now.close()
        }
        #expect(plan.steps.map { "\($0.action.rawValue) \($0.id)" } == ["revert \(reliability)"])
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteInitiativePath, ["id": .string(reliability)])
        let mark = await d.sandbox.writeMark()
        let outcome = try await d.connection.applyRestore(
            plan, archive: archive, live: now, restored: .none, journal: nil, dryRun: false, progress: .silent)
        #expect(await d.sandbox.writes(since: mark).isEmpty)
        #expect(outcome.leftAlone.map(\.entry.id) == [reliability] && outcome.done.isEmpty, "\(outcome.done)")
        #expect(outcome.leftAlone.first?.reason.contains("deleted in Kitemaker after the plan was made") == true, "\(outcome.leftAlone)")
        await d.stop()
    }

    @Test func oneInitiativeOfAFullOrganizationCostsAHandfulOfRequests() async throws {
        // 300 work items, 150 per space: three GraphQL pages each if the spaces were read whole.
        let sandbox = try await Kite.sandbox(.generated(cards: 300), token: Kite.sourceToken)
        let connection = try Kite.connect(sandbox, token: Kite.sourceToken)
        let dir = try Fixture.tempDir()
        let archive = dir.appendingPathComponent("before.tar.zst")
        let d = KitemakerDamaged(sandbox: sandbox, connection: connection, dir: dir, archive: archive)
        // One initiative in both spaces, with three work items of the first (the generated organization has none).
        let spaces = try await d.graphQL("{ organization { spaces { id } } }")["organization"]?["spaces"]?.arrayValue?.compactMap { $0["id"]?.idString } ?? []
        let items = try await d.graphQL(
            "query($s: ID!) { workItems(spaceId: $s, count: 3) { workItems { id } } }", ["s": .string(spaces.first ?? "")]
        )["workItems"]?["workItems"]?.arrayValue?.compactMap { $0["id"]?.idString } ?? []
        #expect(spaces.count == 2 && items.count == 3)
        let made = try await d.send(
            .POST, "/developers/rest/v1/initiative", ["title": "Q3 scale", "spaceIds": .array(spaces.map(JSONValue.string))])
        let initiative = try #require(made["id"]?.idString)
        _ = try await d.graphQL(
            "mutation($input: EditInitiativeInput!) { editInitiative(input: $input) { initiative { id } } }",
            ["input": ["id": .string(initiative), "addWorkItemIds": .array(items.map(JSONValue.string))]])
        _ = try await Kite.export(connection, to: archive)
        _ = try await d.send(.POST, KitemakerSandbox.appDeleteInitiativePath, ["id": .string(initiative)])

        let before = await sandbox.stats().totalRequests
        let (report, writes) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("initiative", initiative)])))
        let served = await sandbox.stats().totalRequests - before
        #expect(report.done["recreate initiative"] == 1 && writes.count == report.writeRequests, "\(report.done)")
        // The account check, the organization (spaces, statuses, labels, users), the initiative's three work items by
        // id, one page each of initiatives and feedback; then the create (REST, it keeps its spaces) and its links. No
        // space's work item list is read.
        #expect(report.requests == [
            "GET /organization": 1, "POST /graphql organization": 1, "POST /graphql workItem": 3, "POST /graphql initiatives": 1,
            "POST /graphql feedback": 1, "POST /initiative": 1, "POST /graphql editInitiative": 1,
        ], "\(report.requests)")
        #expect(served == report.requests.values.reduce(0, +) && report.writeRequests == 2, "\(served)")
        let back = try await d.liveList("initiatives", "initiatives", "id title workItems { id } spaces { id }").filter { $0["title"] == "Q3 scale" }
        #expect(back.count == 1 && back.first?["workItems"]?.arrayValue?.compactMap { $0["id"]?.idString } == items)
        #expect(back.first?["spaces"]?.arrayValue?.count == 2)
        await d.stop()
    }
}

extension KitemakerDamaged {
    /// The plan of a `--revert` restore of `scope` and the live read it was made from, as `kitbag restore` makes them,
    /// so that a test can change the live organization between the plan and the write. The caller closes both readers.
    func revertPlan(_ scope: RestoreScope) async throws -> (archive: SnapshotReader, live: SnapshotReader, plan: RestorePlan) {
        let archive = try SnapshotReader.open(self.archive)
        do {
            let rules = connection.liveRules
            let folders = try LiveComparison.folders(in: archive, scope: scope, rules: rules)
            let live = dir.appendingPathComponent("live-\(UUID().uuidString)")
            _ = try await ConnectorJobs.export(
                connection.liveReader(scope: scope, archive: archive, restored: .none), account: try await connection.probe(),
                destination: .folder(live), format: .folder,
                selection: ExportSelection(containers: folders.map { Array(Set($0.values)).sorted() } ?? [], containersOnly: true),
                renderings: [], progress: .silent)
            let now = try SnapshotReader.open(live)
            do {
                let diff = try LiveComparison.compare(
                    archive: archive, live: now, rules: rules, containers: folders.map { Set($0.values) }, scope: scope,
                    archiveName: "before")
                return (archive, now, RestoreJobs.plan(diff, options: RestoreOptions(scope: scope, revert: true), target: connection))
            } catch {
                now.close()
                throw error
            }
        } catch {
            archive.close()
            throw error
        }
    }

    /// The archive's account-level list `file` (`initiatives`, `feedback`).
    func archived(_ file: String) throws -> [JSONValue] {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        return try reader.values(at: ArchivePath.jsonLines(container: .account, file: file))
    }

    /// One GraphQL request with the token.
    func graphQL(_ query: String, _ variables: JSONValue = .object(JSONObject())) async throws -> JSONValue {
        let answer = try await connection.client.json(
            APIRequest(
                method: .POST, path: "/developers/graphql", body: ["query": .string(query), "variables": variables],
                route: "POST /graphql", extraHeaders: [("Authorization", "Bearer \(Kite.sourceToken)")]))
        return answer["data"] ?? .null
    }

    /// The first page of an organization-wide GraphQL list, with the fields asked for.
    func liveList(_ field: String, _ listKey: String, _ fields: String) async throws -> [JSONValue] {
        try await graphQL("{ \(field)(count: 50) { \(listKey) { \(fields) } } }")[field]?[listKey]?.arrayValue ?? []
    }

    /// The live spaces by name → id, and the live labels of one space by name → id (REST listings).
    func spaces() async throws -> [String: String] {
        let listed = try await connection.client.json(
            APIRequest(method: .GET, path: "/developers/rest/v1/metadata/spaces", route: "GET /metadata/spaces", extraHeaders: [("X-API-KEY", Kite.sourceToken)]))
        return Dictionary((listed.arrayValue ?? []).compactMap { s in s["label"]?.stringValue.map { ($0, s["id"]?.idString ?? "") } }, uniquingKeysWith: { a, _ in a })
    }

    func labels(space: String) async throws -> [String: String] {
        let listed = try await connection.client.json(
            APIRequest(
                method: .GET, path: "/developers/rest/v1/metadata/labels", query: [("spaceId", space)], route: "GET /metadata/labels",
                extraHeaders: [("X-API-KEY", Kite.sourceToken)]))
        return Dictionary((listed.arrayValue ?? []).compactMap { l in l["label"]?.stringValue.map { ($0, l["id"]?.idString ?? "") } }, uniquingKeysWith: { a, _ in a })
    }

    /// The live work item of that id, as GraphQL gives it (labels by name).
    func workItem(_ id: String) async throws -> JSONValue? {
        let answer = try await connection.client.json(
            APIRequest(
                method: .POST, path: "/developers/graphql",
                body: ["query": "query($id: ID!) { workItem(id: $id) { id title labels { id name } } }", "variables": ["id": .string(id)]],
                route: "POST /graphql", extraHeaders: [("Authorization", "Bearer \(Kite.sourceToken)")]))
        return answer["data"]?["workItem"]
    }

    /// The id of a status of ACM in the live organization.
    func firstStatus() async throws -> String {
        let answer = try await connection.client.json(
            APIRequest(
                method: .GET, path: "/developers/rest/v1/metadata/statuses", query: [("spaceId", acm)], route: "GET /metadata/statuses",
                extraHeaders: [("X-API-KEY", Kite.sourceToken)]))
        return try #require(answer.arrayValue?.first?["id"]?.idString)
    }
}
