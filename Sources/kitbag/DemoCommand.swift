import ArgumentParser
import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagJournal
import KitbagSandbox

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show kitbag's main job on built-in sandboxes: export, verify, import, export again, compare.",
        discussion: """
            Starts two local Kinopio sandboxes (one seeded with a demo account, one empty), exports the first to \
            ./kitbag-demo/, verifies the archive, imports it into the second, exports the second and prints both \
            side by side. Needs no account and no network.
            """)

    @Option(help: "Folder for the demo archives and journal.")
    var directory = "kitbag-demo"

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let logger = global.makeLogger("kitbag.demo")
            let progress = global.progress
            let folder = URL(fileURLWithPath: directory, isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

            var sourceOptions = SandboxOptions()
            sourceOptions.seed = .demo
            sourceOptions.credentials = ["demo-source-key"]
            var targetOptions = SandboxOptions()
            targetOptions.seed = .empty
            targetOptions.credentials = ["demo-target-key"]
            var sandboxLogger = logger
            if !global.verbose { sandboxLogger.logLevel = .critical }
            let source = try await KinopioSandbox.start(sourceOptions, logger: sandboxLogger)
            let target = try await KinopioSandbox.start(targetOptions, logger: sandboxLogger)
            say("sandboxes: source \(source.baseURL.absoluteString) (demo seed), target \(target.baseURL.absoluteString) (empty)")

            let now = Date()
            let sourceConn = try KinopioConnection(
                baseURL: source.baseURL.absoluteString, apiKey: "demo-source-key", logger: logger, progress: progress)
            let user = try await sourceConn.currentUser()
            let firstURL = folder.appendingPathComponent(
                KinopioJobs.defaultArchiveName(account: KinopioExporter.account(of: user), at: now, format: .tarZst))
            let first = try await KinopioJobs.export(
                connection: sourceConn, user: user, destination: .file(firstURL), format: .tarZst, progress: progress, now: now)
            say("1. exported the demo account → \(firstURL.path) (\(ByteCount.format(first.bytes)), \(first.requests.values.reduce(0, +)) requests)")

            let report = ArchiveVerifier.verify(firstURL)
            say("2. verify: \(report.summaryLine)")
            guard report.exitStatus == .success else { throw UserError("the demo archive did not verify", exitStatus: .failure) }

            let targetConn = try KinopioConnection(
                baseURL: target.baseURL.absoluteString, apiKey: "demo-target-key", logger: logger, progress: progress)
            let journal = folder.appendingPathComponent("demo-import-\(Timestamp.compact(now)).journal.sqlite")
            let imported = try await KinopioJobs.importArchive(
                firstURL, connection: targetConn, journalURL: journal, dryRun: false, progress: progress)
            say("3. imported into the empty sandbox: \(formatCounts(imported.created)) (\(imported.requests.values.reduce(0, +)) requests)")

            let targetUser = try await targetConn.currentUser()
            let secondURL = folder.appendingPathComponent(
                "roundtrip-" + KinopioJobs.defaultArchiveName(account: KinopioExporter.account(of: targetUser), at: now, format: .tarZst))
            let second = try await KinopioJobs.export(
                connection: targetConn, user: targetUser, destination: .file(secondURL), format: .tarZst, progress: progress,
                now: now)
            say("4. exported the target again → \(secondURL.path)")

            let kinds = Set(first.counts.keys).union(second.counts.keys).sorted()
            var table = "\n  \("kind".padding(toLength: 16, withPad: " ", startingAt: 0))  source  round trip\n"
            for k in kinds {
                let a = first.counts[k] ?? 0
                let b = second.counts[k] ?? 0
                let note = a == b ? "" : (imported.notImported.contains { $0.kind == k } ? "  not importable" : "  ≠")
                table += "  \(k.padding(toLength: 16, withPad: " ", startingAt: 0))  \(String(a).leftPad(6))  \(String(b).leftPad(10))\(note)\n"
            }
            say(table)
            for n in imported.notImported {
                say("  not importable: \(n.kind)\(n.container.map { " in space \($0)" } ?? ""): \(n.reason)")
            }

            let sourceArchive = try SnapshotReader.open(firstURL)
            let targetArchive = try SnapshotReader.open(secondURL)
            defer {
                sourceArchive.close()
                targetArchive.close()
            }
            let differences = try KinopioRoundTrip.compare(
                source: sourceArchive, target: targetArchive, journal: try ImportJournal(readingFrom: journal),
                notImported: imported.notImported)
            await sourceConn.shutdown()
            await targetConn.shutdown()
            await source.stop()
            await target.stop()
            guard differences.isEmpty else {
                for d in differences.prefix(20) { say("  difference: \(d)") }
                throw UserError("the round trip is not equal: \(differences.count) difference(s), listed above")
            }
            say("round trip equal: every importable entity came back with its references, ids and timestamps aside.\nArchives are in \(folder.path)/")
        }
    }

    func say(_ line: String) {
        if !global.quiet { printText(line + "\n") }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
