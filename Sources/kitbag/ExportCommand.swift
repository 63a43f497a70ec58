import ArgumentParser
import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export everything an account can see into one archive.",
        discussion: """
            KINOPIO_APP_KEY=… kitbag export kinopio [--space ID]…   (an app key, scope read; or KINOPIO_API_KEY=… a user key)
            KINTONE_BASE_URL=https://x.kintone.com KINTONE_API_TOKEN=t1,t2 kitbag export kintone --app ID… [--guest-space ID]
              (API tokens cannot list apps: name each app, one token per app; a login (KINTONE_USERNAME/KINTONE_PASSWORD) may omit --app)
              [--query 'Status in ("Open")'] [--order-by 'Updated_datetime desc'] [--fields Code,Name] for a partial export
            KITEMAKER_TOKEN=… kitbag export kitemaker [--space ID]…
            KONA_ACCESS_TOKEN=… [KONA_REFRESH_TOKEN=… KONA_CLIENT_ID=… KONA_CLIENT_SECRET=…] kitbag export kona [--space ID]…
            The archive is sealed with a manifest only when the whole walk succeeded; a failed run leaves no archive.

            """ + ServiceCatalog.credentialHelp + "\n" + ServiceCatalog.optionHelp(for: .export))

    @Argument(help: ArgumentHelp("Service to export from: \(ServiceCatalog.names()).", valueName: "service"))
    var service: ServiceName

    @OptionGroup var connectionOptions: ConnectionOptions

    @OptionGroup var output: OutputOptions
    @OptionGroup var renderings: RenderingOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try connectionOptions.validate(service, command: .export)
    }

    func run() async throws {
        try await reportingErrors(json: global.json && output.output != "-") {
            let started = Date()
            let progress = global.progress
            let connector = try connectionOptions.connector(service, command: .export, global: global, progress: progress)
            defer { Task { await connector.shutdown() } }
            let account = try await connector.identify()
            let now = Date()
            let (destination, format) = try output.destination { format in
                ConnectorJobs.defaultArchiveName(service: service, account: account.account, at: now, format: format)
            }
            let summary = try await ConnectorJobs.export(
                connector, account: account, destination: destination, format: format,
                selection: try connectionOptions.selection(service, command: .export), renderings: renderings.renderings,
                progress: progress, now: now)
            let toStderr = summary.archive == "-"
            if global.json {
                try printJSON(summary, toStderr: toStderr)
            } else if !global.quiet {
                let out = summary.archive == "-" ? "stdout" : summary.archive
                let who = account.account.name ?? account.account.id
                // Elapsed from the command's start: the probe and the seal count too.
                var msg = """
                    exported \(service.rawValue) account \(who) → \(out) (\(ByteCount.format(summary.bytes)), \
                    \(String(format: "%.1f", Date().timeIntervalSince(started))) s)
                      entities: \(formatCounts(summary.counts))
                      requests: \(formatRequests(summary.requests, perRoute: global.verbose))

                    """
                msg += formatNotExported(summary.notExported)
                printText(msg, toStderr: toStderr)
            }
        }
    }
}
