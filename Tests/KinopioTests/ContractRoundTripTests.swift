import AsyncHTTPClient
import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

/// Whole jobs against the current server and an older one, over a space written in the shape of
/// kinopio-club/kinopio-client src/data/hello.json (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): lists, lines,
/// drawing strokes, item-id connections with a box at either end, mentions, a removed card inside `cards`.
@Suite struct ContractRoundTripTests {
    static let helloShaped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hello-shaped-space.json")

    /// A sandbox holding only the hello-shaped space, posted as the client posts a whole space (`POST /space`,
    /// useApiStore.js `createSpace`).
    static func helloSandbox(key: String, legacy: Bool = false) async throws -> RunningSandbox {
        var options = SandboxOptions()
        options.seed = .empty
        options.credentials = [key]
        options.rateLimit = false
        let sandbox = try await KinopioSandbox.start(options, logger: Fixture.logger, legacy: legacy)
        let client = HTTPClient()
        var request = HTTPClientRequest(url: sandbox.baseURL.absoluteString + "/space")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: key)
        request.body = .bytes(Array(try Data(contentsOf: helloShaped)))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        try await client.shutdown()
        #expect(response.status.code == 200)
        return sandbox
    }

    static func lines(_ reader: SnapshotReader, space: String, file: String) throws -> [JSONValue] {
        let path = "data/spaces/\(ArchivePath.component(space))/\(file).jsonl"
        guard reader.jsonLinesEntries().contains(where: { $0.path == path }) else { return [] }
        return Array(try reader.lines(at: path))
    }

    @Test func helloShapedSpaceRoundTripsThroughAnEmptyAccountWithEveryReferenceRewritten() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.helloSandbox(key: Fixture.sourceKey)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let targetConn = try Fixture.connection(target, key: Fixture.targetKey)

        let first = dir.appendingPathComponent("hello.tar.zst")
        let exported = try await Fixture.export(sourceConn, to: first)
        #expect(exported.counts["list"] == 1)
        #expect(exported.counts["line"] == 2)
        #expect(exported.counts["drawingStroke"] == 2)
        #expect(exported.counts["connection"] == 3)
        // The removed card came inside `cards` and from /removed-cards: archived once, as a removed card.
        #expect(exported.counts["removedCard"] == 1)
        #expect(exported.counts["card"] == 6)

        let journalURL = dir.appendingPathComponent("import.journal.sqlite")
        let imported = try await KinopioJobs.importArchive(
            first, connection: targetConn, journalURL: journalURL, dryRun: false, progress: .silent)
        #expect(imported.created["list"] == 1)
        #expect(imported.created["line"] == 2)
        #expect(imported.created["drawingStroke"] == 5)
        #expect(imported.created["mention"] == 2)
        #expect(imported.created["connection"] == 3)
        #expect(imported.notImported.contains { $0.kind == "spaceSettings" && $0.reason.contains("private") })
        // The client's /multiple routes, and no connection-type request.
        let routes = await target.stats().requestsByRoute
        for route in ["POST /space/multiple", "POST /card/multiple", "POST /box/multiple", "POST /connection/multiple", "POST /list"] {
            #expect((routes[route] ?? 0) >= 1, "\(route) was not used: \(routes)")
        }
        #expect(routes.keys.allSatisfy { !$0.contains("connection-type") })

        let second = dir.appendingPathComponent("again.tar.zst")
        _ = try await Fixture.export(targetConn, to: second)
        let a = try SnapshotReader.open(first)
        let b = try SnapshotReader.open(second)
        defer {
            a.close()
            b.close()
        }
        let journal = try ImportJournal(readingFrom: journalURL)
        let diffs = try KinopioRoundTrip.rules.compare(source: a, target: b, journal: journal, notImported: imported.notImported)
        #expect(diffs.isEmpty, "differences: \(diffs.prefix(10))")

        // Spot checks on the target itself: new ids everywhere, references pointing at the new ones.
        let newSpace = try #require(try journal.entry(kind: "space", sourceID: "helloShapedSpace00001")?.targetID)
        let meta = try #require(try Self.lines(b, space: newSpace, file: "space").first)
        #expect(meta["privacy"] == "private" && meta["showInExplore"] == false && meta["isTemplate"] == false)
        #expect(meta["originSpaceId"] == "helloShapedSpace00001")
        let newList = try #require(try journal.entry(kind: "list", sourceID: "helloListGetStarted01")?.targetID)
        let newBox = try #require(try journal.entry(kind: "box", sourceID: "helloBoxIdeas00000001")?.targetID)
        let cards = try Self.lines(b, space: newSpace, file: "cards")
        #expect(cards.filter { $0["listId"]?.stringValue == newList }.count == 3)
        let mentioned = try #require(cards.first { $0["atUserMentions"]?.arrayValue?.isEmpty == false })
        let mention = try #require(mentioned["atDateMentions"]?.arrayValue?.first)
        #expect(mention["id"] != "helloMentionDate00001")
        #expect(mention["cardId"] == mentioned["id"] && mention["spaceId"] == .string(newSpace))
        let connections = try Self.lines(b, space: newSpace, file: "connections")
        #expect(connections.contains { $0["endItemId"]?.stringValue == newBox && $0["name"] == "goes in" })
        #expect(connections.contains { $0["startItemId"]?.stringValue == newBox })
        let strokes = try Self.lines(b, space: newSpace, file: "drawingStrokes")
        #expect(strokes.flatMap { $0.arrayValue ?? [] }.allSatisfy { !($0["id"]?.stringValue ?? "").hasPrefix("hello") })

        // A rerun creates nothing.
        let again = try await KinopioJobs.importArchive(
            first, connection: targetConn, journalURL: journalURL, dryRun: false, progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0)

        await sourceConn.shutdown()
        await targetConn.shutdown()
        await source.stop()
        await target.stop()
    }

    @Test func anOlderServerIsExportedAndImportedThroughTheFallbackRoutes() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        var options = SandboxOptions()
        options.credentials = [Fixture.sourceKey]
        options.rateLimit = false
        let source = try await KinopioSandbox.start(options, logger: Fixture.logger, legacy: true)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let archive = dir.appendingPathComponent("old.tar")
        let exported = try await Fixture.export(sourceConn, to: archive, format: .tar)
        let routes = await source.stats().requestsByRoute
        #expect((routes["GET /space/:spaceId/removedCards"] ?? 0) >= 1)
        #expect((routes["GET /notifications"] ?? 0) == 1)
        #expect((routes["GET /user/journal-spaces"] ?? 0) == 1)
        #expect(exported.counts["removedCard"] == 1)
        let reader = try SnapshotReader.open(archive)
        let notExported = reader.manifest.notExported
        reader.close()
        #expect(notExported.contains { $0.kind == "route" && $0.reason.contains("/notification answered 404") })
        #expect(notExported.contains { $0.kind == "hiddenSpace" })
        #expect(notExported.contains { $0.kind == "group" })

        // The same archive into an older server: the seed-era write routes, lists reported.
        let target = try await KinopioSandbox.start(
            { var o = options; o.seed = .empty; o.credentials = [Fixture.targetKey]; return o }(), logger: Fixture.logger, legacy: true)
        let targetConn = try Fixture.connection(target, key: Fixture.targetKey)
        let hello = try await Self.helloSandbox(key: Fixture.sourceKey)
        let helloConn = try Fixture.connection(hello, key: Fixture.sourceKey)
        let helloArchive = dir.appendingPathComponent("hello.tar")
        _ = try await Fixture.export(helloConn, to: helloArchive, format: .tar)
        let imported = try await KinopioJobs.importArchive(
            helloArchive, connection: targetConn, journalURL: dir.appendingPathComponent("j.sqlite"), dryRun: false,
            progress: .silent)
        #expect(imported.created["connection"] == 3)
        #expect(imported.notImported.contains { $0.kind == "list" && $0.reason.contains("404") })
        #expect(imported.notImported.contains { $0.kind == "route" && $0.reason.contains("POST /space/multiple") })
        let written = await target.stats().requestsByRoute
        #expect((written["POST /space"] ?? 0) == 1 && (written["POST /connection"] ?? 0) == 1 && (written["POST /box"] ?? 0) == 1)

        for c in [sourceConn, targetConn, helloConn] { await c.shutdown() }
        for s in [source, target, hello] { await s.stop() }
    }

    @Test func appKeysExportWithReadAndANarrowKeyFailsTheImportInOneLineBeforeWriting() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.helloSandbox(key: Fixture.sourceKey)
        let readConn = try KinopioConnection(
            baseURL: source.baseURL.absoluteString, apiKey: nil,
            environment: ["KINOPIO_APP_KEY": "sandbox-kinopio-app-read-key"], rateLimited: false, logger: Fixture.logger)
        #expect(readConn.keyKind == .app)
        let archive = dir.appendingPathComponent("hello.tar")
        let exported = try await Fixture.export(readConn, to: archive, format: .tar)
        #expect(exported.counts["card"] == 6)

        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let before = await target.snapshot()
        let narrow = try KinopioConnection(
            baseURL: target.baseURL.absoluteString, apiKey: "sandbox-kinopio-app-read-key", keyKind: .app,
            environment: [:], rateLimited: false, logger: Fixture.logger)
        do {
            _ = try await KinopioJobs.importArchive(
                archive, connection: narrow, journalURL: dir.appendingPathComponent("j.sqlite"), dryRun: false,
                progress: .silent)
            Issue.record("a read key imported")
        } catch let error as UserError {
            #expect(error.message.contains("scope edit"))
            #expect(!error.message.contains("\n"))
            #expect(!error.message.contains("sandbox-kinopio-app-read-key"))
        }
        #expect(await target.snapshot() == before)

        // A user key sent as an app key is refused with a line that says where it goes.
        let misplaced = try KinopioConnection(
            baseURL: target.baseURL.absoluteString, apiKey: Fixture.targetKey, keyKind: .app, environment: [:],
            rateLimited: false, logger: Fixture.logger)
        do {
            _ = try await misplaced.currentUser()
            Issue.record("a user key was taken as an app key")
        } catch let failure as HTTPFailure {
            #expect(failure.isUnauthorized)
            #expect(failure.description.contains("Authorization header"))
            #expect(!failure.description.contains(Fixture.targetKey))
        }
        // The kind by setting, by variable, or by shape (a UUID is a user key).
        func kind(_ env: [String: String]) async throws -> KinopioKeyKind {
            let c = try KinopioConnection(baseURL: "http://127.0.0.1:9", apiKey: nil, environment: env, logger: Fixture.logger)
            await c.shutdown()
            return c.keyKind
        }
        let uuid = "0b8c0f6e-8d7e-4a0e-9c55-3b1f0e7d2a11", other = "kind-test-key-3e7a"
        #expect(try await kind(["KINOPIO_API_KEY": other]) == .user)
        #expect(try await kind(["KINOPIO_APP_KEY": other]) == .app)
        #expect(try await kind(["KINOPIO_API_KEY": other, "KINOPIO_KEY_KIND": "app"]) == .app)
        #expect(try await kind(["KINOPIO_API_KEY": uuid, "KINOPIO_KEY_KIND": "auto"]) == .user)
        #expect(try await kind(["KINOPIO_API_KEY": other, "KINOPIO_KEY_KIND": "auto"]) == .app)
        await #expect(throws: UserError.self) { _ = try await kind(["KINOPIO_API_KEY": other, "KINOPIO_KEY_KIND": "root"]) }
        for c in [readConn, narrow, misplaced] { await c.shutdown() }
        await source.stop()
        await target.stop()
    }
}

