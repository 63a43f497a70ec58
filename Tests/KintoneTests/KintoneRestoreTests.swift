import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// `kitbag diff --live` and `kitbag restore` into Kintone against a real sandbox on 127.0.0.1 (issue 19): a deleted
/// record comes back as a new record with its files, status and comments, the journal pairs it with the archived one,
/// a record edited after the plan is left alone (`GAIA_CO02`), `--revert` and `--delete-added` carry revisions.
@Suite("Kintone restore")
struct KintoneRestoreTests {
    static func export(_ connection: KintoneConnection, to url: URL) async throws {
        _ = try await ConnectorJobs.export(
            connection, account: try await connection.probe(), destination: .file(url), format: .tarZst, progress: .silent)
    }

    @discardableResult
    static func send(_ connection: KintoneConnection, _ method: HTTPMethod, _ path: String, _ body: JSONValue) async throws -> JSONValue {
        try await connection.call(method, path, body: body)
    }

    static func record(_ connection: KintoneConnection, app: String, id: String) async throws -> JSONValue {
        try await connection.call(.GET, "record.json", query: [("app", app), ("id", id)])["record"] ?? .null
    }

    /// A demo sandbox, a connection to it (a login) and a backup of it in a temp folder.
    static func backedUpDemo() async throws -> (dir: URL, sandbox: RunningSandbox, connection: KintoneConnection, archive: URL) {
        let dir = try Fixture.tempDir()
        let sandbox = try await KintoneConnectorTests.sandbox()
        let connection = try KintoneConnectorTests.connect(sandbox)
        let archive = dir.appendingPathComponent("a.tar.zst")
        try await export(connection, to: archive)
        return (dir, sandbox, connection, archive)
    }

    static func keys(_ diff: LiveDiff) -> [String] {
        diff.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" }.sorted()
    }

    @Test("deleted record back with files, status and comments; edit left alone; rerun writes nothing; revert and delete-added")
    func restoreRoundTrip() async throws {
        let (dir, sandbox, connection, archive) = try await Self.backedUpDemo()
        defer {
            Scratch.remove(dir)
            Task {
                await connection.shutdown()
                await sandbox.stop()
            }
        }

        // Order 1 (files, a table, status Completed, three comments) deleted; a wiki page edited; a page added.
        try await Self.send(connection, .DELETE, "records.json", ["app": "2", "ids": ["1"]])
        try await Self.send(connection, .PUT, "record.json", ["app": "3", "id": "1", "record": ["Title": ["value": "Edited checklist"]]])
        let added = try await Self.send(connection, .POST, "record.json", ["app": "3", "record": ["Title": ["value": "Added page"]]])
        let addedID = try #require(added["id"]?.idString)

        let diff = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
        #expect(
            Self.keys(diff) == [
                "added record 3/\(addedID)", "changed record 3/1", "deleted comment 2/1/1", "deleted comment 2/1/2",
                "deleted comment 2/1/3", "deleted record 2/1",
            ], "\(Self.keys(diff))")
        #expect(diff.entries.first { $0.id == "3/1" }?.fields == ["Title"])

