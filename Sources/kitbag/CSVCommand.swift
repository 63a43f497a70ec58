import ArgumentParser
import Foundation
import Kintone
import KitbagArchive
import KitbagCore

/// `kitbag csv ARCHIVE --to DIR`: a Kintone archive's apps as cli-kintone CSV files with their attachments.
struct CSVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "Write a Kintone archive's records as CSV files cli-kintone's record import reads.",
        discussion: """
            Writes DIR/<app id>/records.csv and DIR/<app id>/attachments/<field>-<record id>/<file>, so that
              cli-kintone record import --app N --file-path DIR/<id>/records.csv --attachments-dir DIR/<id>/attachments
            puts the records back with Kintone's own tool, and a spreadsheet opens them.
            """)

    @Argument(help: "A Kintone archive (tar, tar.gz, tar.zst, zip or folder).")
    var archive: String

    @Option(name: .customLong("to"), help: ArgumentHelp("Folder to write (created when missing).", valueName: "DIR"))
    var folder: String

    @Option(name: .customLong("app"), help: "Only this app (repeatable).")
    var apps: [String] = []

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            guard FileManager.default.fileExists(atPath: archive) else {
                throw UserError("\(archive): no such file or folder; check the path", exitStatus: .usage)
            }
            let reader = try SnapshotReader.open(URL(fileURLWithPath: archive))
            let written = try KintoneCSV.write(archive: reader, apps: apps, to: URL(fileURLWithPath: folder, isDirectory: true))
            if written.isEmpty {
                throw UserError("\(archive) holds no app\(apps.isEmpty ? "" : " named by --app") — check the archive and the ids", exitStatus: .usage)
            }
            if !global.quiet {
                printText(written.map { "wrote \($0.appendingPathComponent("records.csv").path)\n" }.joined())
            }
        }
    }
}
