import ArgumentParser
import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// `--only`, `--container`, `--match`: the part of an archive `diff --live` and `restore` look at.
struct RestoreScopeOptions: ParsableArguments {
    @Option(
        name: .customLong("only"),
        help: ArgumentHelp("Only this entity, as KIND:ID (space:ID, card:ID, Kintone record:APP/ID, …); repeatable; a container brings its contents.", valueName: "KIND:ID"))
    var only: [String] = []

    @Option(name: .customLong("container"), help: ArgumentHelp("Only this container (a Kinopio space, a Kintone app) and its contents; repeatable.", valueName: "ID"))
    var containers: [String] = []

    @Option(help: ArgumentHelp("Only entities (or containers) whose title contains this text, ignoring case.", valueName: "TEXT"))
    var match: String?

    func validate() throws {
        for o in only where RestoreScope.pair(o) == nil {
            throw ValidationError("--only \(o) is not KIND:ID (for example card:abc123 or space:abc123).")
        }
        if let match, match.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--match needs some text.") }
    }

    var scope: RestoreScope {
        RestoreScope(only: only.compactMap(RestoreScope.pair), containers: containers, match: match)
    }
}

/// Opens the archive's `kitbag.json` to learn its service, then builds that service's connector as a restore target.
func restoreTarget(
    archive: String, connectionOptions: ConnectionOptions, global: GlobalOptions, doing what: String
) throws -> any RestoreTarget {
    guard FileManager.default.fileExists(atPath: archive) else {
        throw UserError("\(archive): no such file or folder; check the path of the archive", exitStatus: .failure)
    }
    guard let service = try ArchiveInspector.summary(of: URL(fileURLWithPath: archive)).info?.service else {
        throw UserError("\(archive) has no kitbag.json; it is not a kitbag archive", exitStatus: .failure)
    }
    let descriptor = try ServiceCatalog.descriptor(service)
    guard descriptor.restores else {
        throw UserError("\(what) \(descriptor.displayName) is not supported yet (\(archive) is a \(descriptor.displayName) archive)", exitStatus: .usage)
    }
    let connector = try connectionOptions.connector(service, command: .check, global: global, progress: global.progress)
    do {
        return try RestoreJobs.target(connector, doing: what)
    } catch {
        Task { await connector.shutdown() }
        throw error
    }
}

/// `kitbag diff ARCHIVE --live`, as text.
func liveDiffText(_ diff: LiveDiff) -> String {
    var msg = diff.isEmpty ? "no differences: the account holds what \(diff.archive) holds\(diff.containersRead == nil ? "" : " (in the part compared)")\n" : ""
    for kind in diff.kinds.keys.sorted() {
        let t = diff.kinds[kind]!
        guard t.deleted + t.removed + t.changed + t.added > 0 else { continue }
        msg += "\(kind): \(t.deleted) deleted, \(t.removed) in the trash, \(t.changed) changed, \(t.added) added (\(t.unchanged) unchanged)\n"
    }
    for e in diff.entries {
        msg += "  \(entryLine(e))\n"
    }
    return msg
}

