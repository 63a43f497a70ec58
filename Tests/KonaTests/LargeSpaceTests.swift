import Foundation
import KitbagArchive
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kona

@Suite("Kona large spaces")
struct KonaLargeSpaceTests {
    @Test("a space's items are written in id order whatever the page size, and its pages carry at most readableItemLimit items")
    func largeSpaceIsStreamedAndItsPagesAreBounded() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // 230 tasks in one space: three pages of 100 (or ten of 25 on a capped server).
        for behaviour in [KonaServerBehaviour(generatedSpaces: 1), KonaServerBehaviour(perPageCap: 25, generatedSpaces: 1)] {
            var o = SandboxOptions(credentials: [KonaConnectorTests.access], seed: .generated(cards: 230), rateLimit: false)
            o.refreshTokens = [KonaConnectorTests.refresh]
            o.kona = behaviour
            let sandbox = try await KonaSandbox.start(o, logger: Fixture.logger)
            let connection = try KonaConnectorTests.connect(sandbox, KonaConnectorTests.environment())
            let user = try await connection.currentUser()
            let out = dir.appendingPathComponent("bounded-\(behaviour.perPageCap ?? 0)")
            let info = ArchiveInfo(
                service: .kona, source: .init(baseURL: sandbox.baseURL.absoluteString, account: KonaExporter.account(of: user)),
                startedAt: Date(timeIntervalSince1970: 1_790_000_000), renderings: ["markdown"])
            let writer = try SnapshotWriter(
                destination: .folder(out), format: .folder, info: info, snapshotTime: Date(timeIntervalSince1970: 1_790_000_000))
            var exporter = KonaExporter(connection: connection, progress: .silent, spaceIDs: [], renderings: [.markdown])
            exporter.readableItemLimit = 5
            let notExported = try await exporter.export(user: user, into: writer)
            _ = try writer.seal(notExported: notExported, finishedAt: Date(timeIntervalSince1970: 1_790_000_000))
            await sandbox.stop()

            let reader = try SnapshotReader.open(out)
            defer { reader.close() }
            let tasks = try reader.values(at: "data/spaces/1001/tasks.jsonl")
            #expect(tasks.compactMap { $0["id"]?.intValue } == Array(3001...3230), "\(behaviour)")
            let page = try #require(reader.manifest.entries.first { $0.path.hasPrefix("pages/") && $0.path.contains("generated-space-1") })
            let markdown = try String(contentsOf: reader.fileURL(page.path), encoding: .utf8)
            #expect(markdown.contains("This page shows the first 5 of 230 conversations, tasks and events (by id); all are in data/spaces/1001/."))
            for n in 1...5 { #expect(markdown.contains("Task \(n)"), "Task \(n)") }
            for n in 6...9 { #expect(!markdown.contains("Task \(n)"), "Task \(n) and those after it are not on the page") }
        }
    }
}
