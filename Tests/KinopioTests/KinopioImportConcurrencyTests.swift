import Foundation
import Kinopio
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

/// Issue 20: the import sends several spaces' requests at once (each space's own requests still one after another),
/// and reports the same as one space after another.
@Suite struct KinopioImportConcurrencyTests {
    /// A target answering every request 30 ms late, like a distant server; `legacy`: an older one without the
    /// `/multiple` write routes.
    static func target(legacy: Bool) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = .empty
        o.credentials = [Fixture.targetKey]
        o.rateLimit = false
        o.latency = .milliseconds(30)
        return try await KinopioSandbox.start(o, logger: Fixture.logger, legacy: legacy)
    }

    /// Imports `archive` with `spacesAtOnce` spaces at a time (no journal); returns the summary and the target's stats.
    static func importInto(
        _ target: RunningSandbox, archive: URL, spacesAtOnce: Int
    ) async throws -> (summary: ImportSummary, stats: SandboxStats) {
        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        let importer = KinopioImporter(connection: conn, journal: nil, progress: .silent, batchSize: 50)
        importer.spacesAtOnce = spacesAtOnce
        let summary = try await importer.run(archive: reader)
        await conn.shutdown()
        return (summary, await target.stats())
    }

    /// What a summary reports, as JSON (its request counts left out: the two runs send the same, compared apart).
    static func reported(_ summary: ImportSummary) throws -> String {
        var s = summary
        s.requests = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(s), as: UTF8.self)
    }

    @Test(arguments: [false, true])
    func spacesGoInAtOnceAndTheSummaryIsTheSameAsOneAfterAnother(legacy: Bool) async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Fixture.sandbox(seed: .generated(cards: 600), key: Fixture.sourceKey)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let archive = dir.appendingPathComponent("six.tar.zst")
        let exported = try await Fixture.export(sourceConn, to: archive)
        #expect((exported.counts["space"] ?? 0) >= 6)

        let together = try await Self.target(legacy: legacy)
        let alone = try await Self.target(legacy: legacy)
        let concurrent = try await Self.importInto(together, archive: archive, spacesAtOnce: 4)
        let serial = try await Self.importInto(alone, archive: archive, spacesAtOnce: 1)

        // The sandbox saw requests of several spaces in its hands at once; one space at a time never overlaps.
        #expect(concurrent.stats.peakRunning >= 2, "peak \(concurrent.stats.peakRunning)")
        #expect(serial.stats.peakRunning == 1)
        #expect(concurrent.summary.created["card"] == exported.counts["card"])
        #expect(try Self.reported(concurrent.summary) == Self.reported(serial.summary))
        if legacy {
            // Each unserved route reported once, by the first space that met it.
            let routes = concurrent.summary.notImported.filter { $0.kind == "route" }.map(\.reason)
            #expect(Set(routes).count == routes.count && !routes.isEmpty, "\(routes)")
        } else {
            #expect(concurrent.stats.requestsByRoute == serial.stats.requestsByRoute)
        }

        // What arrived is the same account either way.
        let a = dir.appendingPathComponent("a.tar.zst"), b = dir.appendingPathComponent("b.tar.zst")
        let connA = try Fixture.connection(together, key: Fixture.targetKey)
        let connB = try Fixture.connection(alone, key: Fixture.targetKey)
        let outA = try await Fixture.export(connA, to: a)
        let outB = try await Fixture.export(connB, to: b)
        #expect(outA.counts == outB.counts)
        #expect(outA.counts["card"] == exported.counts["card"])
        #expect(outA.counts["connection"] == exported.counts["connection"])

        for c in [sourceConn, connA, connB] { await c.shutdown() }
        for s in [source, together, alone] { await s.stop() }
    }

    /// The journal's discipline holds with spaces at once: a rerun finds everything created and sends no write.
    @Test func aJournaledConcurrentImportRoundTripsAndARerunWritesNothing() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Fixture.sandbox(seed: .generated(cards: 500), key: Fixture.sourceKey)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let archive = dir.appendingPathComponent("five.tar.zst")
        _ = try await Fixture.export(sourceConn, to: archive)
        let target = try await Self.target(legacy: false)
        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        let journal = dir.appendingPathComponent("j.sqlite")
        let first = try await KinopioJobs.importArchive(
            archive, connection: conn, journalURL: journal, dryRun: false, progress: .silent, batchSize: 40)
        #expect(await target.stats().peakRunning >= 2)

        let out = dir.appendingPathComponent("out.tar.zst")
        _ = try await Fixture.export(conn, to: out)
        let diffs = try KinopioRoundTrip.rules.compare(
            sourceArchive: archive, targetArchive: out, journal: journal, notImported: first.notImported)
        #expect(diffs.isEmpty, "differences: \(diffs.prefix(5))")

        let writesBefore = await target.stats().requestsByRoute.filter { $0.key.hasPrefix("POST") }.values.reduce(0, +)
        let again = try await KinopioJobs.importArchive(
            archive, connection: conn, journalURL: journal, dryRun: false, progress: .silent, batchSize: 40)
        let writesAfter = await target.stats().requestsByRoute.filter { $0.key.hasPrefix("POST") }.values.reduce(0, +)
        #expect(again.created.values.reduce(0, +) == 0)
        #expect(writesAfter == writesBefore)
        await conn.shutdown()
        await sourceConn.shutdown()
        await source.stop()
        await target.stop()
    }

    /// The contents' ids are planned while the spaces are created, yet all before the first content request: a card
    /// linking to a card and a space elsewhere in the archive points at their new ids after the import.
    @Test func aLinkIntoAnotherSpaceFindsTheNewIDs() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let wire = try await KinopioWire.start(seed: .generated(cards: 300))
        let owner = KinopioWire.Key.user(Fixture.sourceKey)
        let listed = try await wire.call("GET", "/user/spaces", owner).array.compactMap { $0["id"]?.stringValue }.sorted()
        try #require(listed.count >= 3)
        // The linking card sits in the first space; what it links to in the last one (imported after it).
        let (from, to) = (listed[0], listed[listed.count - 1])
        let linked = try #require(try await wire.call("GET", "/space/\(to)", owner)["cards"]?.arrayValue?.first?["id"]?.stringValue)
        let made = try await wire.call(
            "POST", "/card", owner,
            body: ["spaceId": .string(from), "name": "see the other space", "x": 40, "y": 40, "linkToCardId": .string(linked),
                "linkToSpaceId": .string(to)])
        #expect(made.status == 200)
        let archive = dir.appendingPathComponent("linked.tar.zst")
        let sourceConn = try Fixture.connection(wire.sandbox, key: Fixture.sourceKey)
        _ = try await Fixture.export(sourceConn, to: archive)

        let target = try await Self.target(legacy: false)
        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        let url = dir.appendingPathComponent("j.sqlite")
        _ = try await KinopioJobs.importArchive(archive, connection: conn, journalURL: url, dryRun: false, progress: .silent, batchSize: 40)
        let journal = try ImportJournal(readingFrom: url)
        let newCard = try #require(try journal.entries(kind: "card", sourceIDs: [linked])[linked]?.targetID)
        let newSpace = try #require(try journal.entries(kind: "space", sourceIDs: [to])[to]?.targetID)
        let newFrom = try #require(try journal.entries(kind: "space", sourceIDs: [from])[from]?.targetID)
        #expect(newCard != linked && newSpace != to)
        let body = try await KinopioWire(client: wire.client, baseURL: target.baseURL, sandbox: target)
            .call("GET", "/space/\(newFrom)", .user(Fixture.targetKey))
        let card = try #require(body["cards"]?.arrayValue?.first { $0["name"] == "see the other space" })
        #expect(card["linkToCardId"]?.stringValue == newCard)
        #expect(card["linkToSpaceId"]?.stringValue == newSpace)
        await conn.shutdown()
        await sourceConn.shutdown()
        await target.stop()
        await wire.stop()
    }
}
