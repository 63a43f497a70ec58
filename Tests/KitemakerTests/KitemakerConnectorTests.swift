import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Kitemaker
import Testing

/// Sandboxes, connections and whole jobs for the Kitemaker connector tests.
enum Kite {
    static let sourceToken = "kitemaker-source-token-5b7a"
    static let targetToken = "kitemaker-target-token-9e21"
    static let snapshotTime = Date(timeIntervalSince1970: 1_790_000_000)

    static func sandbox(_ seed: SandboxSeed, token: String, rateLimit: Bool = false) async throws -> RunningSandbox {
        try await KitemakerSandbox.start(
            SandboxOptions(credentials: [token], seed: seed, penaltySeconds: 0.05, rateLimit: rateLimit),
            logger: SandboxServer.quietLogger("kitbag.tests.kitemaker.sandbox"))
    }

    static func connect(_ sandbox: RunningSandbox, token: String) throws -> KitemakerConnection {
        try KitemakerConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: [KitemakerSchema.tokenVariable: token], rateLimit: 0,
            logger: Fixture.logger)
    }

    static func export(_ connection: KitemakerConnection, to url: URL) async throws -> ExportSummary {
        let account = try await connection.probe()
        return try await ConnectorJobs.export(
            connection, account: account, destination: .file(url), format: .tarZst, progress: .silent,
            now: snapshotTime, finishedAt: snapshotTime)
    }

    /// The demo organization exported to `dir/demo.tar.zst` (its sandbox stopped again).
    static func demoArchive(in dir: URL) async throws -> URL {
        let source = try await sandbox(.demo, token: sourceToken)
        let archive = dir.appendingPathComponent("demo.tar.zst")
        do {
            _ = try await export(try connect(source, token: sourceToken), to: archive)
        } catch {
            await source.stop()
            throw error
        }
        await source.stop()
        return archive
    }

    static func importArchive(
        _ archive: URL, into connection: KitemakerConnection, journal: URL, options: ImportOptions = ImportOptions()
    ) async throws -> ImportSummary {
        try await ConnectorJobs.importArchive(
            archive, into: connection, journalURL: journal, options: options, progress: .silent)
    }
}

