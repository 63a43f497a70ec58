import ArgumentParser
import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#endif

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
            DemoCommand.self, BackupCommand.self, ExportCommand.self, ImportCommand.self, RestoreCommand.self, VerifyCommand.self,
            SnapshotsCommand.self, ListCommand.self, DiffCommand.self, PruneCommand.self, CheckCommand.self, SandboxCommand.self,
            CSVCommand.self, RenderCommand.self,
        ])

    /// glibc gives each thread that meets a busy arena a new one, up to eight per core, and keeps what each arena
    /// freed: over a long export the threads of the HTTP client and the task pool spread the same work over many
    /// arenas. One per core (at least two) is what kitbag's few busy threads need: a Kona export of 100,000 tasks
    /// in 10 spaces peaked at 65 MiB instead of 71 (`Benchmarks/kona/run.sh`, issue 17). `MALLOC_ARENA_MAX`, when
    /// set, wins.
    static func limitMallocArenas() {
        #if canImport(Glibc)
            // `mallopt` is declared in <malloc.h>, which the Glibc module does not export: found by name instead.
            // M_ARENA_MAX is -8 there (glibc's ABI since 2.10).
            guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil,
                let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")
            else { return }
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: Mallopt.self)(-8, Int32(max(2, ProcessInfo.processInfo.activeProcessorCount)))
        #endif
    }

    /// Parses and runs, mapping command-line mistakes to exit status 2 (swift-argument-parser's default is 64).
    static func main() async {
        limitMallocArenas()
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
