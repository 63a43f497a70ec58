import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kinopio: 5 requests/s, and every request fails for 30 s after a 429 — so evenly spaced, and never more than 5
    /// in any 1-second window as the server sees it.
    public static let kinopio = RateLimit(requestsPerSecond: 5, burst: 1, maxPerWindow: 5)
}

extension ConnectorDescriptor {
    /// Kinopio: spaces of cards, keys in `KINOPIO_API_KEY` (user) or `KINOPIO_APP_KEY` (scoped app key).
    public static let kinopio = ConnectorDescriptor(
        service: .kinopio, displayName: "Kinopio", defaultLimits: .kinopio,
        credentialHelp: [
            "\(KinopioSchema.apiKeyVariable) (user key) or \(KinopioSchema.appKeyVariable) (app key with scopes; \(KinopioSchema.keyKindVariable)=user|app",
            "overrides the guess); KINOPIO_BASE_URL",
        ],
        options: [
            ServiceOption(
                "space", valueName: "ID", help: "Export or back up only this space (repeatable).", arity: .repeated,
                role: .selection, commands: [.export, .backup])
        ],
        acceptsMigrations: true,
        fileImports: [
            FileImport(fileExtension: "canvas", name: "JSON Canvas") { file, connector, journal, options, progress in
                guard let kinopio = connector as? KinopioConnection else {
                    throw UserError("a JSON Canvas file imports into Kinopio only: use --to kinopio", exitStatus: .usage)
                }
                return try await KinopioJobs.importCanvas(
                    file, connection: kinopio, journalURL: journal, dryRun: options.dryRun, progress: progress,
                    batchSize: options.batchSize ?? 100)
            }
        ],
        rendering: KinopioRendering.source, migration: KinopioMigration.source,
        sandboxEnvironment: { url, credential, _ in ["KINOPIO_BASE_URL": url.absoluteString, KinopioSchema.apiKeyVariable: credential] },
        make: { s in
            try KinopioConnection(
                baseURL: s.baseURL, apiKey: nil, environment: s.environment, requestsPerSecond: s.rateLimit, concurrency: s.concurrency, retry: s.retry,
                logger: s.logger, progress: s.progress)
        })
}
