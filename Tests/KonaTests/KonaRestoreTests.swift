import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

// Restore into the live account (issue 19), over real HTTP against the Kona sandbox. The routes' shapes are those of
// KonaTeam/kona-api, commit 995e42935e5a62b3ca06a2bc07706d130771f78f (see ContractRestoreTests.swift).

/// The demo account, its archive, and the damage done since: the Hiring space deleted (a conversation, a task and an
/// event, with comments), in Product Launch the task "Write release notes" and its two comments deleted, in Just for
/// Me a task renamed and a task added.
struct KonaDamaged {
    let sandbox: RunningSandbox
    let connection: KonaConnection
    let dir: URL
    let archive: URL
    var addedTask = ""

    static let editedName = "edited since the backup"

    static func make() async throws -> KonaDamaged {
        let sandbox = try await KonaConnectorTests.sandbox()
        let connection = try KonaConnectorTests.connect(sandbox, KonaConnectorTests.environment())
        let dir = try Fixture.tempDir()
        var d = KonaDamaged(sandbox: sandbox, connection: connection, dir: dir, archive: dir.appendingPathComponent("before.tar.zst"))
        _ = try await KonaConnectorTests.export(connection, to: d.archive)
        #expect(try await send(sandbox, "DELETE", "/api/spaces/1002").status == 204)
        #expect(try await send(sandbox, "DELETE", "/api/tasks/3001").status == 204)
        #expect(try await send(sandbox, "PUT", "/api/tasks/3005", body: ["tasks": [["name": .string(editedName)]]]).status == 200)
        let added = try await send(sandbox, "POST", "/api/tasks", body: ["tasks": [["name": "added since the backup", "space_id": 1003]]])
        d.addedTask = added.json?["tasks"]?.arrayValue?.first?["id"]?.idString ?? ""
        return d
    }

    var journal: URL { dir.appendingPathComponent("restore.sqlite") }

    func restore(_ options: RestoreOptions = RestoreOptions(), as other: KonaConnection? = nil) async throws -> (RestoreReport, [SandboxWrite]) {
        let mark = await sandbox.writeMark()
        let report = try await RestoreJobs.restore(
            archive, connector: other ?? connection, options: options, journalURL: journal, progress: .silent)
        return (report, await sandbox.writes(since: mark))
    }

    func diff(_ scope: RestoreScope = RestoreScope()) async throws -> LiveDiff {
        try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, journalURL: journal, progress: .silent)
    }

    /// The live tasks of a space called `name` (the first such space), by name.
    func tasks(inSpaceNamed name: String) async throws -> (space: String, tasks: [JSONValue]) {
        let spaces = try await send(sandbox, "GET", "/api/spaces?per_page=100").json?["spaces"]?.arrayValue ?? []
        let space = try #require(spaces.first { $0["name"]?.stringValue == name }?["id"]?.idString, "no space \(name)")
        let tasks = try await send(sandbox, "GET", "/api/tasks?space_id=\(space)&per_page=100").json?["tasks"]?.arrayValue ?? []
        return (space, tasks)
    }

    /// The comments of a task as Kona lists them (newest first).
    func comments(task id: String) async throws -> [String] {
        let listed = try await send(sandbox, "GET", "/api/comments?resource_type=task&resource_id=\(id)").json
        return (listed?["comments"]?.arrayValue ?? []).compactMap { $0["content"]?.stringValue }
    }

    func stop() async {
        await connection.shutdown()
        await sandbox.stop()
        Scratch.remove(dir)
    }
}

@Suite("Kona restore into the live account")
struct KonaRestoreTests {
    @Test func liveDiffListsTheDeletedSpaceTaskAndCommentsTheEditAndTheAddition() async throws {
        let d = try await KonaDamaged.make()
        let diff = try await d.diff()
        func change(_ kind: String, _ id: String) -> LiveDiff.Entry? { diff.entries.first { $0.kind == kind && $0.id == id } }
        #expect(change("space", "1002")?.change == .deleted && change("space", "1002")?.title == "Hiring")
        #expect(change("task", "3001")?.change == .deleted && change("task", "3001")?.title == "Write release notes")
        #expect(change("comment", "5001")?.change == .deleted && change("comment", "5002")?.change == .deleted)
        #expect(change("task", "3005")?.change == .changed && change("task", "3005")?.fields == ["name"])
        #expect(change("task", d.addedTask)?.change == .added)
        let others = diff.entries.filter { !["3001", "5001", "5002", "3005", d.addedTask].contains($0.id) && $0.container != "1002" && $0.id != "1002" }
        #expect(others.isEmpty, "\(others)")
        await d.stop()
    }