func entryLine(_ e: LiveDiff.Entry) -> String {
    let what: String
    switch e.change {
    case .deleted: what = "deleted"
    case .removed: what = "in the trash"
    case .changed: what = "changed \((e.fields ?? []).joined(separator: ", "))"
    case .added: what = "added"
    }
    return "\(e.kind) \(e.id)\(e.title.map { " “\($0)”" } ?? "")\(e.container.map { " in \($0)" } ?? ""): \(what)"
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put back into the live account what was deleted or changed since an archive was made.",
        discussion: """
            The archive is compared with the account it came from (the credentials must reach that account; an \
            archive of another account is refused). What is gone is created again — with its original id where the \
            service keeps client ids (Kinopio) — and what is in the service's trash is restored through its restore \
            route. What still exists is left alone unless --revert; what was added since is left alone unless \
            --delete-added (Kinopio: into the trash). Only the containers the selection needs are read.

            Every write is recorded in a SQLite journal (default ARCHIVE.restore.sqlite). Each run compares afresh, so \
            a rerun — after a crash, a Ctrl-C, or once everything is back — writes only what is still missing. \
            --dry-run prints the plan and the request count and writes nothing.

            Supported: Kinopio; Kintone apps, records and comments (a deleted record comes back under a new id and \
            record number, journaled; --revert sends the revision read, so a record edited meanwhile is left alone; a \
            deleted app comes back as a new app with its records — it needs a login allowed to create apps; --revert \
            sets an app's name and description back); Kona (new ids, journaled; a task brings its \
            comments); Kitemaker work items and comments (a work item deleted in the app comes back as a new one with \
            a new number and its comments, journaled; --revert sets title, description, status, effort and impact \
            back and adds lost labels; spaces, statuses and --delete-added are refused — the API creates no spaces \
            and deletes nothing; initiatives and feedback are not compared).

            """ + ServiceCatalog.credentialHelp)

    @Argument(help: "The archive to restore from.")
    var archive: String

    @OptionGroup var scopeOptions: RestoreScopeOptions

    @Flag(help: "Also set changed fields back to the archived values.")
    var revert = false

    @Flag(help: "Also remove what was added since the archive was made (Kinopio: into the trash; Kona: deleted).")
    var deleteAdded = false

    @Flag(help: "Print the plan with titles and the request count; write nothing.")
    var dryRun = false

    @Option(help: "Journal file (SQLite). Default: ARCHIVE.restore.sqlite beside the archive.")
    var journal: String?

    @OptionGroup var connectionOptions: ConnectionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let started = Date()
            let target = try restoreTarget(archive: archive, connectionOptions: connectionOptions, global: global, doing: "restore into")
            defer { Task { await target.shutdown() } }
            let report = try await RestoreJobs.restore(
                URL(fileURLWithPath: archive), connector: target,
                options: RestoreOptions(scope: scopeOptions.scope, revert: revert, deleteAdded: deleteAdded, dryRun: dryRun),
                journalURL: journal.map { URL(fileURLWithPath: $0) }, progress: global.progress)
            if global.json {
                try printJSON(report)
                return
            }
            guard !global.quiet else { return }
            var msg: String
            if report.plan.steps.isEmpty {
                msg = "nothing to restore: the account already holds what \(report.archive) holds\(scopeOptions.scope.isEverything ? "" : " (in the part selected)")\n"
            } else {
                msg = dryRun ? "dry run: the plan (nothing written)\n" : "restored into \(report.service.rawValue) account \(report.account.name ?? report.account.id): \(formatCounts(report.done))\n"
            }
            for s in report.plan.steps {
                let verb = ["recreate": "create again", "undelete": "take out of the trash", "revert": "set back", "remove": "remove (into the trash)"][s.action.rawValue] ?? s.action.rawValue
                msg += "  \(verb): \(s.kind) \(s.id)\(s.title.map { " “\($0)”" } ?? "")\(s.container.map { " in \($0)" } ?? "")"
                if let f = s.fields { msg += " (\(f.joined(separator: ", ")))" }
                if let n = s.contents { msg += " with \(n) item\(n == 1 ? "" : "s")" }
                msg += "\n"
            }
            for s in report.plan.skipped + report.leftAlone { msg += "  left alone: \(entryLine(s.entry)) — \(s.reason)\n" }
            for n in report.notRestored {
                msg += "  not as it was: \(n.kind)\(n.container.map { " in \($0)" } ?? ""): \(n.reason)\n"
            }
            let reads = report.requests.values.reduce(0, +) - report.writeRequests
            msg += "  requests: \(reads) to read, \(report.writeRequests) \(dryRun ? "would be written" : "written")"
            if global.verbose { msg += " — \(formatRequests(report.requests, perRoute: true))" }
            msg += " in \(String(format: "%.1f", Date().timeIntervalSince(started))) s\n"
            if let j = report.journal { msg += "  journal: \(j)\n" }
            printText(msg)
        }
    }
}
