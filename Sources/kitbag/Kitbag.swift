import ArgumentParser
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
            DemoCommand.self, ExportCommand.self, ImportCommand.self, VerifyCommand.self, ListCommand.self,
            SandboxCommand.self,
        ])
}
