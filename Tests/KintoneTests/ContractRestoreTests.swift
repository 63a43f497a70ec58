import Foundation
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: the requests a Kintone restore sends, each shaped as kintone/js-sdk sends it (commit
/// 003b2770edee77b314a7b67cb7645836f543b426):
/// - packages/rest-api-client/src/client/RecordClient.ts: updateRecord `PUT record.json {app, id, record, revision}`
///   → `{revision}` (src/client/__tests__/record/Record.test.ts "should pass app, id, record, and revision to the
///   http client"); deleteRecords `DELETE records.json {app, ids, revisions}` → `{}`; getRecords
///   `GET records.json {app, query}` with a query such as `$id in (…)`.
/// - A stale `revision` is refused with `GAIA_CO02` and HTTP 409 (cybozu.dev "Update Record": "the revision is not
///   the latest"), and nothing is written; the restore reads the code with `KintoneImporter.errorCode`.
@Suite("Kintone contract: restore writes")
struct ContractRestoreTests {
    @Test("PUT record.json {app, id, record, revision} → {revision}; a stale revision → 409 GAIA_CO02, nothing written")
    func updateWithRevision() async throws {
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let before = try await connection.call(.GET, "record.json", query: [("app", "3"), ("id", "1")])["record"]
        let revision = try #require(before?["$revision"]?["value"]?.idString)
        let answer = try await connection.call(
            .PUT, "record.json",
            body: ["app": "3", "id": "1", "record": ["Title": ["value": "Set back"]], "revision": .string(revision)])
        #expect(answer.objectValue?.keys.sorted() == ["revision"])
        #expect(answer["revision"]?.idString == String((Int(revision) ?? 0) + 1))

        let mark = await sandbox.writeMark()
        var stale: HTTPFailure?
        do {
            _ = try await connection.call(
                .PUT, "record.json", body: ["app": "3", "id": "1", "record": ["Title": ["value": "Clobbered"]], "revision": .string(revision)])
        } catch let failure as HTTPFailure {
            stale = failure
        }
        let failure = try #require(stale)
        #expect(failure.status == 409, "\(failure)")
        #expect(KintoneImporter.errorCode(failure) == "GAIA_CO02", "\(failure)")
        #expect(await sandbox.writes(since: mark).isEmpty)
        let after = try await connection.call(.GET, "record.json", query: [("app", "3"), ("id", "1")])["record"]
        #expect(after?["Title"]?["value"]?.stringValue == "Set back")
    }

    @Test("DELETE records.json {app, ids, revisions} → {}; GET records.json with $id in (…) answers exactly those records")
    func deleteWithRevisionsAndReadByIDs() async throws {
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let named = try await connection.call(.GET, "records.json", query: [("app", "2"), ("query", "$id in (1, 3)")])
        let records = named["records"]?.arrayValue ?? []
        #expect(records.compactMap(KintoneRecordReader.recordID).sorted() == ["1", "3"])
        // Kintone answers without an `order by` in `$id desc` order: ids and revisions are taken from each record.
        let ids = records.compactMap { KintoneRecordReader.recordID($0).map(JSONValue.string) }
        let revisions = records.map { $0["$revision"]?["value"] ?? .null }
        let answer = try await connection.call(.DELETE, "records.json", body: ["app": "2", "ids": .array(ids), "revisions": .array(revisions)])
        #expect(answer.objectValue?.isEmpty == true, "\(answer)")
        let left = try await connection.call(.GET, "records.json", query: [("app", "2"), ("query", "$id in (1, 3)")])
        #expect(left["records"]?.arrayValue?.isEmpty == true)
    }
}
