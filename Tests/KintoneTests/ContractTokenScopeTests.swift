import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: API tokens as Kintone scopes them, and kitbag never sending a token where it cannot go.
///
/// Sources:
/// - kintone/js-sdk, packages/rest-api-client/src/client/AppClient.ts (commit 003b2770edee77b314a7b67cb7645836f543b426):
///   `getApps` is `GET /k/v1/apps.json` with `ids`, `limit`, `offset`; `addApp` is `POST /k/v1/preview/app.json
///   {name}`; `getApp` is `GET /k/v1/app.json {id}`. packages/rest-api-client/src/KintoneRequestConfigBuilder.ts
///   (same commit): an `apiToken` auth sends `X-Cybozu-API-Token` with the tokens joined by commas.
/// - cybozu.dev "認証方式" / "APIトークンを使って操作できるAPI": tokens reach record, file, comment, bulk and per-app
///   settings routes, not `apps.json` nor app creation; the refusal is 403 `GAIA_NO01` "Using this API token, you
///   cannot run the specified API." (the same answer for a missing permission).
/// - kintone.dev tutorials/introduction-to-kintone-customizations/api-tokens: "The API token does not match the app"
///   for a token used on another app; at most 9 tokens per request (10 or more is refused).
@Suite("Kintone contract: API token scopes")
struct ContractTokenScopeTests {
    static let credential = "kintone-contract-token-3e9a"

    static func sandbox(_ seed: SandboxSeed = .demo) async throws -> RunningSandbox {
        try await KintoneSandbox.start(SandboxOptions(credentials: [credential], seed: seed, rateLimit: false), logger: Fixture.logger)
    }

