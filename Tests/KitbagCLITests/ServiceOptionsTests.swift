import Foundation
import KitbagArchive
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

/// A service's own options (`--app`, `--guest-space`, `--space-map`, …) come from its connector's descriptor: the
/// descriptor checks them, help shows them, and they reach the connector (issue 18).
@Suite struct ServiceOptionsTests {
    @Test func anOptionOfAnotherServiceOrOfNoServiceIsOneUsageLineNamingWhatIsTaken() async throws {
        let other = try await CLI.run(["export", "kinopio", "--app", "3"])
        #expect(other.status == 2)
        #expect(other.stderr.contains("--app is a Kintone option") && other.stderr.contains("--space"), "\(other.stderr)")
        let unknown = try await CLI.run(["export", "kona", "--bogus", "1"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown option '--bogus'"), "\(unknown.stderr)")
        let noValue = try await CLI.run(["export", "kintone", "--query"])
        #expect(noValue.status == 2 && noValue.stderr.contains("--query needs a value"), "\(noValue.stderr)")
        let wrongCommand = try await CLI.run(["check", "kintone", "--query", "x"])
        #expect(wrongCommand.status == 2 && wrongCommand.stderr.contains("--query does not go with kitbag check"))
        let alone = try await CLI.run(["import", "missing.tar", "--to", "kintone", "--update-key", "Code"])
        #expect(alone.status == 2 && alone.stderr.contains("--update-key needs --app-map"), "\(alone.stderr)")
        let pair = try await CLI.run(["import", "missing.tar", "--to", "kona", "--space-map", "nopair"])
        #expect(pair.status == 2 && pair.stderr.contains("nopair is not SRC=DST"), "\(pair.stderr)")
        for r in [other, unknown, noValue, wrongCommand, alone, pair] {
            #expect(r.stderr.split(separator: "\n").first?.hasPrefix("kitbag: error: ") == true, "\(r.stderr)")
        }
    }

    @Test func helpShowsEveryServiceOptionOfTheCommandFromTheDescriptors() async throws {
        let export = try await CLI.run(["export", "--help"])
        #expect(export.status == 0)
        for flag in ["--app ID", "--space ID", "--guest-space ID", "--query QUERY", "--fields CODES", "--proxy URL", "KONA_ACCESS_TOKEN"] {
            #expect(export.out.contains(flag), "export --help shows \(flag)")
        }
        #expect(!export.out.contains("--app-map"), "an import option is not an export's")
        let importHelp = try await CLI.run(["import", "--help"])
        for flag in ["--app-map SRC=DST", "--space-map SRC=DST", "--update-key FIELD", "JSON Canvas"] {
            #expect(importHelp.out.contains(flag), "import --help shows \(flag)")
        }
    }

    @Test func serviceOptionsAndProfileSettingsReachTheConnector() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir, credentialInputs: ["config.toml"]) }
        var o = SandboxOptions()
        o.seed = .demo
        o.rateLimit = false
        let sandbox = try await KintoneSandbox.start(o)
        defer { Task { await sandbox.stop() } }
        let env = ["KINTONE_USERNAME": KintoneSandbox.defaultLogin.user, "KINTONE_PASSWORD": KintoneSandbox.defaultLogin.password]
        let base = ["--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "--formats", "json", "--json", "-q"]

        // --app and a partial export's --query=… (the inline form) and repeated --fields.
        let partial = dir.appendingPathComponent("partial.tar")
        let r = try await CLI.run(
            ["export", "kintone", "--app", "2", #"--query=Priority in ("High", "Low")"#, "--fields", "Order_No", "--fields", "Priority",
             "-o", partial.path] + base, env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try JSONValue(parsing: r.stdout)
        #expect(summary["counts"]?["app"]?.intValue == 1)
        #expect(summary["counts"]?["record"]?.intValue == 2)
        #expect(summary["notExported"]?.arrayValue?.contains { $0["kind"]?.stringValue == "partial" } == true)

        // A profile's apps (Kintone's `apps` → KINTONE_APPS) choose the apps when no --app is given.
        let config = dir.appendingPathComponent("config.toml")
        try Data("[profiles.p]\nservice = \"kintone\"\napps = [\"2\"]\n".utf8).write(to: config)
        let fromProfile = dir.appendingPathComponent("profile.tar")
        let p = try await CLI.run(
            ["export", "kintone", "--profile", "p", "--config", config.path, "-o", fromProfile.path] + base, env: env)
        #expect(p.status == 0, "\(p.stderr)")
        #expect(try JSONValue(parsing: p.stdout)["counts"]?["app"]?.intValue == 1)
    }
}
