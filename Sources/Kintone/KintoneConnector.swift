import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagRender

extension KintoneConnection: IncrementalConnector {
    public var service: ServiceName { .kintone }

    /// `GET apps.json?limit=1`: Kintone has no "who am I" for API tokens, so the account is the domain itself.
    public func probe() async throws -> AccountProbe {
        try await checkAccess()
        return AccountProbe(account: account)
    }

    public func export(
        account: AccountProbe, selection: ExportSelection, renderings: Set<ReadableFormat>, into writer: SnapshotWriter,
        progress: ProgressReporter, base: ChangeBase?
    ) async throws -> (notExported: [NotExported], changes: ExportChanges) {
        let exporter = KintoneExporter(
            connection: self, progress: progress, appIDs: selection.containers.isEmpty ? defaultApps : selection.containers,
            renderings: renderings)
        return try await exporter.export(into: writer, base: base)
    }

    public func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary {
        try await KintoneImporter(connection: self, journal: journal, progress: progress, options: options).run(archive: archive)
    }

    public func roundTripDifferences(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported]
    ) throws -> [String] {
        try KintoneRoundTrip.compare(source: source, target: target, journal: journal, notImported: notImported)
            .map(\.description)
    }
}
