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

/// `kitbag restore` of a Kintone app that is gone from the domain (issue 19), against a real sandbox on 127.0.0.1.
/// The app is deleted through the sandbox's stand-in for Kintone's "Delete App" screen (the REST API deletes no
/// app). It comes back as a new app through the importer's app creation — kintone/js-sdk
/// packages/rest-api-client/src/client/AppClient.ts (commit 003b2770edee77b314a7b67cb7645836f543b426): `addApp` is
/// `POST preview/app.json` with `name` (and, for an app in a space, `space` and the space's `defaultThread` from
/// `GET space.json` as `thread`), answering `{app, revision}`; `deployApp` is `POST preview/app/deploy.json` with
/// `apps: [{app, revision?}]`; `getDeployStatus` is `GET preview/app/deploy.json` with `apps`; `updateAppSettings` is
/// `PUT preview/app/settings.json` with `app`, `name?`, `description?`, … and `revision?`
/// (src/client/types/app/setting.ts `UpdateAppSettingsForRequest`), which `--revert` sends for a renamed app.
@Suite("Kintone app restore")
struct KintoneAppRestoreTests {
    /// Runs `body` on a backed-up demo sandbox (a login), torn down afterwards.
    static func withBackedUpDemo(
        _ body: (_ sandbox: RunningSandbox, _ connection: KintoneConnection, _ archive: URL) async throws -> Void
    ) async throws {
        let (dir, sandbox, connection, archive) = try await KintoneRestoreTests.backedUpDemo()
        defer { Scratch.remove(dir) }
        do {
            try await body(sandbox, connection, archive)
        } catch {
            await connection.shutdown()
            await sandbox.stop()
            throw error
        }
        await connection.shutdown()
        await sandbox.stop()
    }

    static func deleteApp(_ connection: KintoneConnection, _ id: String) async throws {
        _ = try await connection.client.send(
            APIRequest(method: .POST, path: KintoneSandbox.appDeleteAppPath, body: ["id": .string(id)], route: "POST (sandbox) delete app"))
    }

    @Test("a deleted app comes back as a new app with its records, files, statuses and comments; the journal pairs it; reruns write nothing")
    func deletedAppComesBack() async throws {
        try await Self.withBackedUpDemo { sandbox, connection, archive in
            // App 2 (orders: a lookup into app 1, a table, files, process management, comments) deleted in Kintone.
            try await Self.deleteApp(connection, "2")
            do {
                _ = try await connection.call(.GET, "app.json", query: [("id", "2")])
                Issue.record("app 2 is still there")
            } catch let failure as HTTPFailure {
                #expect(failure.isNotFound)
            }
            let scope = RestoreScope(only: [("app", "2")])
            let diff = try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent)
            #expect(diff.entries.contains { $0.kind == "app" && $0.id == "2" && $0.change == .deleted }, "\(KintoneRestoreTests.keys(diff))")

            // The dry run plans the app with its contents and counts the requests; nothing is written.
            let dryMark = await sandbox.writeMark()
            let dry = try await RestoreJobs.restore(
                archive, connector: connection, options: RestoreOptions(scope: scope, dryRun: true), journalURL: nil, progress: .silent)
            let step = try #require(dry.plan.steps.first { $0.kind == "app" })
            #expect(step.action == .recreate && step.id == "2" && step.title == "Orders" && (step.contents ?? 0) > 0, "\(dry.plan.steps)")
            #expect(dry.requests["POST preview/app.json"] == 1 && dry.requests["POST preview/app/deploy.json"] == 1, "\(dry.requests)")
            #expect((dry.requests["POST bulkRequest.json"] ?? 0) >= 1 && (dry.requests["POST record/comment.json"] ?? 0) >= 1, "\(dry.requests)")
            #expect(await sandbox.writes(since: dryMark).isEmpty)

            // The restore creates one new app and writes into nothing else.
            let mark = await sandbox.writeMark()
            let report = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(scope: scope), journalURL: nil, progress: .silent)
            let journal = try ImportJournal(readingFrom: RestoreJobs.defaultJournalURL(for: archive))
            let newApp = try #require(try journal.entry(kind: "app", sourceID: "2")?.targetID)
            #expect(newApp != "2")
            #expect(report.done["recreate app"] == 1 && (report.done["recreate record"] ?? 0) >= 3, "\(report.done)")
            #expect(report.writeRequests == dry.writeRequests, "the dry run counted \(dry.requests), the restore sent \(report.requests)")
            #expect(report.notRestored.contains { $0.kind == "appID" && $0.reason.contains("2 → \(newApp)") }, "\(report.notRestored)")
            // App 1's related-records field pointed at app 2: said, not changed.
            #expect(report.notRestored.contains { $0.kind == "appReference" && $0.reason.contains("app 1 → 2") }, "\(report.notRestored)")
            let changes = await sandbox.writes(since: mark).flatMap(\.changes)
            let created = changes.filter { $0.kind == "app" && $0.action == .created }.map(\.id)
            #expect(created == [newApp], "\(changes)")
            let elsewhere = changes.filter { c in
                (c.kind == "app" && c.id != newApp) || (c.kind == "record" && !c.id.hasPrefix("\(newApp)/"))
            }
            #expect(elsewhere.isEmpty, "\(elsewhere)")

