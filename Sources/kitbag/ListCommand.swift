import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagCore
import KitbagRender

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "Show what an archive holds: service, account, time, entity counts, size.",
        aliases: ["inspect"])

    @Argument(help: "The archive (tar, tar.gz, tar.zst, zip or folder).")
    var archive: String

    @OptionGroup var global: GlobalOptions

    /// What `ls --json` prints: the archive summary plus the item count of every RSS feed in it.
    struct Listing: Encodable {
        var summary: ArchiveSummary
        var feeds: [String: Int]

        func encode(to encoder: Encoder) throws {
            try summary.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(feeds, forKey: Key(stringValue: "feeds")!)
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    /// Reads every feed of the archive with libxml2 (network off, entities refused) and counts its items.
    static func feedItemCounts(_ url: URL) throws -> [String: Int] {
        let reader = try ArchiveReader(url: url)
        var counts: [String: Int] = [:]
        while let entry = try reader.next() {
            guard entry.path.hasPrefix("feeds/"), entry.path.hasSuffix(".xml") else { continue }
            counts[entry.path] = try FeedReader.read(try reader.readAll(limit: 32 << 20)).itemCount
        }
        return counts
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let url: URL
            switch ArchiveTarget.classify(archive) {
            case .archive(let found): url = found
            case .missing: throw UserError("\(archive): no such file or folder; check the path", exitStatus: .failure)
            case .backupFolder:
                throw UserError("\(archive) is a folder of archives: list them with kitbag snapshots \(archive)", exitStatus: .usage)
            case .unrelatedFolder:
                throw UserError(
                    "\(archive) is a folder, but neither a kitbag archive (no kitbag.json) nor a folder of kitbag archives",
                    exitStatus: .failure)
            }
            let summary = try ArchiveInspector.summary(of: url)
            if summary.info == nil && !summary.manifestPresent {
                throw UserError("\(archive) is not a kitbag archive: it holds neither kitbag.json nor manifest.json", exitStatus: .failure)
            }
            let feeds = try Self.feedItemCounts(url)
            if global.json {
                try printJSON(Listing(summary: summary, feeds: feeds))
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
            if !feeds.isEmpty {
                text += "  feeds:    \(feeds.count) RSS feeds, \(feeds.values.reduce(0, +)) items\n"
            }
            if !summary.manifestPresent { text += "  INCOMPLETE: no manifest.json — this archive did not finish; run kitbag verify\n" }
            printText(text)
        }
    }
}
