import Foundation
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: app settings are written through `preview/…`, then the app is deployed once.
///
/// Source: kintone/js-sdk packages/rest-api-client/src/client/AppClient.ts (commit
/// 003b2770edee77b314a7b67cb7645836f543b426): updateAppAcl, updateRecordAcl and updateFieldAcl write
/// `preview/app/acl.json`, `preview/record/acl.json`, `preview/field/acl.json` on purpose (the live paths deploy every
/// pending preview setting); updateAdminNotes and addPlugins write `preview/app/adminNotes.json` and
/// `preview/app/plugins.json`; deployApp is `POST preview/app/deploy.json {apps: [{app}]}`.
@Suite("Kintone contract: preview settings and one deploy")
struct ContractPreviewSettingsTests {
    @Test("an import writes permissions, admin notes and plug-ins through preview/ only, and deploys each app once")
    func settingsGoThroughThePreview() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await KintoneConnectorTests.sandbox()
        defer { Task { await source.stop() } }
        let archive = dir.appendingPathComponent("a.tar.zst")
        _ = try await KintoneConnectorTests.export(try KintoneConnectorTests.connect(source), to: archive)
        let target = try await KintoneConnectorTests.sandbox(.empty)
        defer { Task { await target.stop() } }
        let summary = try await ConnectorJobs.importArchive(
            archive, into: try KintoneConnectorTests.connect(target), journalURL: dir.appendingPathComponent("j.sqlite"),
            options: ImportOptions(), progress: .silent)
        let routes = await target.stats().requestsByRoute
        let live = ["app/acl.json", "record/acl.json", "field/acl.json", "app/adminNotes.json", "app/plugins.json"]
        for path in live {
            #expect(!routes.keys.contains { !$0.hasPrefix("GET") && $0.hasSuffix("/v1/" + path) }, "live write of \(path): \(routes)")
        }
        #expect(routes.keys.contains { $0.hasPrefix("PUT") && $0.hasSuffix("preview/app/acl.json") }, "\(routes.keys.sorted())")
        #expect(routes.keys.contains { $0.hasPrefix("PUT") && $0.hasSuffix("preview/record/acl.json") })
        #expect(routes.keys.contains { $0.hasPrefix("PUT") && $0.hasSuffix("preview/field/acl.json") })
        #expect(routes.keys.contains { $0.hasPrefix("PUT") && $0.hasSuffix("preview/app/adminNotes.json") })
        let deploys = routes.filter { $0.key.hasPrefix("POST") && $0.key.hasSuffix("preview/app/deploy.json") }.values.reduce(0, +)
        let apps = summary.created["app"] ?? 0
        #expect(apps >= 3)
        // One deploy per app, plus one for each app whose lookups wait for a later deploy.
        #expect(deploys >= apps && deploys <= apps + 2, "\(deploys) deploys for \(apps) apps")
    }
}
