import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Whole export and import jobs for any connector, shared by the CLI, `kitbag demo`, backups and the tests.
public enum ConnectorJobs {
    /// Where an export goes when `-o` names a folder or nothing: `SERVICE-ACCOUNT-YYYYMMDDTHHMMSSZ.ext`.
    public static func defaultArchiveName(
        service: ServiceName, account: ArchiveInfo.Account, at date: Date, format: ArchiveFormat
    ) -> String {
        let who = ArchivePath.slug(account.name ?? account.id)
        return "\(service.rawValue)-\(who)-\(Timestamp.compact(date))" + (format == .folder ? "" : ".\(format.fileExtension)")
    }

    /// `ARCHIVE.journal.sqlite` beside the archive.
    public static func defaultJournalURL(for archive: URL) -> URL {
        archive.deletingLastPathComponent().appendingPathComponent(archive.lastPathComponent + ".journal.sqlite")
    }

    /// Exports the account behind `connector` into one sealed archive at `destination`.
    /// On any failure the partial output is removed and the error rethrown: no archive that passes `verify`.
    /// `account` is the connector's `probe()` answer, asked first so the caller can name the archive.
    public static func export(
        _ connector: some Connector, account: AccountProbe, destination: ArchiveDestination, format: ArchiveFormat,
        selection: ExportSelection = ExportSelection(), renderings: Set<ReadableFormat> = Set(ReadableFormat.allCases),
        progress: ProgressReporter, now: Date = Date(), finishedAt: Date? = nil, base: ChangeBase? = nil
    ) async throws -> ExportSummary {
        let started = Date()
        let info = ArchiveInfo(
            service: connector.service,
            source: .init(baseURL: connector.baseURL.absoluteString, account: account.account),
            startedAt: now, renderings: ReadableFormat.allCases.filter(renderings.contains).map(\.rawValue))
        let writer = try SnapshotWriter(destination: destination, format: format, info: info, snapshotTime: now)
        let incremental = connector is any IncrementalConnector
        let walked: ExportWalk.Result
        let totals: ManifestTotals
        do {
            let source = try connector.exportSource(account: account, selection: selection, progress: progress)
            walked = try await ExportWalk.run(
                source, into: writer, renderings: renderings, base: incremental ? base : nil,
                displayName: connector.descriptor.displayName, progress: progress)
        } catch {
            writer.abandon()
            progress.finish()
            throw error
        }
        totals = try writer.sealStreamed(notExported: walked.notExported, finishedAt: finishedAt ?? Date())
        progress.finish()
        let path: String
        switch destination {
        case .file(let url), .folder(let url): path = url.path
        case .standardOutput: path = "-"
        }
        var summary = ExportSummary(
            archive: path, service: connector.service, account: account.account, counts: totals.counts,
            notExported: totals.notExported, bytes: writer.bytesWritten,
            requests: await connector.client.requestCounts(), seconds: Date().timeIntervalSince(started))
        if incremental { summary.changes = walked.changes }
        return summary
    }

    /// Verifies and opens `archiveURL`, binds a journal to (source account, target account) and replays the
    /// archive through `connector`. The journal defaults to `ARCHIVE.journal.sqlite`; a dry run opens none.
    public static func importArchive(
        _ archiveURL: URL, into connector: some Connector, journalURL: URL?, options: ImportOptions,
        progress: ProgressReporter
    ) async throws -> ImportSummary {
        progress.beginStage("verify")
        let archive = try SnapshotReader.open(archiveURL)
        defer { archive.close() }
        let target = try await connector.identify()
        let url = journalURL ?? defaultJournalURL(for: archiveURL)
        let binding = JournalBinding(
            sourceService: archive.info.service.rawValue, sourceAccount: archive.info.source.account.id,
            targetService: connector.service.rawValue, targetBaseURL: connector.baseURL.absoluteString,
            targetAccount: target.account.id)
        var journal: ImportJournal?
        if !options.dryRun {
            journal = try ImportJournal(url: url, binding: binding)
        }
        var summary = try await connector.importArchive(archive, journal: journal, options: options, progress: progress)
        progress.finish()
        // A dry run after an interrupted import tells what the rerun would still create: what the journal of the same
        // source and target already confirms counts as present, not as to be created.
        if options.dryRun, FileManager.default.fileExists(atPath: url.path) {
            let existing = try ImportJournal(readingFrom: url)
            if try existing.binding() == binding {
                for (kind, count) in try existing.counts() {
                    let present = min(count.created, summary.created[kind] ?? 0)
                    if present > 0 {
                        summary.alreadyPresent[kind, default: 0] += present
                        summary.created[kind] = (summary.created[kind] ?? 0) - present
                    }
                    let sent = min(count.planned, summary.created[kind] ?? 0)
                    if sent > 0 { summary.unconfirmed = (summary.unconfirmed ?? [:]).merging([kind: sent], uniquingKeysWith: +) }
                }
            }
        }
        return summary
    }
}
