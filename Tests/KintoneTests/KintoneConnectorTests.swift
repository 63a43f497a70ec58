import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// The Kintone connector against its sandbox over real HTTP.
@Suite struct KintoneConnectorTests {
    static let token = "kintone-tests-token-5b1f"

    static func sandbox(_ seed: SandboxSeed = .demo, limits: Bool = false, faults: Double = 0) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [token]
        o.rateLimit = limits
        o.faultRate = faults
        return try await KintoneSandbox.start(o, logger: Fixture.logger)
    }

    /// A login (the sandbox's Administrator, with the test credential as password) unless API tokens are given:
    /// tokens can neither list nor create apps.
    static func connect(
        _ sandbox: RunningSandbox, token: String? = nil, guestSpace: String? = nil, retry: RetryPolicy? = nil
    ) throws -> KintoneConnection {
        let environment = token.map { [KintoneSchema.apiTokenVariable: $0] } ?? [
            KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: Self.token,
        ]
        return try KintoneConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: environment, guestSpaceID: guestSpace, rateLimit: 0,
            retry: retry, logger: Fixture.logger)
    }

    static func export(_ connection: KintoneConnection, to url: URL, apps: [String] = []) async throws -> ExportSummary {
        let account = try await connection.probe()
        return try await ConnectorJobs.export(
            connection, account: account, destination: .file(url), format: .tarZst,
            selection: ExportSelection(containers: apps), progress: .silent,
            now: Date(timeIntervalSince1970: 1_790_000_000), finishedAt: Date(timeIntervalSince1970: 1_790_000_000))
    }

    @Test func theDemoRoundTripsWithEverySettingStatusFileAndComment() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let target = try await Self.sandbox(.empty)
        let from = try Self.connect(source)
        let to = try Self.connect(target)
        let a = dir.appendingPathComponent("a.tar.zst")
        let exported = try await Self.export(from, to: a)
        for kind in ["app", "record", "comment", "formFields", "processManagement", "space", "spaceMember"] {
            #expect((exported.counts[kind] ?? 0) > 0, "the demo export should hold some \(kind)")
        }
        #expect(exported.requests["POST records/cursor.json"] == nil, "seek is cheaper than a cursor")
        let journal = dir.appendingPathComponent("j.sqlite")
        let imported = try await ConnectorJobs.importArchive(a, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(imported.created["app"] == 3)
        #expect(imported.created["file"] == 3)
        #expect((imported.created["status"] ?? 0) > 0)
        #expect(imported.notImported.allSatisfy { $0.container == nil }, "every setting was carried: \(imported.notImported)")
        let b = dir.appendingPathComponent("b.tar.zst")
        _ = try await Self.export(to, to: b)
        let diffs = try to.roundTripDifferences(
            sourceArchive: a, targetArchive: b, journal: journal, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await source.stop()
        await target.stop()
    }
}

extension KintoneConnectorTests {
    @Test func aWrongTokenFailsWithOneLineNamingTheVariableAndNeverTheToken() async throws {
        let source = try await Self.sandbox()
        let wrong = "wrong-token-that-must-not-leak-77"
        let connection = try Self.connect(source, token: wrong)
        var message = ""
        do {
            // Tokens have no "who am I": the first app read proves them.
            _ = try await Self.export(connection, to: FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID()).tar.zst"), apps: ["1"])
            Issue.record("a wrong token was accepted")
        } catch {
            message = String(describing: error)
        }
        #expect(message.hasPrefix("kintone: 401"), "\(message)")
        #expect(message.contains("GAIA_IA02"), "the Kintone code is kept: \(message)")
        #expect(message.contains(KintoneSchema.apiTokenVariable), "\(message)")
        #expect(!message.contains(wrong))
        #expect(!message.contains("\n"))
        await source.stop()
    }

