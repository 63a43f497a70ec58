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

@Suite("Kona connector")
struct KonaConnectorTests {
    static let access = "kona-connector-access-9f3e"
    static let refresh = "kona-connector-refresh-51ac"
    static let secret = KonaSandbox.defaultClientSecret

    static func sandbox(seed: SandboxSeed = .demo, lifetime: Double? = nil) async throws -> RunningSandbox {
        var o = SandboxOptions(credentials: [access], seed: seed, rateLimit: false)
        o.refreshTokens = [refresh]
        o.tokenLifetime = lifetime
        return try await KonaSandbox.start(o, logger: Fixture.logger)
    }

    static func environment(access: String? = access, refresh: String? = nil) -> [String: String] {
        var env: [String: String] = [:]
        if let access { env[KonaSchema.accessTokenVariable] = access }
        if let refresh {
            env[KonaSchema.refreshTokenVariable] = refresh
            env[KonaSchema.clientIDVariable] = KonaSandbox.defaultClientID
            env[KonaSchema.clientSecretVariable] = secret
        }
        return env
    }

    static func connect(_ sandbox: RunningSandbox, _ env: [String: String], rateLimit: Double = 0) throws -> KonaConnection {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(5)
        retry.maxDelay = .milliseconds(20)
        return try KonaConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: env, rateLimit: rateLimit, retry: retry, logger: Fixture.logger)
    }

    static func export(_ connection: KonaConnection, to url: URL, format: ArchiveFormat = .tarZst) async throws -> ExportSummary {
        let account = try await connection.probe()
        return try await ConnectorJobs.export(
            connection, account: account, destination: format == .folder ? .folder(url) : .file(url), format: format,
            progress: .silent, now: Date(timeIntervalSince1970: 1_790_000_000))
    }

    /// Every file's bytes under a folder archive, as one string (for secret checks).
    static func allText(_ folder: URL) throws -> String {
        var out = ""
        let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            if let data = try? Data(contentsOf: url) { out += String(decoding: data, as: UTF8.self) }
        }
        return out
    }

    @Test("a token that expires mid-export is refreshed, counted, and the export completes with nothing secret in it")
    func expiryMidExport() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let reference = try await Self.sandbox()
        let plain = try Self.connect(reference, Self.environment())
        let expected = try await Self.export(plain, to: dir.appendingPathComponent("plain.tar.zst"))
        await reference.stop()

        // Tokens live 4 s; paced at 4 requests/s the ~30 requests of the demo export take at least 7 s, so at least
        // one token expires mid-export, and a renewed token has seconds to serve its retry even on a loaded machine.
        let sandbox = try await Self.sandbox(lifetime: 4)
        let connection = try Self.connect(sandbox, Self.environment(refresh: Self.refresh), rateLimit: 4)
        let out = dir.appendingPathComponent("expiring")
        let summary = try await Self.export(connection, to: out, format: .folder)
        let stats = await sandbox.stats()
        #expect(connection.tokenRefreshes() >= 1)
        #expect(stats.requests("POST /oauth/token") == connection.tokenRefreshes())
        #expect((stats.responsesByStatus[401] ?? 0) >= 1, "a request met the expired token")
        #expect(summary.counts == expected.counts)
        #expect(ArchiveVerifier.verify(out).exitStatus == .success)
        let text = try Self.allText(out)
        for secret in [Self.access, Self.refresh, Self.secret, "kona-at-"] {
            #expect(!text.contains(secret), "the archive holds \(secret)")
        }
        await sandbox.stop()
    }

    @Test("with only a refresh token and the client id and secret, an access token is fetched first")
    func refreshTokenOnly() async throws {
        let sandbox = try await Self.sandbox()
        let connection = try Self.connect(sandbox, Self.environment(access: nil, refresh: Self.refresh))
        let probe = try await connection.probe()
        #expect(probe.account.name == "Ada Lovelace")
        #expect(connection.tokenRefreshes() == 1)
        #expect(await sandbox.stats().requests("POST /oauth/token") == 1)
        await sandbox.stop()
    }

    @Test("a wrong access token fails in one line that names KONA_ACCESS_TOKEN and never shows the token")
    func wrongToken() async throws {
        let sandbox = try await Self.sandbox()
        let wrong = "wrong-kona-token-7e1d"
        let connection = try Self.connect(sandbox, Self.environment(access: wrong))
        var message = ""
        do {
            _ = try await connection.probe()
            Issue.record("a wrong token was accepted")
        } catch {
            message = String(describing: error)
        }
        #expect(message.hasPrefix("kona: "))
        #expect(message.contains("KONA_ACCESS_TOKEN"))
        #expect(message.contains("401"))
        #expect(!message.contains(wrong))
        #expect(!message.contains("\n"))

        // An expired token with a refused refresh token says what to fix, without either secret.
        let expiring = try await Self.sandbox(lifetime: 0)
        let bad = try Self.connect(expiring, Self.environment(refresh: "bogus-refresh-token-0c2a"))
        do {
            _ = try await bad.probe()
            Issue.record("a bogus refresh token was accepted")
        } catch {
            message = String(describing: error)
        }
        #expect(message.hasPrefix("kona: "))
        #expect(message.contains("KONA_REFRESH_TOKEN"))
        for secret in ["bogus-refresh-token-0c2a", Self.access, Self.secret] { #expect(!message.contains(secret)) }

        #expect(throws: UserError.self) { try Self.connect(sandbox, [:]) }
        #expect(throws: UserError.self) {
            try Self.connect(sandbox, [KonaSchema.refreshTokenVariable: Self.refresh])
        }
        await expiring.stop()
        await sandbox.stop()
    }

    @Test("export and import use the fewest requests per route the API allows")
    func requestsVersusMinimum() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let target = try await Self.sandbox(seed: .empty)
        let from = try Self.connect(source, Self.environment())
        let archive = dir.appendingPathComponent("demo.tar.zst")
        let exported = try await Self.export(from, to: archive)
        let c = exported.counts
        let spaces = c["space"] ?? 0
        #expect(spaces == 4, "the hidden space is exported, the one the user is not in is not")
        let items = (c["conversation"] ?? 0) + (c["task"] ?? 0) + (c["calendarEvent"] ?? 0)
        // Every list fits one page of 100: one request per list, comments listed once per item. Users and the two
        // space lists (with and without hidden=true) take a second page: until the server has shown a page longer
        // than a short one, a short page might be its per_page cap (no maximum is documented).
        #expect(exported.requests == [
            "GET /userinfo": 1, "GET /accounts/current": 1, "GET /users": 2, "GET /spaces": 4,
            "GET /conversations": spaces, "GET /tasks": spaces, "GET /calendar_events": spaces, "GET /comments": items,
        ])

        let to = try Self.connect(target, Self.environment())
        let imported = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        // One POST per kind per space that holds any (batches of up to 100), all spaces in one POST.
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        func spacesWith(_ file: String) -> Int {
            reader.jsonLinesEntries().filter { $0.path.hasPrefix("data/spaces/") && $0.path.hasSuffix("/\(file).jsonl") && ($0.count ?? 0) > 0 }.count
        }
        #expect(imported.requests == [
            "GET /userinfo": 2, "POST /spaces": 1, "POST /conversations": spacesWith("conversations"),
            "POST /tasks": spacesWith("tasks"), "POST /calendar_events": spacesWith("calendarEvents"),
            "POST /comments": spacesWith("comments"),
        ])
        #expect(imported.created["space"] == spaces)
        #expect(imported.created["comment"] == (c["comment"] ?? 0))

        // Paging: 250 tasks in spaces of 100, 100 and 50; a full page needs one more (empty) page to know it was the last.
        let volume = try await Self.sandbox(seed: .generated(cards: 250))
        let big = try Self.connect(volume, Self.environment())
        let v = try await Self.export(big, to: dir.appendingPathComponent("volume.tar.zst"))
        #expect(v.counts["task"] == 250)
        #expect(v.requests["GET /tasks"] == 2 + 2 + 1)
        #expect(v.requests["GET /comments"] == 250)
        await source.stop()
        await target.stop()
        await volume.stop()
    }

    @Test("objects whose create had an unknown outcome are found by their marker, not created again")
    func attemptedObjectsAreFoundByMarker() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let target = try await Self.sandbox(seed: .empty)
        let from = try Self.connect(source, Self.environment())
        let to = try Self.connect(target, Self.environment())
        let archive = dir.appendingPathComponent("demo.tar.zst")
        _ = try await Self.export(from, to: archive)
        let first = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: dir.appendingPathComponent("a.sqlite"), options: ImportOptions(), progress: .silent)
        let before = await target.snapshot()

        // A second journal in which every request was sent but no answer arrived.
        let unsure = dir.appendingPathComponent("b.sqlite")
        do {
            let reader = try SnapshotReader.open(archive)
            defer { reader.close() }
            let me = try await to.probe()
            let journal = try ImportJournal(
                url: unsure,
                binding: JournalBinding(
                    sourceService: "kona", sourceAccount: reader.info.source.account.id, targetService: "kona",
                    targetBaseURL: to.baseURL.absoluteString, targetAccount: me.account.id))
            for entry in reader.jsonLinesEntries() where entry.path.hasPrefix("data/spaces/") {
                let ids = try reader.values(at: entry.path).compactMap { $0["id"]?.idString }
                try journal.plan(kind: entry.kind ?? "", ids.map { ($0, "") })
                try journal.markAttempted(kind: entry.kind ?? "", sourceIDs: ids)
            }
        }
        let second = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: unsure, options: ImportOptions(), progress: .silent)
        #expect(second.created.values.reduce(0, +) == 0, "created again: \(second.created)")
        #expect(second.alreadyPresent == first.created.filter { $0.value > 0 })
        #expect(await target.snapshot() == before)
        await source.stop()
        await target.stop()
    }

    @Test("an import whose creates meet 500s, resets and cut bodies settles each by marker and leaves no duplicates")
    func importUnderFaults() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let from = try Self.connect(source, Self.environment())
        let archive = dir.appendingPathComponent("demo.tar.zst")
        _ = try await Self.export(from, to: archive)

        var o = SandboxOptions(credentials: [Self.access], seed: .empty, faultRate: 0.25, faultSeed: 11, rateLimit: false)
        o.refreshTokens = [Self.refresh]
        let target = try await KonaSandbox.start(o, logger: Fixture.logger)
        var retry = RetryPolicy(maxAttempts: 12)
        retry.baseDelay = .milliseconds(2)
        retry.maxDelay = .milliseconds(10)
        retry.penaltyAfter429 = .milliseconds(5)
        let to = try KonaConnection(
            baseURL: target.baseURL.absoluteString, environment: Self.environment(), rateLimit: 0, retry: retry,
            logger: Fixture.logger)
        let journal = dir.appendingPathComponent("j.sqlite")
        let imported = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journal, options: ImportOptions(batchSize: 2), progress: .silent)
        #expect(await target.stats().faultsInjected > 0)
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await Self.export(to, to: after)
        let diffs = try to.roundTripDifferences(
            sourceArchive: archive, targetArchive: after, journal: journal, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await source.stop()
        await target.stop()
    }

    @Test("renderings show spaces with their tasks, conversations, events and comments; a dry run writes nothing")
    func renderingsAndDryRun() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let connection = try Self.connect(source, Self.environment())
        let out = dir.appendingPathComponent("folder")
        _ = try await Self.export(connection, to: out, format: .folder)
        let pages = try FileManager.default.contentsOfDirectory(
            at: out.appendingPathComponent("pages/spaces"), includingPropertiesForKeys: nil)
        let launch = try #require(pages.first { $0.lastPathComponent.contains("product-launch") })
        let page = try String(contentsOf: launch, encoding: .utf8)
        for text in ["Write release notes", "Draft is in the shared folder.", "Launch rehearsal", "Launch plan", "Ben Okafor"] {
            #expect(page.contains(text), "the page lacks \(text)")
        }
        #expect(!page.contains("surprise party"), "a conversation the user is not in")

        let target = try await Self.sandbox(seed: .empty)
        let to = try Self.connect(target, Self.environment())
        let archive = dir.appendingPathComponent("demo.tar")
        _ = try await Self.export(connection, to: archive, format: .tar)
        let before = await target.snapshot()
        let dry = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: nil, options: ImportOptions(dryRun: true), progress: .silent)
        #expect(dry.dryRun)
        #expect(dry.created["task"] == 6)
        #expect(dry.requests["POST /spaces"] == 1)
        #expect(await target.snapshot() == before)
        await source.stop()
        await target.stop()
    }
}
