import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

extension KonaConnection: IncrementalConnector {
    public var descriptor: ConnectorDescriptor { .kona }

    /// `GET /userinfo` (after fetching an access token when only a refresh token was given).
    public func probe() async throws -> AccountProbe {
        let user = try await currentUser()
        return AccountProbe(account: KonaExporter.account(of: user), raw: user)
    }

    public func exportSource(account: AccountProbe, selection: ExportSelection, progress: ProgressReporter) throws
        -> any ExportSource
    {
        KonaExporter(
            connection: self, progress: progress, spaceIDs: selection.containers, user: account.raw,
            containersOnly: selection.containersOnly)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        try await KonaImporter(connection: self, journal: journal, progress: progress, options: options).run(archive: archive)
    }
}
