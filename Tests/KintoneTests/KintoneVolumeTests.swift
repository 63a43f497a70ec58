import Foundation
import GRDB
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Request counts, cursors, journaled bulk writes and their recovery, upserts — on generated apps.
@Suite struct KintoneVolumeTests {
    typealias T = KintoneConnectorTests

    static func recordCount(_ connection: KintoneConnection, app: String) async throws -> Int {
        let answer = try await connection.call(
            .GET, "records.json", query: [("app", app), ("query", "limit 1"), ("totalCount", "true")])
        return answer["totalCount"]?.intValue ?? -1
    }

    static func onlyApp(_ connection: KintoneConnection) async throws -> String {
        let apps = try await connection.call(.GET, "apps.json")["apps"]?.arrayValue ?? []
        return apps.last?["appId"]?.idString ?? "?"
    }

    @Test func anExportReadsEveryRecordInTheMinimumOfPagesAndAnImportWritesTheMinimumOfBulks() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let n = 2_345
        let source = try await T.sandbox(.generated(cards: n))
        let target = try await T.sandbox(.empty)
        let a = dir.appendingPathComponent("a.tar.zst")
        let exported = try await T.export(try T.connect(source), to: a)
        #expect(exported.counts["record"] == n)
        #expect(exported.requests["GET records.json"] == (n + 499) / 500, "\(exported.requests)")
        #expect(exported.requests["GET record/comments.json"] == n, "one comment page per record")
        #expect(exported.requests["POST records/cursor.json"] == nil)

        let to = try T.connect(target)
        let imported = try await ConnectorJobs.importArchive(
            a, into: to, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        #expect(imported.created["record"] == n)
        #expect(imported.requests["POST bulkRequest.json"] == (n + 1_999) / 2_000, "\(imported.requests)")
        #expect(try await Self.recordCount(to, app: try await Self.onlyApp(to)) == n)

        let dry = try await ConnectorJobs.importArchive(
            a, into: try T.connect(target), journalURL: nil, options: ImportOptions(dryRun: true), progress: .silent)
        #expect(dry.dryRun && dry.requests["POST bulkRequest.json"] == 2 && dry.requests["POST preview/app.json"] == 1)
        #expect(try await Self.recordCount(to, app: try await Self.onlyApp(to)) == n, "a dry run writes nothing")
        #expect((try await to.call(.GET, "apps.json")["apps"]?.arrayValue?.count) == 1)
        await source.stop()
        await target.stop()
    }

    @Test func aCursorWalkReadsEverythingAndNeverLeavesACursorOpen() async throws {
        let source = try await T.sandbox(.generated(cards: 1_234))
        let connection = try T.connect(source)
        let app = try await Self.onlyApp(connection)
        var reader = KintoneRecordReader(connection: connection, app: app, strategy: .cursor)
        var ids: [String] = []
        try await reader.forEachPage { page, _ in ids += page.compactMap(KintoneRecordReader.recordID) }
        #expect(ids.count == 1_234 && Set(ids).count == 1_234)
        var stats = await source.stats()
        #expect(stats.gauges[KintoneSandbox.openCursorsGauge] == 0, "an exhausted cursor is gone")

        // A walk that stops early (an error in the consumer) deletes its cursor.
        struct Stop: Error {}
        reader.pageSize = 100
        await #expect(throws: Stop.self) {
            try await reader.forEachPage { _, _ in throw Stop() }
        }
        stats = await source.stats()
        #expect(stats.gauges[KintoneSandbox.openCursorsGauge] == 0, "the abandoned cursor was deleted")

