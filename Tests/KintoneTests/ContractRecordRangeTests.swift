import Foundation
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Issue 20: with the total known from the first page, a seek walk reads the records past it by `$id` ranges at once.
///
/// Contract: kintone/js-sdk `packages/rest-api-client/src/client/RecordClient.ts` (commit
/// 003b2770edee77b314a7b67cb7645836f543b426), `getAllRecordsWithId`, pages an app with
/// `` `(${condition}) and $id > ${lastId} order by $id asc limit ${GET_RECORDS_LIMIT}` `` (500), the condition part
/// only when there is one, until a page is short. kitbag's pages keep that shape; a range adds `and $id <= b`, the
/// last page is the same query ordered `desc`. Every range is one page wide, so one answer holds all of it.
@Suite("Kintone contract: record pages by $id ranges")
struct ContractRecordRangeTests {
    typealias T = KintoneConnectorTests

    /// A reader of the generated app (app 1) through `sandbox`.
    static func reader(_ sandbox: RunningSandbox, strategy: KintoneRecordReader.Strategy) throws -> KintoneRecordReader {
        KintoneRecordReader(connection: try T.connect(sandbox), app: "1", strategy: strategy)
    }

    /// Every page a reader hands on, with the total it gave.
    static func pages(_ reader: KintoneRecordReader) async throws -> (pages: [[JSONValue]], total: Int?) {
        var pages: [[JSONValue]] = []
        var total: Int?
        try await reader.forEachPage { records, count in
            if pages.isEmpty { total = count }
            pages.append(records)
        }
        return (pages, total)
    }

    static func ids(_ pages: [[JSONValue]]) -> [Int64] { pages.flatMap { $0.compactMap(KintoneRecordReader.numericID) } }

    @Test("the page query is js-sdk getAllRecordsWithId's; a range bounds it above, the last page orders it desc")
    func queryShape() {
        var reader = KintoneRecordReader(
            connection: try! KintoneConnection(
                baseURL: "https://example.cybozu.com", environment: [KintoneSchema.apiTokenVariable: "t"],
                logger: Fixture.logger),
            app: "1")
        #expect(reader.seekQuery(after: nil, limit: 500) == "order by $id asc limit 500")
        #expect(reader.seekQuery(after: "1000", limit: 500) == "$id > 1000 order by $id asc limit 500")
        reader.filter = KintoneRecordFilter(condition: "Status in (\"Done\")")
        #expect(reader.seekQuery(after: "1000", limit: 500) == "(Status in (\"Done\")) and $id > 1000 order by $id asc limit 500")
        #expect(
            reader.seekQuery(after: "1000", through: "1500", limit: 500)
                == "(Status in (\"Done\")) and $id > 1000 and $id <= 1500 order by $id asc limit 500")
        #expect(reader.seekQuery(after: "500", descending: true, limit: 500) == "(Status in (\"Done\")) and $id > 500 order by $id desc limit 500")
        // Dense ids: ranges one page wide, as many as the records need; ids twice as sparse: none (one page after another).
        let ranges = KintoneRecordReader.ranges(between: 500, and: 2101, records: 1600, pageSize: 500)
        #expect(ranges?.map(\.after) == [500, 1000, 1500, 2000] && ranges?.map(\.through) == [1000, 1500, 2000, 2100])
        #expect(KintoneRecordReader.ranges(between: 500, and: 2101, records: 600, pageSize: 500) == nil)
    }

    @Test("2,600 records by ranges at once: the cursor's records in the cursor's order, in ⌈N/500⌉ requests, overlapping")
    func rangesReadWhatTheCursorReads() async throws {
        var o = SandboxOptions()
        o.seed = .generated(cards: 2_600)
        o.credentials = [T.token]
        o.rateLimit = false
        o.latency = .milliseconds(20)
        o.jitter = .milliseconds(6)
        let sandbox = try await KintoneSandbox.start(o, logger: Fixture.logger)
        defer { Task { await sandbox.stop() } }

        let cursor = try await Self.pages(try Self.reader(sandbox, strategy: .cursor))
        let before = await sandbox.stats()
        let seekReader = try Self.reader(sandbox, strategy: .seek)
        let seek = try await Self.pages(seekReader)
        let after = await sandbox.stats()

        #expect(seek.total == 2_600 && cursor.total == 2_600)
        #expect(Self.ids(seek.pages).count == 2_600)
        #expect(seek.pages.flatMap { $0 } == cursor.pages.flatMap { $0 }, "the same records in the same order")
        func recordReads(_ stats: SandboxStats) -> Int {
            stats.requestsByRoute.filter { $0.key.hasPrefix("GET") && $0.key.hasSuffix("/records.json") }.values.reduce(0, +)
        }
        let reads = recordReads(after) - recordReads(before)
        #expect(reads == 6, "first page, last page, four ranges: \(after.requestsByRoute)")
        #expect(after.peakRunning >= 2, "peak \(after.peakRunning): the ranges should be read at once")
        #expect(before.peakRunning == 1, "the cursor reads one page after another")
    }

    @Test("ids made sparse by a deleted block are read one page after another up to the last page, none lost or doubled")
    func sparseIdsFallBackToPageAfterPage() async throws {
        let sandbox = try await T.sandbox(.generated(cards: 2_600))
        defer { Task { await sandbox.stop() } }
        let connection = try T.connect(sandbox)
        // Records 501…1500 deleted: 1,600 left, the ids between the first and the last page twice as many as records.
        for start in stride(from: 501, through: 1_500, by: 100) {
            let ids = (start..<(start + 100)).map { JSONValue.int($0) }
            _ = try await connection.call(.DELETE, "records.json", body: ["app": "1", "ids": .array(ids)])
        }
        let cursor = try await Self.pages(try Self.reader(sandbox, strategy: .cursor))
        let seek = try await Self.pages(try Self.reader(sandbox, strategy: .seek))
        #expect(seek.total == 1_600)
        let ids = Self.ids(seek.pages)
        #expect(ids.count == 1_600 && Set(ids).count == 1_600 && ids == ids.sorted())
        #expect(ids.first == 1 && ids.last == 2_600 && !ids.contains(1_000))
        #expect(seek.pages.flatMap { $0 } == cursor.pages.flatMap { $0 })
    }
}
