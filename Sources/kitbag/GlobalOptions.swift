import ArgumentParser
import Foundation
import KitbagCore
import Logging

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log each request and step to stderr.")
    var verbose = false

    @Flag(name: .shortAndLong, help: "Print only errors; no progress line, no summary.")
    var quiet = false

    @Flag(name: .long, help: "Print a machine-readable JSON report on stdout instead of the text summary.")
    var json = false

    func validate() throws {
        if verbose && quiet { throw ValidationError("--verbose and --quiet cannot be used together.") }
    }

    /// Sends swift-log output to stderr at the level the flags ask for (once per process).
    func makeLogger(_ label: String) -> Logger {
        Self.bootstrapOnce(level: verbose ? .debug : (quiet ? .error : .warning))
        return Logger(label: label)
    }

    var progress: ProgressReporter { .automatic(quiet: quiet || json) }

    private static let bootstrapped = LockedFlag()
    private static func bootstrapOnce(level: Logger.Level) {
        guard bootstrapped.setOnce() else { return }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    func setOnce() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if set { return false }
        set = true
        return true
    }
}

/// Runs a command body, turning kitbag errors into one line on stderr and the documented exit status; with `--json`
/// the error is also printed on stdout as `{"error": {"message", "exitStatus"}}`, so a script reads one shape.
func reportingErrors(json: Bool = false, _ body: () async throws -> Void) async throws {
    func fail(_ message: String, _ status: ExitStatus) throws -> Never {
        printError(message)
        if json { try? printJSON(ErrorReport(error: .init(message: message, exitStatus: status.rawValue))) }
        throw ExitCode(status.rawValue)
    }
    do {
        try await body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch let e as KitbagError {
        try fail(e.description, e.exitStatus)
    } catch is CancellationError {
        try fail("interrupted", .failure)
    } catch {
        try fail(String(describing: error), .failure)
    }
}

/// What `--json` prints on stdout when a command fails.
struct ErrorReport: Encodable {
    struct Detail: Encodable {
        var message: String
        var exitStatus: Int32
    }
    var error: Detail
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("kitbag: error: \(message)\n".utf8))
}

/// Writes an Encodable as pretty JSON with sorted keys on stdout (stderr when stdout carries an archive).
func printJSON(_ value: some Encodable, toStderr: Bool = false) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    var data = try enc.encode(value)
    data.append(0x0A)
    (toStderr ? FileHandle.standardError : FileHandle.standardOutput).write(data)
}

/// Writes a text report on stdout (stderr when stdout carries an archive).
func printText(_ text: String, toStderr: Bool = false) {
    (toStderr ? FileHandle.standardError : FileHandle.standardOutput).write(Data(text.utf8))
}
