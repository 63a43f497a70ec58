import Foundation
import KitbagArchive
import KitbagCore
import KitbagSandbox
import Testing

/// A `kitbag import` child process killed with SIGKILL midway, then rerun: every entity exactly once, for the
/// connectors whose services assign ids themselves (Kinopio's case is in CLITests).
@Suite struct KillAndResumeTests {
    struct Case: Sendable, CustomStringConvertible {
        let service: String
        let tokenVariable: String
        let start: @Sendable (SandboxSeed, String) async throws -> RunningSandbox
        let seed: SandboxSeed
        /// Requests the target answers before the first run is killed.
        let killAfter: Int
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

    static let cases: [Case] = [
        Case(
            service: "kitemaker", tokenVariable: "KITEMAKER_TOKEN",
            start: { try await KitemakerSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 300), killAfter: 80,
            kinds: ["workItem", "comment", "label"]),
        Case(
            service: "kona", tokenVariable: "KONA_ACCESS_TOKEN",
            start: { try await KonaSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 1500), killAfter: 40,
            kinds: ["space", "task", "conversation", "calendarEvent"]),
        // --batch-size 10 makes bulkRequests of 20 × 10 records: 30 of them for 6,000 records, after the app's
        // preview settings and deploy, so the kill lands among the record writes.
        Case(
            service: "kintone", tokenVariable: "KINTONE_API_TOKEN",
            start: { try await KintoneSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t")) },
            seed: .generated(cards: 6000), killAfter: 24,
            kinds: ["app", "record", "formFields"]),
    ]

    @Test(arguments: cases)
    func anImportKilledWithSIGKILLAndRerunCreatesEveryEntityExactlyOnce(_ c: Case) async throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try await c.start(c.seed, "kill-source-token")
        let target = try await c.start(.empty, "kill-target-token")
        let archive = dir.appendingPathComponent("src.tar.zst").path
        let e = try await CLI.run(
            ["export", c.service, "--base-url", source.baseURL.absoluteString, "--rate-limit", "0", "-o", archive, "-q"],
            env: [c.tokenVariable: "kill-source-token"])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        let sourceCounts = try ArchiveInspector.summary(of: URL(fileURLWithPath: archive)).counts

        let journal = dir.appendingPathComponent("j.sqlite").path
        let args = [
            "import", archive, "--to", c.service, "--base-url", target.baseURL.absoluteString, "--journal", journal,
            "--batch-size", "10", "--rate-limit", "0", "-q",
        ]
        let env = [c.tokenVariable: "kill-target-token"]
        let (p, _, _) = try CLI.start(args, env: env)
        while await target.stats().totalRequests < c.killAfter, p.isRunning {
            try await Task.sleep(for: .milliseconds(2))
        }
        kill(p.processIdentifier, SIGKILL)
        await Exits.shared.wait(p)
        #expect(p.terminationReason == .uncaughtSignal, "\(c): the first run should have been killed midway")

        let rerun = try await CLI.run(args, env: env)
        #expect(rerun.status == 0, "\(c) rerun: \(rerun.stderr)")
        let after = dir.appendingPathComponent("after.tar").path
        let x = try await CLI.run(
            ["export", c.service, "--base-url", target.baseURL.absoluteString, "--rate-limit", "0", "-o", after, "-q"],
            env: env)
        #expect(x.status == 0, "\(x.stderr)")
        let counts = try ArchiveInspector.summary(of: URL(fileURLWithPath: after)).counts
        for kind in c.kinds {
            #expect(counts[kind] == sourceCounts[kind], "\(c): exactly one copy of every \(kind)")
        }
        await source.stop()
        await target.stop()
    }
}