        // Restore (default options): only app 2 is written; the edit and the added page are left alone.
        let mark = await sandbox.writeMark()
        let report = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(), journalURL: nil, progress: .silent)
        #expect(report.done["recreate record"] == 1)
        #expect(report.done["recreate comment"] == 3)
        #expect(report.plan.skipped.map(\.entry.id).sorted() == ["3/1", "3/\(addedID)"])
        #expect(report.notRestored.contains { $0.kind == "recordNumber" })
        let writes = await sandbox.writes(since: mark)
        #expect(!writes.isEmpty)
        let changes = writes.flatMap(\.changes)
        #expect(changes.allSatisfy { !$0.id.hasPrefix("3/") && !$0.id.hasPrefix("1/") }, "\(writes)")
        #expect(changes.filter { $0.kind == "record" && $0.action == .created }.map { $0.id.hasPrefix("2/") } == [true], "\(writes)")

        // The journal pairs the new record (and its comments) with the archived ones: only the edit and the page differ.
        let after = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
        #expect(Self.keys(after) == ["added record 3/\(addedID)", "changed record 3/1"], "\(Self.keys(after))")
        let restoredID = try #require(try ImportJournal(readingFrom: RestoreJobs.defaultJournalURL(for: archive)).entry(kind: "record", sourceID: "2/1")?.targetID)
        let back = try await Self.record(connection, app: "2", id: restoredID)
        #expect(back["Order_No"]?["value"]?.stringValue == "ORD-0001")
        #expect(back["Status"]?["value"]?.stringValue == "Completed")
        #expect(back["Attachments"]?["value"]?.arrayValue?.count == 2)
        let comments = try await connection.call(.GET, "record/comments.json", query: [("app", "2"), ("record", restoredID), ("order", "asc")])
        #expect(comments["comments"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["Order received.", "Shipped today.", "Thanks! 🎉"])

        // A rerun writes nothing.
        let quiet = await sandbox.writeMark()
        let again = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(), journalURL: nil, progress: .silent)
        #expect(again.plan.steps.isEmpty)
        #expect(await sandbox.writes(since: quiet).isEmpty)

        // Edited after the plan: the revert's revision is refused and the record left alone, untouched.
        let liveFolder = dir.appendingPathComponent("live")
        let opened = try SnapshotReader.open(archive)
        let reader = connection.liveReader(scope: RestoreScope(), archive: opened, restored: .none)
        opened.close()
        _ = try await ConnectorJobs.export(
            reader,
            account: try await connection.probe(), destination: .folder(liveFolder), format: .folder,
            selection: ExportSelection(containers: ["3"], containersOnly: true), renderings: [], progress: .silent)
        try await Self.send(connection, .PUT, "record.json", ["app": "3", "id": "1", "record": ["Title": ["value": "Edited again"]]])
        let archived = try SnapshotReader.open(archive)
        let live = try SnapshotReader.open(liveFolder)
        defer {
            archived.close()
            live.close()
        }
        let stale = try LiveComparison.compare(
            archive: archived, live: live, rules: connection.liveRules, containers: ["3"], scope: RestoreScope(only: [("record", "3/1")]),
            archiveName: "a")
        let plan = RestoreJobs.plan(stale, options: RestoreOptions(revert: true), target: connection)
        #expect(plan.steps.map(\.id) == ["3/1"])
        let outcome = try await connection.applyRestore(
            plan, archive: archived, live: live, restored: .none, journal: nil, dryRun: false, progress: .silent)
        #expect(outcome.leftAlone.map(\.entry.id) == ["3/1"])
        #expect(outcome.leftAlone.first?.reason.contains("GAIA_CO02") == true)
        #expect(try await Self.record(connection, app: "3", id: "1")["Title"]?["value"]?.stringValue == "Edited again")

        // --revert sets it back (with the revision read now); --delete-added deletes the page; then nothing differs.
        let reverted = try await RestoreJobs.restore(
            archive, connector: connection, options: RestoreOptions(revert: true), journalURL: nil, progress: .silent)
        #expect(reverted.done["revert record"] == 1)
        #expect(reverted.requests["PUT record.json"] == 1)
        #expect(try await Self.record(connection, app: "3", id: "1")["Title"]?["value"]?.stringValue == "Release checklist")
        let removed = try await RestoreJobs.restore(
            archive, connector: connection, options: RestoreOptions(deleteAdded: true), journalURL: nil, progress: .silent)
        #expect(removed.done["remove record"] == 1)
        #expect(removed.requests["DELETE records.json"] == 1)
        let none = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
        #expect(none.isEmpty, "\(Self.keys(none))")
    }

    @Test("one named record: the comparison reads that record only, and its restore is a handful of requests")
    func oneRecordIsCheap() async throws {
        let (dir, sandbox, connection, archive) = try await Self.backedUpDemo()
        defer {
            Scratch.remove(dir)
            Task {
                await connection.shutdown()
                await sandbox.stop()
            }
        }
        try await Self.send(connection, .DELETE, "records.json", ["app": "2", "ids": ["2", "3"]])

        let scope = RestoreScope(only: [("record", "2/3")])
        let before = await connection.client.requestCounts()
        let diff = try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent)
        let reads = RestoreJobs.requests(await connection.client.requestCounts(), since: before)
        #expect(Self.keys(diff).filter { $0.hasPrefix("deleted record") } == ["deleted record 2/3"])
        #expect(reads["GET records.json"] == 1, "\(reads)")
        #expect(reads.keys.allSatisfy { !$0.contains("form") && !$0.contains("acl") && !$0.contains("settings") }, "\(reads)")

        let report = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(scope: scope), journalURL: nil, progress: .silent)
        #expect(report.done["recreate record"] == 1)
        #expect(report.done["recreate comment"] == 12)
        #expect(report.requests.values.reduce(0, +) - report.writeRequests <= 8, "\(report.requests)")
        let rerun = try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent)
        #expect(rerun.isEmpty, "\(Self.keys(rerun))")
        // Record 2 is still gone: it was not in the scope.
        let whole = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
        #expect(Self.keys(whole).filter { $0.contains("record") } == ["deleted record 2/2"])

        // Deleted again after the restore: the journal's entry is stale, and the next restore creates it once more.
        let journal = try ImportJournal(readingFrom: RestoreJobs.defaultJournalURL(for: archive))
        let first = try #require(try journal.entry(kind: "record", sourceID: "2/3")?.targetID)
        try await Self.send(connection, .DELETE, "records.json", ["app": "2", "ids": [.string(first)]])
        let lostAgain = try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent)
        #expect(Self.keys(lostAgain).filter { $0.hasPrefix("deleted record") } == ["deleted record 2/3"])
        let second = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(scope: scope), journalURL: nil, progress: .silent)
        #expect(second.done["recreate record"] == 1 && second.done["recreate comment"] == 12)
        let now = try #require(try journal.entry(kind: "record", sourceID: "2/3")?.targetID)
        #expect(now != first)
        #expect(try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent).isEmpty)
    }

    @Test("a token that may only view: one line naming the permission; API tokens cannot create a deleted app again")
    func permissionAndRefusal() async throws {
        let (dir, sandbox, connection, archive) = try await Self.backedUpDemo()
        defer {
            Scratch.remove(dir)
            Task {
                await connection.shutdown()
                await sandbox.stop()
            }
        }
        try await Self.send(connection, .DELETE, "records.json", ["app": "3", "ids": ["2"]])

        let viewer = try KintoneConnectorTests.connect(sandbox, token: KintoneSandbox.viewOnlyCredential)
        defer { Task { await viewer.shutdown() } }
        let mark = await sandbox.writeMark()
        await #expect {
            _ = try await RestoreJobs.restore(
                archive, connector: viewer, options: RestoreOptions(scope: RestoreScope(only: [("record", "3/2")])), journalURL: nil,
                progress: .silent)
        } throws: { error in
            let line = (error as? UserError)?.message ?? "\(error)"
            return line.contains("Add records permission") && line.contains("app 3") && !line.contains("\n")
        }
        #expect(await sandbox.writes(since: mark).isEmpty)
        #expect(viewer.restoreRefusal(kind: "app", action: .recreate)?.contains("API tokens cannot create apps") == true)
        #expect(connection.restoreRefusal(kind: "app", action: .recreate) == nil)
        #expect(connection.restoreRefusal(kind: "app", action: .remove)?.contains("no REST route to delete an app") == true)
        #expect(connection.restoreRefusal(kind: "record", action: .recreate) == nil)
    }
}
