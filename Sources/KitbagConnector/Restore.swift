import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// How `kitbag restore` writes.
public struct RestoreOptions: Sendable, Equatable {
    public var scope: RestoreScope
    /// Also set changed fields back to the archived values.
    public var revert: Bool
    /// Also remove what was added since the snapshot (into the service's trash where it has one).
    public var deleteAdded: Bool
    /// Print the plan and the request count; write nothing.
    public var dryRun: Bool

    public init(scope: RestoreScope = RestoreScope(), revert: Bool = false, deleteAdded: Bool = false, dryRun: Bool = false) {
        self.scope = scope
        self.revert = revert
        self.deleteAdded = deleteAdded
        self.dryRun = dryRun
    }
}

/// What one step of a restore does to one entity.
public enum RestoreAction: String, Sendable, Codable, CaseIterable {
    /// Create it again (with its original id where the service keeps client ids).
    case recreate
    /// Take it out of the service's trash through its restore route.
    case undelete
    /// Set its changed fields back to the archived values.
    case revert
    /// Remove it (added since the snapshot; only with `--delete-added`).
    case remove
}

/// One planned write.
public struct RestoreStep: Sendable, Codable, Equatable {
    public var action: RestoreAction
    public var kind: String
    public var container: String?
    public var id: String
    public var title: String?
    /// Fields set back (`revert`).
    public var fields: [String]?
    /// Entities that come back with this one (a recreated container's contents).
    public var contents: Int?
}

/// A difference the restore leaves as it is, and why.
public struct RestoreSkip: Sendable, Codable, Equatable {
    public var entry: LiveDiff.Entry
    public var reason: String

    public init(entry: LiveDiff.Entry, reason: String) {
        self.entry = entry
        self.reason = reason
    }
}

/// What the live comparison turned into: the writes, in the order they are made, and what is left alone.
public struct RestorePlan: Sendable, Codable, Equatable {
    public var steps: [RestoreStep]
    public var skipped: [RestoreSkip]
}

/// What a connector's writes did (or, on a dry run, would do).
public struct RestoreOutcome: Sendable {
    /// Write requests per route: sent, or counted on a dry run.
    public var requests: [String: Int]
    /// Entities written, per `ACTION KIND` (`recreate card: 3`).
    public var done: [String: Int]
    /// Planned steps not written when their turn came, and why: edited since the plan (a revision the service
    /// refused), refused by the server.
    public var leftAlone: [RestoreSkip]
    /// What came back, but not as it was: what the service assigns itself (record numbers, authors, timestamps).
    public var notRestored: [NotExported]

    public init(requests: [String: Int], done: [String: Int], leftAlone: [RestoreSkip] = [], notRestored: [NotExported] = []) {
        self.requests = requests
        self.done = done
        self.leftAlone = leftAlone
        self.notRestored = notRestored
    }
}

/// What a restore did (or, on a dry run, would do).
public struct RestoreReport: Sendable, Codable {
    public var archive: String
    public var service: ServiceName
    public var account: ArchiveInfo.Account
    public var dryRun: Bool
    public var plan: RestorePlan
    /// Entities written, per action and kind (`recreate card: 3`); on a dry run, what would be.
    public var done: [String: Int]
    /// Requests per route: the reads of the live comparison and the writes (counted, not sent, on a dry run).
    public var requests: [String: Int]
    public var writeRequests: Int
    /// Planned steps left alone when their turn came, and why.
    public var leftAlone: [RestoreSkip]
    /// What came back, but not as it was, and why.
    public var notRestored: [NotExported]
    public var journal: String?
}

/// What a connector does that the shared restore cannot: its comparison rules, what it can put back, and the writes.
/// A connector that adopts it gets `kitbag diff ARCHIVE --live` and `kitbag restore ARCHIVE`.
public protocol RestoreTarget: Connector {
    /// How its archives compare with a fresh export.
    var liveRules: LiveRules { get }

