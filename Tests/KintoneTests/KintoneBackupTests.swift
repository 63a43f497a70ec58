import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Incremental exports of Kintone against a real sandbox on 127.0.0.1: an app whose record count and newest
/// updated time did not move is copied from the previous archive, and the result is byte-identical to a full export
/// at the same snapshot time.
@Suite("Kintone incremental backups")
struct KintoneBackupTests {
    static let token = "kintone-backup-token-51e0"

    static func sandbox() async throws -> RunningSandbox {
        try await KintoneSandbox.start(SandboxOptions(credentials: [token], seed: .demo, rateLimit: false), logger: Fixture.logger)
    }

    static func connect(_ sandbox: RunningSandbox) throws -> KintoneConnection {
        try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString,
            environment: [KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: token],
            rateLimit: 0,
            logger: Fixture.logger)
    }

    /// One backup run as `kitbag backup` drives it, at `at`, from `base` (nil: full).
    static func export(
        _ sandbox: RunningSandbox, to url: URL, at: Date, base: (url: URL, markers: [String: String])? = nil
    ) async throws -> ExportSummary {
        let connection = try connect(sandbox)
        var changeBase: ChangeBase?
        var previous: SnapshotReader?
        if let base {
            previous = try SnapshotReader.open(base.url)
            changeBase = ChangeBase(previous: previous!, markers: base.markers)
        }
        defer { previous?.close() }
        return try await ConnectorJobs.export(
            connection, account: try await connection.probe(), destination: .file(url), format: .tarZst, progress: .silent,
            now: at, finishedAt: at, base: changeBase)
    }

    static func send(_ sandbox: RunningSandbox, _ method: HTTPMethod, _ path: String, _ body: JSONValue) async throws {
        _ = try await connect(sandbox).client.send(APIRequest(method: method, path: "/k/v1/" + path, body: body))
    }

    static func firstRecord(_ url: URL, app folder: String) throws -> JSONValue {
        let reader = try SnapshotReader.open(url)
        defer { reader.close() }
        return try #require(try reader.values(at: folder + "/records.jsonl").first)
    }

    /// Gives the first SINGLE_LINE_TEXT field of a record a new value.
    static func edit(_ sandbox: RunningSandbox, app: String, record: JSONValue) async throws {
        let id = try #require(KintoneRecordReader.recordID(record))
        let field = try #require(record.objectValue?.first { $0.value["type"]?.stringValue == "SINGLE_LINE_TEXT" }?.key)
        try await send(
            sandbox, .PUT, "record.json",
            ["app": .string(app), "id": .string(id), "record": [field: ["value": "edited by the backup test"]]])
    }

    static func appID(_ folder: String) -> String { String(folder.split(separator: "/").last ?? "") }

    @Test("unchanged apps cost one probe each and copy; an edit, a delete and a new record are each noticed; archives equal full exports")
    func incrementalRuns() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        // A snapshot time an hour ahead: every record edited during the test lies in a settled minute.
        let base = Date().addingTimeInterval(3600)

        let first = dir.appendingPathComponent("1.tar.zst")
        let full = try await Self.export(sandbox, to: first, at: base)
        let markers = try #require(full.changes?.markers)
        let apps = markers.keys.sorted()
        #expect(apps.count == 3, "a marker per app: \(markers)")
        #expect((full.requests["GET record/comments.json"] ?? 0) > 0)

        // Nothing changed: one probe per app, no record or comment reads, the same bytes as a full export.
        let second = dir.appendingPathComponent("2.tar.zst")
        let quiet = try await Self.export(sandbox, to: second, at: base.addingTimeInterval(60), base: (first, markers))
        #expect(quiet.changes?.reused.sorted() == apps)
        #expect(quiet.requests["GET records.json"] == apps.count, "\(quiet.requests)")
        #expect(quiet.requests["GET record/comments.json"] == nil, "\(quiet.requests)")
        #expect(quiet.requests["GET file.json"] == nil, "files are copied: \(quiet.requests)")
        let fullNow = dir.appendingPathComponent("2-full.tar.zst")
        _ = try await Self.export(sandbox, to: fullNow, at: base.addingTimeInterval(60))
        #expect(try Data(contentsOf: second) == Data(contentsOf: fullNow), "an unchanged incremental equals a full export")

        // Edit a record in the first app, delete one in the second: exactly those two apps are fetched.
        try await Self.edit(sandbox, app: Self.appID(apps[0]), record: try Self.firstRecord(first, app: apps[0]))
        let doomed = try #require(KintoneRecordReader.recordID(try Self.firstRecord(first, app: apps[1])))
        try await Self.send(sandbox, .DELETE, "records.json", ["app": .string(Self.appID(apps[1])), "ids": [.string(doomed)]])
        let third = dir.appendingPathComponent("3.tar.zst")
        let changed = try await Self.export(
            sandbox, to: third, at: base.addingTimeInterval(120), base: (second, try #require(quiet.changes?.markers)))
        #expect(changed.changes?.fetched.sorted() == [apps[0], apps[1]], "\(String(describing: changed.changes))")
        #expect(changed.changes?.reused == [apps[2]])
        let fullThen = dir.appendingPathComponent("3-full.tar.zst")
        _ = try await Self.export(sandbox, to: fullThen, at: base.addingTimeInterval(120))
        #expect(try Data(contentsOf: third) == Data(contentsOf: fullThen), "the incremental archive equals a full export")

        // A new record in the third app moves its marker too.
        let sample = try Self.firstRecord(first, app: apps[2])
        let field = try #require(sample.objectValue?.first { $0.value["type"]?.stringValue == "SINGLE_LINE_TEXT" }?.key)
        try await Self.send(sandbox, .POST, "record.json", ["app": .string(Self.appID(apps[2])), "record": [field: ["value": "new"]]])
        let fourth = try await Self.export(
            sandbox, to: dir.appendingPathComponent("4.tar.zst"), at: base.addingTimeInterval(180),
            base: (third, try #require(changed.changes?.markers)))
        #expect(fourth.changes?.fetched.contains(apps[2]) == true, "\(String(describing: fourth.changes))")
        await sandbox.stop()
    }

    @Test("an app changed in the export's own minute keeps no marker, so the next run fetches it; old comments are refetched")
    func unsettledAndStale() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        let first = dir.appendingPathComponent("1.tar.zst")
        let full = try await Self.export(sandbox, to: first, at: Date().addingTimeInterval(3600))
        let markers = try #require(full.changes?.markers)
        let app = try #require(markers.keys.sorted().first)
        try await Self.edit(sandbox, app: Self.appID(app), record: try Self.firstRecord(first, app: app))

        // Right after the edit (same minute, real time): the edited app's marker is not kept.
        let now = Date()
        let second = try await Self.export(sandbox, to: dir.appendingPathComponent("2.tar.zst"), at: now, base: (first, markers))
        #expect(second.changes?.fetched.contains(app) == true)
        #expect(second.changes?.markers[app] == nil, "an unsettled minute leaves no marker: \(String(describing: second.changes))")

        // Comments older than a week are fetched again even when nothing moved.
        let later = now.addingTimeInterval(8 * 86_400)
        let stale = try await Self.export(
            sandbox, to: dir.appendingPathComponent("3.tar.zst"), at: later, base: (first, markers))
        #expect(stale.changes?.reused.isEmpty == true, "\(String(describing: stale.changes))")
        #expect((stale.requests["GET record/comments.json"] ?? 0) > 0)
        await sandbox.stop()
    }

    @Test("markers survive their text form and reject anything else")
    func markerText() {
        let m = KintoneAppMarker(count: 9, newest: "2026-11-23T05:49:00Z", commentsFetchedAt: 1_800_000_000)
        #expect(KintoneAppMarker(text: m.text) == m)
        #expect(KintoneAppMarker(text: "conversations=3@1;tasks=0@-") == nil)
        #expect(KintoneAppMarker(text: "n=x;u=-;c=1") == nil)
        let minute = Int64(Timestamp.parse("2026-11-23T05:49:00Z")!.timeIntervalSince1970)
        #expect(!m.isSettled(now: minute + 30), "same minute")
        #expect(!m.isSettled(now: minute + 90), "the next minute")
        #expect(m.isSettled(now: minute + 150))
    }
}
