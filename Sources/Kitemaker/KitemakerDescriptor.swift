import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kitemaker documents a 429 "Rate limit exceeded" but no number, no `Retry-After` and no limit header
    /// (kitemakerhq/rest-docs `_documentation/errors.md`, commit 2f0c66b3c459eb969218810464bd1d8afe5a3ca6). So, as for
    /// Kona: no per-second cap; it starts with 4 requests in flight and adapts — one more per healthy answer, up to 8,
    /// halving on a 429 (after the pause it asks for, or kitbag's own), cutting on 5xx, resets and answers that slow
    /// down under load. `--rate-limit` and `--concurrency` override.
    public static let kitemaker = RateLimit(
        requestsPerSecond: .infinity, maxConcurrent: 8, adaptive: ConcurrencyAdaptation(initial: 4))
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