    @Test func restoreCreatesWhatWasLostUnderNewIdsWithItsCommentsInOrderAndWritesNothingElse() async throws {
        let d = try await KonaDamaged.make()
        let (dry, dryWrites) = try await d.restore(RestoreOptions(dryRun: true))
        #expect(dryWrites.isEmpty && dry.dryRun && dry.writeRequests > 0)
        #expect(!FileManager.default.fileExists(atPath: d.journal.path), "a dry run opens no journal")

        let (report, writes) = try await d.restore()
        #expect(report.writeRequests == dry.writeRequests, "dry run counted \(dry.requests), the restore sent \(report.requests)")
        #expect(writes.count == report.writeRequests)
        #expect(Set(writes.map(\.route)).isSubset(of: ["POST /api/spaces", "POST /api/conversations", "POST /api/tasks", "POST /api/calendar_events", "POST /api/comments"]), "\(Set(writes.map(\.route)))")
        #expect(report.done["recreate space"] == 1 && report.done["recreate task"] == 2 && report.done["recreate comment"] == 4, "\(report.done)")
        // The edited and the added task were not touched.
        let touched = Set(writes.flatMap(\.changes).map(\.id))
        #expect(!touched.contains("3005") && !touched.contains(d.addedTask))
        #expect(report.notRestored.contains { $0.kind == "timestamp" })

        // The task is back in its space under a new id, with its thread as it was (Kona lists newest first).
        let launch = try await d.tasks(inSpaceNamed: "Product Launch 🚀")
        let back = try #require(launch.tasks.first { $0["name"] == "Write release notes" })
        #expect(back["id"]?.idString != "3001" && launch.space == "1001")
        #expect(try await d.comments(task: back["id"]?.idString ?? "") == ["Reviewed — two typos fixed.", "Draft is in the shared folder."])
        // Hiring is back under a new id with its items, the comments pointing at the new items.
        let hiring = try await d.tasks(inSpaceNamed: "Hiring")
        #expect(hiring.space != "1002" && hiring.tasks.map { $0["name"]?.stringValue } == ["Post the job ad"])
        #expect(try await d.comments(task: hiring.tasks[0]["id"]?.idString ?? "") == ["Posted on two boards."])

        // The journal pairs the new entities with the archived ones: the account no longer differs but for the
        // edit and the addition, and a second restore writes nothing.
        let after = try await d.diff()
        #expect(after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" }.sorted() == ["added task \(d.addedTask)", "changed task 3005"], "\(after.entries)")
        let (again, none) = try await d.restore()
        #expect(none.isEmpty && again.plan.steps.isEmpty && again.writeRequests == 0)
        await d.stop()
    }

    @Test func onlyOneTaskBringsItsCommentsAndReadsOneSpace() async throws {
        let d = try await KonaDamaged.make()
        let scope = RestoreScope(only: [("task", "3001")])
        let (dry, _) = try await d.restore(RestoreOptions(scope: scope, dryRun: true))
        #expect(dry.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate task 3001"])
        let (report, writes) = try await d.restore(RestoreOptions(scope: scope))
        #expect(writes.map(\.route) == ["POST /api/tasks", "POST /api/comments"], "one task, then its two comments in one batch")
        #expect(report.writeRequests == dry.writeRequests && report.done["recreate comment"] == 2)
        // Only the task's space was read: no listing of the account's spaces.
        #expect(report.requests["GET /spaces"] == nil && report.requests["GET /spaces/:id"] == 1, "\(report.requests)")
        // Comments are listed per item in Kona: only the named task's would be read — it is gone, so none — not one
        // list per item of its space (its comments come back from the archive).
        #expect(report.requests["GET /comments"] == nil && dry.requests["GET /comments"] == nil, "\(report.requests)")
        let launch = try await d.tasks(inSpaceNamed: "Product Launch 🚀")
        let back = try #require(launch.tasks.first { $0["name"] == "Write release notes" })
        #expect(try await d.comments(task: back["id"]?.idString ?? "") == ["Reviewed — two typos fixed.", "Draft is in the shared folder."])
        // The rest of the damage is still there.
        let rest = try await d.diff()
        #expect(rest.entries.contains { $0.id == "1002" && $0.change == .deleted })
        #expect(!rest.entries.contains { ["3001", "5001", "5002"].contains($0.id) })
        await d.stop()
    }