    @Test func missingBaseURLOrCredentialsAreUsageErrors() throws {
        #expect(throws: UserError.self) {
            try KintoneConnection(baseURL: nil, environment: [KintoneSchema.apiTokenVariable: "t"], logger: Fixture.logger)
        }
        do {
            _ = try KintoneConnection(baseURL: nil, environment: [:], logger: Fixture.logger)
        } catch let error as UserError {
            #expect(error.exitStatus == .usage)
            #expect(error.message.contains(KintoneSchema.baseURLVariable))
        }
        do {
            _ = try KintoneConnection(baseURL: "https://x.kintone.com", environment: [:], logger: Fixture.logger)
            Issue.record("no credentials accepted")
        } catch let error as UserError {
            #expect(error.message.contains(KintoneSchema.apiTokenVariable) && error.message.contains(KintoneSchema.usernameVariable))
        }
    }

    @Test func passwordLoginWorksAndIsRedacted() async throws {
        let source = try await Self.sandbox()
        let login = KintoneSandbox.defaultLogin
        let good = try KintoneConnection(
            baseURL: source.baseURL.absoluteString,
            environment: [KintoneSchema.usernameVariable: login.user, KintoneSchema.passwordVariable: login.password],
            rateLimit: 0, logger: Fixture.logger)
        _ = try await good.probe()
        let bad = try KintoneConnection(
            baseURL: source.baseURL.absoluteString,
            environment: [KintoneSchema.usernameVariable: login.user, KintoneSchema.passwordVariable: "nope-wrong-password"],
            rateLimit: 0, logger: Fixture.logger)
        await #expect {
            _ = try await bad.probe()
        } throws: { error in
            let m = String(describing: error)
            return m.contains(KintoneSchema.passwordVariable) && !m.contains("nope-wrong-password")
        }
        await source.stop()
    }

    @Test func theArchiveHoldsNoSecretAndReadablePages() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let a = dir.appendingPathComponent("a")
        let account = try await Self.connect(source).probe()
        _ = try await ConnectorJobs.export(
            try Self.connect(source), account: account, destination: .folder(a), format: .folder, progress: .silent)
        var found = false
        var pages = 0
        for case let file as URL in FileManager.default.enumerator(at: a, includingPropertiesForKeys: nil)! {
            guard let data = try? Data(contentsOf: file) else { continue }
            if String(decoding: data, as: UTF8.self).contains(Self.token) { found = true }
            if file.pathExtension == "md" { pages += 1 }
        }
        #expect(!found, "the token is in the archive")
        #expect(pages >= 4, "index + one page per app")
        await source.stop()
    }

    @Test func aGuestSpaceIsReachedThroughItsPrefix() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let guest = try Self.connect(source, guestSpace: "2")
        let summary = try await Self.export(guest, to: dir.appendingPathComponent("g.tar.zst"))
        #expect(summary.counts["app"] == 1)
        #expect(summary.counts["record"] == 2)
        #expect(summary.counts["comment"] == 1)
        #expect(summary.account.id.hasSuffix("/guest/2"))
        await source.stop()
    }
}

extension KintoneConnectorTests {
    @Test func aViewOnlyTokenCannotImportAndSaysSoInOneLine() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.sandbox()
        let a = dir.appendingPathComponent("a.tar.zst")
        _ = try await Self.export(try Self.connect(source), to: a, apps: ["3"])
        let target = try await Self.sandbox()
        let readOnly = try Self.connect(target, token: KintoneSandbox.appViewToken(3))
        do {
            _ = try await ConnectorJobs.importArchive(
                a, into: readOnly, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(containerMap: ["3": "3"]),
                progress: .silent)
            Issue.record("a view-only token imported")
        } catch {
            let m = String(describing: error)
            #expect(m.hasPrefix("kintone: 403") && m.contains("GAIA_NO01") && !m.contains("\n"), "\(m)")
            #expect(!m.contains(KintoneSandbox.appViewToken(3)))
        }
        await source.stop()
        await target.stop()
    }
}
