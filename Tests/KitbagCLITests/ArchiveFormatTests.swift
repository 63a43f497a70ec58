import Foundation
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

/// What kitbag writes is checked against the published format, by a checker that does not share kitbag's code:
/// formats/check-archive.py validates kitbag.json and manifest.json with the JSON Schemas in formats/schemas
/// (python3-jsonschema) and every entry, size, digest, count and JSON Lines line against formats/archive-v1.md.
@Suite struct ArchiveFormatTests {
    static let checker = CLI.packageRoot.appendingPathComponent("formats/check-archive.py").path

    /// Runs the checker; nil (and a recorded issue in CI) when python3 with jsonschema is missing.
    static func check(_ path: String) async throws -> CLI.Result? {
        let probe = try? await ChildProcess.run("/usr/bin/env", ["python3", "-c", "import jsonschema"], error: .null)
        guard probe?.status == 0 else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                Issue.record("python3 with jsonschema is not installed: run `make deps` (Debian package python3-jsonschema)")
            }
            return nil
        }
        let p = try await ChildProcess.run("/usr/bin/env", ["python3", checker, path], error: .standardOutput)
        return CLI.Result(status: p.status, stdout: p.stdout, stderr: "")
    }

    @Test func everyServicesArchiveMatchesThePublishedFormatInEveryContainerKind() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        var o = SandboxOptions()
        o.seed = .demo
        o.rateLimit = false
        let runs: [(String, RunningSandbox, [String: String], String)] = [
            ("kinopio", try await KinopioSandbox.start(o), ["KINOPIO_API_KEY": KinopioSandbox.defaultCredential], "k.tar.zst"),
            ("kitemaker", try await KitemakerSandbox.start(o), ["KITEMAKER_TOKEN": KitemakerSandbox.defaultCredential], "m.zip"),
            ("kona", try await KonaSandbox.start(o), ["KONA_ACCESS_TOKEN": KonaSandbox.defaultCredential], "n.tar.gz"),
            ("kintone", try await KintoneSandbox.start(o), [
                "KINTONE_USERNAME": KintoneSandbox.defaultLogin.user, "KINTONE_PASSWORD": KintoneSandbox.defaultLogin.password,
            ], "t"),
        ]
        for (service, sandbox, env, name) in runs {
            let path = dir.appendingPathComponent(name).path
            var args = ["export", service, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", path, "-q"]
            if name == "t" { args += ["--archive-format", "folder"] }
            let r = try await CLI.run(args, env: env)
            await sandbox.stop()
            #expect(r.status == 0, "\(service): \(r.stderr)")
            guard let checked = try await Self.check(path) else { return }
            #expect(checked.status == 0, "\(service): \(checked.out)")
            #expect(checked.out.contains("format v1") && checked.out.hasSuffix(": ok\n"), "\(service): \(checked.out)")
        }
    }

    /// The checker can fail: an entry edited after the manifest was sealed, a line that is not compact and a
    /// record that breaks its schema are each named.
    @Test func theCheckerNamesAnEditedEntryALooseLineAndARecordOutsideItsSchema() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        var o = SandboxOptions()
        o.seed = .demo
        o.rateLimit = false
        let sandbox = try await KonaSandbox.start(o)
        let folder = dir.appendingPathComponent("kona")
        let r = try await CLI.run(
            ["export", "kona", "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", folder.path,
             "--archive-format", "folder", "-q"], env: ["KONA_ACCESS_TOKEN": KonaSandbox.defaultCredential])
        await sandbox.stop()
        #expect(r.status == 0, "\(r.stderr)")
        guard let clean = try await Self.check(folder.path) else { return }
        #expect(clean.status == 0, "\(clean.out)")

        let manifest = try JSONValue(parsing: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
        let tasks = try #require(manifest["entries"]?.arrayValue?.compactMap { $0["path"]?.stringValue }.first {
            $0.hasSuffix("/tasks.jsonl")
        })
        let handle = try FileHandle(forWritingTo: folder.appendingPathComponent(tasks))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"id\": 1}\n".utf8))
        try handle.close()
        let record = folder.appendingPathComponent("kitbag.json")
        let text = try String(contentsOf: record, encoding: .utf8)
        try text.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 7")
            .write(to: record, atomically: true, encoding: .utf8)

        let broken = try #require(try await Self.check(folder.path))
        #expect(broken.status == 1)
        #expect(broken.out.contains("\(tasks): SHA-256 differs from the manifest"), "\(broken.out)")
        #expect(broken.out.contains("not compact"), "\(broken.out)")
        #expect(broken.out.contains("kitbag.json: formatVersion"), "\(broken.out)")
    }
}
