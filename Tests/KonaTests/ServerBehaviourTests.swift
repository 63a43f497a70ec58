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

/// Kona leaves four behaviours undocumented (KonaTeam/kona-api, commit 995e42935e5a62b3ca06a2bc07706d130771f78f):
/// whether `hidden=true` lists hidden spaces only (`sections/spaces.md`), whether `space_id` filters tasks and
/// events (documented for conversations only), the largest `per_page` (`README.md` gives only the default), and
/// whether creates take several objects (only `sections/risks.md` speaks of batches: not supported). The sandbox
/// can answer each way; the connector must export and import the same content whichever it meets.
@Suite("Kona server behaviours")
struct KonaServerBehaviourTests {
    static func start(_ seed: SandboxSeed, _ behaviour: KonaServerBehaviour) async throws -> RunningSandbox {
        var o = SandboxOptions(credentials: [KonaConnectorTests.access], seed: seed, rateLimit: false)
        o.refreshTokens = [KonaConnectorTests.refresh]
        o.kona = behaviour
        return try await KonaSandbox.start(o, logger: Fixture.logger)
    }

    /// Every JSON Lines file of an archive, by path, as text with the sandbox's own address (in `href`s) blanked.
    static func contents(_ archive: URL, base: URL) throws -> [String: String] {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        var address = base.absoluteString
        while address.hasSuffix("/") { address.removeLast() }
        var out: [String: String] = [:]
        for entry in reader.jsonLinesEntries() {
            let text = try reader.values(at: entry.path).map { String(decoding: $0.serialized(), as: UTF8.self) }
            out[entry.path] = text.joined(separator: "\n").replacingOccurrences(of: address, with: "BASE")
        }
        return out
    }

    static let behaviours: [(String, KonaServerBehaviour)] = [
        ("hidden=true lists hidden spaces only", KonaServerBehaviour(hiddenOnly: true)),
        ("space_id is ignored by tasks and events", KonaServerBehaviour(ignoresSpaceID: true)),
        ("per_page is capped at 25", KonaServerBehaviour(perPageCap: 25)),
        ("creates take one object", KonaServerBehaviour(noBatches: true)),
    ]

    @Test("an export holds the same content whichever way the server behaves, and says which way it met",
          arguments: [SandboxSeed.demo, .generated(cards: 130)])
    func exportIsTheSameEitherWay(seed: SandboxSeed) async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let plain = try await Self.start(seed, KonaServerBehaviour())
        let reference = dir.appendingPathComponent("reference.tar.zst")
        let expected = try await KonaConnectorTests.export(
            try KonaConnectorTests.connect(plain, KonaConnectorTests.environment()), to: reference)
        let want = try Self.contents(reference, base: plain.baseURL)
        await plain.stop()
        #expect((expected.counts["space"] ?? 0) >= 2)
        for (n, (name, behaviour)) in Self.behaviours.enumerated() {
            let quirky = try await Self.start(seed, behaviour)
            let out = dir.appendingPathComponent("quirky-\(n).tar.zst")
            let summary = try await KonaConnectorTests.export(
                try KonaConnectorTests.connect(quirky, KonaConnectorTests.environment()), to: out)
            let got = try Self.contents(out, base: quirky.baseURL)
            await quirky.stop()
            #expect(summary.counts == expected.counts, "\(name)")
            #expect(got.keys.sorted() == want.keys.sorted(), "\(name)")
            for (path, values) in want where got[path] != values {
                Issue.record("\(name): \(path) differs")
            }
            let notes = Set(summary.notExported.map(\.kind))
            if behaviour.hiddenOnly && seed == .demo { #expect(notes.contains("server.hiddenSpaces"), "\(name)") }
            if behaviour.ignoresSpaceID {
                #expect(notes.contains("server.spaceFilter"), "\(name)")
                // The whole list is read once, not once per space.
                #expect((summary.requests["GET /tasks"] ?? 0) < (expected.requests["GET /tasks"] ?? 0) || (expected.counts["space"] ?? 0) < 2, "\(name): \(summary.requests)")
            }
            if behaviour == KonaServerBehaviour() || behaviour.perPageCap != nil || behaviour.noBatches {
                #expect(!notes.contains("server.hiddenSpaces") && !notes.contains("server.spaceFilter"), "\(name)")
            }
        }
    }

