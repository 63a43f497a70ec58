import ArgumentParser
import Foundation
import KitbagCore

@main
struct KitbagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kitbag",
        abstract: "Back up, export and import Kinopio, Kintone, Kitemaker and Kona through their REST APIs.",
        discussion: """
            Exit codes: 0 success, 1 failure (nothing whole was written), 2 usage error, \
            3 incomplete or partial (for example an archive without its manifest).
            """,
        version: Kitbag.version,
        subcommands: [
            DemoCommand.self, BackupCommand.self, ExportCommand.self, ImportCommand.self, VerifyCommand.self,
            ListCommand.self, DiffCommand.self, PruneCommand.self, CheckCommand.self, SandboxCommand.self, CSVCommand.self,
        ])

    /// Parses and runs, mapping command-line mistakes to exit status 2 (swift-argument-parser's default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