        // So does a cancelled one.
        let task = Task {
            try await reader.forEachPage { _, _ in try await Task.sleep(for: .seconds(30)) }
        }
        while await source.stats().gauges[KintoneSandbox.openCursorsGauge] != 1 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        _ = await task.result
        #expect(await source.stats().gauges[KintoneSandbox.openCursorsGauge] == 0, "the cancelled cursor was deleted")
        #expect(KintoneRecordReader.cost(total: 1_234) == (3, 4))
        await source.stop()
    }

    /// Puts the journal back to "bulk sent, answer lost" for every record, as if the process died in between.
    static func forgetAnswers(_ journal: URL, stamp: String? = nil) throws {
        let db = try DatabaseQueue(path: journal.path)
        try db.write { db in
            try db.execute(sql: "UPDATE mapping SET state = 2, target_id = '' WHERE kind = 'record'")
            if let stamp { try db.execute(sql: "UPDATE mapping SET target_id = ? WHERE kind = 'recordChunkStamp'", arguments: [stamp]) }
        }
    }

    @Test func aCrashBetweenTheBulkAndTheJournalNeverDuplicatesRecords() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let n = 2_600
        let source = try await T.sandbox(.generated(cards: n))
        let target = try await T.sandbox(.empty)
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await T.export(try T.connect(source), to: a)
        let journal = dir.appendingPathComponent("j.sqlite")
        let to = try T.connect(target)
        _ = try await ConnectorJobs.importArchive(a, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        let app = try await Self.onlyApp(to)
        #expect(try await Self.recordCount(to, app: app) == n)

        // Both bulks landed but the journal never heard: the rerun finds them above their watermarks.
        try Self.forgetAnswers(journal)
        let rerun = try await ConnectorJobs.importArchive(
            a, into: try T.connect(target), journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(rerun.created["record"] == nil, "\(rerun.created)")
        #expect(rerun.alreadyPresent["record"] == n)
        #expect(rerun.requests["POST bulkRequest.json"] == nil)
        #expect(try await Self.recordCount(to, app: app) == n)
        let b = dir.appendingPathComponent("b.tar.zst")
        _ = try await T.export(to, to: b)
        let diffs = try KintoneRoundTrip.rules.compare(
            sourceArchive: a, targetArchive: b, journal: journal, notImported: rerun.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(3))")
        await source.stop()
        await target.stop()
    }

    @Test func aBulkThatNeverLandedIsSentAgain() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let n = 700
        let source = try await T.sandbox(.generated(cards: n))
        let target = try await T.sandbox(.empty)
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await T.export(try T.connect(source), to: a)
        let journal = dir.appendingPathComponent("j.sqlite")
        let to = try T.connect(target)
        _ = try await ConnectorJobs.importArchive(a, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        let app = try await Self.onlyApp(to)
        // The bulk never landed: the records are not there, but the journal says it was sent.
        for start in stride(from: 1, through: n, by: 100) {
            let ids = (start..<min(start + 100, n + 1)).map { JSONValue.string(String($0)) }
            _ = try await to.call(.DELETE, "records.json", body: ["app": .string(app), "ids": .array(ids)])
        }
        try Self.forgetAnswers(journal)
        let rerun = try await ConnectorJobs.importArchive(
            a, into: try T.connect(target), journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(rerun.created["record"] == n)
        #expect(rerun.requests["POST bulkRequest.json"] == 1)
        #expect(try await Self.recordCount(to, app: app) == n)
        await source.stop()
        await target.stop()
    }

    @Test func anImportUnderFaultsLeavesExactlyOneCopyOfEveryRecord() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let n = 5_000
        let source = try await T.sandbox(.generated(cards: n))
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await T.export(try T.connect(source), to: a, apps: [])
        let target = try await T.sandbox(.empty, faults: 0.15)
        var retry = RetryPolicy(maxAttempts: 12, baseDelay: .milliseconds(2), maxDelay: .milliseconds(20))
        retry.penaltyAfter429 = .milliseconds(5)
        let journal = dir.appendingPathComponent("j.sqlite")
        var attempts = 0
        while true {
            attempts += 1
            do {
                _ = try await ConnectorJobs.importArchive(
                    a, into: try T.connect(target, retry: retry), journalURL: journal,
                    options: ImportOptions(batchSize: 50), progress: .silent)
                break
            } catch {
                // A non-retryable write that failed is settled by the next run, as a person would rerun it.
                #expect(attempts < 30, "still failing: \(error)")
                if attempts >= 30 { break }
            }
        }
        let clean = try T.connect(target, retry: retry)
        #expect(try await Self.recordCount(clean, app: try await Self.onlyApp(clean)) == n)
        #expect(await target.stats().faultsInjected > 0)
        await source.stop()
        await target.stop()
    }

    @Test func upsertByUpdateKeyUpdatesInsteadOfDuplicatingAndANonUniqueKeyIsExplained() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let n = 250
        let source = try await T.sandbox(.generated(cards: n))
        let target = try await T.sandbox(.generated(cards: 100))
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await T.export(try T.connect(source), to: a)
        let to = try T.connect(target)
        let sourceApp = try await Self.onlyApp(try T.connect(source))
        let targetApp = try await Self.onlyApp(to)
        let options = ImportOptions(containerMap: [sourceApp: targetApp], updateKey: "Key")
        let first = try await ConnectorJobs.importArchive(
            a, into: to, journalURL: dir.appendingPathComponent("j.sqlite"), options: options, progress: .silent)
        #expect(first.created["record"] == n)
        #expect(first.created["app"] == nil)
        #expect(try await Self.recordCount(to, app: targetApp) == n, "100 updated, 150 added")

        do {
            _ = try await ConnectorJobs.importArchive(
                a, into: to, journalURL: dir.appendingPathComponent("j2.sqlite"),
                options: ImportOptions(containerMap: [sourceApp: targetApp], updateKey: "Title"), progress: .silent)
            Issue.record("a non-unique update key was accepted")
        } catch {
            let message = String(describing: error)
            #expect(message.hasPrefix("kintone: "), "\(message)")
            #expect(!message.contains("\n"))
            #expect(message.contains("Title"), "\(message)")
        }
        await source.stop()
        await target.stop()
    }

    @Test func aRevisionConflictIsOneClearLine() async throws {
        let target = try await T.sandbox(.generated(cards: 3))
        let connection = try T.connect(target)
        let app = try await Self.onlyApp(connection)
        let importer = KintoneImporter(connection: connection, journal: nil, progress: .silent, options: ImportOptions())
        importer.appMap["src"] = app
        let archived = KintoneImporter.ArchivedApp(id: "src", folder: "", app: [:], settings: [:])
        do {
            _ = try await connection.call(
                .POST, "bulkRequest.json",
                body: ["requests": [["method": "PUT", "api": "/k/v1/records.json",
                                     "payload": ["app": .string(app), "records": [["id": "1", "revision": "7", "record": ["Title": ["value": "x"]]]]]]]],
                retryable: false)
            Issue.record("a stale revision was accepted")
        } catch let failure as HTTPFailure {
            #expect(KintoneImporter.errorCode(failure) == "GAIA_CO02", "\(failure)")
            #expect(throws: UserError.self) { try importer.explain(code: "GAIA_CO02", failure: failure, app: archived) }
            do {
                try importer.explain(code: "GAIA_CO02", failure: failure, app: archived)
            } catch {
                let m = String(describing: error)
                #expect(m.hasPrefix("kintone: ") && m.contains("GAIA_CO02") && m.contains("app \(app)") && !m.contains("\n"))
            }
        }
        await target.stop()
    }
}

extension KintoneVolumeTests {
    @Test func aCancelledImportRerunLeavesExactlyOneCopyOfEveryRecord() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await T.sandbox(.generated(cards: 6_000))
        let target = try await T.sandbox(.empty)
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await T.export(try T.connect(source), to: a)
        let journal = dir.appendingPathComponent("j.sqlite")
        let options = ImportOptions(batchSize: 20)
        let first = Task {
            try await ConnectorJobs.importArchive(
                a, into: try T.connect(target), journalURL: journal, options: options, progress: .silent)
        }
        while await target.stats().totalRequests < 30 { try await Task.sleep(for: .milliseconds(2)) }
        first.cancel()
        if case .success = await first.result { Issue.record("the import finished before it could be interrupted") }
        let to = try T.connect(target)
        let second = try await ConnectorJobs.importArchive(a, into: to, journalURL: journal, options: options, progress: .silent)
        #expect(second.alreadyPresent.values.reduce(0, +) > 0)
        #expect(try await Self.recordCount(to, app: try await Self.onlyApp(to)) == 6_000)
        await source.stop()
        await target.stop()
    }
}
