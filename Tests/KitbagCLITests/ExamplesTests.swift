import Foundation
import KitbagBackup
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

/// Every file in examples/ is exercised: the config parses and resolves, and every kitbag command line in the
/// cron, systemd and pipe examples runs for real against a Kinopio sandbox (paths moved to a temp folder).
@Suite(.serialized) struct ExamplesTests {
    static let examples = CLI.packageRoot.appendingPathComponent("examples")
    static let key = "examples-test-key-31c"

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-examples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A demo Kinopio sandbox that accepts the examples' key, unpaced.
    static func sandbox() async throws -> RunningSandbox {
        var options = SandboxOptions()
        options.credentials = [key]
        options.rateLimit = false
        return try await KinopioSandbox.start(options)
    }

    /// The `kitbag …` command lines of a shell-like text, split into words (quotes and $(…) are not used in them).
    static func kitbagCommands(in text: String) -> [[String]] {
        var out: [[String]] = []
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            for part in line.components(separatedBy: CharacterSet(charactersIn: "|&;")) {
                let words = part.split(separator: " ").map(String.init)
                guard let i = words.firstIndex(where: { $0 == "kitbag" || $0.hasSuffix("/kitbag") }) else { continue }
                out.append(Array(words[(i + 1)...]))
            }
        }
        return out
    }

    @Test func theConfigExampleParsesAndResolvesEachCredentialSource() throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let config = try KitbagConfig.load(Self.examples.appendingPathComponent("config.toml"))
        #expect(config.profiles.keys.sorted() == ["nightly-kinopio", "team-kona", "work-kintone"])
        #expect(config.profiles["work-kintone"]?.service == .kintone)
        #expect(config.profiles["work-kintone"]?.rateLimit == 10)
        #expect(config.profiles["work-kintone"]?.apps == ["6", "9"])
        let env = try config.environment(for: config.profile("nightly-kinopio"), base: ["MY_KINOPIO_KEY": "k-123456"])
        #expect(env["KINOPIO_API_KEY"] == "k-123456")
        // The environment wins over the profile.
        let direct = try config.environment(
            for: config.profile("nightly-kinopio"), base: ["KINOPIO_API_KEY": "direct-999", "MY_KINOPIO_KEY": "k-123456"])
        #expect(direct["KINOPIO_API_KEY"] == "direct-999")
        #expect(throws: UserError.self) { try config.environment(for: config.profile("nightly-kinopio"), base: [:]) }
        #expect(throws: UserError.self) { try config.profile("nope") }
    }

    @Test func secretsInFilesOrInlineNeedMode0600() throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir, credentialInputs: ["token", "inline.toml"]) }
        let token = dir.appendingPathComponent("token")
        try Data("file-secret-42\n".utf8).write(to: token)
        let file = dir.appendingPathComponent("config.toml")
        try """
        [profiles.p]
        service = "kinopio"
        [profiles.p.credentials]
        KINOPIO_API_KEY = { file = "\(token.path)" }
        """.write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: token.path)
        let config = try KitbagConfig.load(file)
        var message = ""
        do { _ = try config.environment(for: config.profile("p"), base: [:]) } catch { message = "\(error)" }
        #expect(message.contains("chmod 600"), "\(message)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: token.path)
        #expect(try config.environment(for: config.profile("p"), base: [:])["KINOPIO_API_KEY"] == "file-secret-42")

        let inline = dir.appendingPathComponent("inline.toml")
        try "[profiles.q]\nservice = \"kinopio\"\n[profiles.q.credentials]\nKINOPIO_API_KEY = \"inline-secret-7\"\n"
            .write(to: inline, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: inline.path)
        #expect(throws: UserError.self) { try KitbagConfig.load(inline) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: inline.path)
        let ok = try KitbagConfig.load(inline)
        #expect(try ok.environment(for: ok.profile("q"), base: [:])["KINOPIO_API_KEY"] == "inline-secret-7")
        #expect(!"\(ok.profiles)".contains("inline-secret-7"), "profiles print without the secret")
    }

    @Test func aBrokenConfigIsOneLineWithFileAndLine() throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let file = dir.appendingPathComponent("config.toml")
        try "[profiles.p]\nservice = \"kinopio\nbase_url = 3\n".write(to: file, atomically: true, encoding: .utf8)
        var message = ""
        do { _ = try KitbagConfig.load(file) } catch { message = "\(error)" }
        #expect(message.hasPrefix("\(file.path):2:"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func everyKitbagCommandInTheCronSystemdAndPipeExamplesRuns() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let env = [
            "KINOPIO_BASE_URL": sandbox.baseURL.absoluteString, "KINOPIO_API_KEY": Self.key,
            "MY_KINOPIO_KEY": Self.key, "KITBAG_CONFIG": Self.examples.appendingPathComponent("config.toml").path,
        ]
        var ran = 0
        for file in ["crontab", "kitbag-backup@.service", "restic-pipe.sh", "rclone-pipe.sh"] {
            let text = try String(contentsOf: Self.examples.appendingPathComponent(file), encoding: .utf8)
                .replacingOccurrences(of: "/srv/backups", with: dir.path)
                .replacingOccurrences(of: "%i", with: "nightly-kinopio")
            let commands = Self.kitbagCommands(in: text)
            #expect(!commands.isEmpty, "\(file) has kitbag commands")
            for args in commands {
                var run = args
                if let dash = run.firstIndex(of: "-"), run[run.index(before: dash)] == "-o" {
                    run[dash] = dir.appendingPathComponent("\(file).tar").path  // the pipe's tar, kept to check
                }
                let result = try await CLI.run(run, env: env)
                #expect(result.status == 0, "\(file): kitbag \(args.joined(separator: " ")) → \(result.status) \(result.stderr)")
                #expect(!result.stderr.contains(Self.key) && !result.out.contains(Self.key))
                ran += 1
            }
        }
        #expect(ran == 6)
        // The backups landed in the folders the examples name.
        #expect(try BackupFolder(dir.appendingPathComponent("kinopio")).archives().count == 1)
        #expect(try BackupFolder(dir.appendingPathComponent("nightly-kinopio")).archives().count == 1)
    }

    @Test func theSystemdUnitsPassSystemdAnalyzeVerify() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        for name in ["kitbag-backup@.service", "kitbag-backup@.timer"] {
            let text = try String(contentsOf: Self.examples.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/kitbag", with: CLI.binary.path)
                .replacingOccurrences(of: "User=kitbag\n", with: "")
            try text.write(to: dir.appendingPathComponent(name.replacingOccurrences(of: "@", with: "@")), atomically: true, encoding: .utf8)
        }
        // verify resolves templates from the folder of the named file.
        try FileManager.default.copyItem(
            at: dir.appendingPathComponent("kitbag-backup@.service"), to: dir.appendingPathComponent("kitbag-backup@x.service"))
        try FileManager.default.copyItem(
            at: dir.appendingPathComponent("kitbag-backup@.timer"), to: dir.appendingPathComponent("kitbag-backup@x.timer"))
        let verify = try await ChildProcess.run(
            "/usr/bin/systemd-analyze", ["verify", "--man=no", dir.appendingPathComponent("kitbag-backup@x.service").path],
            error: .standardOutput)
        let output = String(decoding: verify.stdout, as: UTF8.self)
        let problems = output.split(separator: "\n").filter { $0.contains("kitbag-backup") }
        #expect(problems.isEmpty, "systemd-analyze: \(output)")
    }

    @Test func theKubernetesCronJobsCommandsRunAgainstASandbox() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let text = try String(contentsOf: Self.examples.appendingPathComponent("kubernetes/cronjob.yaml"), encoding: .utf8)
        #expect(text.contains("secretKeyRef") && text.contains("KINOPIO_API_KEY"), "the key comes from a Secret")
        let commands = Self.kitbagCommands(in: text.replacingOccurrences(of: "/backups", with: dir.path))
        #expect(commands.map { $0.first ?? "" } == ["backup", "prune"])
        let env = ["KINOPIO_BASE_URL": sandbox.baseURL.absoluteString, "KINOPIO_API_KEY": Self.key]
        for args in commands {
            let result = try await CLI.run(args, env: env)
            #expect(result.status == 0, "kitbag \(args.joined(separator: " ")) → \(result.status) \(result.stderr)")
        }
        #expect(try BackupFolder(dir.appendingPathComponent("kinopio-team")).archives().count == 1)
        // The commented restic variant names only flags that exist.
        let restic = text.split(separator: "\n").first { $0.contains("kitbag export") }.map(String.init) ?? ""
        try await Self.expectFlagsExist(in: restic)
    }

    @Test func theContainerfileCopiesPathsThatExistAndRunsTheInstalledBinary() async throws {
        let text = try String(contentsOf: CLI.packageRoot.appendingPathComponent("Containerfile"), encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from") {
            let source = line.split(separator: " ")[1]
            #expect(
                FileManager.default.fileExists(atPath: CLI.packageRoot.appendingPathComponent(String(source)).path),
                "Containerfile copies \(source), which exists")
        }
        #expect(text.contains("/out/usr/local/bin/kitbag") && text.contains(#"ENTRYPOINT ["/usr/local/bin/kitbag"]"#))
        for package in ["libarchive13", "libxml2", "libsqlite3-0"] { #expect(text.contains(package)) }
        let usage = text.split(separator: "\n").filter { $0.contains(" kitbag ") && $0.contains("run ") }
        #expect(!usage.isEmpty)
        for line in usage { try await Self.expectFlagsExist(in: String(line)) }
    }

    /// Every `--flag` after `kitbag SUBCOMMAND` in a line appears in that subcommand's help.
    static func expectFlagsExist(in line: String) async throws {
        let words = line.split(separator: " ").map(String.init)
        guard let k = words.firstIndex(of: "kitbag"), k + 1 < words.count else {
            Issue.record("no kitbag command in \(line)")
            return
        }
        let sub = words[k + 1]
        let help = try await CLI.run([sub, "--help"])
        #expect(help.status == 0, "kitbag \(sub) --help")
        for flag in words[(k + 2)...].prefix(while: { $0 != "|" }) where flag.hasPrefix("--") {
            #expect(help.out.contains(flag), "kitbag \(sub) has \(flag)")
        }
    }
}
