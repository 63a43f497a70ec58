import Foundation
import Kinopio
import Kintone
import Kitemaker
import Kona
import KitbagConnector
import KitbagCore
import Logging

/// The one place that knows which connector serves which service.
enum ServiceConnectors {
    static func make(
        _ service: ServiceName, baseURL: String?, rateLimit: Double?, concurrency: Int? = nil, guestSpace: String?,
        environment: [String: String], logger: Logger, progress: ProgressReporter
    ) throws -> any Connector {
        if guestSpace != nil && service != .kintone {
            throw UserError("--guest-space is a Kintone option; drop it for \(service.rawValue)", exitStatus: .usage)
        }
        switch service {
        case .kinopio:
            return try KinopioConnection(
                baseURL: baseURL, apiKey: nil, environment: environment, requestsPerSecond: rateLimit,
                concurrency: concurrency, logger: logger, progress: progress)
        case .kitemaker:
            return try KitemakerConnection(
                baseURL: baseURL, environment: environment, rateLimit: rateLimit, concurrency: concurrency, logger: logger,
                progress: progress)
        case .kona:
            return try KonaConnection(
                baseURL: baseURL, environment: environment, rateLimit: rateLimit, concurrency: concurrency, logger: logger,
                progress: progress)
        case .kintone:
            return try KintoneConnection(
                baseURL: baseURL, environment: environment, guestSpaceID: guestSpace, rateLimit: rateLimit,
                concurrency: concurrency, logger: logger, progress: progress)
        }
    }

    /// How each service's archive reads into the common model, for migrations.
    static func migrationSource(_ service: ServiceName) -> MigrationSource {
        switch service {
        case .kinopio: return KinopioMigration.source
        case .kintone: return KintoneMigration.source
        case .kitemaker: return KitemakerMigration.source
        case .kona: return KonaMigration.source
        }
    }

    /// How each service's archive reads into the readable model, for `kitbag render`.
    static func renderingSource(_ service: ServiceName) -> RenderingSource {
        switch service {
        case .kinopio: return KinopioRendering.source
        case .kintone: return KintoneRendering.source
        case .kitemaker: return KitemakerRendering.source
        case .kona: return KonaRendering.source
        }
    }

    /// Services whose connector accepts common-model containers.
    static let migrationTargets: Set<ServiceName> = [.kinopio, .kitemaker, .kintone, .kona]
}
