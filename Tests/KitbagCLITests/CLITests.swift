import Foundation
import KitbagArchive
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Logging
import Testing

/// Runs the real `kitbag` binary as a child process.
enum CLI {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    static let binary: URL = {
        if let p = ProcessInfo.processInfo.environment["KITBAG_BIN"] { return URL(fileURLWithPath: p) }
        // The test bundle sits in the same build folder as the kitbag executable.
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("kitbag")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return packageRoot.appendingPathComponent(".build/debug/kitbag")
    }()

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var out: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Starts the binary (posix_spawn, not Foundation's Process: see ChildProcess) with stdout and stderr on pipes.
    static func start(
        _ args: [String], env: [String: String] = [:], cwd: URL? = nil
    ) throws -> (ChildProcess, FileHandle, FileHandle) {
        var e = ProcessInfo.processInfo.environment
        e["KINOPIO_API_KEY"] = nil
        for (k, v) in env { e[k] = v }
        let p = try ChildProcess(binary.path, args, environment: e, directory: cwd?.path)
        guard let out = p.standardOutput, let err = p.standardError else { throw ChildProcess.SpawnError.failed("kitbag", EBADF) }
        return (p, out, err)
    }

    static func run(_ args: [String], env: [String: String] = [:], cwd: URL? = nil) async throws -> Result {
        let (p, out, err) = try start(args, env: env, cwd: cwd)
        // Read both pipes while the child runs, so a large stdout cannot block it.
        async let o = ChildProcess.readToEnd(out)
        async let e = ChildProcess.readToEnd(err)
        let (stdout, stderr) = await (o, e)
        await p.wait()
        let result = Result(status: p.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
        // Whatever kitbag prints — progress, summaries, errors, --json — never holds a credential.
        Scratch.expectNoCredentials(in: result.out + result.stderr, "the output of kitbag \(args.prefix(2).joined(separator: " "))")
        return result
    }

    /// Starts the binary, lets it run until `ready` holds (or it ends by itself), then kills it with SIGKILL; true when
    /// the signal ended it, false when it had finished first.
    static func killed(
        _ args: [String], env: [String: String] = [:], poll: Duration = .milliseconds(1), when ready: () async throws -> Bool
    ) async throws -> Bool {
        let (p, _, _) = try start(args, env: env)
        while try await !ready(), p.isRunning { try await Task.sleep(for: poll) }
        p.signal(SIGKILL)
        await p.wait()
        return p.terminationReason == .uncaughtSignal
    }

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func sandbox(seed: SandboxSeed, key: String) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [key]
        o.rateLimit = false
        return try await KinopioSandbox.start(o, logger: Logger(label: "cli-tests"))
    }
}

@Suite struct CLITests {
    let key = "cli-test-key-55aa33"

    @Test func helpListsEverySubcommand() async throws {
        let r = try await CLI.run(["--help"])
        #expect(r.status == 0)
        for sub in ["demo", "export", "import", "verify", "ls", "sandbox"] {
            #expect(r.out.contains(sub), "help should mention \(sub)")
        }
    }

    @Test func exportWithoutAKeyIsAUsageErrorNamingTheVariable() async throws {
        let r = try await CLI.run(["export", "kinopio", "--base-url", "http://127.0.0.1:9"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("KINOPIO_API_KEY"))
    }

    @Test func konaServerBehaviourFlagsAreKonaOnlyAndCheckTheirValue() async throws {
        let other = try await CLI.run(["sandbox", "kitemaker", "--no-batches"])
        #expect(other.status == 2)
        #expect(other.stderr.contains("Kona options"))
        let zero = try await CLI.run(["sandbox", "kona", "--per-page-cap", "0"])
        #expect(zero.status == 2)
        #expect(zero.stderr.contains("--per-page-cap"))
        let spaces = try await CLI.run(["sandbox", "kitemaker", "--spaces", "3"])
        #expect(spaces.status == 2)
        #expect(spaces.stderr.contains("Kona options"))
        let noSpaces = try await CLI.run(["sandbox", "kona", "--spaces", "0"])
        #expect(noSpaces.status == 2)
        #expect(noSpaces.stderr.contains("--spaces"))
    }

    @Test func anUnknownRenderingOrArchiveKindIsAUsageError() async throws {
        #expect(try await CLI.run(["export", "kinopio", "--formats", "pdf"]).status == 2)
        #expect(try await CLI.run(["export", "kinopio", "--archive-format", "rar"]).status == 2)
    }

    @Test func exportThenVerifyAndListOverTheRealBinary() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let env = ["KINOPIO_API_KEY": key]
        let archive = dir.appendingPathComponent("k.tar.gz").path
        let r = try await CLI.run(
            ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "-o", archive, "--json"], env: env)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let summary = try JSONValue(parsing: r.stdout)
        #expect((summary["counts"]?["card"]?.intValue ?? 0) > 0)
        #expect(!r.out.contains(key) && !r.stderr.contains(key))

        let v = try await CLI.run(["verify", archive])
        #expect(v.status == 0)
        #expect(v.out.contains("whole") || v.out.contains("OK") || v.out.contains("ok"), "\(v.out)")

        let ls = try await CLI.run(["ls", archive, "--json"])
        #expect(ls.status == 0)
        let listed = try JSONValue(parsing: ls.stdout)
        #expect(listed["counts"]?["card"] == summary["counts"]?["card"])
        // Every space has a feed, read back with libxml2; together they hold every live card.
        let feeds = listed["feeds"]?.objectValue
        #expect(feeds?.count == summary["counts"]?["space"]?.intValue)
        let feedItems = feeds?.reduce(0) { $0 + ($1.value.intValue ?? 0) }
        #expect(feedItems == summary["counts"]?["card"]?.intValue)
        let inspect = try await CLI.run(["inspect", archive])
        #expect(inspect.status == 0)
        #expect(inspect.out.contains("kinopio"))
        await sandbox.stop()
    }

    @Test func verifyExitsThreeForAnArchiveWithoutItsManifest() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let folder = dir.appendingPathComponent("plain")
        let r = try await CLI.run(
            ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "-o", folder.path, "--archive-format", "folder", "-q"],
            env: ["KINOPIO_API_KEY": key])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        try FileManager.default.removeItem(at: folder.appendingPathComponent("manifest.json"))
        let v = try await CLI.run(["verify", folder.path])
        #expect(v.status == 3)
        #expect(v.out.contains("manifest"))
        let j = try await CLI.run(["verify", folder.path, "--json"])
        #expect(j.status == 3)
        #expect(try JSONValue(parsing: j.stdout)["status"]?.stringValue == "incomplete")
        await sandbox.stop()
    }

    @Test func exportToStdoutStreamsATarThatBsdtarLists() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let r = try await CLI.run(
            ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "-o", "-"], env: ["KINOPIO_API_KEY": key])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let tar = dir.appendingPathComponent("piped.tar")
        try r.stdout.write(to: tar)
        #expect(try await CLI.run(["verify", tar.path]).status == 0)
        let list = try await ChildProcess.run("/usr/bin/env", ["bsdtar", "-tf", tar.path])
        let names = String(decoding: list.stdout, as: UTF8.self)
        #expect(list.status == 0, "\(String(decoding: list.stderr, as: UTF8.self))")
        let lines = names.split(separator: "\n")
        #expect(lines.first == "kitbag.json")
        #expect(lines.last == "manifest.json")
        await sandbox.stop()
    }
}
