import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

/// A space's item lists and the comments of its items are read at once (within the pacing) and written in the
/// items' order: the archive is the same bytes as when every request waits for the one before.
@Suite struct KonaOverlapTests {
    static let access = "kona-overlap-access-91d2"

    static func connect(_ sandbox: RunningSandbox, concurrency: Int?) throws -> KonaConnection {
        try KonaConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: [KonaSchema.accessTokenVariable: access], rateLimit: 0,
            concurrency: concurrency, logger: Fixture.logger)
    }

    static func export(_ connection: KonaConnection, to url: URL) async throws -> ExportSummary {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        return try await ConnectorJobs.export(
            connection, account: try await connection.probe(), destination: .file(url), format: .tarZst, progress: .silent,
            now: at, finishedAt: at)
    }

    @Test(arguments: [SandboxSeed.demo, .generated(cards: 250)])
    func anOverlappingExportWritesTheSameBytesAsOneRequestAtATime(seed: SandboxSeed) async throws {
        let dir = try Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = SandboxOptions(credentials: [Self.access], seed: seed, rateLimit: false)
        // Answers come back after a random 0–6 ms, so requests sent at once finish out of order.
        options.jitter = .milliseconds(6)
        let sandbox = try await KonaSandbox.start(options, logger: Fixture.logger)
        let serial = try Self.connect(sandbox, concurrency: 1)
        let one = dir.appendingPathComponent("one.tar.zst")
        let first = try await Self.export(serial, to: one)
        let overlapping = try Self.connect(sandbox, concurrency: nil)
        let many = dir.appendingPathComponent("many.tar.zst")
        let second = try await Self.export(overlapping, to: many)
        #expect(first.counts == second.counts && first.requests == second.requests)
        #expect((second.requests["GET /comments"] ?? 0) > 3, "\(second.requests)")
        #expect(await serial.client.stats().peakInFlight == 1)
        let peak = await overlapping.client.stats().peakInFlight
        #expect(peak > 1, "comment reads overlapped (peak \(peak))")
        #expect(try Data(contentsOf: one) == Data(contentsOf: many), "byte-identical whatever order the answers came in")
        await sandbox.stop()
    }
}
