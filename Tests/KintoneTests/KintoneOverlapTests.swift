import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// The export walk overlaps its requests (settings at once, comments and files of a page at once, the next page
/// read meanwhile) and still writes the same bytes as a walk that sends one request after another.
@Suite struct KintoneOverlapTests {
    typealias T = KintoneConnectorTests

    /// A sandbox whose answers come back after a random 0–`jitter` ms, so concurrent requests finish out of order.
    static func jittery(_ seed: SandboxSeed, latency: Int = 0, jitter: Int, limits: Bool = false) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [T.token]
        o.rateLimit = limits
        o.latency = .milliseconds(latency)
        o.jitter = .milliseconds(jitter)
        return try await KintoneSandbox.start(o, logger: Fixture.logger)
    }

    /// A login connection; `concurrency` 1 sends one request after another, nil takes `rateLimit` as given.
    static func connect(_ sandbox: RunningSandbox, rateLimit: Double?, concurrency: Int? = nil) throws -> KintoneConnection {
        try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString,
            environment: [
                KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: T.token,
            ],
            rateLimit: rateLimit, concurrency: concurrency, logger: Fixture.logger)
    }

    /// 1,600 records: past the first page the rest is read by `$id` ranges at once (the last page, two ranges).
    @Test(arguments: [SandboxSeed.demo, .generated(cards: 1_100), .generated(cards: 1_600)])
    func anOverlappingExportWritesTheSameBytesAsOneRequestAtATime(seed: SandboxSeed) async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.jittery(seed, jitter: 6)
        let serial = try Self.connect(sandbox, rateLimit: 0, concurrency: 1)
        #expect(serial.client.parallelism == 1)
        let one = dir.appendingPathComponent("one.tar.zst")
        let first = try await T.export(serial, to: one)
        let overlapping = try Self.connect(sandbox, rateLimit: 0)
        #expect(overlapping.client.parallelism > 1)
        let many = dir.appendingPathComponent("many.tar.zst")
        let second = try await T.export(overlapping, to: many)
        #expect(first.counts == second.counts)
        #expect(first.requests == second.requests, "the same requests, only sent at once")
        #expect((second.counts["record"] ?? 0) > 0 && (second.counts["comment"] ?? 0) + (second.counts["record"] ?? 0) > 3)
        let peak = await overlapping.client.stats().peakInFlight
        #expect(peak > 1, "requests overlapped (peak \(peak))")
        #expect(await serial.client.stats().peakInFlight == 1)
        #expect(try Data(contentsOf: one) == Data(contentsOf: many), "byte-identical whatever order the answers came in")
        await sandbox.stop()
    }

    /// With the default Kintone pacing (a quarter of the domain's 100, starting at 8 and growing on healthy answers)
    /// the comment reads of a distant server run beyond the eight the walk used to allow, with no 429 from the
    /// sandbox's concurrency limit.
    @Test func theDefaultPacingLetsCommentReadsRunBeyondEightAtOnceWithout429() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.jittery(.generated(cards: 800), latency: 20, jitter: 2, limits: true)
        let connection = try Self.connect(sandbox, rateLimit: nil)
        #expect(connection.client.parallelism == RateLimit.kintone.maxConcurrent)
        let summary = try await T.export(connection, to: dir.appendingPathComponent("a.tar.zst"))
        #expect(summary.counts["record"] == 800)
        let stats = await connection.client.stats()
        #expect(stats.peakInFlight > 8, "peak \(stats.peakInFlight)")
        #expect(stats.peakInFlight <= 25)
        #expect(stats.rateLimited == 0)
        #expect(await sandbox.stats().tooManyRequestsSent == 0)
        await sandbox.stop()
    }
}