    static func tokens(_ sandbox: RunningSandbox, _ tokens: [String]) throws -> KintoneConnection {
        try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: [KintoneSchema.apiTokenVariable: tokens.joined(separator: ",")],
            rateLimit: 0, logger: Fixture.logger)
    }

    static func login(_ sandbox: RunningSandbox) throws -> KintoneConnection {
        try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString,
            environment: [KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: credential],
            rateLimit: 0, logger: Fixture.logger)
    }

    /// The failure a call met, as one line.
    static func failure(_ body: () async throws -> Void) async -> String {
        do {
            try await body()
            return ""
        } catch {
            return String(describing: error)
        }
    }

    @Test("GET apps.json and POST preview/app.json with an API token answer 403 GAIA_NO01; a login may call both")
    func listingAndCreatingAppsRefuseTokens() async throws {
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let token = try Self.tokens(sandbox, [KintoneSandbox.appToken(1)])
        let list = await Self.failure { _ = try await token.call(.GET, "apps.json", query: [("limit", "100"), ("offset", "0")]) }
        #expect(list.contains("403") && list.contains("GAIA_NO01"), "\(list)")
        let create = await Self.failure { _ = try await token.call(.POST, "preview/app.json", body: ["name": "New"]) }
        #expect(create.contains("403") && create.contains("GAIA_NO01"), "\(create)")
        let space = await Self.failure { _ = try await token.call(.GET, "space.json", query: [("id", "1")]) }
        #expect(space.contains("GAIA_NO01"), "\(space)")
        // The token's own app: its entry, settings and records.
        #expect(try await token.call(.GET, "app.json", query: [("id", "1")])["appId"]?.idString == "1")
        #expect(try await token.call(.GET, "app/form/fields.json", query: [("app", "1")])["properties"] != nil)
        #expect(try await token.call(.GET, "records.json", query: [("app", "1")])["records"]?.arrayValue?.isEmpty == false)
        let login = try Self.login(sandbox)
        #expect(try await login.call(.GET, "apps.json", query: [("limit", "1")])["apps"]?.arrayValue?.count == 1)
    }

    @Test("a token reaches only its own app (GAIA_IA02) and only what its permissions allow (403 GAIA_NO01)")
    func aTokenIsBoundToItsAppAndPermissions() async throws {
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let other = await Self.failure {
            _ = try await Self.tokens(sandbox, [KintoneSandbox.appToken(1)]).call(.GET, "records.json", query: [("app", "2")])
        }
        #expect(other.contains("GAIA_IA02") && other.contains("does not match the app"), "\(other)")
        let view = try Self.tokens(sandbox, [KintoneSandbox.appViewToken(1)])
        #expect(try await view.call(.GET, "records.json", query: [("app", "1")])["records"] != nil)
        let add = await Self.failure {
            _ = try await view.call(.POST, "records.json", body: ["app": "1", "records": [["Company": ["value": "Nope"]]]])
        }
        #expect(add.contains("403") && add.contains("GAIA_NO01"), "\(add)")
        // A bulk request is checked request by request: one request for an app without a token refuses the whole bulk.
        let bulk = await Self.failure {
            _ = try await Self.tokens(sandbox, [KintoneSandbox.appToken(1)]).call(
                .POST, "bulkRequest.json",
                body: [
                    "requests": [
                        ["method": "POST", "api": "/k/v1/records.json", "payload": ["app": "1", "records": [[:]]]],
                        ["method": "POST", "api": "/k/v1/records.json", "payload": ["app": "2", "records": [[:]]]],
                    ]
                ])
        }
        #expect(bulk.contains("GAIA_IA02"), "\(bulk)")
        // Tokens of two apps in one header reach both (the way the SDK joins them).
        let both = try Self.tokens(sandbox, [KintoneSandbox.appToken(1), KintoneSandbox.appToken(2)])
        #expect(try await both.call(.GET, "records.json", query: [("app", "2")])["records"] != nil)
    }

    @Test("ten tokens are refused by the server; kitbag refuses them itself, in one line, before any request")
    func atMostNineTokens() async throws {
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let nine = (1...9).map { KintoneSandbox.appToken($0) }
        _ = try Self.tokens(sandbox, nine)
        #expect(throws: UserError.self) { _ = try Self.tokens(sandbox, nine + [KintoneSandbox.appToken(10)]) }
        do {
            _ = try Self.tokens(sandbox, nine + [KintoneSandbox.appToken(10)])
        } catch let error as UserError {
            #expect(error.message.contains("1 to 9") && !error.message.contains("\n"))
            #expect(!error.message.contains(KintoneSandbox.appToken(10)))
        }
        #expect(await sandbox.stats().totalRequests == 0)
    }

    @Test("an export with tokens and no --app fails in one line before any request; with --app it never calls apps.json or space routes")
    func tokenExportsNameTheirApps() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let token = try Self.tokens(sandbox, [KintoneSandbox.appToken(1), KintoneSandbox.appToken(3)])
        let none = await Self.failure { _ = try await KintoneConnectorTests.export(token, to: dir.appendingPathComponent("a.tar.zst")) }
        #expect(none.contains("--app") && none.contains(KintoneSchema.usernameVariable) && !none.contains("\n"), "\(none)")
        #expect(await sandbox.stats().totalRequests == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("a.tar.zst").path))

        let summary = try await KintoneConnectorTests.export(token, to: dir.appendingPathComponent("b.tar.zst"), apps: ["1", "3"])
        #expect(summary.counts["app"] == 2)
        #expect((summary.counts["record"] ?? 0) > 0)
        let routes = await sandbox.stats().requestsByRoute
        #expect(!routes.keys.contains { $0.contains("apps.json") || $0.contains("space") }, "\(routes.keys.sorted())")
        #expect(summary.notExported.contains { $0.kind == "space" && $0.reason.contains("API tokens") })

        // The apps may also come from KINTONE_APPS (a profile's `apps = [...]` sets it).
        let named = try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString,
            environment: [
                KintoneSchema.apiTokenVariable: KintoneSandbox.appToken(3), KintoneSchema.appsVariable: "3",
            ], rateLimit: 0, logger: Fixture.logger)
        let fromVariable = try await KintoneConnectorTests.export(named, to: dir.appendingPathComponent("d.tar.zst"))
        #expect(fromVariable.counts["app"] == 1)

        // A token of app 1 only, asked for app 2: the line names the app and what to do.
        let wrong = await Self.failure {
            _ = try await KintoneConnectorTests.export(
                try Self.tokens(sandbox, [KintoneSandbox.appToken(1)]), to: dir.appendingPathComponent("c.tar.zst"), apps: ["2"])
        }
        #expect(wrong.contains("app 2") && wrong.contains(KintoneSchema.apiTokenVariable) && !wrong.contains("\n"), "\(wrong)")
        #expect(!wrong.contains(KintoneSandbox.appToken(1)))
    }

    @Test("an import with tokens only is refused before the first write unless every app is --app-mapped; mapped, it fills the app")
    func tokenImportsFillExistingAppsOnly() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        defer { Task { await source.stop() } }
        let archive = dir.appendingPathComponent("a.tar.zst")
        // Team Wiki (app 3) has no unique field, so its records can go into the same app of another domain.
        _ = try await KintoneConnectorTests.export(try Self.login(source), to: archive, apps: ["3"])

        let target = try await Self.sandbox()
        defer { Task { await target.stop() } }
        let refused = await Self.failure {
            _ = try await ConnectorJobs.importArchive(
                archive, into: try Self.tokens(target, [KintoneSandbox.appToken(3)]), journalURL: dir.appendingPathComponent("j1.sqlite"),
                options: ImportOptions(), progress: .silent)
        }
        #expect(refused.contains("cannot create apps") && refused.contains("--app-map 3=") && !refused.contains("\n"), "\(refused)")
        let writes = await target.stats().requestsByRoute.filter { !$0.key.hasPrefix("GET") }
        #expect(writes.isEmpty, "nothing written: \(writes)")

        let recordsBefore = try await Self.login(target).call(.GET, "records.json", query: [("app", "3"), ("totalCount", "true")])["totalCount"]?.intValue ?? 0
        var options = ImportOptions()
        options.containerMap = ["3": "3"]
        _ = try await ConnectorJobs.importArchive(
            archive, into: try Self.tokens(target, [KintoneSandbox.appToken(3)]), journalURL: dir.appendingPathComponent("j2.sqlite"),
            options: options, progress: .silent)
        let recordsAfter = try await Self.login(target).call(.GET, "records.json", query: [("app", "3"), ("totalCount", "true")])["totalCount"]?.intValue ?? 0
        #expect(recordsAfter > recordsBefore)
        #expect(!(await target.stats().requestsByRoute.keys.contains { $0.contains("preview/app.json") || $0.contains("apps.json") }))
    }
}
