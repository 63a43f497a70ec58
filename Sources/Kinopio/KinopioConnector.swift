import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagRender

extension KinopioConnection: IncrementalConnector {
    public var service: ServiceName { .kinopio }

    /// `GET /user`; the answer is kept for the export (the user record is archived as is, without secrets).
    public func probe() async throws -> AccountProbe {
        let user = try await currentUser()
        return AccountProbe(account: KinopioExporter.account(of: user), raw: user)
    }

    public func export(
        account: AccountProbe, selection: ExportSelection, renderings: Set<ReadableFormat>, into writer: SnapshotWriter,
        progress: ProgressReporter, base: ChangeBase?
    ) async throws -> (notExported: [NotExported], changes: ExportChanges) {
        let exporter = KinopioExporter(
            connection: self, progress: progress, spaceIDs: selection.containers, renderings: renderings)
        return try await explainingScope("an export", needs: "read") {
            try await exporter.export(user: account.raw, into: writer, base: base)
        }
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
