import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: transient errors and answers as real Kintone sends them.
///
/// Sources:
/// - kintone/js-sdk packages/rest-api-client/src/error/KintoneRestAPIError.ts (commit
///   003b2770edee77b314a7b67cb7645836f543b426): a failed bulkRequest answers `{results: [{}, {id, code, message,
///   errors}, …]}` and the SDK finds the failing request as the first non-empty entry.
/// - kintone/js-sdk packages/rest-api-client/src/KintoneRequestConfigBuilder.ts (same commit): a GET whose URL is over
///   4,096 characters goes as POST with `X-HTTP-Method-Override: GET` and the params object as the JSON body.
/// - kintone/js-sdk packages/rest-api-client/src/client/AppClient.ts (same commit), addApp: an app in a space is
///   created with `{name, space, thread}` where thread is that space's `defaultThread` read from `space.json`.
/// - api-facts.md (cybozu.dev "Add Records"; cli-kintone's retry of `GAIA_DA02`): the database lock error is
///   transient on writes and right after a deploy reads SUCCESS; unknown field codes on add are ignored; creator,
///   modifier and their times may be set on add by app administrators.
@Suite("Kintone contract: response shapes and transient errors")
struct ContractResponseShapeTests {
    static let credential = KintoneConnectorTests.token

    static func sandbox(_ seed: SandboxSeed = .demo, locked: Int = 0) async throws -> RunningSandbox {
        try await KintoneSandbox.start(
            SandboxOptions(credentials: [credential], seed: seed, rateLimit: false), logger: Fixture.logger,
            lockedWritesAfterDeploy: locked)
    }

    static func demoArchive(in dir: URL, apps: [String] = [], guestSpace: String? = nil) async throws -> URL {
        let source = try await sandbox()
        defer { Task { await source.stop() } }
        let archive = dir.appendingPathComponent("src-\(UUID().uuidString.prefix(6)).tar.zst")
        _ = try await KintoneConnectorTests.export(
            try KintoneConnectorTests.connect(source, guestSpace: guestSpace), to: archive, apps: apps)
        return archive
    }

