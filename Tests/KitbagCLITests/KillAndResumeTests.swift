import Foundation
import KitbagArchive
import KitbagBackup
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

/// Proof of crash safety: `kitbag import` and `kitbag backup` child processes killed with SIGKILL at seeded random
/// points, then rerun. Once per service in CI, 20 times with KITBAG_PROOF=1 (`make proof`).
@Suite struct KillAndResumeTests {
    struct Case: Sendable, CustomStringConvertible {
        let service: String
        let tokenVariable: String
        /// The variables that carry `secret`: Kintone signs in with a login (API tokens cannot list or create apps).
        func env(_ secret: String) -> [String: String] {
            tokenVariable == "KINTONE_PASSWORD" ? ["KINTONE_USERNAME": "Administrator", tokenVariable: secret] : [tokenVariable: secret]
        }
        let start: @Sendable (SandboxSeed, String) async throws -> RunningSandbox
        let seed: SandboxSeed
        /// The kill comes once the target has answered this many requests (drawn per run).
        let killAfter: ClosedRange<Int>
        /// Kinds that must come back exactly as many times as they left.
        let kinds: [String]
        var description: String { service }
    }

    static func options(_ seed: SandboxSeed, _ key: String) -> SandboxOptions {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [key]
        o.rateLimit = false
        return o
    }

    /// Runs per case: 1, or 20 with KITBAG_PROOF=1.
    static var runs: Int { Proof.count(full: 20, short: 1) }

    /// A kill point in `range` for `run`, the same on every machine (SplitMix64 of the run and service).
    static func killPoint(_ range: ClosedRange<Int>, run: Int, salt: String) -> Int {
        var z = UInt64(truncatingIfNeeded: run &+ 1) &* 0x9E37_79B9_7F4A_7C15
        for byte in salt.utf8 { z = (z ^ UInt64(byte)) &* 0xBF58_476D_1CE4_E5B9 }
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return range.lowerBound + Int(z % UInt64(range.count))
    }

    static let cases: [Case] = [
        Case(
            service: "kinopio", tokenVariable: "KINOPIO_API_KEY",
            start: { try await KinopioSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 1200), killAfter: 4...120,
            kinds: ["space", "card", "connection", "box", "tag"]),
        Case(
            service: "kitemaker", tokenVariable: "KITEMAKER_TOKEN",
            start: { try await KitemakerSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 300), killAfter: 10...300,
            kinds: ["workItem", "comment", "label"]),
        Case(
            service: "kona", tokenVariable: "KONA_ACCESS_TOKEN",
            start: { try await KonaSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 1500), killAfter: 5...60,
            kinds: ["space", "task", "conversation", "calendarEvent"]),
        // --batch-size 10 makes bulkRequests of 20 × 10 records: 30 of them for 6,000 records, after the app's
        // preview settings and deploy, so most kills land among the record writes, some among the settings.
        Case(
            service: "kintone", tokenVariable: "KINTONE_PASSWORD",
            start: { try await KintoneSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 6000), killAfter: 3...45,
            kinds: ["app", "record", "formFields"]),
    ]

    @Test(arguments: cases)
    func anImportKilledWithSIGKILLAndRerunCreatesEveryEntityExactlyOnce(_ c: Case) async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await c.start(c.seed, "kill-source-token")
        let archive = dir.appendingPathComponent("src.tar.zst").path
        let e = try await CLI.run(
            ["export", c.service, "--base-url", source.baseURL.absoluteString, "--rate-limit", "0", "-o", archive, "-q"],
            env: c.env("kill-source-token"))
        #expect(e.status == 0, "stderr: \(e.stderr)")
        await source.stop()
        let sourceCounts = try ArchiveInspector.summary(of: URL(fileURLWithPath: archive)).counts

