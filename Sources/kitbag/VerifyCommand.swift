import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagCore

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove archives whole: every entry's size and SHA-256, counts, and the closing manifest.",
        discussion: """
            Give one or more archives, or a backup folder to check every archive in it (like restic check). \
            In a backup folder the result is recorded, so `kitbag snapshots DIR` shows which archives were verified.
            Exit 0 when all are whole, 3 when one is incomplete (no manifest, truncated), 1 when one is corrupt.
            """)

    @Argument(help: "Archives (tar, tar.gz, tar.zst, zip or folder), or backup folders.")
    var archives: [String]

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if archives.isEmpty { throw ValidationError("name an archive or a backup folder to verify.") }
    }

    func run() async throws {
        var reports: [VerifyReport] = []
        var failed = false
        for path in archives {
            switch ArchiveTarget.classify(path) {
            case .missing:
                printError("\(path): no such file or folder; check the path")
                failed = true
            case .unrelatedFolder:
                printError("\(path) is a folder, but neither a kitbag archive (no kitbag.json) nor a folder of kitbag archives")
                failed = true
            case .archive(let url):
                reports.append(report(url))
            case .backupFolder(let folder, let found):
                let state = try? folder.existingState()
                for archive in found {
                    let r = report(archive.url)
                    try? state?.record(VerificationRecord(archive: archive.url, status: r.status.rawValue, checkedAt: Date()))
                    reports.append(r)
                }
            }
        }
        if global.json {
            if archives.count == 1, reports.count == 1, case .archive = ArchiveTarget.classify(archives[0]) {
                try printJSON(reports[0])
            } else {
                try printJSON(reports)
            }
        } else if reports.count > 1 && !global.quiet {
            let whole = reports.filter { $0.status == .whole }.count
            printText("\(whole) of \(reports.count) archives whole\n")
        }
        let worst = reports.map(\.exitStatus).max { rank($0) < rank($1) } ?? .success
        if failed { throw ExitCode(ExitStatus.failure.rawValue) }
        if worst != .success { throw ExitCode(worst.rawValue) }
    }

    private func report(_ url: URL) -> VerifyReport {
        let r = ArchiveVerifier.verify(url)
        if !global.json {
            if !global.quiet || r.exitStatus != .success { printText(r.headline + "\n") }
            for p in r.problems { printText("  \(p.path): \(p.problem)\n") }
        }
        return r
    }

    /// corrupt outranks incomplete outranks whole.
    private func rank(_ status: ExitStatus) -> Int {
        switch status {
        case .failure: 2
        case .incomplete: 1
        default: 0
        }
    }
}

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the archives in a backup folder: time, account, full or incremental, counts, size, verified.",
        discussion: """
            Reads each archive's own records (it does not verify them: `kitbag verify DIR` does, and is shown here \
            afterwards). Archives are recognised by kitbag's names, SERVICE-ACCOUNT-YYYYMMDDTHHMMSSZ.EXT.
            """)

    @Argument(help: "The backup folder (`kitbag backup … --to DIR`), or any folder exports were written into.")
    var folder: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let listings: [SnapshotListing]
            switch ArchiveTarget.classify(folder) {
            case .missing:
                throw UserError("\(folder): no such folder; check the path", exitStatus: .failure)
            case .archive:
                throw UserError("\(folder) is one archive, not a folder of them: use kitbag ls \(folder)", exitStatus: .usage)
            case .unrelatedFolder:
                listings = []
            case .backupFolder(let f, let archives):
                listings = try SnapshotListing.list(f, archives: archives)
            }
            if global.json {
                try printJSON(listings)
                return
            }
            if listings.isEmpty {
                printText("no kitbag archives in \(folder)\n")
                return
            }
            let header = ["TIME", "SERVICE", "ACCOUNT", "KIND", "ITEMS", "SIZE", "VERIFIED", "ARCHIVE"]
            var rows = [header]
            for l in listings {
                rows.append([
                    l.time, l.service.rawValue, l.account, l.kind ?? "export",
                    l.problem == nil ? "\(l.counts.values.reduce(0, +))" : "?", ByteCount.format(l.bytes),
                    l.verified.map { "\($0) \(l.verifiedAt ?? "")" } ?? "not yet", l.archive,
                ])
            }
            var text = table(rows)
            for l in listings { if let p = l.problem { text += "  \(l.archive): \(p)\n" } }
            let total = listings.reduce(Int64(0)) { $0 + $1.bytes }
            text += "\(listings.count) archive\(listings.count == 1 ? "" : "s"), \(ByteCount.format(total))\n"
            printText(text)
        }
    }
}

/// Left-aligned columns separated by two spaces, as `restic snapshots` prints them.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}
