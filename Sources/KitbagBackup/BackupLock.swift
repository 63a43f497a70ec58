import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a backup folder: `flock(2)` on `DIR/.kitbag/lock`. The kernel drops it when the holder
/// exits or dies, so a lock is never stale; the file names the holder for the message a second run prints.
public final class BackupLock: Sendable {
    private let fd: Int32
    public let url: URL

    /// Takes the lock or throws a one-line error naming the holder (pid, host, since when).
    public init(_ url: URL, purpose: String) throws {
        self.url = url
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw UserError("cannot open the lock file \(url.path): \(String(cString: strerror(errno)))", exitStatus: .failure)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: url, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw UserError(
                "another kitbag run holds \(url.path)\(holder.isEmpty ? "" : " (\(holder))"); wait for it to finish — "
                    + "the lock goes away by itself when that process ends", exitStatus: .failure)
        }
        self.fd = fd
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let note = "\(purpose), pid \(getpid()) on \(String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)), since \(Timestamp.string(Date()))\n"
        ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// Releases the lock (also done when the process ends).
    public func release() {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
