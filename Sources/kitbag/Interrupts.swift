import Dispatch
import Foundation
import KitbagArchive

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ctrl-C and SIGTERM for every command but `sandbox`: remove the archive being written, say so in one line, exit 130
/// (128 + SIGINT, as shells report it). What an import already wrote stays in its journal for the rerun.
enum Interrupts {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(message: String) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "kitbag.interrupt"))
            source.setEventHandler {
                StagingFiles.removeLive()
                let clearLine = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
                FileHandle.standardError.write(Data("\(clearLine)kitbag: \(message)\n".utf8))
                exit(sig == SIGINT ? 130 : 143)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The line an interrupted command prints.
    static func message(for command: Any) -> String {
        switch command {
        case is ImportCommand:
            "interrupted; what was imported is recorded in the journal — run the same command again to finish"
        case is RestoreCommand:
            "interrupted; what was written is recorded in the journal — run the same command again: it compares afresh and writes only what is still missing"
        case is BackupCommand:
            "interrupted; no backup written, earlier backups untouched"
        default:
            "interrupted; nothing written"
        }
    }
}