@Suite struct ContractBadInputTests {
    /// An archive holding one space whose second connection ends at a card that is not in it.
    static func archiveWithADanglingConnection(in dir: URL) throws -> URL {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let info = ArchiveInfo(
            service: .kinopio, source: .init(baseURL: "https://api.kinopio.club", account: .init(id: "u1", name: "ada")),
            startedAt: now)
        let out = dir.appendingPathComponent("dangling")
        let writer = try SnapshotWriter(destination: .folder(out), format: .folder, info: info, snapshotTime: now)
        let space = ContainerRef(kind: "spaces", id: "danglingSpace00000001")
        try writer.writeJSONLines(
            container: space, file: "space", kind: "space", values: [["id": "danglingSpace00000001", "name": "Dangling"]])
        try writer.writeJSONLines(
            container: space, file: "cards", kind: "card",
            values: [["id": "cardA", "name": "A", "x": 10, "y": 10], ["id": "cardB", "name": "B", "x": 300, "y": 10]])
        try writer.writeJSONLines(
            container: space, file: "connections", kind: "connection",
            values: [
                ["id": "connOK", "startItemId": "cardA", "endItemId": "cardB", "color": "#c9f5b0"],
                ["id": "connDangling", "startItemId": "cardA", "endItemId": "cardGone", "color": "#c9f5b0"],
            ])
        _ = try writer.seal(notExported: [], finishedAt: now)
        return out
    }