        for run in 0..<Self.runs {
            let killAfter = Self.killPoint(c.killAfter, run: run, salt: c.service)
            let label = "\(c) run \(run + 1) of \(Self.runs), killed after \(killAfter) requests"
            let target = try await c.start(.empty, "kill-target-token")
            let journal = dir.appendingPathComponent("j\(run).sqlite").path
            let args = [
                "import", archive, "--to", c.service, "--base-url", target.baseURL.absoluteString, "--journal", journal,
                "--batch-size", "10", "--rate-limit", "0", "-q",
            ]
            let env = c.env("kill-target-token")
            let killed = try await CLI.killed(args, env: env) { await target.stats().totalRequests >= killAfter }
            #expect(killed, "\(label): the first run should have been killed midway")

            let rerun = try await CLI.run(args, env: env)
            #expect(rerun.status == 0, "\(label) rerun: \(rerun.stderr)")
            let after = dir.appendingPathComponent("after\(run).tar").path
            let x = try await CLI.run(
                ["export", c.service, "--base-url", target.baseURL.absoluteString, "--rate-limit", "0", "-o", after, "-q"],
                env: env)
            #expect(x.status == 0, "\(x.stderr)")
            let counts = try ArchiveInspector.summary(of: URL(fileURLWithPath: after)).counts
            for kind in c.kinds {
                #expect(counts[kind] == sourceCounts[kind], "\(label): exactly one copy of every \(kind)")
            }
            Scratch.remove(URL(fileURLWithPath: after))
            await target.stop()
        }
    }

    /// Regression (found by the proof run): killed right after its deploy request, a Kintone import's rerun met
    /// `GAIA_DA02` (a deploy still running) and stopped; it now waits for that deploy and deploys again.
    @Test func aKintoneImportKilledRightAfterItsDeployRequestReruns() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await KintoneSandbox.start(Self.options(.demo, "deploy-source"), logger: SandboxServer.quietLogger("t"))
        let target = try await KintoneSandbox.start(Self.options(.empty, "deploy-target"), logger: SandboxServer.quietLogger("t"))
        let archive = dir.appendingPathComponent("src.tar.zst").path
        let e = try await CLI.run(
            ["export", "kintone", "--base-url", source.baseURL.absoluteString, "--rate-limit", "0", "-o", archive, "-q"],
            env: ["KINTONE_USERNAME": "Administrator", "KINTONE_PASSWORD": "deploy-source"])
        #expect(e.status == 0, "\(e.stderr)")
        let args = [
            "import", archive, "--to", "kintone", "--base-url", target.baseURL.absoluteString,
            "--journal", dir.appendingPathComponent("j.sqlite").path, "--rate-limit", "0", "-q",
        ]
        let env = ["KINTONE_USERNAME": "Administrator", "KINTONE_PASSWORD": "deploy-target"]
        func deploys() async -> Int {
            await target.stats().requestsByRoute.filter { $0.key.hasPrefix("POST") && $0.key.hasSuffix("preview/app/deploy.json") }
                .values.reduce(0, +)
        }
        let killed = try await CLI.killed(args, env: env) { await deploys() >= 1 }
        #expect(killed, "the first run should have been killed at its first deploy")
        let rerun = try await CLI.run(args, env: env)
        #expect(rerun.status == 0, "rerun: \(rerun.stderr)")
        let after = dir.appendingPathComponent("after.tar").path
        let x = try await CLI.run(
            ["export", "kintone", "--base-url", target.baseURL.absoluteString, "--rate-limit", "0", "-o", after, "-q"], env: env)
        #expect(x.status == 0, "\(x.stderr)")
        let want = try ArchiveInspector.summary(of: URL(fileURLWithPath: archive)).counts
        let got = try ArchiveInspector.summary(of: URL(fileURLWithPath: after)).counts
        for kind in ["app", "record", "comment", "formFields"] {
            #expect(got[kind] == want[kind], "exactly one copy of every \(kind)")
        }
        await source.stop()
        await target.stop()
    }

    /// A second `kitbag backup` killed at a random point leaves the first archive byte for byte and the state's
    /// records and bookmarks as they were; the next run clears the dead run's partial file and succeeds.
    @Test func aBackupKilledWithSIGKILLLeavesThePreviousArchiveAndStateIntact() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let key = "kill-backup-key"
        let sandbox = try await KinopioSandbox.start(
            Self.options(.generated(cards: 3000), key), logger: SandboxServer.quietLogger("t"))
        let folder = dir.appendingPathComponent("backups")
        let args = ["backup", "kinopio", "--into", folder.path, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-q"]
        let env = ["KINOPIO_API_KEY": key]
        let first = try await CLI.run(args, env: env)
        #expect(first.status == 0, "\(first.stderr)")
        let fullRequests = await sandbox.stats().totalRequests

        func sealed() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
                BackupArchive.parse(folder.appendingPathComponent($0)) != nil
            }.sorted()
        }
        let archives = try sealed()
        try #require(archives.count == 1, "\(archives)")
        let archiveURL = folder.appendingPathComponent(archives[0])
        let archiveBytes = try Data(contentsOf: archiveURL)
        let stateURL = folder.appendingPathComponent(".kitbag/state.sqlite")
        func state() throws -> ([BackupRecord], [String: String]) {
            let s = try BackupState(url: stateURL)
            let records = try s.all()
            return (records, try s.bookmarks(service: "kinopio", account: records.first?.account ?? ""))
        }
        let (records, bookmarks) = try state()
        #expect(records.count == 1 && !bookmarks.isEmpty)

        for run in 0..<Self.runs {
            // --full makes the killed run fetch everything, so the kill can land anywhere in a whole backup.
            let killAfter = Self.killPoint(1...fullRequests, run: run, salt: "backup")
            let label = "backup run \(run + 1) of \(Self.runs), killed after \(killAfter) of \(fullRequests) requests"
            try await Task.sleep(for: .milliseconds(1100))  // a new second, so the run would name a new archive
            let before = await sandbox.stats().totalRequests
            let killed = try await CLI.killed(args + ["--full"], env: env) {
                await sandbox.stats().totalRequests - before >= killAfter
            }
            if !killed { continue }  // finished first: nothing to prove this run
            #expect(try sealed() == archives, "\(label): no new archive is sealed")
            #expect(try Data(contentsOf: archiveURL) == archiveBytes, "\(label): the previous archive is untouched")
            let (r, b) = try state()
            #expect(r == records && b == bookmarks, "\(label): records and bookmarks are as they were")
        }

        // The next run is not blocked by a dead holder's lock and leaves no partial file of the killed runs.
        try await Task.sleep(for: .milliseconds(1100))
        let next = try await CLI.run(args, env: env)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try sealed().count == 2)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty, "partial files of killed runs are removed: \(leftovers)")
        await sandbox.stop()
    }
}
