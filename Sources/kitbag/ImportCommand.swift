import ArgumentParser
import Foundation
import Kinopio
import KitbagCore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Replay an archive into an account, journaled so a rerun never duplicates.",
        discussion: """
            The archive is verified before the first write; a bad archive is refused. Every created entity is \
            recorded (source id → target id) in a SQLite journal, by default ARCHIVE.journal.sqlite; rerun the same \
            command after a crash or Ctrl-C and it continues where it stopped.
            """)

    @Argument(help: "The archive to import (any kind kitbag writes), or a JSON Canvas file (.canvas) to make a Kinopio space of.")
    var archive: String

    @Option(name: .customLong("to"), help: "Service to import into: kinopio.")
    var service: ServiceName

    @OptionGroup var connectionOptions: ConnectionOptions

    @Option(help: "Journal file (SQLite). Default: ARCHIVE.journal.sqlite beside the archive.")
    var journal: String?

    @Flag(help: "Show what would be created and how many requests it takes; write nothing.")
    var dryRun = false

    @Option(help: "Entities per batch write request.")
    var batchSize = 100

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if batchSize < 1 || batchSize > 1000 { throw ValidationError("--batch-size must be between 1 and 1000.") }
    }

    func run() async throws {
        try await reportingErrors {
            let progress = global.progress
            let connection = try connectionOptions.kinopio(service, doing: "importing into", global: global, progress: progress)
            let source = URL(fileURLWithPath: archive)
            let journalURL = journal.map { URL(fileURLWithPath: $0) }
            let summary =
                source.pathExtension.lowercased() == "canvas"
                ? try await KinopioJobs.importCanvas(
                    source, connection: connection, journalURL: journalURL, dryRun: dryRun, progress: progress,
                    batchSize: batchSize)
                : try await KinopioJobs.importArchive(
                    source, connection: connection, journalURL: journalURL, dryRun: dryRun, progress: progress,
                    batchSize: batchSize)
            if global.json {
                try printJSON(summary)
            } else if !global.quiet {
                var msg = dryRun ? "dry run: would create \(formatCounts(summary.created))\n" : "imported into kinopio: \(formatCounts(summary.created))\n"
                if !summary.alreadyPresent.isEmpty { msg += "  already present from an earlier run: \(formatCounts(summary.alreadyPresent))\n" }
                msg += "  requests: \(formatRequests(summary.requests))\n"
                for n in summary.notImported {
                    msg += "  not imported: \(n.kind)\(n.container.map { " in \($0)" } ?? ""): \(n.reason)\n"
                }
                printText(msg)
            }
        }
    }
}
