import ArgumentParser
import Foundation
import KitbagArchive
import KitbagCore

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove an archive whole: every entry's size and SHA-256, counts, and the closing manifest.",
        discussion: "Exit 0 when whole, 3 when incomplete (no manifest, truncated), 1 when corrupt.")

    @Argument(help: "The archive (tar, tar.gz, tar.zst, zip or folder).")
    var archive: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard FileManager.default.fileExists(atPath: archive) else {
            printError("\(archive): no such file or folder; check the path")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
        let report = ArchiveVerifier.verify(URL(fileURLWithPath: archive))
        if global.json {
            try printJSON(report)
        } else {
            if !global.quiet || report.exitStatus != .success { printText(report.summaryLine + "\n") }
            for p in report.problems { printText("  \(p.path): \(p.problem)\n") }
        }
        if report.exitStatus != .success { throw ExitCode(report.exitStatus.rawValue) }
    }
}