@Suite("Kitemaker connector")
struct KitemakerConnectorTests {
    @Test("export and import use the minimum requests per route, and the counts are reported")
    func requestCountsAgainstTheMinimum() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let target = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let from = try Kite.connect(source, token: Kite.sourceToken)
        let to = try Kite.connect(target, token: Kite.targetToken)
        let archive = dir.appendingPathComponent("demo.tar.zst")
        let exported = try await Kite.export(from, to: archive)
        // One probe, one organization query, one work item page per space (9 and 5 items), the roadmaps, one page
        // each of initiatives and feedback, and one query for feedback persons and companies.
        #expect(exported.requests == [
            "GET /organization": 1, "POST /graphql organization": 1, "POST /graphql workItems": 2,
            "POST /graphql roadmaps": 1, "POST /graphql initiatives": 1, "POST /graphql feedback": 1,
            "POST /graphql feedbackPeople": 1,
        ])
        #expect(exported.counts["workItem"] == 14)
        #expect(exported.counts["comment"] == 10)
        #expect(exported.counts["label"] == 7)
        #expect(exported.counts["status"] == 8)
        #expect(exported.counts["initiative"] == 2)
        #expect(exported.counts["feedback"] == 3)

        let imported = try await Kite.importArchive(archive, into: to, journal: dir.appendingPathComponent("j.sqlite"))
        // One create per label, work item (GraphQL createWorkItem, which keeps createdAt, members and watchers),
        // thread opener, reply, initiative, company, person and feedback (createFeedback: processed, owners, tags);
        // one editInitiative per initiative to link its work items and members (both demo initiatives are active
        // and in spaces, so REST creates them); one read of the target's organization, one of its roadmaps (to
        // place the initiatives on their columns; the empty organization has none) and one of its feedback persons
        // and companies.
        #expect(imported.requests == [
            "GET /organization": 1, "POST /graphql organization": 1, "POST /graphql roadmaps": 1, "POST /label": 7,
            "POST /graphql createWorkItem": 14, "POST /comment": 6, "POST /graphql createCommentOnWorkItem": 4,
            "POST /initiative": 2, "POST /graphql editInitiative": 2, "POST /graphql feedbackPeople": 1,
            "POST /graphql createCompany": 1, "POST /graphql createPerson": 2, "POST /graphql createFeedback": 3,
        ])
        #expect(imported.created == [
            "label": 7, "workItem": 14, "comment": 10, "initiative": 2, "company": 1, "person": 2, "feedback": 3,
        ])
        let stats = await target.stats()
        #expect(stats.requests("POST /developers/rest/v1/workitem") == 0)
        #expect(stats.requests("POST /developers/graphql") == 1 + 1 + 14 + 4 + 2 + 1 + 1 + 2 + 3)

        // A dry run plans the same writes and sends none.
        let untouched = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let dry = try await Kite.importArchive(
            archive, into: try Kite.connect(untouched, token: Kite.targetToken), journal: dir.appendingPathComponent("d.sqlite"),
            options: ImportOptions(dryRun: true))
        #expect(dry.requests["POST /graphql createWorkItem"] == 14 && dry.requests["POST /comment"] == 6)
        #expect(dry.requests["POST /graphql editInitiative"] == 2)
        // Only the reads of the target's organization and roadmaps reached GraphQL.
        #expect(await untouched.stats().requests("POST /developers/graphql") == 2)
        for s in [source, target, untouched] { await s.stop() }
    }

    @Test("labels are reused by name in the target space instead of created again")
    func labelsReusedByName() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let target = try await Kite.sandbox(.demo, token: Kite.targetToken)
        let archive = dir.appendingPathComponent("demo.tar.zst")
        _ = try await Kite.export(try Kite.connect(source, token: Kite.sourceToken), to: archive)
        let summary = try await Kite.importArchive(
            archive, into: try Kite.connect(target, token: Kite.targetToken), journal: dir.appendingPathComponent("j.sqlite"))
        #expect(summary.created["label"] == nil)
        #expect(summary.alreadyPresent["label"] == 7)
        #expect(summary.requests["POST /label"] == nil)
        #expect(summary.created["workItem"] == 14)
        await source.stop()
        await target.stop()
    }

    @Test("a status missing in the target stops the import and names it; --create-missing says why it cannot help")
    func missingStatusIsNamed() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let target = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let archive = dir.appendingPathComponent("demo.tar.zst")
        _ = try await Kite.export(try Kite.connect(source, token: Kite.sourceToken), to: archive)
        let to = try Kite.connect(target, token: Kite.targetToken)
        for createMissing in [false, true] {
            var message = ""
            do {
                _ = try await Kite.importArchive(
                    archive, into: to, journal: dir.appendingPathComponent("j\(createMissing).sqlite"),
                    options: ImportOptions(containerMap: ["ACM": "OPS"], createMissing: createMissing))
                Issue.record("the import should have stopped")
            } catch {
                message = String(describing: error)
            }
            #expect(message.hasPrefix("kitemaker:"))
            #expect(message.contains("“Todo”") && message.contains("“In Progress”"), "\(message)")
            #expect(message.contains("cannot create statuses") || message.contains("no route that creates statuses"))
            #expect(createMissing == message.contains("--create-missing"))
        }
        // Nothing was written before the check: GraphQL saw only the reads of the target's organization.
        #expect(await target.stats().requests("POST /developers/rest/v1/workitem") == 0)
        #expect(await target.stats().requests("POST /developers/graphql") == 2)
        #expect(await target.stats().requests("POST /developers/rest/v1/label") == 0)

        var unknownSpace = ""
        do {
            _ = try await Kite.importArchive(
                archive, into: to, journal: dir.appendingPathComponent("k.sqlite"),
                options: ImportOptions(containerMap: ["ACM": "NOPE"]))
        } catch {
            unknownSpace = String(describing: error)
        }
        #expect(unknownSpace.contains("NOPE") && unknownSpace.contains("ACM"))
        await source.stop()
        await target.stop()
    }

    @Test("a wrong or missing token gets one line that names KITEMAKER_TOKEN and never shows the token")
    func tokenErrors() async throws {
        let sandbox = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let wrong = "wrong-token-that-must-not-leak-77"
        let connection = try Kite.connect(sandbox, token: wrong)
        var message = ""
        do {
            _ = try await connection.probe()
        } catch {
            message = String(describing: error)
        }
        #expect(message.hasPrefix("kitemaker:"))
        #expect(message.contains("KITEMAKER_TOKEN"))
        #expect(!message.contains(wrong))
        #expect(!message.contains("\n"))
        #expect(!String(describing: connection).contains(wrong))
        #expect(!String(reflecting: connection).contains(wrong))

        let missing = #expect(throws: UserError.self) {
            try KitemakerConnection(baseURL: nil, environment: [:], logger: Fixture.logger)
        }
        #expect(missing?.description.contains("KITEMAKER_TOKEN") == true)
        #expect(missing?.exitStatus == .usage)
        await sandbox.stop()
    }

    @Test("the export renders each space as Markdown with statuses, labels and threaded comments")
    func readableRendering() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let connection = try Kite.connect(source, token: Kite.sourceToken)
        let folder = dir.appendingPathComponent("out")
        let account = try await connection.probe()
        _ = try await ConnectorJobs.export(
            connection, account: account, destination: .folder(folder), format: .folder, progress: .silent,
            now: Kite.snapshotTime)
        let pages = try FileManager.default.contentsOfDirectory(
            at: folder.appendingPathComponent("pages/spaces"), includingPropertiesForKeys: nil)
        let acme = try #require(pages.first { $0.lastPathComponent.hasPrefix("acme-app") })
        let text = try String(contentsOf: acme, encoding: .utf8)
        for expected in ["Sign-in page flickers on Safari", "In Progress", "Reproduced on Safari 17.",
                         "Looks like a CSS transition issue.", "bug"] {
            #expect(text.contains(expected), "the Acme App page should mention \(expected)")
        }
        let index = try String(contentsOf: folder.appendingPathComponent("index.md"), encoding: .utf8)
        #expect(index.contains("Operations"))
        await source.stop()
    }
}
