import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kitemaker

// Answers the schema-faithful sandbox cannot give by itself, played over real HTTP by rewriting one GraphQL
// answer: a member of the `Actor` or `Entity` union that kitbag does not know (kitemakerhq/km
// `src/kitemaker.graphql`, commit 8e752965e19e23af4df7984ff267bbb412a9bc5b, has `Actor = User | Integration |
// IntegrationUser | Application` and `Entity = WorkItem | Initiative`; a newer server may add members, and GraphQL
// answers an unknown member with its `__typename` only), and a GraphQL error in one page of a long list.

/// A value with the element at `path` (object keys and array indices) replaced by `new`; unchanged if absent.
private func replacing(_ value: JSONValue, at path: ArraySlice<String>, with new: JSONValue) -> JSONValue {
    guard let key = path.first else { return new }
    switch value {
    case .object(var o):
        guard let child = o[key] else { return value }
        o[key] = replacing(child, at: path.dropFirst(), with: new)
        return .object(o)
    case .array(var a):
        guard let n = Int(key), a.indices.contains(n) else { return value }
        a[n] = replacing(a[n], at: path.dropFirst(), with: new)
        return .array(a)
    default:
        return value
    }
}

private func start(_ seed: SandboxSeed, _ rewrite: @escaping KitemakerSandbox.GraphQLAnswerRewrite) async throws -> RunningSandbox {
    try await KitemakerSandbox.start(
        SandboxOptions(credentials: [Kite.sourceToken], seed: seed, rateLimit: false),
        logger: SandboxServer.quietLogger("kitbag.tests.kitemaker.sandbox"), rewritingGraphQLAnswers: rewrite)
}

/// Counts the pages a rewrite has seen; the sandbox calls it from its request handlers.
private final class PageCounter: @unchecked Sendable {
    // Sendable because `n` is only touched under `lock`.
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
    var count: Int { lock.withLock { n } }
}

@Suite("Kitemaker answers from a newer or failing server")
struct KitemakerUnusualServerTests {
    @Test("an actor or entity of a type kitbag does not know is archived as sent, named in notExported, rendered by its type, and imports")
    func unknownUnionMembers() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let bot: JSONValue = ["__typename": "Bot"]
        let epic: JSONValue = ["__typename": "Epic"]
        let source = try await start(.demo) { request, answer in
            let query = request["query"]?.stringValue ?? ""
            if query.contains("query WorkItems(") {
                // The first work item of each page and the first comment on it were made by a "Bot".
                let first = replacing(answer, at: ["data", "workItems", "workItems", "0", "actor"], with: bot)
                return replacing(first, at: ["data", "workItems", "workItems", "0", "comments", "0", "actor"], with: bot)
            }
            if query.contains("query Feedback(") {
                return replacing(answer, at: ["data", "feedback", "feedback", "0", "insights", "0", "entities", "0"], with: epic)
            }
            return answer
        }
        let archive = dir.appendingPathComponent("newer.tar.zst")
        let exported = try await Kite.export(try Kite.connect(source, token: Kite.sourceToken), to: archive)
        await source.stop()

        // Kept verbatim: the archive holds what the server sent.
        let reader = try SnapshotReader.open(archive)
        var botItems: [JSONValue] = []
        var botComments = 0
        for entry in reader.jsonLinesEntries() {
            if entry.path.hasSuffix("/workItems.jsonl") { botItems += try reader.values(at: entry.path).filter { $0["actor"] == bot } }
            if entry.path.hasSuffix("/comments.jsonl") { botComments += try reader.values(at: entry.path).filter { $0["actor"] == bot }.count }
        }
        #expect(botItems.count == 2, "one per space: the demo's spaces fit in one page each")
        #expect(botComments == 2, "ACM-1 and OPS-1 both have comment threads")
        let feedback = try reader.values(at: "data/account/feedback.jsonl")
        #expect(feedback.first?["insights"]?.arrayValue?.first?["entities"]?.arrayValue?.first == epic)

        // Said once per type, with its count, in the manifest.
        let actorLine = try #require(exported.notExported.first { $0.kind == "actor.unknownType" })
        #expect(actorLine.container == "Bot")
        #expect(actorLine.reason.hasPrefix("4 actors of type Bot"), "\(actorLine.reason)")
        #expect(!actorLine.reason.contains("\n"))
        let entityLine = try #require(exported.notExported.first { $0.kind == "entity.unknownType" })
        #expect(entityLine.container == "Epic" && entityLine.reason.hasPrefix("1 entity of type Epic"))
        #expect(reader.manifest.notExported.contains(actorLine))

        // Rendered by its type name, where a known actor shows its username.
        let page = try #require(reader.manifest.entries.first { $0.path.hasPrefix("pages/") && $0.path.contains("acme-app") && $0.path.hasSuffix(".md") })
        let markdown = try String(contentsOf: reader.fileURL(page.path), encoding: .utf8)
        #expect(markdown.contains("By: Bot"))
        #expect(markdown.contains("**Bot**"))
        #expect(markdown.contains("By: ada"))
        reader.close()