    @Test func onlyADeletedSpaceBringsItsContentsAndReadsNoListing() async throws {
        let d = try await KonaDamaged.make()
        let (report, writes) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("space", "1002")])))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate space 1002"])
        #expect(report.plan.steps.first?.contents == 5, "a conversation, a task, an event and their two comments")
        #expect(writes.map(\.route) == ["POST /api/spaces", "POST /api/conversations", "POST /api/tasks", "POST /api/calendar_events", "POST /api/comments"])
        // The space is asked for by its archived id (404: gone), no account listing is read.
        #expect(report.requests["GET /spaces/:id"] == 1 && report.requests["GET /spaces"] == nil, "\(report.requests)")
        #expect(report.notRestored.contains { $0.kind == "space.participants" })
        // Asked for again, it is read under its new id, and nothing is missing.
        let again = try await d.diff(RestoreScope(only: [("space", "1002")]))
        #expect(again.isEmpty, "\(again.entries)")
        await d.stop()
    }

    @Test func revertAndDeleteAddedWriteOnlyTheChangedFieldAndTheAddition() async throws {
        let d = try await KonaDamaged.make()
        let scope = RestoreScope(only: [("task", "3005"), ("task", d.addedTask)])
        let (report, writes) = try await d.restore(RestoreOptions(scope: scope, revert: true, deleteAdded: true))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.id)" }.sorted() == ["remove \(d.addedTask)", "revert 3005"].sorted())
        #expect(writes.map(\.route).sorted() == ["DELETE /api/tasks/:id", "PUT /api/tasks/:id"])
        let put = try #require(writes.first { $0.route == "PUT /api/tasks/:id" })
        #expect(put.changes.map(\.id) == ["3005"])
        let task = try #require(try await send(d.sandbox, "GET", "/api/tasks/3005").json?["tasks"]?.arrayValue?.first)
        #expect(task["name"] == "Dentist appointment")
        #expect(try await send(d.sandbox, "GET", "/api/tasks/\(d.addedTask)").status == 404)
        // A comment cannot be deleted through the API: an added one is refused with the reason.
        #expect(d.connection.restoreRefusal(kind: "comment", action: .remove)?.contains("no route to delete a comment") == true)
        #expect(d.connection.restoreRefusal(kind: "conversation", action: .revert) != nil)
        await d.stop()
    }

    @Test func aRevertLeavesAloneATaskEditedAfterThePlan() async throws {
        let d = try await KonaDamaged.make()
        // The plan is made from a live export; the task is edited again before the write.
        let live = d.dir.appendingPathComponent("live")
        let account = try await d.connection.probe()
        _ = try await ConnectorJobs.export(
            d.connection, account: account, destination: .folder(live), format: .folder,
            selection: ExportSelection(containers: ["1003"], containersOnly: true), renderings: [], progress: .silent)
        let archive = try SnapshotReader.open(d.archive)
        let now = try SnapshotReader.open(live)
        defer {
            archive.close()
            now.close()
        }
        let scope = RestoreScope(only: [("task", "3005")])
        let diff = try LiveComparison.compare(archive: archive, live: now, rules: d.connection.liveRules, containers: ["1003"], scope: scope, archiveName: "before")
        let plan = RestoreJobs.plan(diff, options: RestoreOptions(scope: scope, revert: true), target: d.connection)
        #expect(plan.steps.map(\.id) == ["3005"])
        #expect(try await send(d.sandbox, "PUT", "/api/tasks/3005", body: ["tasks": [["details": "edited after the plan"]]]).status == 200)
        let mark = await d.sandbox.writeMark()
        let outcome = try await d.connection.applyRestore(
            plan, archive: archive, live: now, restored: .none, journal: nil, dryRun: false, progress: .silent)
        #expect(await d.sandbox.writes(since: mark).isEmpty)
        #expect(outcome.leftAlone.map(\.entry.id) == ["3005"] && outcome.leftAlone[0].reason.contains("after the plan"))
        let task = try #require(try await send(d.sandbox, "GET", "/api/tasks/3005").json?["tasks"]?.arrayValue?.first)
        #expect(task["name"]?.stringValue == KonaDamaged.editedName && task["details"] == "edited after the plan")
        await d.stop()
    }

    @Test func aKilledRestoreRerunClaimsTheTaskItSentInsteadOfCreatingASecond() async throws {
        let d = try await KonaDamaged.make()
        // The first run journaled the task as sent and was killed before the answer: the task is there, unrecorded.
        do {
            let journal = try ImportJournal(
                url: d.journal,
                binding: JournalBinding(
                    sourceService: "kona", sourceAccount: "501", targetService: "kona",
                    targetBaseURL: d.connection.baseURL.absoluteString, targetAccount: "501"))
            try journal.plan(kind: "task", [("3001", "")])
            try journal.markAttempted(kind: "task", sourceIDs: ["3001"])
        }
        let reader = try SnapshotReader.open(d.archive)
        let archived = try #require(try reader.values(at: "data/spaces/1001/tasks.jsonl").first { $0["id"]?.idString == "3001" })
        reader.close()
        var body = JSONObject([("space_id", 1001)])
        for key in ["name", "details", "end_at", "status", "visibility", "stakeholder", "default_role", "period", "frequency"] {
            if let v = archived[key], !v.isNull { body[key] = v }
        }
        #expect(try await send(d.sandbox, "POST", "/api/tasks", body: ["tasks": [.object(body)]]).status == 201)

        let (report, writes) = try await d.restore(RestoreOptions(scope: RestoreScope(only: [("task", "3001")])))
        #expect(!writes.contains { $0.route == "POST /api/tasks" }, "\(writes.map(\.route))")
        #expect(report.done["recreate comment"] == 2)
        let launch = try await d.tasks(inSpaceNamed: "Product Launch 🚀")
        let copies = launch.tasks.filter { $0["name"] == "Write release notes" }
        #expect(copies.count == 1)
        #expect(try await d.comments(task: copies.first?["id"]?.idString ?? "") == ["Reviewed — two typos fixed.", "Draft is in the shared folder."])
        await d.stop()
    }

    @Test func anArchiveOfAnotherAccountIsRefusedNamingBoth() async throws {
        let d = try await KonaDamaged.make()
        let other = try KonaConnectorTests.connect(d.sandbox, [KonaSchema.accessTokenVariable: KonaSandbox.defaultColleagueToken])
        let mark = await d.sandbox.writeMark()
        await #expect {
            _ = try await d.restore(as: other)
        } throws: { error in
            let text = "\(error)"
            return text.contains("is of kona account Ada Lovelace (501)") && text.contains("credentials reach account Ben Okafor (502)")
                && !text.contains("\n")
        }
        #expect(await d.sandbox.writes(since: mark).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: d.journal.path))
        await other.shutdown()
        await d.stop()
    }

    @Test func aForbiddenWriteSaysWhatTheUserLacksInOneLine() async throws {
        // The colleague backs up what they see; the owner adds a task to a space the colleague does not own; the
        // colleague's --delete-added is refused by Kona (only the creator or the space's owner may delete it).
        let sandbox = try await KonaConnectorTests.sandbox()
        let colleague = try KonaConnectorTests.connect(sandbox, [KonaSchema.accessTokenVariable: KonaSandbox.defaultColleagueToken])
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = dir.appendingPathComponent("colleague.tar.zst")
        _ = try await KonaConnectorTests.export(colleague, to: archive)
        #expect(try await send(sandbox, "POST", "/api/tasks", body: ["tasks": [["name": "added by Ada", "space_id": 1001]]]).status == 201)
        await #expect {
            _ = try await RestoreJobs.restore(
                archive, connector: colleague, options: RestoreOptions(scope: RestoreScope(containers: ["1001"]), deleteAdded: true),
                journalURL: dir.appendingPathComponent("j.sqlite"), progress: .silent)
        } throws: { error in
            let text = "\(error)"
            return text.contains("DELETE /tasks/:id answered 403 Forbidden") && text.contains("may not delete there") && !text.contains("\n")
        }
        await colleague.shutdown()
        await sandbox.stop()
    }
}
