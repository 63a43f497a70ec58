import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

/// Issue 20: the import creates several spaces' contents at once (each space's creates still one after another:
/// conversations, tasks, events, then the comments naming them), and reports the same as one space after another.
@Suite struct KonaImportOverlapTests {
    static let access = "kona-import-overlap-access-3c7e"

    /// A target answering every request 20 ms late, like a distant server, with the sandbox's limits on.
    static func target() async throws -> RunningSandbox {
        var o = SandboxOptions(credentials: [access], seed: .empty, rateLimit: true)
        o.latency = .milliseconds(20)
        return try await KonaSandbox.start(o, logger: Fixture.logger)
    }

    /// kitbag's own pacing for Kona unless `concurrency` is given (1: one request at a time, one space after another).
    static func connect(_ sandbox: RunningSandbox, concurrency: Int? = nil) throws -> KonaConnection {
        try KonaConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: [KonaSchema.accessTokenVariable: access],
            concurrency: concurrency, logger: Fixture.logger)
    }

    /// What a summary reports, as JSON (its request counts left out: compared apart).
    static func reported(_ summary: ImportSummary) throws -> String {
        var s = summary
        s.requests = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(s), as: UTF8.self)
    }

    @Test(arguments: [SandboxSeed.demo, .generated(cards: 600)])
    func spacesGoInAtOnceAndTheSummaryIsTheSameAsOneAfterAnother(seed: SandboxSeed) async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let o = SandboxOptions(credentials: [Self.access], seed: seed, rateLimit: false)
        let source = try await KonaSandbox.start(o, logger: Fixture.logger)
        let archive = dir.appendingPathComponent("source.tar.zst")
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let from = try Self.connect(source, concurrency: nil)
        let exported = try await ConnectorJobs.export(
            from, account: try await from.probe(), destination: .file(archive), format: .tarZst, progress: .silent,
            now: at, finishedAt: at)
        await source.stop()
        #expect((exported.counts["space"] ?? 0) >= 3)

        let together = try await Self.target()
        let alone = try await Self.target()
        let journal = dir.appendingPathComponent("together.sqlite")
        let concurrent = try await ConnectorJobs.importArchive(
            archive, into: try Self.connect(together), journalURL: journal, options: ImportOptions(), progress: .silent)
        let serial = try await ConnectorJobs.importArchive(
            archive, into: try Self.connect(alone, concurrency: 1), journalURL: dir.appendingPathComponent("alone.sqlite"),
            options: ImportOptions(), progress: .silent)
        let overlapping = await together.stats()
        let oneByOne = await alone.stats()

        // The sandbox held creates of several spaces at once; one space at a time never overlaps.
        #expect(overlapping.peakRunning >= 2, "peak \(overlapping.peakRunning): the spaces' creates should overlap")
        #expect(oneByOne.peakRunning == 1)
        #expect(overlapping.tooManyRequestsSent == 0)
        #expect(concurrent.created["task"] == exported.counts["task"])
        #expect(try Self.reported(concurrent) == Self.reported(serial))
        #expect(concurrent.requests == serial.requests)
        #expect(overlapping.requestsByRoute == oneByOne.requestsByRoute)

        // What arrived is the archive's content (the round trip's rules), and a rerun creates nothing.
        let after = dir.appendingPathComponent("after.tar.zst")
        let to = try Self.connect(together)
        _ = try await ConnectorJobs.export(
            to, account: try await to.probe(), destination: .file(after), format: .tarZst, progress: .silent, now: at,
            finishedAt: at)
        let diffs = try ConnectorDescriptor.kona.roundTrip.compare(
            sourceArchive: archive, targetArchive: after, journal: journal, notImported: concurrent.notImported)
        #expect(diffs.isEmpty, "differences: \(diffs.prefix(5))")
        let again = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0, "created again: \(again.created)")
        await together.stop()
        await alone.stop()
    }
}