    /// Nil when the connector can do `action` to an entity of `kind`, else the reason it cannot (one sentence).
    func restoreRefusal(kind: String, action: RestoreAction) -> String?

    /// Makes the plan's writes (on a dry run only counts them). `live` is the fresh export the plan came from, with
    /// the ids an earlier run of the same restore gave in `restored` (archived id → live id through
    /// `restored.created`). Every entity created again is recorded in `journal` under its archived id (plan, send,
    /// mark created — as an import does), so that a rerun after a crash creates nothing twice.
    func applyRestore(
        _ plan: RestorePlan, archive: SnapshotReader, live: SnapshotReader, restored: RoundTripIDs, journal: ImportJournal?,
        dryRun: Bool, progress: ProgressReporter
    ) async throws -> RestoreOutcome

    /// The connector that reads the live side of a comparison of `scope` (Kintone: records and comments only, and
    /// only the records the scope names). Default: itself.
    func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> Self
}

extension RestoreTarget {
    public func liveReader(scope: RestoreScope, archive: SnapshotReader, restored: RoundTripIDs) -> Self { self }
}

/// The shared restore pipeline: check the account, read what the scope needs of it through the connector's export,
/// compare, plan, write through the connector, journal.
public enum RestoreJobs {
    /// The requests per route in `counts` that were not yet in `before` (a client's counts grow for its whole life).
    public static func requests(_ counts: [String: Int], since before: [String: Int]) -> [String: Int] {
        counts.reduce(into: [:]) { out, pair in
            let n = pair.value - (before[pair.key] ?? 0)
            if n > 0 { out[pair.key] = n }
        }
    }

    /// `ARCHIVE.restore.sqlite` beside the archive.
    public static func defaultJournalURL(for archive: URL) -> URL {
        archive.deletingLastPathComponent().appendingPathComponent(archive.lastPathComponent + ".restore.sqlite")
    }

    /// The ids earlier runs of this restore gave to what they created again (none when the journal does not exist
    /// yet or the connector keeps archived ids).
    public static func restoredIDs(journal url: URL, rules: LiveRules) throws -> RoundTripIDs {
        guard !rules.journalKinds.isEmpty, FileManager.default.fileExists(atPath: url.path) else { return .none }
        return try RoundTripIDs(journal: ImportJournal(readingFrom: url), kinds: rules.journalKinds)
    }

    /// The connector as a restore target, or one line saying the service has none yet.
    public static func target(_ connector: any Connector, doing what: String = "restore into") throws -> any RestoreTarget {
        guard let target = connector as? any RestoreTarget else {
            throw UserError("\(what) \(connector.descriptor.displayName) is not supported yet", exitStatus: .usage)
        }
        return target
    }

    /// Refuses an archive of another service or account than the credentials reach, naming both.
    public static func checkAccount(_ archive: SnapshotReader, name: String, connector: any Connector, live: AccountProbe) throws {
        let info = archive.info
        func who(_ a: ArchiveInfo.Account) -> String { a.name.map { "\($0) (\(a.id))" } ?? a.id }
        guard info.service == connector.service else {
            throw UserError(
                "\(name) is a \(info.service.rawValue) archive but the credentials are for \(connector.service.rawValue); restore goes back only into the account an archive came from",
                exitStatus: .usage)
        }
        guard info.source.account.id == live.account.id else {
            throw UserError(
                "\(name) is of \(info.service.rawValue) account \(who(info.source.account)) but the credentials reach account \(who(live.account)); restore goes back only into the account an archive came from",
                exitStatus: .usage)
        }
    }

