import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

extension KinopioConnection: IncrementalConnector {
    public var descriptor: ConnectorDescriptor { .kinopio }

    /// `GET /user`; the answer is kept for the export (the user record is archived as is, without secrets).
    public func probe() async throws -> AccountProbe {
        let user = try await currentUser()
        return AccountProbe(account: KinopioExporter.account(of: user), raw: user)
    }

    public func exportSource(account: AccountProbe, selection: ExportSelection, progress: ProgressReporter) throws
        -> any ExportSource
    {
        KinopioExporter(connection: self, progress: progress, spaceIDs: selection.containers, user: account.raw)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        let importer = KinopioImporter(
            connection: self, journal: journal, progress: progress, dryRun: options.dryRun,
            batchSize: options.batchSize ?? 100)
        return try await explainingScope("an import", needs: options.dryRun ? "read" : "edit") {
            try await importer.run(archive: archive)
        }
    }

    public func roundTripDifferences(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported]
    ) throws -> [String] {
        try KinopioRoundTrip.compare(source: source, target: target, journal: journal, notImported: notImported)
            .map(\.description)
    }
}