    @Test("GAIA_DA02 right after a deploy reads SUCCESS is retried on the writes that follow; the import completes")
    func lockedWritesAfterADeployAreRetried() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.demoArchive(in: dir)
        let target = try await Self.sandbox(.empty, locked: 2)
        defer { Task { await target.stop() } }
        let summary = try await ConnectorJobs.importArchive(
            archive, into: try KintoneConnectorTests.connect(target), journalURL: dir.appendingPathComponent("j.sqlite"),
            options: ImportOptions(), progress: .silent)
        #expect((summary.created["record"] ?? 0) >= 5)
        let after = try await KintoneConnectorTests.export(try KintoneConnectorTests.connect(target), to: dir.appendingPathComponent("t.tar.zst"))
        let source = try ArchiveInspector.summary(of: archive).counts
        #expect(after.counts["record"] == source["record"])
        #expect(after.counts["comment"] == source["comment"])
    }

    @Test("a bulk refused by one record names that record of the archive, in one line, and writes nothing")
    func aBulkFailureNamesTheRecord() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // Customers (app 1) has a unique Company: its records cannot go again into the same app of the same seed.
        let archive = try await Self.demoArchive(in: dir, apps: ["1"])
        let target = try await Self.sandbox()
        defer { Task { await target.stop() } }
        let before = try await KintoneConnectorTests.connect(target).call(.GET, "records.json", query: [("app", "1"), ("totalCount", "true")])
        do {
            _ = try await ConnectorJobs.importArchive(
                archive, into: try KintoneConnectorTests.connect(target), journalURL: dir.appendingPathComponent("j.sqlite"),
                options: ImportOptions(containerMap: ["1": "1"]), progress: .silent)
            Issue.record("duplicates of a unique field were accepted")
        } catch {
            let m = String(describing: error)
            #expect(m.contains("refused record 1 of archived app 1") && m.contains("Company") && !m.contains("\n"), "\(m)")
        }
        let after = try await KintoneConnectorTests.connect(target).call(.GET, "records.json", query: [("app", "1"), ("totalCount", "true")])
        #expect(after["totalCount"] == before["totalCount"])
    }

    @Test("a GET too long for a URL goes as POST + X-HTTP-Method-Override: GET with fields as a real JSON array")
    func methodOverrideSendsRealArrays() async throws {
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let padding = String(repeating: "x", count: KintoneSchema.maxQueryLength)
        let answer = try await connection.call(
            .GET, "records.json",
            query: [("app", "1"), ("query", "Company != \"\(padding)\" order by $id asc"), ("fields[0]", "$id"), ("fields[1]", "Company")])
        let records = try #require(answer["records"]?.arrayValue)
        #expect(!records.isEmpty)
        #expect(records.allSatisfy { Set($0.objectValue?.keys ?? []) == ["$id", "Company"] }, "\(records.first ?? .null)")
        let routes = await sandbox.stats().requestsByRoute
        #expect(routes.keys.contains { $0.hasPrefix("POST") && $0.hasSuffix("records.json") }, "\(routes)")
        #expect(JSONValue.object(KintoneConnection.jsonParameters([("app", "1"), ("ids[1]", "b"), ("ids[0]", "a")])) == ["app": "1", "ids": ["a", "b"]])
    }

    @Test("new records keep Created by, Created datetime, Updated by and Updated datetime when kitbag administers the app")
    func authorshipIsKept() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.demoArchive(in: dir, apps: ["3"])
        let target = try await Self.sandbox(.empty)
        defer { Task { await target.stop() } }
        let summary = try await ConnectorJobs.importArchive(
            archive, into: try KintoneConnectorTests.connect(target), journalURL: dir.appendingPathComponent("j.sqlite"),
            options: ImportOptions(), progress: .silent)
        #expect(!summary.notImported.contains { $0.kind == "recordAuthorship" }, "\(summary.notImported)")
        func authorship(_ archive: URL) throws -> [[String]] {
            let reader = try SnapshotReader.open(archive)
            let entry = try #require(reader.jsonLinesEntries().first { $0.path.hasSuffix("records.jsonl") })
            return try reader.values(at: entry.path).map { record in
                ["CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME"].map { type in
                    let object = record.objectValue ?? JSONObject()
                    let field = object.keys.lazy.compactMap { object[$0] }.first { $0["type"]?.stringValue == type }
                    return field?["value"]?["code"]?.stringValue ?? field?["value"]?.stringValue ?? "?"
                }
            }
        }
        let out = dir.appendingPathComponent("t.tar.zst")
        _ = try await KintoneConnectorTests.export(try KintoneConnectorTests.connect(target), to: out)
        let source = try authorship(archive)
        #expect(!source.isEmpty && source.allSatisfy { !$0.contains("?") })
        #expect(try authorship(out) == source)
        #expect(source.contains { $0[0] != KintoneSandbox.defaultLogin.user }, "the seed has records by other users")
    }

    @Test("a creator missing from the target domain falls back to the importing user for that record only, counted")
    func unknownAuthorsFallBack() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        var options = SandboxOptions(credentials: [Self.credential], seed: .demo, rateLimit: false)
        options.logins = [KintoneSandbox.defaultLogin.user: Self.credential, "ghost": "kintone-ghost-password-4f0d"]
        let source = try await KintoneSandbox.start(options, logger: Fixture.logger)
        defer { Task { await source.stop() } }
        let login = try KintoneConnectorTests.connect(source)
        _ = try await login.call(
            .POST, "record.json",
            body: ["app": "3", "record": ["Title": ["value": "By a departed user"], "Created_by": ["value": ["code": "ghost"]]]])
        let archive = dir.appendingPathComponent("a.tar.zst")
        _ = try await KintoneConnectorTests.export(login, to: archive, apps: ["3"])
        let target = try await Self.sandbox(.empty)
        defer { Task { await target.stop() } }
        let summary = try await ConnectorJobs.importArchive(
            archive, into: try KintoneConnectorTests.connect(target), journalURL: dir.appendingPathComponent("j.sqlite"),
            options: ImportOptions(), progress: .silent)
        let note = try #require(summary.notImported.first { $0.kind == "recordAuthorship" }, "\(summary.notImported)")
        #expect(note.reason.hasPrefix("1 record(s)") && note.reason.contains("ghost"), "\(note.reason)")
        let records = try await KintoneConnectorTests.connect(target).call(.GET, "records.json", query: [("app", "1")])["records"]?.arrayValue ?? []
        let creators = Dictionary(uniqueKeysWithValues: records.compactMap { r -> (String, String)? in
            guard let title = r["Title"]?["value"]?.stringValue, let by = r["Created_by"]?["value"]?["code"]?.stringValue else { return nil }
            return (title, by)
        })
        #expect(creators["By a departed user"] == KintoneSandbox.defaultLogin.user)
        #expect(creators["Release checklist"] == "sato")
        #expect(creators["Onboarding"] == "suzuki")
    }

    @Test("an app of a guest space is created in the target guest space's default thread, not the archived ids")
    func guestAppsGoToTheTargetSpacesDefaultThread() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.demoArchive(in: dir, guestSpace: "2")
        let target = try await Self.sandbox()
        defer { Task { await target.stop() } }
        let login = try KintoneConnectorTests.connect(target)
        let space = try await login.call(
            .POST, "template/space.json",
            body: [
                "id": "1", "name": "Partners 2", "isGuest": true,
                "members": [["entity": ["type": "USER", "code": .string(KintoneSandbox.defaultLogin.user)], "isAdmin": true]],
            ])
        let spaceID = try #require(space["id"]?.idString)
        #expect(spaceID != "2")
        let guest = try KintoneConnectorTests.connect(target, guestSpace: spaceID)
        let thread = try await guest.call(.GET, "space.json", query: [("id", spaceID)])["defaultThread"]?.idString
        _ = try await ConnectorJobs.importArchive(
            archive, into: guest, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        let apps = try await guest.call(.GET, "apps.json")["apps"]?.arrayValue ?? []
        let created = try #require(apps.first)
        #expect(created["spaceId"]?.idString == spaceID)
        #expect(created["threadId"]?.idString == thread)
    }
}