            // The new app holds what the archived one held: order 1 with its files, status and comments, oldest first.
            let app = try await connection.call(.GET, "app.json", query: [("id", newApp)])
            #expect(app["name"]?.stringValue == "Orders")
            let restoredID = try #require(try journal.entry(kind: "record", sourceID: "2/1")?.targetID)
            let back = try await KintoneRestoreTests.record(connection, app: newApp, id: restoredID)
            #expect(back["Order_No"]?["value"]?.stringValue == "ORD-0001")
            #expect(back["Status"]?["value"]?.stringValue == "Completed")
            #expect(back["Attachments"]?["value"]?.arrayValue?.count == 2)
            let comments = try await connection.call(.GET, "record/comments.json", query: [("app", newApp), ("record", restoredID), ("order", "asc")])
            #expect(comments["comments"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["Order received.", "Shipped today.", "Thanks! 🎉"])

            // The comparison reads the new app under the archived id: nothing differs, and a rerun writes nothing.
            let after = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
            #expect(after.isEmpty, "\(KintoneRestoreTests.keys(after))")
            let quiet = await sandbox.writeMark()
            let again = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(), journalURL: nil, progress: .silent)
            #expect(again.plan.steps.isEmpty && again.writeRequests == 0, "\(again.plan.steps)")
            #expect(await sandbox.writes(since: quiet).isEmpty)

            // The new app deleted too: the journal's entries are stale, and the next restore creates it once more.
            try await Self.deleteApp(connection, newApp)
            let third = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(scope: scope), journalURL: nil, progress: .silent)
            #expect(third.done["recreate app"] == 1)
            let newer = try #require(try journal.entry(kind: "app", sourceID: "2")?.targetID)
            #expect(newer != newApp && newer != "2")
            #expect(try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent).isEmpty)
        }
    }

    @Test("an app in a space comes back into that space; API tokens are refused in the plan with one line")
    func appInASpaceAndTokens() async throws {
        try await Self.withBackedUpDemo { sandbox, connection, archive in
            // App 3 (the wiki) lives in space 1.
            try await Self.deleteApp(connection, "3")
            let viewer = try KintoneConnectorTests.connect(sandbox, token: KintoneConnectorTests.token)
            defer { Task { await viewer.shutdown() } }
            let refused = try await RestoreJobs.restore(
                archive, connector: viewer, options: RestoreOptions(scope: RestoreScope(only: [("app", "3")])), journalURL: nil,
                progress: .silent)
            let skip = try #require(refused.plan.skipped.first { $0.entry.kind == "app" && $0.entry.id == "3" })
            #expect(skip.reason.contains("API tokens cannot create apps") && !skip.reason.contains("\n"))
            #expect(refused.writeRequests == 0)

            let report = try await RestoreJobs.restore(
                archive, connector: connection, options: RestoreOptions(scope: RestoreScope(only: [("app", "3")])), journalURL: nil,
                progress: .silent)
            #expect(report.done["recreate app"] == 1)
            let newApp = try #require(
                try ImportJournal(readingFrom: RestoreJobs.defaultJournalURL(for: archive)).entry(kind: "app", sourceID: "3")?.targetID)
            let app = try await connection.call(.GET, "app.json", query: [("id", newApp)])
            #expect(app["spaceId"]?.idString == "1" && app["name"]?.stringValue == "Team Wiki", "\(app)")
            #expect(try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent).isEmpty)
        }
    }

    @Test("a login without the app creation permission: one line naming it, nothing written")
    func noAppCreationPermission() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        var options = SandboxOptions()
        options.seed = .demo
        options.logins = [KintoneSandbox.defaultLogin.user: KintoneConnectorTests.token, "suzuki": KintoneConnectorTests.token]
        let sandbox = try await KintoneSandbox.start(options, logger: Fixture.logger, withoutAppCreation: ["suzuki"])
        defer { Task { await sandbox.stop() } }
        func login(_ user: String) throws -> KintoneConnection {
            try KintoneConnection(
                baseURL: sandbox.baseURL.absoluteString,
                environment: [KintoneSchema.usernameVariable: user, KintoneSchema.passwordVariable: KintoneConnectorTests.token],
                rateLimit: 0, logger: Fixture.logger)
        }
        let admin = try login(KintoneSandbox.defaultLogin.user)
        let suzuki = try login("suzuki")
        defer {
            Task {
                await admin.shutdown()
                await suzuki.shutdown()
            }
        }
        let archive = dir.appendingPathComponent("a.tar.zst")
        try await KintoneRestoreTests.export(admin, to: archive)
        try await Self.deleteApp(admin, "3")
        let mark = await sandbox.writeMark()
        await #expect {
            _ = try await RestoreJobs.restore(archive, connector: suzuki, options: RestoreOptions(), journalURL: nil, progress: .silent)
        } throws: { error in
            let line = (error as? UserError)?.message ?? "\(error)"
            return line.contains("may not create app 3") && line.contains("App Creation permission") && !line.contains("\n")
        }
        #expect(await sandbox.writes(since: mark).isEmpty)
    }

    @Test("--revert sets a renamed app's name back through the preview and a deploy; pending settings changes leave it alone")
    func revertAppName() async throws {
        try await Self.withBackedUpDemo { sandbox, connection, archive in
            func settle(_ app: String) async throws {
                for _ in 0..<50 {
                    let answer = try await connection.call(.GET, "preview/app/deploy.json", query: [("apps[0]", app)])
                    if answer["apps"]?.arrayValue?.first?["status"]?.stringValue == "SUCCESS" { return }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            // App 3 renamed and described anew in Kintone (settings written to the preview and deployed, as the SDK does).
            let changed = try await connection.call(
                .PUT, "preview/app/settings.json", body: ["app": "3", "name": "Old wiki", "description": "Do not use."])
            _ = try await connection.call(.POST, "preview/app/deploy.json", body: ["apps": [["app": "3", "revision": changed["revision"] ?? .null]]])
            try await settle("3")
            let diff = try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent)
            #expect(KintoneRestoreTests.keys(diff) == ["changed app 3"], "\(KintoneRestoreTests.keys(diff))")
            #expect(diff.entries.first?.fields == ["description", "name"])

            // Without --revert it is left alone, said so.
            let plain = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(), journalURL: nil, progress: .silent)
            #expect(plain.plan.steps.isEmpty && plain.plan.skipped.map(\.entry.id) == ["3"])

            // Settings changes waiting in the preview: a deploy would publish them, so the app is left alone, unwritten.
            _ = try await connection.call(.PUT, "preview/app/settings.json", body: ["app": "3", "theme": "RED"])
            let mark = await sandbox.writeMark()
            let pending = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(revert: true), journalURL: nil, progress: .silent)
            #expect(pending.plan.steps.map(\.id) == ["3"] && pending.done["revert app"] == nil)
            #expect(pending.leftAlone.first?.reason.contains("waiting to be deployed") == true, "\(pending.leftAlone)")
            #expect(await sandbox.writes(since: mark).isEmpty)
            #expect(try await connection.call(.GET, "app.json", query: [("id", "3")])["name"]?.stringValue == "Old wiki")

            // Deployed: --revert sets name and description back (one PUT, one deploy); nothing differs afterwards.
            _ = try await connection.call(.POST, "preview/app/deploy.json", body: ["apps": [["app": "3"]]])
            try await settle("3")
            let dry = try await RestoreJobs.restore(
                archive, connector: connection, options: RestoreOptions(revert: true, dryRun: true), journalURL: nil, progress: .silent)
            #expect(dry.writeRequests == 2 && dry.requests["PUT preview/app/settings.json"] == 1, "\(dry.requests)")
            let reverted = try await RestoreJobs.restore(archive, connector: connection, options: RestoreOptions(revert: true), journalURL: nil, progress: .silent)
            #expect(reverted.done["revert app"] == 1 && reverted.writeRequests == 2, "\(reverted.requests)")
            let app = try await connection.call(.GET, "app.json", query: [("id", "3")])
            #expect(app["name"]?.stringValue == "Team Wiki" && app["description"]?.stringValue == "Pages of the product team.")
            let settings = try await connection.call(.GET, "app/settings.json", query: [("app", "3")])
            #expect(settings["theme"]?.stringValue == "RED", "the theme changed in Kintone is not the restore's to set back")
            #expect(try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent).isEmpty)
        }
    }

    @Test("an app creation whose answer an earlier run never read: created once more and said so in the report")
    func uncertainAppCreation() async throws {
        try await Self.withBackedUpDemo { sandbox, connection, archive in
            try await Self.deleteApp(connection, "3")
            // The journal of a run stopped between sending POST preview/app.json and reading its answer.
            let info = try SnapshotReader.open(archive)
            let account = info.info.source.account.id
            info.close()
            let journal = try ImportJournal(
                url: RestoreJobs.defaultJournalURL(for: archive),
                binding: JournalBinding(
                    sourceService: "kintone", sourceAccount: account, targetService: "kintone",
                    targetBaseURL: connection.baseURL.absoluteString, targetAccount: account))
            _ = try journal.plan(kind: "app", [("3", "")])
            try journal.markAttempted(kind: "app", sourceIDs: ["3"])
            let mark = await sandbox.writeMark()
            let report = try await RestoreJobs.restore(
                archive, connector: connection, options: RestoreOptions(scope: RestoreScope(only: [("app", "3")])), journalURL: nil, progress: .silent)
            #expect(report.done["recreate app"] == 1)
            #expect(report.notRestored.contains { $0.kind == "appCreation" && $0.reason.contains("Team Wiki") }, "\(report.notRestored)")
            let created = await sandbox.writes(since: mark).flatMap(\.changes).filter { $0.kind == "app" && $0.action == .created }
            #expect(created.count == 1, "\(created)")
            #expect(try journal.entry(kind: "app", sourceID: "3")?.state == .created)
            #expect(try await RestoreJobs.diffLive(archive, connector: connection, scope: RestoreScope(), progress: .silent).isEmpty)
        }
    }
}
