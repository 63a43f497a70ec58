import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

extension KintoneConnection: IncrementalConnector {
    public var descriptor: ConnectorDescriptor { .kintone }

    /// `GET apps.json?limit=1`: Kintone has no "who am I" for API tokens, so the account is the domain itself.
    public func probe() async throws -> AccountProbe {
        try await checkAccess()
        return AccountProbe(account: account)
    }

    public func exportSource(account: AccountProbe, selection: ExportSelection, progress: ProgressReporter) throws
        -> any ExportSource
    {
        KintoneExporter(
            connection: self, progress: progress, appIDs: selection.containers.isEmpty ? defaultApps : selection.containers,
            skipMissing: selection.containersOnly)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        try await KintoneImporter(connection: self, journal: journal, progress: progress, options: options).run(archive: archive)
    }
}
