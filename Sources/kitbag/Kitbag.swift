import ArgumentParser
import Foundation
import KitbagCore

@main
struct KitbagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kitbag",
        abstract: "Back up, export and import \(ServiceCatalog.names(" and ", displayNames: true)) through their REST APIs.",
        discussion: """
            Exit codes: 0 success, 1 failure (nothing whole was written), 2 usage error, \
            3 incomplete or partial (for example an archive without its manifest).
            """,
        version: Kitbag.version,
        subcommands: [
            DemoCommand.self, BackupCommand.self, ExportCommand.self, ImportCommand.self, VerifyCommand.self,
            SnapshotsCommand.self, ListCommand.self, DiffCommand.self, PruneCommand.self, CheckCommand.self, SandboxCommand.self,
            CSVCommand.self, RenderCommand.self,
        ])

    /// Parses and runs, mapping command-line mistakes to exit status 2 (swift-argument-parser's default is 64).
    static func main() async {
        // Every service of the list is known before any archive name or config file is read.
        _ = ServiceCatalog.all
        // `kitbag help NAME` for a NAME that is no command is a usage mistake, not a help page.
        let words = Array(CommandLine.arguments.dropFirst())
        if words.first == "help", let name = words.dropFirst().first,
            !configuration.subcommands.contains(where: { $0._commandName == name })
        {
            FileHandle.standardError.write(Data("kitbag: error: no command named '\(name)'; kitbag --help lists them\n".utf8))
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        do {
            var command = try parseAsRoot()
            if !(command is SandboxCommand) { Interrupts.install(message: Interrupts.message(for: command)) }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // One prefix for every error kitbag prints, usage mistakes included ("kitbag: error: …").
                var message = fullMessage(for: error)
                if message.hasPrefix("Error: ") { message = "kitbag: error: " + message.dropFirst("Error: ".count) }
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
