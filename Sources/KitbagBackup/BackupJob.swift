import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// How `kitbag backup` runs.
public struct BackupOptions: Sendable {
    public var format: ArchiveFormat = .tarZst
    /// Fetch everything even when a previous backup could be reused.
    public var full = false
    /// Fetch everything when the newest full backup is older than this (guards against missed change markers).
    public var fullEvery: TimeInterval?
    public var selection = ExportSelection()
    public var renderings: Set<ReadableFormat> = Set(ReadableFormat.allCases)
    /// The backup's time: in the archive name and `kitbag.json`.
    public var now = Date()
    /// The manifest's `finishedAt`; nil takes the time the walk ends (tests fix it to compare bytes).
    public var finishedAt: Date?

    public init() {}
}

/// What a backup did, for the summary line and `--json`.
public struct BackupSummary: Sendable, Codable {
    public var export: ExportSummary
    /// True when every container was fetched.
    public var full: Bool
    /// Why the run fetched everything, when it did.
    public var fullReason: String?
    /// The archive whose unchanged containers were copied, if any.
    public var previous: String?
    public var reusedContainers: Int
    public var fetchedContainers: Int
}

/// `kitbag backup SERVICE --to DIR`: one complete, standalone archive per run, fetching only what changed.
public enum BackupJob {
    /// Takes the folder's lock, picks the previous backup of the same account (if any) as the base, exports, and
    /// only after the archive is sealed records it and advances the bookmarks (one SQLite transaction).
    public static func run(
        _ connector: some Connector, to folder: BackupFolder, options: BackupOptions, progress: ProgressReporter
    ) async throws -> BackupSummary {
        try folder.prepare()
        let lock = try BackupLock(folder.lockFile, purpose: "kitbag backup \(connector.service.rawValue)")
        defer { lock.release() }
        folder.removeDeadPartials()
        let state = try BackupState(url: folder.stateDatabase)
        let probe = try await connector.identify()
        let service = connector.service.rawValue
        let account = probe.account.id

        var fullReason: String?
        var previous: SnapshotReader?
        defer { previous?.close() }
        var base: ChangeBase?
        if !(connector is any IncrementalConnector) {
            fullReason = "\(service) has no change check cheaper than reading everything"
        } else if options.full {
            fullReason = "--full"
        } else if let latest = try state.latest(service: service, account: account) {
            let lastFull = try state.latestFull(service: service, account: account)
            if let every = options.fullEvery, lastFull.map({ options.now.timeIntervalSince($0) >= every }) ?? true {
                fullReason = "the newest full backup is older than --full-every"
            } else {
                do {
                    let reader = try SnapshotReader.open(folder.url.appendingPathComponent(latest.archive))
                    previous = reader
                    base = ChangeBase(previous: reader, markers: try state.bookmarks(service: service, account: account))
                } catch {
                    fullReason = "the previous backup \(latest.archive) cannot be read (\(error)); fetching everything"
                }
            }
        } else {
            fullReason = "first backup of this account in \(folder.url.path)"
        }

        let name = ConnectorJobs.defaultArchiveName(
            service: connector.service, account: probe.account, at: options.now, format: options.format)
        let url = folder.url.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: url.path) {
            throw UserError("\(url.path) already exists: a backup of this account started in the same second; run again later")
        }
        let export = try await ConnectorJobs.export(
            connector, account: probe, destination: options.format == .folder ? .folder(url) : .file(url),
            format: options.format, selection: options.selection, renderings: options.renderings, progress: progress,
            now: options.now, finishedAt: options.finishedAt, base: base)
        let changes = export.changes ?? ExportChanges()
        let record = BackupRecord(
            archive: name, service: service, account: account, startedAt: Timestamp.string(options.now),
            finishedAt: Timestamp.string(Date()), full: changes.reused.isEmpty,
            requests: export.requests.values.reduce(0, +), reusedContainers: changes.reused.count,
            fetchedContainers: changes.fetched.count)
        do {
            try state.commit(record, markers: changes.markers)
        } catch {
            throw UserError(
                "the archive \(url.path) is sealed and whole, but the backup state could not be updated (\(error)); "
                    + "the next backup will fetch everything", exitStatus: .incomplete)
        }
        return BackupSummary(
            export: export, full: changes.reused.isEmpty, fullReason: fullReason, previous: base == nil ? nil : previous?.archiveURL.lastPathComponent,
            reusedContainers: changes.reused.count, fetchedContainers: changes.fetched.count)
    }
}

/// `kitbag prune DIR --keep-…`: restic's `forget` rules applied per (service, account) to the archives in a folder.
public enum PruneJob {
    public struct Decision: Sendable, Codable {
        public var archive: String
        public var keep: Bool
        public var reasons: [String]
    }

    /// Decides, and unless `dryRun` removes the archives not kept (and forgets them in the state). Newest first.
    public static func run(_ folder: BackupFolder, policy: RetentionPolicy, dryRun: Bool) throws -> [Decision] {
        guard !policy.isEmpty else {
            throw UserError(
                "no --keep-* rule given: prune would remove every backup; add e.g. --keep-daily 7", exitStatus: .usage)
        }
        try folder.prepare()
        let lock = try BackupLock(folder.lockFile, purpose: "kitbag prune")
        defer { lock.release() }
        let archives = try folder.archives()
        let groups = Dictionary(grouping: archives) { "\($0.service.rawValue)-\($0.accountKey)" }
        var decisions: [Decision] = []
        for key in groups.keys.sorted() {
            let decided = policy.apply(to: groups[key]!.map { (item: $0, time: $0.time) })
            decisions += decided.map { Decision(archive: $0.item.name, keep: $0.keep, reasons: $0.reasons) }
        }
        guard !dryRun else { return decisions }
        var removed: [String] = []
        for d in decisions where !d.keep {
            let url = folder.url.appendingPathComponent(d.archive)
            do {
                try FileManager.default.removeItem(at: url)
                removed.append(d.archive)
            } catch {
                throw UserError("cannot remove \(url.path): \(error.localizedDescription)", exitStatus: .failure)
            }
        }
        if FileManager.default.fileExists(atPath: folder.stateDatabase.path) {
            try BackupState(url: folder.stateDatabase).forget(archives: removed)
        }
        return decisions
    }
}
