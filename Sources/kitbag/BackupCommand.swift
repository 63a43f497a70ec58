import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagConnector
import KitbagCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write one complete archive of an account into a backup folder, fetching only what changed.",
        discussion: """
            Each run writes SERVICE-ACCOUNT-YYYYMMDDTHHMMSSZ.tar.zst into DIR and keeps its state in DIR/.kitbag/ \
            (a lock and state.sqlite). Containers whose change marker did not move since the previous backup are \
            copied from that archive instead of fetched; every archive still restores on its own, and the same \
            content gives the same bytes. Exit codes as restic's: 0 done, 1 failed and nothing written, 3 the \
            archive was written but the state could not be updated.
            Example (cron): 15 3 * * * KINOPIO_API_KEY=… kitbag backup kinopio --into /srv/backups/kinopio --quiet

            """ + ServiceCatalog.credentialHelp + "\n" + ServiceCatalog.optionHelp(for: .backup))

    @Argument(help: ArgumentHelp("Service to back up: \(ServiceCatalog.names()).", valueName: "service"))
    var service: ServiceName

    @Option(help: ArgumentHelp("Backup folder (created when missing).", valueName: "DIR"))
    var into: String?

    /// The spelling before 0.x: `--to` now means only import's target service.
    @Option(name: .customLong("to"), help: .hidden)
    var deprecatedTo: String?

    var folder: String { into ?? deprecatedTo ?? "" }

    @Flag(help: "Fetch everything, whatever the change markers say.")
    var full = false

    @Option(help: ArgumentHelp("Fetch everything when the newest full backup is older than this (e.g. 7d, 36h).", valueName: "AGE"))
    var fullEvery: String?

    @Option(help: "Archive kind: tar, tar.gz, tar.zst (default), zip or folder.")
    var archiveFormat: ArchiveFormat = .tarZst

    @OptionGroup var connectionOptions: ConnectionOptions
    @OptionGroup var renderings: RenderingOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if into == nil && deprecatedTo == nil { throw ValidationError("name the backup folder: --into DIR.") }
        if into != nil && deprecatedTo != nil { throw ValidationError("--to is the old spelling of --into; give one of them.") }
        if let fullEvery, Self.age(fullEvery) == nil {
            throw ValidationError("--full-every takes an age like 7d, 36h or 90m.")
        }
        try connectionOptions.validate(service, command: .backup)
    }

    /// `7d`, `36h`, `90m`, `2w` → seconds.
    static func age(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n > 0, n.isFinite else { return nil }
        return n * unit
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let started = Date()
            if deprecatedTo != nil {
                FileHandle.standardError.write(Data("kitbag: warning: backup --to is deprecated; use --into \(folder)\n".utf8))
            }
            let progress = global.progress
            let connector = try connectionOptions.connector(service, command: .backup, global: global, progress: progress)
            defer { Task { await connector.shutdown() } }
            var options = BackupOptions()
            options.format = archiveFormat
            options.full = full
            options.fullEvery = fullEvery.flatMap(Self.age)
            options.selection = try connectionOptions.selection(service, command: .backup)
            options.renderings = renderings.renderings
            let summary = try await BackupJob.run(
                connector, to: BackupFolder(URL(fileURLWithPath: folder, isDirectory: true)), options: options,
                progress: progress)
            if global.json {
                try printJSON(summary)
            } else if !global.quiet {
                let e = summary.export
                var msg = "backed up \(service.rawValue) account \(e.account.name ?? e.account.id) → \(e.archive) "
                msg += "(\(ByteCount.format(e.bytes)), \(String(format: "%.1f", Date().timeIntervalSince(started))) s)\n"
                if summary.full {
                    msg += "  full: \(summary.fullReason ?? "every container changed")\n"
                } else {
                    msg += "  incremental: \(summary.fetchedContainers) container(s) fetched, \(summary.reusedContainers) copied from \(summary.previous ?? "the previous backup")\n"
                }
                msg += "  entities: \(formatCounts(e.counts))\n  requests: \(formatRequests(e.requests, perRoute: global.verbose))\n"
                printText(msg)
            }
        }
    }
}

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove old backups from a folder by restic's --keep-* rules, per service and account.",
        discussion: """
            Periods are UTC (the time in the archive name). A backup is kept when any rule keeps it; a rule with \
            periods left also keeps the oldest backup. At least one rule is required. -1 keeps every period.
            Example: kitbag prune /srv/backups/kinopio --keep-daily 7 --keep-weekly 4 --keep-monthly 12
            """)

    @Argument(help: "Backup folder.")
    var folder: String

    @Option(parsing: .unconditional, help: "Keep the N newest backups.") var keepLast = 0
    @Option(parsing: .unconditional, help: "Keep the newest backup of each of the last N hours that have one.") var keepHourly = 0
    @Option(parsing: .unconditional, help: "Keep the newest backup of each of the last N days that have one.") var keepDaily = 0
    @Option(parsing: .unconditional, help: "Keep the newest backup of each of the last N ISO weeks that have one.") var keepWeekly = 0
    @Option(parsing: .unconditional, help: "Keep the newest backup of each of the last N months that have one.") var keepMonthly = 0
    @Option(parsing: .unconditional, help: "Keep the newest backup of each of the last N years that have one.") var keepYearly = 0

    @Flag(help: "Only show what would be removed.")
    var dryRun = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for n in [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly] where n < -1 {
            throw ValidationError("--keep-* take a count, or -1 for all.")
        }
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw UserError("\(folder): no such folder; check the path of the backup folder", exitStatus: .failure)
            }
            let policy = RetentionPolicy(
                last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly,
                yearly: keepYearly)
            let decisions = try PruneJob.run(
                BackupFolder(URL(fileURLWithPath: folder, isDirectory: true)), policy: policy, dryRun: dryRun)
            if global.json {
                try printJSON(decisions)
            } else if !global.quiet {
                var msg = ""
                for d in decisions {
                    msg += (d.keep ? "keep    " : (dryRun ? "would remove " : "remove  ")) + d.archive
                    msg += d.keep ? "  (\(d.reasons.joined(separator: ", ")))\n" : "\n"
                }
                let removed = decisions.filter { !$0.keep }.count
                msg += "\(decisions.count - removed) kept, \(removed) \(dryRun ? "would be " : "")removed\n"
                printText(msg)
            }
        }
    }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show the entities added, removed and changed between two archives, or an archive and its live account.",
        discussion: """
            Both archives are verified first. Exit status 0 whether or not they differ.

            With --live, ARCHIVE is compared with the account it came from (the credentials must reach that account): \
            per kind, what was deleted, put in the trash, changed (which fields; timestamps and other server-kept keys \
            aside) and added since, with titles and ids. Only what --only/--container/--match need is read.
            """)

    @Argument(help: "The older archive (with --live: the archive to compare with its account).") var from: String
    @Argument(help: "The newer archive (not with --live).") var to: String?

    @Flag(help: "Compare FROM with the live account it came from (Kinopio), reading only what is needed.")
    var live = false

    @OptionGroup var scopeOptions: RestoreScopeOptions
    @OptionGroup var connectionOptions: ConnectionOptions

    @Flag(help: "List every differing entity, not only the counts.")
    var entities = false

    @Flag(help: "Compare archives of different services or accounts all the same.")
    var force = false

    @Option(help: "With --live: the journal of an earlier restore from FROM (default FROM.restore.sqlite beside it); what that restore created again under new ids counts as FROM's.")
    var journal: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if live && to != nil { throw ValidationError("--live compares one archive with its account; give one archive.") }
        if !live && journal != nil { throw ValidationError("--journal goes with --live.") }
        if !live && to == nil { throw ValidationError("give two archives, or one with --live.") }
        if !live && !(scopeOptions.only.isEmpty && scopeOptions.containers.isEmpty && scopeOptions.match == nil) {
            throw ValidationError("--only, --container and --match go with --live.")
        }
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            guard let to else {
                let target = try restoreTarget(archive: from, connectionOptions: connectionOptions, global: global, doing: "kitbag diff --live with")
                defer { Task { await target.shutdown() } }
                let diff = try await RestoreJobs.diffLive(
                    URL(fileURLWithPath: from), connector: target, scope: scopeOptions.scope,
                    journalURL: journal.map { URL(fileURLWithPath: $0) }, progress: global.progress)
                if global.json { try printJSON(diff) } else if !global.quiet { printText(liveDiffText(diff)) }
                return
            }
            let a = try SnapshotReader.open(URL(fileURLWithPath: from))
            defer { a.close() }
            let b = try SnapshotReader.open(URL(fileURLWithPath: to))
            defer { b.close() }
            let (sa, sb) = (a.info.source, b.info.source)
            if !force, a.info.service != b.info.service || sa.account.id != sb.account.id || sa.baseURL != sb.baseURL {
                func who(_ info: ArchiveInfo) -> String {
                    "\(info.service.rawValue) account \(info.source.account.name ?? info.source.account.id) at \(info.source.baseURL)"
                }
                throw UserError(
                    "\(from) is of \(who(a.info)) but \(to) is of \(who(b.info)); their ids do not correspond — pass --force to compare them anyway",
                    exitStatus: .usage)
            }
            let diff = try ArchiveDiff.compare(a, b)
            if global.json {
                try printJSON(diff)
                return
            }
            var msg = diff.isEmpty ? "no differences in content\n" : ""
            for kind in diff.kinds.keys.sorted() {
                let t = diff.kinds[kind]!
                guard t.added + t.removed + t.changed > 0 else { continue }
                msg += "\(kind): +\(t.added) -\(t.removed) ~\(t.changed) (\(t.unchanged) unchanged)\n"
            }
            if entities {
                for e in diff.entries {
                    let sign = e.change == .added ? "+" : e.change == .removed ? "-" : "~"
                    msg += "  \(sign) \(e.kind) \(e.id)\(e.title.map { " “\($0)”" } ?? "") in \(e.container)\n"
                }
            }
            printText(msg)
        }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Test the credentials for a service and print the account they reach.",
        discussion: "One request (two for Kona when the access token must first be refreshed). Exit 0 when the credentials work.\n\n"
            + ServiceCatalog.credentialHelp + "\n" + ServiceCatalog.optionHelp(for: .check))

    @Argument(help: ArgumentHelp("Service: \(ServiceCatalog.names()).", valueName: "service"))
    var service: ServiceName

    @OptionGroup var connectionOptions: ConnectionOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try connectionOptions.validate(service, command: .check)
    }

    struct Report: Codable {
        var service: ServiceName
        var baseURL: String
        var account: ArchiveInfo.Account
        var requests: Int
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let connector = try connectionOptions.connector(service, command: .check, global: global, progress: .silent)
            defer { Task { await connector.shutdown() } }
            let probe = try await connector.identify()
            let report = Report(
                service: service, baseURL: connector.baseURL.absoluteString, account: probe.account,
                requests: await connector.client.requestCounts().values.reduce(0, +))
            if global.json {
                try printJSON(report)
            } else if !global.quiet {
                let who = probe.account.name.map { "\($0) (\(probe.account.id))" } ?? probe.account.id
                printText("\(service.rawValue): credentials work — account \(who) at \(report.baseURL)\n")
            }
        }
    }
}
