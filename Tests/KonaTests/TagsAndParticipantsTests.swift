import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

// Task and event participants are write-only (`participant_ids`, `editor_ids`) and tags read-only (KonaTeam/kona-api
// `sections/tasks.md`, `sections/calendar_events.md`, commit 995e42935e5a62b3ca06a2bc07706d130771f78f): an import
// carries the participants it can map and reports the tags.
@Suite("Kona participants and tags")
struct KonaTagsAndParticipantsTests {
    /// A Kona archive of one space whose task and event carry tags and two participants: the archive's own user
    /// (who becomes the importing user) and someone the target does not know.
    static func archive(in dir: URL) throws -> URL {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let info = ArchiveInfo(
            service: .kona, source: .init(baseURL: "https://io.kona.com", account: .init(id: "77", name: "Old Ada")),
            startedAt: now)
        let out = dir.appendingPathComponent("tagged")
        let writer = try SnapshotWriter(destination: .folder(out), format: .folder, info: info, snapshotTime: now)
        try writer.writeJSONLines(
            container: .account, file: "currentUser", kind: "currentUser",
            values: [["id": 77, "name": "Old Ada", "email": "old-ada@example.org"]])
        let space = ContainerRef(kind: "spaces", id: "9001")
        try writer.writeJSONLines(container: space, file: "space", kind: "space", values: [["id": 9001, "name": "Tagged work"]])
        let people: JSONValue = [["user_id": 77, "role": 1], ["user_id": 78, "role": 2]]
        try writer.writeJSONLines(
            container: space, file: "tasks", kind: "task",
            values: [["id": 9101, "space_id": 9001, "name": "Tagged task", "tags": ["urgent", "q3"], "participants": people]])
        try writer.writeJSONLines(
            container: space, file: "calendarEvents", kind: "calendarEvent",
            values: [[
                "id": 9201, "space_id": 9001, "name": "Tagged review", "start_at": 1_790_000_000_000,
                "end_at": 1_790_003_600_000, "tags": ["board"], "participants": people,
            ]])
        _ = try writer.seal(notExported: [], finishedAt: now)
        return out
    }

    @Test("an import carries the participants it can map as participant_ids/editor_ids and reports tags and the rest")
    func participantsCarriedTagsReported() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try Self.archive(in: dir)
        let target = try await KonaConnectorTests.sandbox(seed: .empty)
        let to = try KonaConnectorTests.connect(target, KonaConnectorTests.environment())
        let imported = try await ConnectorJobs.importArchive(
            source, into: to, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        #expect(imported.created["task"] == 1 && imported.created["calendarEvent"] == 1)
        for kind in ["task", "calendarEvent"] {
            let line = try #require(imported.notImported.first { $0.kind == "\(kind).tags" }, "\(kind)")
            #expect(line.reason.contains("read-only"))
        }
        #expect(imported.notImported.contains { $0.kind == "participant" })

        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await KonaConnectorTests.export(to, to: after)
        let reader = try SnapshotReader.open(after)
        defer { reader.close() }
        let me = try #require(try reader.values(at: "data/account/currentUser.jsonl").first?["id"])
        var found: [String: JSONValue] = [:]
        for entry in reader.jsonLinesEntries() where entry.path.hasSuffix("/tasks.jsonl") || entry.path.hasSuffix("/calendarEvents.jsonl") {
            for item in try reader.values(at: entry.path) { found[item["name"]?.stringValue ?? ""] = item }
        }
        for name in ["Tagged task", "Tagged review"] {
            let item = try #require(found[name], "\(name)")
            // Old Ada (77) is the importing user now, with her role; user 78 has no counterpart and is left out.
            #expect(item["participants"]?.arrayValue?.map { $0["user_id"] } == [me], "\(name)")
            #expect(item["participants"]?.arrayValue?.first?["role"] == 1, "\(name)")
            #expect(item["tags"] == [], "\(name): tags are read-only")
        }
    }
}
