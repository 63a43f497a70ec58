import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Kitemaker
import Testing

/// Issue 20: a Kitemaker export reads the work items of several spaces at once (each space's cursor pages one after
/// another) and the account-level lists — roadmaps, initiatives, feedback, feedback people — beside the first
/// spaces, within the connection's adaptive concurrency. What each list collects is taken in its own order and written
/// in archive order, so the archive is the same bytes as when every request waits for the one before.
@Suite("Kitemaker export at a distance")
struct KitemakerExportOverlapTests {
    @Test("spaces and account lists are read at once within the sandbox's pool, with no 429, into the same bytes as one request at a time")
    func spacesAndAccountListsOverlap() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // 300 work items: 150 in each of the two spaces, three pages of 50 each. The sandbox enforces its assumed pool
        // of 10 at once and answers 20 ms late, give or take 6 ms, so answers sent together come back in any order.
        var options = SandboxOptions(credentials: [Kite.sourceToken], seed: .generated(cards: 300), penaltySeconds: 0.05, rateLimit: true)
        options.latency = .milliseconds(20)
        options.jitter = .milliseconds(6)
        let sandbox = try await KitemakerSandbox.start(options, logger: SandboxServer.quietLogger("kitbag.tests.kitemaker.sandbox"))
        let environment = [KitemakerSchema.tokenVariable: Kite.sourceToken]

        let serial = try KitemakerConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: environment, concurrency: 1, logger: Fixture.logger)
        let one = dir.appendingPathComponent("one.tar.zst")
        let first = try await Kite.export(serial, to: one)
        #expect(await sandbox.stats().peakRunning == 1)

        // kitbag's own pacing for Kitemaker: no --rate-limit, no --concurrency.
        let paced = try KitemakerConnection(baseURL: sandbox.baseURL.absoluteString, environment: environment, logger: Fixture.logger)
        let many = dir.appendingPathComponent("many.tar.zst")
        let second = try await Kite.export(paced, to: many)
        let stats = await sandbox.stats()
        await sandbox.stop()

        #expect(first.counts == second.counts)
        // The same requests, only sent at once: per route, every attempt less the retries (a machine loaded enough to
        // time out an answer retries it, in either run).
        func sent(_ requests: [String: Int], _ stats: ClientStats) -> [String: Int] {
            requests.reduce(into: [:]) { out, route in out[route.key] = route.value - (stats.retriesPerRoute[route.key] ?? 0) }
        }
        let (serialStats, pacedStats) = (await serial.client.stats(), await paced.client.stats())
        #expect(
            sent(first.requests, serialStats) == sent(second.requests, pacedStats),
            "one at a time \(first.requests) (retries \(serialStats.retriesPerRoute)), at once \(second.requests) (retries \(pacedStats.retriesPerRoute))")
        #expect(second.requests["POST /graphql workItems"] == 6, "\(second.requests)")
        // Two spaces' pages alone make two at once; more means the account lists went beside them.
        #expect(stats.peakRunning >= 3, "peak \(stats.peakRunning): the spaces and the account lists should overlap")
        #expect(stats.peakRunning <= KitemakerSandbox.defaultConcurrencyLimit)
        #expect(stats.tooManyRequestsSent == 0)
        #expect(try Data(contentsOf: one) == Data(contentsOf: many), "byte-identical whatever order the answers came in")
    }
}
