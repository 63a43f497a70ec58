import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kona: no published limit: no per-second cap; start with 4 in flight and grow while answers stay healthy
    /// (up to 16), backing off on 429, 5xx and slow answers.
    public static let kona = RateLimit(
        requestsPerSecond: .infinity, maxConcurrent: 16, adaptive: ConcurrencyAdaptation(initial: 4))
}

extension ConnectorDescriptor {
    /// Kona: spaces of conversations, tasks and events; an OAuth access token, or a refresh grant.
    public static let kona = ConnectorDescriptor(
        service: .kona, displayName: "Kona", defaultLimits: .kona,
        credentialHelp: [
            "\(KonaSchema.accessTokenVariable), or \(KonaSchema.refreshTokenVariable) + \(KonaSchema.clientIDVariable) + \(KonaSchema.clientSecretVariable); \(KonaSchema.baseURLVariable)"
        ],
        options: [
            ServiceOption(
                "space", valueName: "ID", help: "Export or back up only this space (repeatable).", arity: .repeated,
                role: .selection, commands: [.export, .backup]),
            ServiceOption(
                "space-map", valueName: "SRC=DST", help: "Import space SRC into the existing space DST (repeatable).",
                arity: .repeated, role: .containerMap, commands: [.importArchive]),
        ],
        acceptsMigrations: true, restores: true, rendering: KonaRendering.source, migration: KonaMigration.source,
        roundTrip: KonaRoundTrip.rules,
        sandboxEnvironment: { url, credential, _ in [KonaSchema.baseURLVariable: url.absoluteString, KonaSchema.accessTokenVariable: credential] },
        make: { s in
            try KonaConnection(
                baseURL: s.baseURL, environment: s.environment, rateLimit: s.rateLimit, concurrency: s.concurrency, retry: s.retry, logger: s.logger,
                progress: s.progress)
        })
}
