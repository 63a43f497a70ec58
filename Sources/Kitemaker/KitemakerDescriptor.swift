import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kitemaker publishes no number and answers 429 when hammered: 4 requests in any second, one at a time.
    public static let kitemaker = RateLimit(requestsPerSecond: 4, burst: 1, maxConcurrent: 1, maxPerWindow: 4)
}

extension ConnectorDescriptor {
    /// Kitemaker: spaces of work items, a token in `KITEMAKER_TOKEN`.
    public static let kitemaker = ConnectorDescriptor(
        service: .kitemaker, displayName: "Kitemaker", defaultLimits: .kitemaker,
        credentialHelp: ["\(KitemakerSchema.tokenVariable); \(KitemakerSchema.baseURLVariable)"],
        options: [
            ServiceOption(
                "space", valueName: "ID", help: "Export or back up only this space, by id or key (repeatable).",
                arity: .repeated, role: .selection, commands: [.export, .backup]),
            ServiceOption(
                "space-map", valueName: "SRC=DST", help: "Import space SRC into the existing space DST (repeatable).",
                arity: .repeated, role: .containerMap, commands: [.importArchive]),
        ],
        acceptsMigrations: true, rendering: KitemakerRendering.source, migration: KitemakerMigration.source,
        sandboxEnvironment: { url, credential, _ in [KitemakerSchema.baseURLVariable: url.absoluteString, KitemakerSchema.tokenVariable: credential] },
        make: { s in
            try KitemakerConnection(
                baseURL: s.baseURL, environment: s.environment, rateLimit: s.rateLimit, retry: s.retry, logger: s.logger,
                progress: s.progress)
        })
}
