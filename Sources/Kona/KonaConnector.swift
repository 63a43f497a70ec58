import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagRender

extension KonaConnection: IncrementalConnector {
    public var service: ServiceName { .kona }

    /// `GET /userinfo` (after fetching an access token when only a refresh token was given).
    public func probe() async throws -> AccountProbe {
        let user = try await currentUser()
        return AccountProbe(account: KonaExporter.account(of: user), raw: user)
    }

    public func export(
        account: AccountProbe, selection: ExportSelection, renderings: Set<ReadableFormat>, into writer: SnapshotWriter,
        progress: ProgressReporter, base: ChangeBase?
    ) async throws -> (notExported: [NotExported], changes: ExportChanges) {
        let exporter = KonaExporter(
            connection: self, progress: progress, spaceIDs: selection.containers, renderings: renderings)
        return try await exporter.export(user: account.raw, into: writer, base: base)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        try await KonaImporter(connection: self, journal: journal, progress: progress, options: options).run(archive: archive)
    }

    public func roundTripDifferences(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported]
    ) throws -> [String] {
        try KonaRoundTrip.compare(source: source, target: target, journal: journal, notImported: notImported)
            .map(\.description)
    }
}
