import Foundation

/// Process exit codes, as documented in the README (restic's convention).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// The command failed; nothing whole was written.
    case failure = 1
    /// The command line was wrong.
    case usage = 2
    /// The result is incomplete or partial (e.g. an archive without its manifest).
    case incomplete = 3
}

/// An error meant for the person at the terminal: one line saying what happened,
/// to which entity or file, and what to do.
public protocol KitbagError: Error, CustomStringConvertible, Sendable {
    var exitStatus: ExitStatus { get }
}

extension KitbagError {
    public var exitStatus: ExitStatus { .failure }
}

/// A plain user-facing error with a message and an exit status.
public struct UserError: KitbagError {
    public let message: String
    public let exitStatus: ExitStatus
    public init(_ message: String, exitStatus: ExitStatus = .failure) {
        self.message = message
        self.exitStatus = exitStatus
    }
    public var description: String { message }
}

/// Replaces every occurrence of the given secrets in `text` with `[redacted]`.
public enum Redactor {
    public static func redact(_ text: String, secrets: [String]) -> String {
        var out = text
        for s in secrets where s.count >= 4 {
            out = out.replacingOccurrences(of: s, with: "[redacted]")
        }
        return out
    }
}
