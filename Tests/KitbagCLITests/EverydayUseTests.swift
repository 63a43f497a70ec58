import Foundation
import KitbagArchive
import KitbagBackup
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a new user trips over in everyday use (issue 21): interrupts, leftovers, backup folders, messages.
@Suite struct EverydayUseTests {
    let key = "cli-test-key-55aa33"

    static func stagingNames(in dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { StagingFiles.isStagingName($0) }
    }

    @Test func ctrlCDuringAnExportSaysSoRemovesItsPartialFileAndExits130() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        var o = SandboxOptions()
        o.seed = .generated(cards: 3000)
        o.credentials = [key]
        let sandbox = try await KinopioSandbox.start(o, logger: Logger(label: "cli-tests"))
        // kitbag paces itself to Kinopio's 5 requests/s, so the export runs for seconds: time to interrupt it.
        let (p, _, err) = try CLI.start(
            ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "-o", dir.appendingPathComponent("k.tar").path],
            env: ["KINOPIO_API_KEY": key])
        let deadline = Date().addingTimeInterval(60)
        while Self.stagingNames(in: dir).isEmpty, p.isRunning, Date() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(!Self.stagingNames(in: dir).isEmpty, "the export writes into a staging file first")
        p.signal(SIGINT)
        let stderr = String(decoding: await ChildProcess.readToEnd(err), as: UTF8.self)
        await p.wait()
        #expect(p.terminationReason == .exit && p.terminationStatus == 130, "stderr: \(stderr)")
        #expect(stderr.contains("kitbag: interrupted; nothing written"), "stderr: \(stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.isEmpty, "no archive and no partial file: \(left)")
        await sandbox.stop()
    }

    @Test func theNextExportRemovesWhatAKilledRunLeftButNotWhatALiveRunIsWriting() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        // A killed run's file: nobody holds its lock. A live run's file: this process holds it, as a writer does.
        let dead = dir.appendingPathComponent(".kinopio-x-20261101T000000Z.tar.zst.kitbag-0badf00d.partial")
        let live = dir.appendingPathComponent(".other.tar.kitbag-1badf00d.partial")
        let deadFolder = dir.appendingPathComponent(".k2.kitbag-2badf00d.partial")
        try Data("half an archive".utf8).write(to: dead)
        try Data("being written".utf8).write(to: live)
        try FileManager.default.createDirectory(at: deadFolder, withIntermediateDirectories: false)
        let fd = open(live.path, O_RDONLY)
        #expect(flock(fd, LOCK_EX) == 0)
        defer { close(fd) }

        let r = try await CLI.run(
            ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "-o", dir.appendingPathComponent("k.tar").path, "-q"],
            env: ["KINOPIO_API_KEY": key])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(Self.stagingNames(in: dir) == [live.lastPathComponent], "only the live run's file stays")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("k.tar").path))
        await sandbox.stop()
    }

    /// `{"card": 3, …}` of a summary as a dictionary.
    static func counts(_ value: JSONValue?) -> [String: Int] {
        var out: [String: Int] = [:]
        for (k, v) in value?.objectValue ?? JSONObject() { out[k] = v.intValue ?? 0 }
        return out
    }

    // MARK: - Backup folders

    /// Two backups of the demo account in a fresh folder.
    func backupFolder(_ dir: URL, sandbox: RunningSandbox) async throws -> URL {
        let folder = dir.appendingPathComponent("backups")
        for _ in 0..<2 {
            let r = try await CLI.run(
                ["backup", "kinopio", "--into", folder.path, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-q"],
                env: ["KINOPIO_API_KEY": key])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            try await Task.sleep(for: .milliseconds(1100))  // a new second, a new archive name
        }
        return folder
    }

    @Test func snapshotsListsABackupFolderAndVerifyDirChecksEachArchiveAndRecordsIt() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let folder = try await backupFolder(dir, sandbox: sandbox)
        await sandbox.stop()

        let before = try await CLI.run(["snapshots", folder.path, "--json"])
        #expect(before.status == 0, "\(before.stderr)")
        let rows = try #require(try JSONValue(parsing: before.stdout).arrayValue)
        #expect(rows.count == 2)
        #expect(rows.map { $0["kind"]?.stringValue } == ["full", "incremental"])
        #expect(rows.allSatisfy { $0["verified"] == nil || $0["verified"] == .null }, "nothing verified yet")
        #expect(rows.allSatisfy { ($0["counts"]?["card"]?.intValue ?? 0) > 0 && ($0["bytes"]?.intValue ?? 0) > 0 })

        let verify = try await CLI.run(["verify", folder.path])
        #expect(verify.status == 0, "\(verify.out) \(verify.stderr)")
        #expect(verify.out.contains("2 of 2 archives whole"), "\(verify.out)")

        let text = try await CLI.run(["snapshots", folder.path])
        #expect(text.status == 0)
        let lines = text.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("TIME") == true, "\(text.out)")
        #expect(lines.filter { $0.contains("kinopio") && $0.contains("whole ") }.count == 2, "\(text.out)")
        #expect(text.out.contains("full") && text.out.contains("incremental"))

        // An archive changed after its check is no longer shown as verified, and verify DIR then fails on it.
        let archives = try BackupFolder(folder).archives()
        let damaged = archives[1].url
        var bytes = try Data(contentsOf: damaged)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: damaged)
        let after = try #require(try JSONValue(parsing: try await CLI.run(["snapshots", folder.path, "--json"]).stdout).arrayValue)
        #expect(after[0]["verified"]?.stringValue == "whole")
        #expect(after[1]["verified"]?.stringValue == nil)
        let again = try await CLI.run(["verify", folder.path, "-q"])
        #expect(again.status == 1, "\(again.out)")
        #expect(again.out.contains(archives[1].name) && !again.out.contains(archives[0].name), "only the damaged one is reported")
    }

    @Test func lsAndVerifyOnAFolderThatIsNotAnArchiveSaySo() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        try Data("notes".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let ls = try await CLI.run(["ls", dir.path])
        #expect(ls.status == 1)
        #expect(ls.stderr.contains("neither a kitbag archive"), "\(ls.stderr)")
        #expect(!ls.out.contains("INCOMPLETE"))
        let verify = try await CLI.run(["verify", dir.path])
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("neither a kitbag archive") && !verify.out.contains("corrupt"), "\(verify.out)")
        let snapshots = try await CLI.run(["snapshots", dir.path])
        #expect(snapshots.status == 0 && snapshots.out.contains("no kitbag archives"))
        #expect(try await CLI.run(["snapshots", dir.appendingPathComponent("nope").path]).status == 1)
    }

    // MARK: - prune

    @Test func pruneTakesMinusOneAndRefusesAFolderThatDoesNotExist() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        for stamp in ["20260101T030000Z", "20260102T030000Z"] {
            try Data("x".utf8).write(to: dir.appendingPathComponent("kinopio-alice-\(stamp).tar.zst"))
        }
        let all = try await CLI.run(["prune", dir.path, "--keep-last", "-1", "--dry-run"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.out.contains("2 kept, 0 would be removed"), "\(all.out)")
        let missing = dir.appendingPathComponent("no-such-folder")
        let r = try await CLI.run(["prune", missing.path, "--keep-daily", "7"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no such folder"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: missing.path), "prune does not create it")
    }

    // MARK: - Messages and exit codes

    @Test func aMissingArchiveIsReportedBeforeAnyCredentialCheck() async throws {
        let r = try await CLI.run(["import", "/nonexistent/archive.tar.zst", "--to", "kinopio"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no such file"), "\(r.stderr)")
        #expect(!r.stderr.contains("KINOPIO_API_KEY"))
    }

    @Test func usageMistakesShareTheErrorPrefixAndExitTwo() async throws {
        let bad = try await CLI.run(["export", "kinopio", "--formats", "pdf"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("kitbag: error: "), "\(bad.stderr)")
        let help = try await CLI.run(["help", "nosuch"])
        #expect(help.status == 2, "\(help.status) \(help.stderr)")
    }

    @Test func aTruncatedArchiveOfEveryKindExitsThreeAndIsReportedOnce() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        for kind in ["tar", "tar.gz", "tar.zst", "zip"] {
            let whole = dir.appendingPathComponent("a.\(kind)")
            let r = try await CLI.run(
                ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", whole.path, "-q"],
                env: ["KINOPIO_API_KEY": key])
            #expect(r.status == 0, "\(r.stderr)")
            let bytes = try Data(contentsOf: whole)
            let cut = dir.appendingPathComponent("cut.\(kind)")
            try bytes.prefix(bytes.count * 2 / 3).write(to: cut)
            let v = try await CLI.run(["verify", cut.path])
            #expect(v.status == 3, "\(kind): \(v.out)")
            #expect(v.out.hasPrefix("incomplete: "), "\(kind): \(v.out)")
            let problemLines = v.out.split(separator: "\n").dropFirst()
            #expect(problemLines.count == 1, "\(kind): the cut is reported once: \(v.out)")
            #expect(!v.out.contains("manifest.json: is missing"), "\(kind): no false missing manifest: \(v.out)")
        }
        await sandbox.stop()
    }

    @Test func checkJSONReportsItsErrorAsJSON() async throws {
        let r = try await CLI.run(["check", "kinopio", "--base-url", "http://127.0.0.1:9", "--json"])
        #expect(r.status != 0)
        let report = try JSONValue(parsing: r.stdout)
        #expect(report["error"]?["message"]?.stringValue?.contains("KINOPIO_API_KEY") == true, "\(r.out)")
        #expect(report["error"]?["exitStatus"]?.intValue == Int(r.status))
    }

    @Test func aServerThatIsNotTheServiceIsCalledAWrongBaseURL() async throws {
        for (label, reply) in [
            ("a bare 404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            ("bytes that are not HTTP", "SSH-2.0-OpenSSH_9.2\r\n"),
        ] {
            let server = try RawTCPServer(reply: reply)
            defer { server.stop() }
            let r = try await CLI.run(
                ["check", "kinopio", "--base-url", "http://127.0.0.1:\(server.port)"], env: ["KINOPIO_API_KEY": key])
            #expect(r.status == 1, "\(label)")
            #expect(r.stderr.contains("this does not look like the Kinopio API — check --base-url"), "\(label): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
    }

    // MARK: - Output paths and names

    @Test func outputPathsAreCheckedAndNamedReadably() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let base = ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-q"]
        let env = ["KINOPIO_API_KEY": key]
        let clash = try await CLI.run(base + ["-o", dir.appendingPathComponent("out.tar.zst").path, "--archive-format", "zip"], env: env)
        #expect(clash.status == 2)
        #expect(clash.stderr.contains("names a tar.zst archive but --archive-format asks for zip"), "\(clash.stderr)")

        let newDir = dir.appendingPathComponent("new/nested")
        let made = try await CLI.run(base + ["-o", newDir.path + "/"], env: env)
        #expect(made.status == 0, "\(made.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: newDir.path)
        #expect(names.count == 1)
        let name = try #require(names.first)
        // The account name slugged: readable, no percent escapes.
        #expect(!name.contains("%"), "\(name)")
        #expect(name.range(of: #"^kinopio-[a-z0-9-]+-\d{8}T\d{6}Z\.tar\.zst$"#, options: .regularExpression) != nil, "\(name)")
        await sandbox.stop()
    }

    @Test func backupTakesIntoAndStillAcceptsTheOldToWithAWarning() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let old = try await CLI.run(
            ["backup", "kinopio", "--to", dir.appendingPathComponent("b").path, "--base-url", sandbox.baseURL.absoluteString,
             "--rate-limit", "0", "-q"], env: ["KINOPIO_API_KEY": key])
        #expect(old.status == 0, "\(old.stderr)")
        #expect(old.stderr.contains("--to is deprecated; use --into"), "\(old.stderr)")
        #expect(try BackupFolder(dir.appendingPathComponent("b")).archives().count == 1)
        let help = try await CLI.run(["backup", "--help"])
        #expect(help.out.contains("--into") && !help.out.contains("--to "), "help shows only the new spelling")
        #expect(help.out.contains("KINOPIO_API_KEY") && help.out.contains("KINTONE_API_TOKEN"), "help names the variables")
        await sandbox.stop()
    }

    @Test func concurrencyCapsRequestsInFlightAndZeroIsAUsageError() async throws {
        let bad = try await CLI.run(["export", "kintone", "--concurrency", "0"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--concurrency takes a number of requests in flight, 1 or more"), "\(bad.stderr)")

        // A domain that runs two requests at once; the Kintone export reads comments 8 at a time. With pacing off
        // (`--rate-limit 0`) nothing else holds them back, yet `--concurrency 2` keeps to the domain's 2, and `-v`
        // says which rule paces the run.
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        var o = SandboxOptions()
        o.seed = .generated(cards: 300)
        o.concurrencyLimit = 2
        let sandbox = try await KintoneSandbox.start(o)
        let r = try await CLI.run(
            ["export", "kintone", "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "--concurrency", "2",
             "-o", dir.appendingPathComponent("k.tar.zst").path, "-v"],
            env: ["KINTONE_USERNAME": KintoneSandbox.defaultLogin.user, "KINTONE_PASSWORD": KintoneSandbox.defaultLogin.password])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("pacing: no per-second cap; at most 2 in flight"), "\(r.stderr.prefix(2000))")
        let stats = await sandbox.stats()
        #expect(stats.totalRequests > 300)
        #expect(stats.concurrencyLimited == 0 && stats.tooManyRequestsSent == 0)
        await sandbox.stop()

        let kinopio = try await CLI.sandbox(seed: .demo, key: key)
        let paced = try await CLI.run(
            ["export", "kinopio", "--base-url", kinopio.baseURL.absoluteString, "--concurrency", "3",
             "-o", dir.appendingPathComponent("p.tar.zst").path, "-v"],
            env: ["KINOPIO_API_KEY": key])
        #expect(paced.status == 0, "\(paced.stderr.suffix(2000))")
        #expect(
            paced.stderr.contains("pacing: 5 requests/s, at most 5 in any 1 s as the server counts them; at most 3 in flight"),
            "\(paced.stderr.prefix(2000))")
        await kinopio.stop()
    }

    @Test func theIndexNamesEveryDataFolderOfEveryService() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        var o = SandboxOptions()
        o.seed = .demo
        o.rateLimit = false
        let sandboxes: [(String, RunningSandbox, [String: String])] = [
            ("kinopio", try await KinopioSandbox.start(o), ["KINOPIO_API_KEY": KinopioSandbox.defaultCredential]),
            ("kitemaker", try await KitemakerSandbox.start(o), ["KITEMAKER_TOKEN": KitemakerSandbox.defaultCredential]),
            ("kona", try await KonaSandbox.start(o), ["KONA_ACCESS_TOKEN": KonaSandbox.defaultCredential]),
            ("kintone", try await KintoneSandbox.start(o), [
                "KINTONE_USERNAME": KintoneSandbox.defaultLogin.user, "KINTONE_PASSWORD": KintoneSandbox.defaultLogin.password,
            ]),
        ]
        for (service, sandbox, env) in sandboxes {
            let folder = dir.appendingPathComponent(service)
            let r = try await CLI.run(
                ["export", service, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", folder.path,
                 "--archive-format", "folder", "-q"], env: env)
            #expect(r.status == 0, "\(service): \(r.stderr)")
            let index = try String(contentsOf: folder.appendingPathComponent("index.md"), encoding: .utf8)
            let named = index.split(separator: "`").filter { $0.hasPrefix("data/") && $0 != "data/" }.map(String.init)
            #expect(!named.isEmpty, "\(service): the index names its data folders")
            for path in named {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(path).path)) ?? []
                #expect(files.contains { $0.hasSuffix(".jsonl") }, "\(service): \(path) named in index.md holds JSON Lines")
            }
            await sandbox.stop()
        }
    }

    @Test func diffRefusesArchivesOfDifferentAccountsAndNamesEntitiesByTitle() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let a = try await CLI.sandbox(seed: .demo, key: key)
        let b = try await CLI.sandbox(seed: .generated(cards: 20), key: key)
        var archives: [String] = []
        for (n, s) in [a, b].enumerated() {
            let path = dir.appendingPathComponent("\(n).tar").path
            let r = try await CLI.run(
                ["export", "kinopio", "--base-url", s.baseURL.absoluteString, "--rate-limit", "0", "-o", path, "-q"],
                env: ["KINOPIO_API_KEY": key])
            #expect(r.status == 0, "\(r.stderr)")
            archives.append(path)
        }
        let refused = try await CLI.run(["diff", archives[0], archives[1]])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--force"), "\(refused.stderr)")
        let forced = try await CLI.run(["diff", archives[0], archives[1], "--force", "--entities"])
        #expect(forced.status == 0, "\(forced.stderr)")
        // A demo card, removed in the other account's archive, is named by its title.
        #expect(forced.out.contains("- card ") && forced.out.contains("“"), "\(forced.out.prefix(600))")
        await a.stop()
        await b.stop()
    }

    @Test func summariesLeaveOutZeroCountsAndPerRouteTablesUnlessVerboseAndListWhatWasNotExported() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await CLI.sandbox(seed: .demo, key: key)
        let base = ["export", "kinopio", "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0"]
        let quietly = try await CLI.run(base + ["-o", dir.appendingPathComponent("a.tar").path], env: ["KINOPIO_API_KEY": key])
        #expect(quietly.status == 0, "\(quietly.stderr)")
        let requests = try #require(quietly.out.split(separator: "\n").first { $0.contains("requests:") })
        #expect(!requests.contains("GET "), "no per-route table without -v: \(requests)")
        #expect(!quietly.out.contains(" 0 ·") && !quietly.out.hasSuffix(" 0\n"), "no zero counts: \(quietly.out)")
        let listed = try JSONValue(parsing: try await CLI.run(["ls", dir.appendingPathComponent("a.tar").path, "--json"]).stdout)
        for n in listed["notExported"]?.arrayValue ?? [] {
            let reason = try #require(n["reason"]?.stringValue)
            #expect(quietly.out.contains(reason), "every not-exported entry is listed: \(reason)")
        }
        let verbose = try await CLI.run(base + ["-o", dir.appendingPathComponent("b.tar").path, "-v"], env: ["KINOPIO_API_KEY": key])
        #expect(verbose.out.contains("GET /space/"), "-v adds the per-route counts")
        await sandbox.stop()
    }

    @Test func streamingOntoATerminalIsRefused() async throws {
        // `script` gives the child a terminal for stdout, as a user typing the command has.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        var env = ProcessInfo.processInfo.environment
        env["KINOPIO_API_KEY"] = key
        let p = try await ChildProcess.run(
            "/usr/bin/script", ["-qec", "\(CLI.binary.path) export kinopio -o - --base-url http://127.0.0.1:9", "/dev/null"],
            environment: env, error: .standardOutput)
        let text = String(decoding: p.stdout, as: UTF8.self)
        #expect(p.status == 2, "\(text)")
        #expect(text.contains("which is a terminal"), "\(text)")
        let help = try await CLI.run(["export", "--help"])
        #expect(help.out.contains("Not --formats") && help.out.contains("Not --archive-format"), "the two are told apart")
    }

    // MARK: - Dry runs

    @Test func aDryRunAfterAnInterruptedImportCountsWhatTheJournalHolds() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await CLI.sandbox(seed: .generated(cards: 600), key: key)
        let archive = dir.appendingPathComponent("a.tar").path
        let exported = try await CLI.run(
            ["export", "kinopio", "--base-url", source.baseURL.absoluteString, "--rate-limit", "0", "-o", archive, "-q"],
            env: ["KINOPIO_API_KEY": key])
        #expect(exported.status == 0, "\(exported.stderr)")
        await source.stop()
        let target = try await CLI.sandbox(seed: .empty, key: key)
        let args = ["import", archive, "--to", "kinopio", "--base-url", target.baseURL.absoluteString, "--rate-limit", "0"]
        let env = ["KINOPIO_API_KEY": key]
        let plan = try JSONValue(parsing: try await CLI.run(args + ["--dry-run", "--json"], env: env).stdout)
        let planned = Self.counts(plan["created"])
        #expect(!planned.isEmpty)

        // Kill the import once a few batches are in.
        _ = try await CLI.killed(args + ["-q"], env: env) { await target.stats().totalRequests >= 4 }

        let after = try JSONValue(parsing: try await CLI.run(args + ["--dry-run", "--json"], env: env).stdout)
        let present = Self.counts(after["alreadyPresent"])
        let remaining = Self.counts(after["created"])
        #expect(present.values.reduce(0, +) > 0, "the killed run created something: \(after)")
        for (kind, n) in planned { #expect((remaining[kind] ?? 0) + (present[kind] ?? 0) == n, "\(kind)") }

        let rerun = try JSONValue(parsing: try await CLI.run(args + ["--json"], env: env).stdout)
        let created = Self.counts(rerun["created"])
        let unconfirmed = Self.counts(after["unconfirmed"])
        for (kind, n) in planned {
            // Exactly what the dry run said, less at most those the killed run had sent without seeing the answer.
            let said = remaining[kind] ?? 0
            #expect((said - (unconfirmed[kind] ?? 0))...said ~= (created[kind] ?? 0), "\(kind): created \(created[kind] ?? 0) of \(n), dry run said \(said)")
        }
        await target.stop()
    }

    // MARK: - Completions and the sandbox's hint

    @Test func completionScriptsAreProducedForBashZshAndFish() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try await CLI.run(["--generate-completion-script", shell])
            #expect(r.status == 0)
            #expect(r.out.contains("snapshots") && r.out.contains("--archive-format"), "\(shell) completes subcommands and flags")
        }
    }

    /// `make test` generates the man pages first (swift-argument-parser's generate-manual plugin, as `make install`
    /// does) and names their folder in KITBAG_MAN_DIR; a bare `swift test` has none to check.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KITBAG_MAN_DIR"] != nil))
    func aManPageIsGeneratedForEveryCommand() throws {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["KITBAG_MAN_DIR"]!, relativeTo: CLI.packageRoot)
        let pages = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        for command in ["", ".backup", ".export", ".import", ".verify", ".snapshots", ".prune", ".sandbox"] {
            #expect(pages.contains("kitbag\(command).1"), "kitbag\(command).1 in \(pages.sorted())")
        }
        let backup = try String(contentsOf: dir.appendingPathComponent("kitbag.backup.1"), encoding: .utf8)
        #expect(backup.contains(".Sh NAME") && backup.contains("Fl -into"), "the page documents the options")
        #expect(backup.contains("KINOPIO_API_KEY"), "and the credentials it reads")
    }

    @Test func theSandboxPrintsTheVariablesToSet() async throws {
        let (p, out, err) = try CLI.start(["sandbox", "kinopio", "--api-key", key, "--seed", "empty"])
        let errHandle = err
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n"), Date() < deadline {
            let chunk = errHandle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let url = String(decoding: out.availableData, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text.contains("export KINOPIO_API_KEY="), "\(text)")
        #expect(text.contains("KINOPIO_BASE_URL=\(url)"), "\(text)")
        p.signal(SIGTERM)
        await p.wait()
        #expect(p.terminationStatus == 0)
    }
}

/// A TCP server on loopback that answers every connection with fixed bytes and closes it: a port that is not the
/// service's API.
final class RawTCPServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(reply: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = listener
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let bytes = Array(reply.utf8)
        thread = Thread {
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = read(c, &buffer, buffer.count)
                _ = bytes.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                close(c)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