        // Imported like any other: the importing token's user creates every item; the unknown entity is no link.
        let target = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let imported = try await Kite.importArchive(
            archive, into: try Kite.connect(target, token: Kite.targetToken), journal: dir.appendingPathComponent("j.sqlite"))
        #expect(imported.created["workItem"] == exported.counts["workItem"])
        #expect(imported.created["comment"] == exported.counts["comment"])
        #expect(imported.created["feedback"] == exported.counts["feedback"])
        await target.stop()
    }

    @Test("a known actor of every kind is rendered by its name: a user's username, an integration user's external name, an integration's kind")
    func actorNames() {
        #expect(KitemakerReadable.author(["__typename": "User", "id": "u", "username": "ada"]) == "ada")
        #expect(KitemakerReadable.author(["__typename": "Application", "id": "a", "name": "Zapier"]) == "Zapier")
        #expect(KitemakerReadable.author(["__typename": "IntegrationUser", "id": "i", "type": "GITHUB", "externalName": "octocat"]) == "octocat (Github)")
        #expect(KitemakerReadable.author(["__typename": "Integration", "id": "g", "type": "SLACK"]) == "Slack integration")
        #expect(KitemakerReadable.author(["__typename": "Robot"]) == "Robot")
        #expect(KitemakerReadable.author(["id": "x", "name": "@ada", "type": "user"]) == "@ada", "REST's actor shape")
        #expect(KitemakerReadable.author(nil) == nil)
    }

    @Test("a GraphQL error in the second page of work items stops the export in one line naming the query; no archive is left")
    func errorInOnePage() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let pages = PageCounter()
        // One space of three pages (150 of the 300 generated items): the spaces' pages are read side by side, so only
        // within one space does "stopped at the failing page" say which page comes next.
        let source = try await start(.generated(cards: 300)) { request, answer in
            guard request["query"]?.stringValue?.contains("query WorkItems(") == true else { return answer }
            let n = pages.next()
            guard n == 2 else { return answer }
            return ["data": .null, "errors": [["message": "Internal server error: page could not be read", "path": ["workItems"]]]]
        }
        let archive = dir.appendingPathComponent("failed.tar.zst")
        do {
            let connection = try Kite.connect(source, token: Kite.sourceToken)
            _ = try await ConnectorJobs.export(
                connection, account: try await connection.probe(), destination: .file(archive), format: .tarZst,
                selection: ExportSelection(containers: ["ACM"]), progress: .silent, now: Kite.snapshotTime,
                finishedAt: Kite.snapshotTime)
            Issue.record("the export should have stopped")
        } catch {
            let line = String(describing: error)
            #expect(line.hasPrefix("kitemaker: POST /graphql workItems was refused: Internal server error"), "\(line)")
            #expect(!line.contains("\n"))
            #expect(!line.contains(Kite.sourceToken))
        }
        #expect(pages.count == 2, "the export stopped at the failing page")
        #expect(!FileManager.default.fileExists(atPath: archive.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no partial file is left")
        await source.stop()
    }
}

@Suite("Kitemaker readable pages of large spaces")
struct KitemakerLargeSpaceTests {
    @Test("a space's pages carry every work item (no cap drops any), and the JSON Lines hold all of them")
    func readablePagesHoldEveryItem() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // 30 generated items alternate between ACM and OPS: 15 in each, numbered 1…15.
        let sandbox = try await Kite.sandbox(.generated(cards: 30), token: Kite.sourceToken)
        let connection = try Kite.connect(sandbox, token: Kite.sourceToken)
        let account = try await connection.probe()
        let out = dir.appendingPathComponent("whole")
        _ = try await ConnectorJobs.export(
            connection, account: account, destination: .folder(out), format: .folder, renderings: [.markdown],
            progress: .silent, now: Kite.snapshotTime, finishedAt: Kite.snapshotTime)
        await sandbox.stop()

        let reader = try SnapshotReader.open(out)
        defer { reader.close() }
        let items = reader.jsonLinesEntries().filter { $0.path.hasSuffix("/workItems.jsonl") }
        #expect(items.count == 2)
        for entry in items { #expect(try reader.values(at: entry.path).count == 15) }
        let page = try #require(reader.manifest.entries.first { $0.path.hasPrefix("pages/") && $0.path.contains("acme-app") })
        let markdown = try String(contentsOf: reader.fileURL(page.path), encoding: .utf8)
        #expect(!markdown.contains("This page shows the first"))
        // ACM holds the odd generated items: ACM-k is generated item 2k-1, and all fifteen are on its page.
        for number in 1...15 {
            #expect(markdown.contains("ACM-\(number) Generated work item \(2 * number - 1)"), "ACM-\(number)")
        }
        #expect(markdown.contains("Generated description 29."))
    }
}
