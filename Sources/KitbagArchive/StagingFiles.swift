import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `.NAME.kitbag-XXXXXXXX.partial` files and folders an archive is written into before it is moved into place.
///
/// Each live one is held under an exclusive `flock` by the process writing it, so another run can tell a file a
/// killed run left (lock free) from one still being written (lock held), and every live one is listed here so an
/// interrupt can remove them before the process exits.
public enum StagingFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live: [String: Int32] = [:]

    /// The staging name for `target` (a file or folder path), unique per call.
    static func name(for target: URL) -> URL {
        target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).kitbag-\(UUID().uuidString.prefix(8)).partial")
    }

    /// Whether a file name is one of kitbag's staging names.
    public static func isStagingName(_ name: String) -> Bool {
        name.hasPrefix(".") && name.hasSuffix(".partial") && name.contains(".kitbag-")
    }

    /// Records a staging path as live and takes its lock (a file's own descriptor, or a descriptor on the folder).
    /// A descriptor of -1 lists a path about to be created (no lock yet); registering it again takes the lock.
    static func register(_ path: String, descriptor: Int32? = nil) {
        let fd = descriptor ?? open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = flock(fd, LOCK_EX | LOCK_NB) }
        lock.lock()
        live[path] = descriptor == nil ? fd : -1
        lock.unlock()
    }

    /// The staging path was published or removed: forget it (closing the folder descriptor taken for it).
    static func unregister(_ path: String) {
        lock.lock()
        let fd = live.removeValue(forKey: path)
        lock.unlock()
        if let fd, fd >= 0 { close(fd) }
    }

    /// Removes every staging file and folder this process is writing (for an interrupt). Returns how many.
    @discardableResult
    public static func removeLive() -> Int {
        lock.lock()
        let paths = live
        live.removeAll()
        lock.unlock()
        for (path, fd) in paths {
            try? FileManager.default.removeItem(atPath: path)
            if fd >= 0 { close(fd) }
        }
        return paths.count
    }

    /// Removes the staging files in `folder` that no live process holds: what killed runs left behind.
    /// Returns the names removed.
    @discardableResult
    public static func removeAbandoned(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var removed: [String] = []
        for name in names.sorted() where isStagingName(name) {
            let path = folder.appendingPathComponent(name).path
            lock.lock()
            let ours = live[path] != nil
            lock.unlock()
            guard !ours, !isHeld(path) else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(name) }
        }
        return removed
    }

    /// Whether another process holds the staging path's lock (it is still writing it).
    private static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}
