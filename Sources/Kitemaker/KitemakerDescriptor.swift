import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kitemaker: no published number, but it answers 429 when hammered: a modest 4 per second in any second, with
    /// up to 4 in flight when answers are slow, backing off when the server struggles.
    public static let kitemaker = RateLimit(
        requestsPerSecond: 4, burst: 1, maxConcurrent: 4, maxPerWindow: 4, adaptive: ConcurrencyAdaptation(initial: 1))
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
        acceptsMigrations: true, restores: true, rendering: KitemakerRendering.source, migration: KitemakerMigration.source,
        roundTrip: KitemakerRoundTrip.rules,
        sandboxEnvironment: { url, credential, _ in [KitemakerSchema.baseURLVariable: url.absoluteString, KitemakerSchema.tokenVariable: credential] },
        make: { s in
            try KitemakerConnection(
                baseURL: s.baseURL, environment: s.environment, rateLimit: s.rateLimit, concurrency: s.concurrency, retry: s.retry, logger: s.logger,
                progress: s.progress)
        })
}
