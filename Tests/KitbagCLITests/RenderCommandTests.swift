import Foundation
import KitbagArchive
import KitbagCore
import KitbagTestSupport
import Testing

/// `kitbag render` (issue 22): renderings of an archive written without them, inside a folder archive (which
/// stays whole) or beside a file archive (which stays untouched), equal to what an export with them writes.
@Suite struct RenderCommandTests {
    let key = "cli-test-key-55aa33"

    static func files(under root: URL, prefix: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let base = root.standardizedFileURL.path + "/"
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return out }
        for case let url as URL in walk {
            let path = String(url.standardizedFileURL.path.dropFirst(base.count))
            if path.hasPrefix(prefix), !url.hasDirectoryPath { out[path] = try Data(contentsOf: url) }
        }
        return out
    }

    @Test func renderAddsHTMLInsideAFolderArchiveThatStaysWholeAndBesideAFileArchive() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let env = ["KINOPIO_API_KEY": key]
        let base = ["--base-url", sandbox.baseURL.absoluteString, "-q"]
        let plain = dir.appendingPathComponent("plain")
        let full = dir.appendingPathComponent("full")
        let tarball = dir.appendingPathComponent("k.tar.zst")
        #expect(try await CLI.run(["export", "kinopio", "-o", plain.path, "--archive-format", "folder", "--formats", "json"] + base, env: env).status == 0)
        #expect(try await CLI.run(["export", "kinopio", "-o", full.path, "--archive-format", "folder"] + base, env: env).status == 0)
        #expect(try await CLI.run(["export", "kinopio", "-o", tarball.path, "--formats", "json"] + base, env: env).status == 0)
        await sandbox.stop()
        #expect(try Self.files(under: plain, prefix: "html/").isEmpty)

        // Inside a folder archive: verify still passes, kitbag.json names the rendering, the pages equal an export's.
        let r = try await CLI.run(["render", plain.path, "--formats", "html"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.out.split(separator: "\n").count == 1 && r.out.contains("inside the folder archive \(plain.path)"), "\(r.out)")
        #expect(try await CLI.run(["verify", plain.path, "-q"]).status == 0)
        let info = try JSONValue(parsing: try Data(contentsOf: plain.appendingPathComponent("kitbag.json")))
        #expect(info["renderings"]?.arrayValue?.compactMap(\.stringValue) == ["html"])
        let rendered = try Self.files(under: plain, prefix: "html/")
        let exported = try Self.files(under: full, prefix: "html/")
        #expect(rendered.count == 7, "an index and six spaces")
        #expect(Set(rendered.keys) == Set(exported.keys))
        for (path, data) in rendered where path != "html/index.html" {
            // The export's pages link its Markdown, feeds and canvases too; the JSON-only archive has none.
            let html = String(decoding: data, as: UTF8.self)
            let other = String(decoding: exported[path] ?? Data(), as: UTF8.self)
            #expect(html.contains("<svg class=\"drawing\"") == other.contains("<svg class=\"drawing\""), "\(path)")
            #expect(html.components(separatedBy: "<article").count == other.components(separatedBy: "<article").count, "\(path)")
        }
        // Rendering again replaces, never duplicates: still whole, same bytes.
        #expect(try await CLI.run(["render", plain.path, "--formats", "html", "-q"]).status == 0)
        #expect(try await CLI.run(["verify", plain.path, "-q"]).status == 0)
        #expect(try Self.files(under: plain, prefix: "html/") == rendered, "deterministic")

        // Beside a file archive: the archive is untouched, the pages go to NAME-renderings/.
        let before = try Data(contentsOf: tarball)
        let b = try await CLI.run(["render", tarball.path])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        let beside = dir.appendingPathComponent("k-renderings")
        #expect(b.out.contains("beside the archive, in \(beside.path)"), "\(b.out)")
        #expect(try Data(contentsOf: tarball) == before)
        let besidePages = try Self.files(under: beside, prefix: "html/")
        #expect(Set(besidePages.keys) == Set(rendered.keys))
        for (path, data) in besidePages where path != "html/index.html" {
            // The same account, so the same pages; the indexes differ only in the time each export started.
            #expect(data == rendered[path], "\(path) differs between the two renderings")
        }
        #expect(try await CLI.run(["verify", tarball.path, "-q"]).status == 0)

        // Bad input: one line, non-zero, nothing written.
        let missing = try await CLI.run(["render", dir.appendingPathComponent("nope.tar").path])
        #expect(missing.status != 0 && missing.stderr.contains("no such file or folder"))
        #expect(try await CLI.run(["render", plain.path, "--formats", "pdf"]).status == 2)
        try Data("garbage".utf8).write(to: dir.appendingPathComponent("bad.tar"))
        let bad = try await CLI.run(["render", dir.appendingPathComponent("bad.tar").path])
        #expect(bad.status != 0 && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad-renderings").path))
    }
}