    // apiDocs.md "Connections" (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): an end must be a card or box of
    // the space, so a connection whose end the archive lacks is reported, not sent; the rest goes in.
    @Test func aConnectionWhoseEndIsMissingIsReportedInOneLineAndTheRestImports() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try Self.archiveWithADanglingConnection(in: dir)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        let summary = try await KinopioJobs.importArchive(
            archive, connection: conn, journalURL: dir.appendingPathComponent("j.sqlite"), dryRun: false, progress: .silent)
        #expect(summary.created["card"] == 2)
        #expect(summary.created["connection"] == 1)
        let line = try #require(summary.notImported.first { $0.kind == "connection" })
        #expect(line.reason.contains("connDangling") && line.reason.contains("cardGone") && !line.reason.contains("\n"))
        await conn.shutdown()
        await target.stop()
    }

    // The canvas export keeps boxes as groups and sizes each card by its own width and height, so the three list
    // cards of the hello-shaped space (35 high, 40 apart) do not overlap.
    @Test func canvasExportSizesCardsByTheirOwnWidthAndHeight() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await ContractRoundTripTests.helloSandbox(key: Fixture.sourceKey)
        let conn = try Fixture.connection(source, key: Fixture.sourceKey)
        let out = dir.appendingPathComponent("plain")
        _ = try await Fixture.export(conn, to: out, format: .folder)
        let canvasFolder = out.appendingPathComponent("canvas")
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: canvasFolder.path).first)
        let canvas = try JSONValue(parsing: Array(try Data(contentsOf: canvasFolder.appendingPathComponent(file))))
        let nodes = canvas["nodes"]?.arrayValue ?? []
        #expect(nodes.contains { $0["type"] == "group" && $0["label"] == "Ideas" })
        let listed = nodes.filter { ($0["text"]?.stringValue ?? "").hasPrefix("Pick a background") }
        #expect(listed.first?["width"] == 190 && listed.first?["height"] == 35)
        let column = nodes.filter { $0["type"] == "text" && $0["x"] == listed.first?["x"] }
            .compactMap { n -> (Int, Int)? in
                guard let y = n["y"]?.intValue, let h = n["height"]?.intValue else { return nil }
                return (y, h)
            }.sorted { $0.0 < $1.0 }
        #expect(column.count >= 3)
        for (a, b) in zip(column, column.dropFirst()) { #expect(a.0 + a.1 <= b.0, "cards overlap: \(a) and \(b)") }
        await conn.shutdown()
        await source.stop()
    }
}
