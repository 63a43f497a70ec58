import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagConnector
import KitbagCore
import KitbagJournal
import KitbagSandbox

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show kitbag's main jobs on built-in sandboxes: backup, verify, import, export again, compare.",
        discussion: """
            For each service (all by default) starts two local sandboxes — one seeded with a demo account, one \
            empty — backs the first up into ./kitbag-demo/SERVICE/ (a full backup, then an incremental one that \
            fetches nothing unchanged), verifies the archive, imports it into the second, exports that and compares \
            the two. Needs no account and no network.
            """)

    @Argument(help: ArgumentHelp("Services to show (default: every service with a built-in sandbox).", valueName: "services"))
    var services: [ServiceName] = []

    @Option(help: "Folder for the demo archives and journals.")
    var directory = "kitbag-demo"

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let withSandbox = ServiceCatalog.all.filter { $0.sandbox != nil }
            let chosen = services.isEmpty ? withSandbox : try services.map { service in
                guard let entry = ServiceCatalog.entry(service), entry.sandbox != nil else {
                    throw UserError("no built-in \(service.rawValue) sandbox in kitbag \(Kitbag.version) yet", exitStatus: .usage)
                }
                return entry
            }
            var failures: [String] = []
            for entry in chosen {
                let ok = try await demo(entry)
                if !ok { failures.append(entry.service.rawValue) }
            }
            guard failures.isEmpty else {
                throw UserError("the round trip is not equal for \(failures.joined(separator: ", ")); differences listed above")
            }
            say("Archives and journals are in \(URL(fileURLWithPath: directory).path)/")
        }
    }

    /// One service: backup twice, verify, import into an empty sandbox, export again, compare. True when equal.
    func demo(_ entry: ServiceCatalog) async throws -> Bool {
        let name = entry.service.rawValue
        let progress = global.progress
        let folder = URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var sandboxLogger = global.makeLogger("kitbag.demo")
        if !global.verbose { sandboxLogger.logLevel = .critical }
        func options(_ seed: SandboxSeed, _ credential: String) -> SandboxOptions {
            var o = SandboxOptions()
            o.seed = seed
            o.credentials = [credential]
            return o
        }
        guard let sandbox = entry.sandbox else { throw UserError("no built-in \(name) sandbox", exitStatus: .usage) }
        let source = try await sandbox.start(options(.demo, "demo-source-credential"), sandboxLogger)
        let target = try await sandbox.start(options(.empty, "demo-target-credential"), sandboxLogger)
        defer {
            Task {
                await source.stop()
                await target.stop()
            }
        }
        say("\(name): sandboxes \(source.baseURL.absoluteString) (demo seed) and \(target.baseURL.absoluteString) (empty)")
        func connector(_ sandbox: RunningSandbox, _ credential: String) throws -> any Connector {
            try entry.descriptor.make(
                ConnectorSettings(
                    environment: entry.environment(sandbox, credential), logger: global.makeLogger("kitbag.\(name)"),
                    progress: progress))
        }
        let from = try connector(source, "demo-source-credential")
        let to = try connector(target, "demo-target-credential")

        let backups = BackupFolder(folder.appendingPathComponent("backups"))
        try? FileManager.default.removeItem(at: backups.url)  // each demo starts with a first, full backup
        var backup = BackupOptions()
        let full = try await BackupJob.run(from, to: backups, options: backup, progress: progress)
        let firstURL = URL(fileURLWithPath: full.export.archive)
        say("  1. backup → \(firstURL.path) (\(ByteCount.format(full.export.bytes)), \(full.export.requests.values.reduce(0, +)) requests)")
        backup.now = Date().addingTimeInterval(1)
        let incremental = try await BackupJob.run(from, to: backups, options: backup, progress: progress)
        let spent = incremental.export.requests.values.reduce(0, +) - full.export.requests.values.reduce(0, +)
        say(
            "  2. second backup: \(incremental.full ? "full (\(incremental.fullReason ?? ""))" : "\(incremental.reusedContainers) unchanged container(s) copied, \(incremental.fetchedContainers) fetched"), \(spent) requests")

        let report = ArchiveVerifier.verify(firstURL)
        say("  3. verify: \(report.summaryLine)")
        guard report.exitStatus == .success else { throw UserError("the demo archive did not verify", exitStatus: .failure) }

        let journal = folder.appendingPathComponent("import.journal.sqlite")
        try? FileManager.default.removeItem(at: journal)
        let imported = try await ConnectorJobs.importArchive(
            firstURL, into: to, journalURL: journal, options: ImportOptions(), progress: progress)
        say("  4. imported into the empty sandbox: \(formatCounts(imported.created))")

        let secondURL = folder.appendingPathComponent("roundtrip.tar.zst")
        try? FileManager.default.removeItem(at: secondURL)
        let second = try await ConnectorJobs.export(
            to, account: try await to.probe(), destination: .file(secondURL), format: .tarZst, progress: progress)
        say("  5. exported the target again → \(secondURL.path)")

        let kinds = Set(full.export.counts.keys).union(second.counts.keys).sorted()
        let width = max(18, kinds.map(\.count).max() ?? 0)
        var table = "\n     \("kind".padding(toLength: width, withPad: " ", startingAt: 0))  source  round trip\n"
        for k in kinds {
            let a = full.export.counts[k] ?? 0
            let b = second.counts[k] ?? 0
            let note = a == b ? "" : (imported.notImported.contains { $0.kind == k } ? "  not importable" : "  ≠")
            table += "     \(k.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(a).leftPad(6))  \(String(b).leftPad(10))\(note)\n"
        }
        say(table)
        for n in imported.notImported {
            say("     not importable: \(n.kind)\(n.container.map { " in \($0)" } ?? ""): \(n.reason)")
        }
        let a = try SnapshotReader.open(firstURL)
        let b = try SnapshotReader.open(secondURL)
        defer {
            a.close()
            b.close()
        }
        let differences = try from.roundTripDifferences(
            source: a, target: b, journal: try ImportJournal(readingFrom: journal), notImported: imported.notImported)
        await from.shutdown()
        await to.shutdown()
        if differences.isEmpty {
            say("  round trip equal: every importable entity came back with its references (ids and timestamps aside)\n")
            return true
        }
        for d in differences.prefix(20) { say("     difference: \(d)") }
        return false
    }

    func say(_ line: String) {
        if !global.quiet { printText(line + "\n") }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
