import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagRender
import KitbagSandbox
import KitbagTestSupport
import Testing

/// The readable renderings of the demo seed, compared with reviewed golden files, so that any change in
/// rendering shows up in review. Regenerate after an intended change with `KITBAG_UPDATE_GOLDEN=1 swift test`.
@Suite struct KinopioGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/demo-renderings")

    @Test func demoSeedRenderingsMatchTheGoldenFiles() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let conn = try Fixture.connection(sandbox, key: Fixture.sourceKey)
        let out = dir.appendingPathComponent("plain")
        _ = try await Fixture.export(conn, to: out, format: .folder)
        await conn.shutdown()
        await sandbox.stop()

        let rendered = try Self.renderings(in: out)
        #expect(rendered.keys.contains("index.md"))
        #expect(rendered.keys.contains { $0.hasPrefix("pages/spaces/") })
        #expect(rendered.keys.contains { $0.hasPrefix("feeds/spaces/") })
        #expect(rendered.keys.contains { $0.hasPrefix("canvas/") })
        #expect(rendered.keys.contains("html/index.html"))
        #expect(rendered.keys.contains { $0.hasPrefix("html/spaces/") })

        if ProcessInfo.processInfo.environment["KITBAG_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(at: Self.fixtures)
            for (path, data) in rendered {
                let url = Self.fixtures.appendingPathComponent(path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: url)
            }
            return
        }
        let golden = try Self.renderings(in: Self.fixtures)
        #expect(Set(rendered.keys) == Set(golden.keys), "rendered files differ from the golden set")
        for (path, data) in rendered.sorted(by: { $0.key < $1.key }) {
            #expect(data == golden[path], "\(path) differs from its golden file (KITBAG_UPDATE_GOLDEN=1 to accept)")
        }
        // Every feed is valid RSS that libxml2 reads back.
        for (path, data) in rendered where path.hasSuffix(".xml") {
            #expect(try FeedReader.read(data).itemCount >= 0, "\(path)")
        }
    }

    /// Every rendering file (not the JSON Lines, kitbag.json or the manifest) under `root`, by relative path.
    static func renderings(in root: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let base = root.standardizedFileURL.path + "/"
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return out
        }
        for case let url as URL in e {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            let path = String(url.standardizedFileURL.path.dropFirst(base.count))
            if path == "index.md" || path.hasPrefix("pages/") || path.hasPrefix("feeds/") || path.hasPrefix("canvas/")
                || path.hasPrefix("html/")
            {
                out[path] = try Data(contentsOf: url)
            }
        }
        return out
    }
}
