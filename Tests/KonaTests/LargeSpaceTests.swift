import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kona

@Suite("Kona large spaces")
struct KonaLargeSpaceTests {
    @Test("a space's items are written in id order whatever the page size, and its page carries every one of them")
    func largeSpaceIsStreamedAndItsPageIsWhole() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // 230 tasks in one space: three pages of 100 (or ten of 25 on a capped server).
        for behaviour in [KonaServerBehaviour(generatedSpaces: 1), KonaServerBehaviour(perPageCap: 25, generatedSpaces: 1)] {
            var o = SandboxOptions(credentials: [KonaConnectorTests.access], seed: .generated(cards: 230), rateLimit: false)
            o.refreshTokens = [KonaConnectorTests.refresh]
            o.kona = behaviour
            let sandbox = try await KonaSandbox.start(o, logger: Fixture.logger)
            let connection = try KonaConnectorTests.connect(sandbox, KonaConnectorTests.environment())
            let out = dir.appendingPathComponent("whole-\(behaviour.perPageCap ?? 0)")
            _ = try await ConnectorJobs.export(
                connection, account: try await connection.probe(), destination: .folder(out), format: .folder,
                renderings: [.markdown], progress: .silent, now: Date(timeIntervalSince1970: 1_790_000_000))
            await sandbox.stop()

            let reader = try SnapshotReader.open(out)
            defer { reader.close() }
            let tasks = try reader.values(at: "data/spaces/1001/tasks.jsonl")
            #expect(tasks.compactMap { $0["id"]?.intValue } == Array(3001...3230), "\(behaviour)")
            let page = try #require(reader.manifest.entries.first { $0.path.hasPrefix("pages/") && $0.path.contains("generated-space-1") })
            let markdown = try String(contentsOf: reader.fileURL(page.path), encoding: .utf8)
            #expect(!markdown.contains("This page shows the first"))
            for n in 1...230 { #expect(markdown.contains("Task \(n)"), "Task \(n)") }
        }
    }
}
