import ArgumentParser
import Foundation
import Kinopio
import KitbagArchive
import KitbagCore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export everything an account can see into one archive.",
        discussion: """
            Kinopio: KINOPIO_API_KEY=… kitbag export kinopio [-o FILE|DIR|-] [--space ID]…
            The archive is sealed with a manifest only when the whole walk succeeded; a failed run leaves no archive.
            """)

    @Argument(help: "Service to export from: kinopio.")
    var service: ServiceName

    @OptionGroup var connectionOptions: ConnectionOptions

    @Option(name: .customLong("space"), help: "Export only this space (repeatable).")
    var spaces: [String] = []

    @OptionGroup var output: OutputOptions
    @OptionGroup var renderings: RenderingOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let progress = global.progress
            let connection = try connectionOptions.kinopio(service, doing: "exporting", global: global, progress: progress)
            let user = try await connection.currentUser()
            let account = KinopioExporter.account(of: user)
            let now = Date()
            let (destination, format) = try output.destination { format in
                KinopioJobs.defaultArchiveName(account: account, at: now, format: format)
            }
            let summary = try await KinopioJobs.export(
                connection: connection, user: user, destination: destination, format: format, spaceIDs: spaces,
                renderings: renderings.renderings,
                progress: progress, now: now)
            let toStderr = summary.archive == "-"
            if global.json {
                try printJSON(summary, toStderr: toStderr)
            } else if !global.quiet {
                let out = summary.archive == "-" ? "stdout" : summary.archive
                let msg = """
                    exported kinopio account \(account.name ?? account.id) → \(out) (\(ByteCount.format(summary.bytes)), \
                    \(String(format: "%.1f", summary.seconds)) s)
                      entities: \(formatCounts(summary.counts))
                      requests: \(formatRequests(summary.requests))
                      not exported: \(summary.notExported.count) item(s), listed in the manifest

                    """
                printText(msg, toStderr: toStderr)
            }
        }
    }
}
