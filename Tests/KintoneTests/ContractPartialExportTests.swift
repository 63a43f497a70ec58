import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: a partial export as cli-kintone users make one (`record export --app N --condition … --order-by …
/// --fields …`, kintone/cli-kintone website/docs/reference/record-export/target-fields.md and fields-order.md,
/// commit 529a8c60b9d1ebc3868deff18c1331a8d31a2ae1). A condition goes into the `query` of `GET records.json` (with
/// `fields[i]`); another order than `$id` goes through a cursor, `POST records/cursor.json {app, fields, query, size}`
/// (kintone/js-sdk packages/rest-api-client/src/client/RecordClient.ts, commit 003b2770edee77b314a7b67cb7645836f543b426,
/// createCursor). The archive says it is partial.
@Suite("Kintone contract: partial exports")
struct ContractPartialExportTests {
    static func records(_ archive: URL, app: String) throws -> [JSONValue] {
        let reader = try SnapshotReader.open(archive)
        let entry = try #require(reader.jsonLinesEntries().first { $0.path.hasSuffix("apps/\(app)/records.jsonl") })
        return try reader.values(at: entry.path)
    }

    @Test("--query keeps only matching records, --fields only those fields (and $id); the manifest marks the app partial")
    func queryAndFields() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        var connection = try KintoneConnectorTests.connect(sandbox)
        connection.recordFilter = KintoneRecordFilter(condition: #"Priority in ("High", "Low")"#, fields: ["Order_No,Priority"])
        let archive = dir.appendingPathComponent("a.tar.zst")
        let summary = try await KintoneConnectorTests.export(connection, to: archive, apps: ["2"])
        let records = try Self.records(archive, app: "2")
        #expect(records.compactMap { $0["Order_No"]?["value"]?.stringValue }.sorted() == ["ORD-0001", "ORD-0003"])
        #expect(records.allSatisfy { Set($0.objectValue?.keys ?? []) == ["$id", "Order_No", "Priority"] })
        #expect(summary.notExported.contains { $0.kind == "partial" && $0.container == "2" && $0.reason.contains("Priority in") })
        let manifest = try ArchiveInspector.summary(of: archive)
        #expect(manifest.counts["record"] == 2)
    }

    @Test("an X-Cybozu-Warning on a filtered search is listed in the archive's notExported")
    func warningsAreSurfaced() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // As if the filter had matched over 100,000 records (api-facts.md: Kintone then sends the warning header).
        let sandbox = try await KintoneSandbox.start(
            SandboxOptions(credentials: [KintoneConnectorTests.token], seed: .demo, rateLimit: false), logger: Fixture.logger,
            filterWarningAbove: 1)
        defer { Task { await sandbox.stop() } }
        var connection = try KintoneConnectorTests.connect(sandbox)
        connection.recordFilter = KintoneRecordFilter(condition: #"Priority in ("High", "Low")"#)
        let summary = try await KintoneConnectorTests.export(connection, to: dir.appendingPathComponent("a.tar.zst"), apps: ["2"])
        #expect(summary.notExported.contains { $0.kind == "warning" && $0.reason.contains("Filter aborted") }, "\(summary.notExported)")
    }

    @Test("--order-by reads through a cursor in that order, deletes nothing it left open, and is not partial by itself")
    func orderBy() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        var connection = try KintoneConnectorTests.connect(sandbox)
        connection.recordFilter = KintoneRecordFilter(orderBy: "Order_No desc")
        let archive = dir.appendingPathComponent("a.tar.zst")
        let summary = try await KintoneConnectorTests.export(connection, to: archive, apps: ["2"])
        let order = try Self.records(archive, app: "2").compactMap { $0["Order_No"]?["value"]?.stringValue }
        #expect(order == ["ORD-0003", "ORD-0002", "ORD-0001"])
        let routes = await sandbox.stats().requestsByRoute
        #expect(routes.keys.contains { $0.hasPrefix("POST") && $0.hasSuffix("records/cursor.json") }, "\(routes.keys.sorted())")
        #expect(!summary.notExported.contains { $0.kind == "partial" })
        #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 0)
    }
}
