import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Whole export and import jobs for Kinopio, shared by the CLI, `kitbag demo` and the tests.
public enum KinopioJobs {
    /// Where an export goes when `-o` names a folder or nothing: `kinopio-<account>-<UTC stamp>.<ext>`.
    public static func defaultArchiveName(account: ArchiveInfo.Account, at date: Date, format: ArchiveFormat) -> String {
        ConnectorJobs.defaultArchiveName(service: .kinopio, account: account, at: date, format: format)
    }

    /// Exports the account behind `connection` into one sealed archive at `destination` (see `ConnectorJobs.export`).
    /// `user` is the `GET /user` answer, fetched first so the caller can name the archive after the account.
    public static func export(
        connection: KinopioConnection, user: JSONValue, destination: ArchiveDestination, format: ArchiveFormat,
        spaceIDs: [String] = [], renderings: Set<ReadableFormat> = Set(ReadableFormat.allCases),
        progress: ProgressReporter, now: Date = Date(), finishedAt: Date? = nil
    ) async throws -> ExportSummary {
        try await ConnectorJobs.export(
            connection, account: AccountProbe(account: KinopioExporter.account(of: user), raw: user),
            destination: destination, format: format, selection: ExportSelection(containers: spaceIDs),
            renderings: renderings, progress: progress, now: now, finishedAt: finishedAt)
    }

    /// Imports a verified archive into the account behind `connection`, journaled in `journalURL`.
    public static func importArchive(
        _ archiveURL: URL, connection: KinopioConnection, journalURL: URL?, dryRun: Bool, progress: ProgressReporter,
        batchSize: Int = 100
    ) async throws -> ImportSummary {
        try await ConnectorJobs.importArchive(
            archiveURL, into: connection, journalURL: journalURL,
            options: ImportOptions(dryRun: dryRun, batchSize: batchSize), progress: progress)
    }

    /// Imports a JSON Canvas file as one new space, journaled like an archive import (default journal
    /// `FILE.canvas.journal.sqlite`).
    public static func importCanvas(
        _ canvasURL: URL, connection: KinopioConnection, journalURL: URL?, dryRun: Bool, progress: ProgressReporter,
        batchSize: Int = 100
    ) async throws -> ImportSummary {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-canvas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // A fixed time keeps the snapshot identical between reruns.
        let snapshot = try KinopioCanvasImport.snapshot(of: canvasURL, into: work, now: Date(timeIntervalSince1970: 0))
        return try await importArchive(
            snapshot, connection: connection, journalURL: journalURL ?? defaultJournalURL(for: canvasURL),
            dryRun: dryRun, progress: progress, batchSize: batchSize)
    }

    /// `ARCHIVE.journal.sqlite` beside the archive.
    public static func defaultJournalURL(for archive: URL) -> URL {
        ConnectorJobs.defaultJournalURL(for: archive)
    }
}
