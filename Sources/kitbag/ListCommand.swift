import ArgumentParser
import Foundation
import KitbagArchive
import KitbagCore

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "Show what an archive holds: service, account, time, entity counts, size.",
        aliases: ["inspect"])

    @Argument(help: "The archive (tar, tar.gz, tar.zst, zip or folder).")
    var archive: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let summary = try ArchiveInspector.summary(of: URL(fileURLWithPath: archive))
            if global.json {
                try printJSON(summary)
                return
            }
            var text = "\(archive)\n"
            if let info = summary.info {
                let who = info.source.account.name.map { "\($0) (\(info.source.account.id))" } ?? info.source.account.id
                text += "  service:  \(info.service.rawValue) at \(info.source.baseURL)\n"
                text += "  account:  \(who)\n"
                text += "  started:  \(info.startedAt)  kitbag \(info.kitbagVersion), format v\(info.formatVersion)\n"
            }
            text += "  size:     \(ByteCount.format(summary.archiveSize)) in \(summary.entryCount) entries\n"
            text += "  entities: \(summary.counts.isEmpty ? "none" : formatCounts(summary.counts))\n"
            if !summary.manifestPresent { text += "  INCOMPLETE: no manifest.json — this archive did not finish; run kitbag verify\n" }
            printText(text)
        }
    }
}
