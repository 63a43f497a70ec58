import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// What one round trip did: the import, the target's export, and what the oracle found.
public struct RoundTripReport: Sendable {
    public var imported: ImportSummary
    /// The export of the account imported into.
    public var exported: ExportSummary
    /// Empty when every importable entity came back with its references (ids and server-owned keys aside).
    public var differences: [RoundTripDifference]
}

/// The one round-trip job, as `kitbag demo` and the conformance suite run it: import an archive into an account
/// through a journal, export that account again, and compare the two archives with the source service's
/// round-trip rules (`RoundTripOracle`).
public enum RoundTripJob {
    /// Imports `archive` into `target` (journaled in `journalURL`, so a rerun creates nothing), exports the target
    /// to `output` and compares. `now`/`finishedAt` fix the target export's times (for byte-equal comparisons).
    public static func run(
        archive: URL, into target: some Connector, journalURL: URL, output: URL, format: ArchiveFormat = .tarZst,
        options: ImportOptions = ImportOptions(), progress: ProgressReporter, now: Date = Date(), finishedAt: Date? = nil
    ) async throws -> RoundTripReport {
        let source = try SnapshotReader.open(archive)
        defer { source.close() }
        guard source.info.service == target.service else {
            throw UserError(
                "a round trip compares archives of one service: \(source.info.service.rawValue) was imported into "
                    + "\(target.service.rawValue)", exitStatus: .usage)
        }
        let imported = try await ConnectorJobs.importArchive(
            archive, into: target, journalURL: journalURL, options: options, progress: progress)
        let exported = try await ConnectorJobs.export(
            target, account: try await target.probe(), destination: format == .folder ? .folder(output) : .file(output),
            format: format, progress: progress, now: now, finishedAt: finishedAt)
        let again = try SnapshotReader.open(output)
        defer { again.close() }
        let differences = try target.descriptor.roundTrip.compare(
            source: source, target: again, journal: try ImportJournal(readingFrom: journalURL),
            notImported: imported.notImported)
        return RoundTripReport(imported: imported, exported: exported, differences: differences)
    }
}
