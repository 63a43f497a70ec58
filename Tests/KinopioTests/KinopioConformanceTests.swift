import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

/// The connector conformance suite for Kinopio: export → import into an empty account → export, equal.
@Suite struct KinopioConformanceTests {
    @Test func demoAccountRoundTripsThroughAnEmptySandboxWithEveryReferenceRewritten() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // The real limits stay on: pacing must keep the whole job free of 429s.
        let source = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey, rateLimit: true)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey, rateLimit: true)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey, rateLimited: true)
        let targetConn = try Fixture.connection(target, key: Fixture.targetKey, rateLimited: true)

        let first = dir.appendingPathComponent("source.tar.zst")
        let exported = try await Fixture.export(sourceConn, to: first)
        #expect(ArchiveVerifier.verify(first).exitStatus == .success)
        for kind in ["space", "card", "connection", "connectionType", "box", "tag", "removedCard", "user", "list", "line", "drawingStroke", "group"] {
            #expect((exported.counts[kind] ?? 0) > 0, "the demo seed should hold some \(kind)")
        }

        let journalURL = dir.appendingPathComponent("import.journal.sqlite")
        let imported = try await KinopioJobs.importArchive(
            first, connection: targetConn, journalURL: journalURL, dryRun: false, progress: .silent)
        #expect(imported.created["space"] == exported.counts["space"])
        #expect(imported.created["card"] == (exported.counts["card"] ?? 0) + (exported.counts["removedCard"] ?? 0))
        #expect(imported.created["connection"] == exported.counts["connection"])

        let second = dir.appendingPathComponent("roundtrip.tar.zst")
        let reexported = try await Fixture.export(targetConn, to: second)
        for kind in ["space", "card", "connection", "box", "removedCard", "list", "line", "drawingStroke"] {
            #expect(reexported.counts[kind] == exported.counts[kind], "count of \(kind) after the round trip")
        }
        // Legacy connection types are folded into their connections, as Kinopio's own import does.
        #expect((reexported.counts["connectionType"] ?? 0) == 0)
        #expect((imported.requests.keys).allSatisfy { !$0.contains("connection-type") })

        let diffs = try KinopioRoundTrip.rules.compare(
            sourceArchive: first, targetArchive: second, journal: journalURL, notImported: imported.notImported)
        #expect(diffs.isEmpty, "differences: \(diffs.prefix(10))")

        // Pacing kept every sandbox within 5 requests/s: not a single 429 drawn.
        #expect(await source.stats().tooManyRequestsSent == 0)
        #expect(await target.stats().tooManyRequestsSent == 0)

        // A second run of the same import finds everything in the journal and creates nothing.
        let before = await target.stats().totalRequests
        let again = try await KinopioJobs.importArchive(
            first, connection: targetConn, journalURL: journalURL, dryRun: false, progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0)
        #expect(again.alreadyPresent["card"] == imported.created["card"])
        let writes = await target.stats().requestsByRoute.filter { $0.key.hasPrefix("POST") }.values.reduce(0, +)
        #expect(await target.stats().totalRequests - before <= 2, "a complete rerun should only read the user")
        _ = writes

        await sourceConn.shutdown()
        await targetConn.shutdown()
        await source.stop()
        await target.stop()
    }

    @Test func dryRunCountsRequestsAndWritesNothing() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let targetConn = try Fixture.connection(target, key: Fixture.targetKey)
        let archive = dir.appendingPathComponent("a.tar")
        let exported = try await Fixture.export(sourceConn, to: archive, format: .tar)
        let plan = try await KinopioJobs.importArchive(
            archive, connection: targetConn, journalURL: nil, dryRun: true, progress: .silent)
        #expect(plan.dryRun)
        #expect(plan.created["space"] == exported.counts["space"])
        #expect((plan.requests["POST /card/multiple"] ?? 0) >= 1)
        let state = await target.stats()
        #expect(state.requestsByRoute.keys.allSatisfy { $0.hasPrefix("GET") }, "a dry run sends no write")
        await sourceConn.shutdown()
        await targetConn.shutdown()
        await source.stop()
        await target.stop()
    }
}