    /// A fresh export of the containers the scope needs (every container when it names none), JSON only, into a
    /// scratch folder; the caller removes `scratch`.
    static func readLive(
        _ connector: some RestoreTarget, account: AccountProbe, folders: [String: String]?, progress: ProgressReporter
    ) async throws -> (live: SnapshotReader, scratch: URL) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        do {
            let folder = scratch.appendingPathComponent("live")
            let selection = ExportSelection(containers: folders.map { Array(Set($0.values)).sorted() } ?? [], containersOnly: true)
            _ = try await ConnectorJobs.export(
                connector, account: account, destination: .folder(folder), format: .folder, selection: selection,
                renderings: [], progress: progress)
            return (try SnapshotReader.open(folder), scratch)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    /// `kitbag diff ARCHIVE --live`: what differs between the archive and the account, within the scope.
    /// What an earlier restore from the same archive created again under new ids (its journal, `journalURL` or
    /// the default beside the archive) counts as what the archive holds.
    public static func diffLive(
        _ archiveURL: URL, connector: some RestoreTarget, scope: RestoreScope, journalURL: URL? = nil,
        progress: ProgressReporter
    ) async throws -> LiveDiff {
        let archive = try SnapshotReader.open(archiveURL)
        defer { archive.close() }
        let restored = try restoredIDs(journal: journalURL ?? defaultJournalURL(for: archiveURL), rules: connector.liveRules)
        let (diff, _) = try await compare(
            archive, name: archiveURL.lastPathComponent, connector: connector, scope: scope, restored: restored,
            progress: progress) { _, _ in }
        return diff
    }

    /// Checks the account, reads the live part and compares; `body` runs while the live export is open.
    static func compare(
        _ archive: SnapshotReader, name: String, connector: some RestoreTarget, scope: RestoreScope, restored: RoundTripIDs,
        progress: ProgressReporter, _ body: (LiveDiff, SnapshotReader) async throws -> Void
    ) async throws -> (LiveDiff, AccountProbe) {
        let account = try await connector.identify()
        try checkAccount(archive, name: name, connector: connector, live: account)
        let rules = connector.liveRules
        let folders = try LiveComparison.folders(in: archive, scope: scope, rules: rules)
        if let folders, folders.isEmpty, !(try LiveComparison.namesAccountEntity(in: archive, scope: scope, rules: rules)) {
            throw UserError("nothing in \(name) matches \(describe(scope)); check the ids (kitbag diff \(name) --live lists them)", exitStatus: .usage)
        }
        // A container created again by an earlier run is read under the id it has now.
        let now = folders.map { f in f.mapValues { restored.forward[rules.containerKind]?[$0] ?? $0 } }
        let (live, scratch) = try await readLive(
            connector.liveReader(scope: scope, archive: archive, restored: restored), account: account, folders: now,
            progress: progress)
        defer {
            live.close()
            try? FileManager.default.removeItem(at: scratch)
        }
        let diff = try LiveComparison.compare(
            archive: archive, live: live, rules: rules, containers: folders.map { Set($0.values) }, scope: scope, archiveName: name,
            restored: restored)
        try await body(diff, live)
        return (diff, account)
    }

    static func describe(_ scope: RestoreScope) -> String {
        var parts = scope.only.map { "--only \($0.kind):\($0.id)" } + scope.containers.map { "--container \($0)" }
        if let m = scope.match { parts.append("--match \(m)") }
        return parts.joined(separator: " ")
    }

    /// Turns a live comparison into writes: deleted → recreate, in the trash → undelete, changed → revert (with
    /// `--revert`), added → remove (with `--delete-added`). What a recreated or removed container holds goes with it.
    public static func plan(_ diff: LiveDiff, options: RestoreOptions, target: some RestoreTarget) -> RestorePlan {
        let containerKind = target.liveRules.containerKind
        var steps: [RestoreStep] = []
        var skipped: [RestoreSkip] = []
        let recreated = Set(diff.entries.filter { $0.kind == containerKind && $0.change == .deleted }.map(\.id))
        let removedWhole = options.deleteAdded
            ? Set(diff.entries.filter { $0.kind == containerKind && $0.change == .added }.map(\.id)) : []
        var contents: [String: Int] = [:]
        for e in diff.entries {
            if let c = e.container, (e.change == .deleted && recreated.contains(c)) || (e.change == .added && removedWhole.contains(c)) {
                contents[c, default: 0] += 1
                continue
            }
            let action: RestoreAction
            switch e.change {
            case .deleted: action = .recreate
            case .removed: action = .undelete
            case .changed:
                if e.fields == [target.liveRules.removedFlag ?? "removed"] {
                    skipped.append(RestoreSkip(entry: e, reason: "taken out of the trash since the snapshot; left alone"))
                    continue
                }
                guard options.revert else {
                    skipped.append(RestoreSkip(entry: e, reason: "changed since the snapshot; left alone (--revert sets it back)"))
                    continue
                }
                action = .revert
            case .added:
                guard options.deleteAdded else {
                    skipped.append(RestoreSkip(entry: e, reason: "added since the snapshot; left alone (--delete-added removes it)"))
                    continue
                }
                action = .remove
            }
            if let refusal = target.restoreRefusal(kind: e.kind, action: action) {
                skipped.append(RestoreSkip(entry: e, reason: refusal))
                continue
            }
            steps.append(
                RestoreStep(
                    action: action, kind: e.kind, container: e.container, id: e.id, title: e.title,
                    fields: action == .revert ? e.fields?.filter { $0 != target.liveRules.removedFlag } : nil))
        }
        for i in steps.indices where steps[i].kind == containerKind {
            if let n = contents[steps[i].id] { steps[i].contents = n }
        }
        return RestorePlan(steps: steps, skipped: skipped)
    }

    /// `kitbag restore ARCHIVE`: compares, plans and writes the plan through the connector; every write is recorded
    /// in the journal (`ARCHIVE.restore.sqlite` unless `journalURL`), none on a dry run. A rerun compares afresh, so
    /// what an earlier (or interrupted) run put back is not written again.
    public static func restore(
        _ archiveURL: URL, connector: some RestoreTarget, options: RestoreOptions, journalURL: URL?,
        progress: ProgressReporter
    ) async throws -> RestoreReport {
        let archive = try SnapshotReader.open(archiveURL)
        defer { archive.close() }
        let name = archiveURL.lastPathComponent
        let before = await connector.client.requestCounts()
        func since(_ counts: [String: Int]) -> [String: Int] { RestoreJobs.requests(counts, since: before) }
        var report: RestoreReport?
        let url = journalURL ?? defaultJournalURL(for: archiveURL)
        let restored = try restoredIDs(journal: url, rules: connector.liveRules)
        _ = try await compare(
            archive, name: name, connector: connector, scope: options.scope, restored: restored, progress: progress
        ) { diff, live in
            let plan = plan(diff, options: options, target: connector)
            let reads = since(await connector.client.requestCounts())
            var journal: ImportJournal?
            // The journal of an earlier (maybe interrupted) run is opened even when nothing is planned: what it sent
            // may still need finishing (a Kitemaker initiative's links and roadmap places).
            if !options.dryRun && (!plan.steps.isEmpty || FileManager.default.fileExists(atPath: url.path)) {
                journal = try ImportJournal(
                    url: url,
                    binding: JournalBinding(
                        sourceService: archive.info.service.rawValue, sourceAccount: archive.info.source.account.id,
                        targetService: connector.service.rawValue, targetBaseURL: connector.baseURL.absoluteString,
                        targetAccount: archive.info.source.account.id))
            }
            let applied = try await connector.applyRestore(
                plan, archive: archive, live: live, restored: restored, journal: journal, dryRun: options.dryRun,
                progress: progress)
            progress.finish()
            let requests = options.dryRun ? reads.merging(applied.requests, uniquingKeysWith: +) : since(await connector.client.requestCounts())
            report = RestoreReport(
                archive: name, service: archive.info.service, account: archive.info.source.account, dryRun: options.dryRun,
                plan: plan, done: applied.done, requests: requests, writeRequests: applied.requests.values.reduce(0, +),
                leftAlone: applied.leftAlone, notRestored: applied.notRestored, journal: journal?.url.path)
        }
        return report!
    }
}
