import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagRender

/// Whole export and import jobs for Kinopio, shared by the CLI, `kitbag demo` and the tests.
public enum KinopioJobs {
    /// Where an export goes when `-o` names a folder or nothing: `kinopio-<account>-<UTC stamp>.<ext>`.
    public static func defaultArchiveName(account: ArchiveInfo.Account, at date: Date, format: ArchiveFormat) -> String {
        let who = ArchivePath.component(account.name ?? account.id)
        return "kinopio-\(who)-\(Timestamp.compact(date))" + (format == .folder ? "" : ".\(format.fileExtension)")
    }

    /// Exports the account behind `connection` into one sealed archive at `destination`.
    /// On any failure the partial output is removed and the error rethrown: no archive that passes `verify`.
    /// `user` is the `GET /user` answer, fetched first so the caller can name the archive after the account.
    public static func export(
        connection: KinopioConnection, user: JSONValue, destination: ArchiveDestination, format: ArchiveFormat,
        spaceIDs: [String] = [], renderings: Set<ReadableFormat> = Set(ReadableFormat.allCases),
        progress: ProgressReporter, now: Date = Date(), finishedAt: Date? = nil
    ) async throws -> ExportSummary {
        let started = Date()
        let account = KinopioExporter.account(of: user)
        let info = ArchiveInfo(
            service: .kinopio,
            source: .init(baseURL: connection.baseURL.absoluteString, account: account),
            startedAt: now, renderings: ReadableFormat.allCases.filter(renderings.contains).map(\.rawValue))
        let writer = try SnapshotWriter(destination: destination, format: format, info: info, snapshotTime: now)
        let notExported: [NotExported]
        do {
            let exporter = KinopioExporter(
                connection: connection, progress: progress, spaceIDs: spaceIDs, renderings: renderings)
            notExported = try await exporter.export(user: user, into: writer)
        } catch {
            writer.abandon()
            progress.finish()
            throw error
        }
        let manifest = try writer.seal(notExported: notExported, finishedAt: finishedAt ?? Date())
        progress.finish()
        let path: String
        switch destination {
        case .file(let url), .folder(let url): path = url.path
        case .standardOutput: path = "-"
        }
        return ExportSummary(
            archive: path, service: .kinopio, account: account, counts: manifest.counts,
            notExported: manifest.notExported, bytes: writer.bytesWritten,
            requests: await connection.client.requestCounts(), seconds: Date().timeIntervalSince(started))
    }

    /// Imports a verified archive into the account behind `connection`, journaled in `journalURL`.
    public static func importArchive(
        _ archiveURL: URL, connection: KinopioConnection, journalURL: URL?, dryRun: Bool, progress: ProgressReporter,
        batchSize: Int = 100
    ) async throws -> ImportSummary {
        progress.beginStage("verify")
        let archive = try SnapshotReader.open(archiveURL)
        defer { archive.close() }
        let user = try await connection.currentUser()
        let targetAccount = user["id"]?.idString ?? "unknown"
        var journal: ImportJournal?
        if !dryRun {
            let url = journalURL ?? defaultJournalURL(for: archiveURL)
            journal = try ImportJournal(
                url: url,
                binding: JournalBinding(
                    sourceService: archive.info.service.rawValue, sourceAccount: archive.info.source.account.id,
                    targetService: "kinopio", targetBaseURL: connection.baseURL.absoluteString,
                    targetAccount: targetAccount))
        }
        let importer = KinopioImporter(
            connection: connection, journal: journal, progress: progress, dryRun: dryRun, batchSize: batchSize)
        return try await importer.run(archive: archive)
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
        archive.deletingLastPathComponent().appendingPathComponent(archive.lastPathComponent + ".journal.sqlite")
    }
}
