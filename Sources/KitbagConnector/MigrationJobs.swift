import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// `kitbag import ARCHIVE --to SERVICE` when the archive holds another service's data.
public enum MigrationJobs {
    /// `ARCHIVE.import-report.json` beside the journal (`X.journal.sqlite` → `X.import-report.json`).
    public static func defaultReportURL(journal: URL) -> URL {
        var name = journal.lastPathComponent
        for suffix in [".sqlite", ".journal"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return journal.deletingLastPathComponent().appendingPathComponent(name + ".import-report.json")
    }

    /// `import-report.json` of an import of a service's own archive: what it created, and the connector's
    /// `notImported` list as the loss list (no plan: nothing is mapped). Written unless a dry run without
    /// `reportURL`; returns where it went.
    @discardableResult
    public static func writeDirectReport(
        _ archiveURL: URL, service: ServiceName, summary: ImportSummary, journalURL: URL?, reportURL: URL?
    ) throws -> URL? {
        guard !summary.dryRun || reportURL != nil else { return nil }
        let report = MigrationReport(
            archive: archiveURL.lastPathComponent, source: service, target: service, dryRun: summary.dryRun,
            created: summary.created, alreadyPresent: summary.alreadyPresent, containers: [], skipped: [],
            notImported: summary.notImported)
        let url = reportURL ?? defaultReportURL(journal: journalURL ?? ConnectorJobs.defaultJournalURL(for: archiveURL))
        do {
            try report.encoded().write(to: url, options: .atomic)
        } catch {
            throw UserError("\(url.path): cannot write the import report (\(error.localizedDescription))")
        }
        return url
    }

    /// The source containers in the common model with the mapping applied, and the containers it skips.
    public static func containers(
        _ archive: SnapshotReader, source: MigrationSource, mapping: MappingConfig
    ) throws -> (containers: [MigrationContainer], skipped: [SkippedContainer]) {
        guard archive.info.service == source.service else {
            throw UserError("\(archive.archiveURL.lastPathComponent) holds \(archive.info.service.rawValue) data, not \(source.service.rawValue)")
        }
        let all = try source.read(archive)
        let file = mapping.fileName ?? "mapping.toml"
        for name in mapping.containers.keys.sorted() where !all.contains(where: { $0.readable.id == name || $0.readable.title == name }) {
            let known = all.map { "\($0.readable.id) (“\($0.readable.title)”)" }.joined(separator: ", ")
            throw UserError(
                "\(file): containers.\"\(name)\" names no container of the archive (there are: \(known))", exitStatus: .usage)
        }
        for (key, name) in [("title", mapping.rules.title), ("status", mapping.rules.status), ("labels", mapping.rules.labels)] {
            guard let name else { continue }
            let has = all.contains { c in
                c.readable.fields.contains { $0.code == name || $0.label == name } || c.fieldNames.contains(name)
            }
            if !has {
                throw UserError(
                    "\(file): \(key) = \"\(name)\": no container of the archive has a field \(name)", exitStatus: .usage)
            }
        }
        var kept: [MigrationContainer] = []
        var skipped: [SkippedContainer] = []
        for c in all {
            let skip = mapping.container(id: c.readable.id, title: c.readable.title)?.skip == true
            if skip || c.isRemoved {
                skipped.append(
                    SkippedContainer(
                        sourceID: c.readable.id, sourceTitle: c.readable.title,
                        items: c.readable.items.filter { !$0.isRemoved }.count,
                        reason: skip ? "skip = true in \(file)" : "the \(c.readable.kind) is in the source's trash"))
            } else {
                kept.append(try c.mapped(by: mapping))
            }
        }
        return (kept, skipped)
    }

    /// Plans the migration of `archiveURL` into `target`, writes the target-native archive that carries it and
    /// replays that through the target's journaled import (a dry run only counts). The journal defaults to
    /// `ARCHIVE.journal.sqlite`; the report is written to `reportURL` (default beside the journal) unless dry.
    public static func migrate(
        _ archiveURL: URL, source: MigrationSource, into target: some MigrationTarget, mapping: MappingConfig,
        journalURL: URL?, reportURL: URL?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> MigrationReport {
        progress.beginStage("verify")
        let archive = try SnapshotReader.open(archiveURL)
        defer { archive.close() }
        progress.beginStage("plan")
        let (containers, skipped) = try containers(archive, source: source, mapping: mapping)
        var plan = try await target.migrationPlan(containers, source: source.service, mapping: mapping)
        plan.skipped = skipped

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let snapshotURL = work.appendingPathComponent("migration")
        // A fixed time and ids derived from the source keep the snapshot identical between reruns.
        let epoch = Date(timeIntervalSince1970: 0)
        let account = archive.info.source.account
        let info = ArchiveInfo(
            service: target.service,
            source: .init(
                baseURL: archive.info.source.baseURL,
                account: .init(id: "\(source.service.rawValue):\(account.id)", name: account.name)),
            startedAt: epoch, renderings: [])
        let writer = try SnapshotWriter(destination: .folder(snapshotURL), format: .folder, info: info, snapshotTime: epoch)
        let manifest: Manifest
        do {
            try target.writeMigrationSnapshot(containers, plan: plan, source: archive, into: writer)
            manifest = try writer.seal(notExported: [], finishedAt: epoch)
        } catch {
            writer.abandon()
            throw error
        }
        let journal = journalURL ?? ConnectorJobs.defaultJournalURL(for: archiveURL)
        let summary = try await ConnectorJobs.importArchive(
            snapshotURL, into: target, journalURL: journal, options: options, progress: progress)
        // The target's general notes (users, collaborators, …) matter only for kinds the migration carries.
        let carried = Set(manifest.counts.filter { $0.value > 0 }.keys)
        let report = MigrationReport(
            archive: archiveURL.lastPathComponent, source: source.service, target: target.service,
            dryRun: options.dryRun, created: summary.created, alreadyPresent: summary.alreadyPresent,
            containers: plan.containers, skipped: plan.skipped,
            notImported: summary.notImported.filter { carried.contains($0.kind) })
        if !options.dryRun || reportURL != nil {
            let url = reportURL ?? defaultReportURL(journal: journal)
            do {
                try report.encoded().write(to: url, options: .atomic)
            } catch {
                throw UserError("\(url.path): cannot write the import report (\(error.localizedDescription))")
            }
        }
        return report
    }
}