    @Test("an import into a server that takes one object per create goes on one by one, journaled, without duplicates")
    func importWithoutBatches() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.start(.demo, KonaServerBehaviour())
        let archive = dir.appendingPathComponent("source.tar.zst")
        _ = try await KonaConnectorTests.export(try KonaConnectorTests.connect(source, KonaConnectorTests.environment()), to: archive)
        await source.stop()

        let plainTarget = try await Self.start(.empty, KonaServerBehaviour())
        let plain = try await ConnectorJobs.importArchive(
            archive, into: try KonaConnectorTests.connect(plainTarget, KonaConnectorTests.environment()),
            journalURL: dir.appendingPathComponent("plain.sqlite"), options: ImportOptions(), progress: .silent)
        await plainTarget.stop()

        let target = try await Self.start(.empty, KonaServerBehaviour(noBatches: true))
        let to = try KonaConnectorTests.connect(target, KonaConnectorTests.environment())
        let journalURL = dir.appendingPathComponent("j.sqlite")
        let imported = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journalURL, options: ImportOptions(), progress: .silent)
        #expect(imported.created == plain.created)
        #expect(imported.notImported.contains { $0.kind == "server.batches" })
        // Every object has its own POST once the server showed it takes one at a time.
        let objects = imported.created.values.reduce(0, +)
        let posts = imported.requests.filter { $0.key.hasPrefix("POST ") }.values.reduce(0, +)
        #expect(posts == objects)
        let journal = try ImportJournal(readingFrom: journalURL)
        for (kind, count) in imported.created {
            #expect(try journal.entries(kind: kind).values.filter { $0.state == .created }.count == count, "\(kind)")
        }

        // The content arrived once: the round trip finds no difference.
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await KonaConnectorTests.export(to, to: after)
        let diffs = try to.roundTripDifferences(
            sourceArchive: archive, targetArchive: after, journal: journalURL, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await target.stop()
    }

    @Test("an import into servers with the other readings of hidden, space_id and per_page matches the plain import",
          arguments: [KonaServerBehaviour(hiddenOnly: true), KonaServerBehaviour(ignoresSpaceID: true), KonaServerBehaviour(perPageCap: 25)])
    func importEitherWay(behaviour: KonaServerBehaviour) async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.start(.demo, KonaServerBehaviour())
        let archive = dir.appendingPathComponent("source.tar.zst")
        let exported = try await KonaConnectorTests.export(
            try KonaConnectorTests.connect(source, KonaConnectorTests.environment()), to: archive)
        await source.stop()
        let target = try await Self.start(.empty, behaviour)
        let to = try KonaConnectorTests.connect(target, KonaConnectorTests.environment())
        let journalURL = dir.appendingPathComponent("j.sqlite")
        let imported = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journalURL, options: ImportOptions(), progress: .silent)
        #expect(imported.created["space"] == exported.counts["space"])
        #expect(imported.created["comment"] == exported.counts["comment"])
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await KonaConnectorTests.export(to, to: after)
        let diffs = try to.roundTripDifferences(
            sourceArchive: archive, targetArchive: after, journal: journalURL, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await target.stop()
    }

    @Test("one by one under 500s, resets and cut bodies, an import into a no-batch server still leaves no duplicates")
    func importWithoutBatchesUnderFaults() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.start(.demo, KonaServerBehaviour())
        let archive = dir.appendingPathComponent("source.tar.zst")
        _ = try await KonaConnectorTests.export(try KonaConnectorTests.connect(source, KonaConnectorTests.environment()), to: archive)
        await source.stop()
        var o = SandboxOptions(credentials: [KonaConnectorTests.access], seed: .empty, faultRate: 0.25, faultSeed: 5, rateLimit: false)
        o.refreshTokens = [KonaConnectorTests.refresh]
        o.kona = KonaServerBehaviour(noBatches: true)
        let target = try await KonaSandbox.start(o, logger: Fixture.logger)
        var retry = RetryPolicy(maxAttempts: 12)
        retry.baseDelay = .milliseconds(2)
        retry.maxDelay = .milliseconds(10)
        retry.penaltyAfter429 = .milliseconds(5)
        let to = try KonaConnection(
            baseURL: target.baseURL.absoluteString, environment: KonaConnectorTests.environment(), rateLimit: 0,
            retry: retry, logger: Fixture.logger)
        let journal = dir.appendingPathComponent("j.sqlite")
        let imported = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(await target.stats().faultsInjected > 0)
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await KonaConnectorTests.export(to, to: after)
        let diffs = try to.roundTripDifferences(
            sourceArchive: archive, targetArchive: after, journal: journal, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await target.stop()
    }
}
