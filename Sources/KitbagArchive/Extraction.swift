import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates validated entry paths as files under one root folder, never following links.
final class EntryFileTree {
    let root: URL
    private var folders: Set<String> = []

    init(root: URL) {
        self.root = root
    }

    func makeFolder(_ path: String) throws {
        var folder = ""
        for part in path.split(separator: "/") {
            folder = folder.isEmpty ? String(part) : folder + "/" + part
            if folders.contains(folder) { continue }
            let full = root.path + "/" + folder
            if mkdir(full, 0o755) != 0 {
                let code = errno
                var info = stat()
                guard code == EEXIST, lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    throw ArchiveError.io(path: full, message: "cannot create folder for entry '\(path)': \(LibArchive.errnoMessage(code))")
                }
            }
            folders.insert(folder)
        }
    }

    /// Creates the file for `path` (which must not exist yet) and returns its descriptor.
    func createFile(_ path: String) throws -> Int32 {
        if let slash = path.lastIndex(of: "/") { try makeFolder(String(path[..<slash])) }
        let full = root.path + "/" + path
        let fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            if code == EEXIST { throw ArchiveError.duplicatePath(entry: path) }
            throw ArchiveError.io(path: full, message: "cannot create file for entry '\(path)': \(LibArchive.errnoMessage(code))")
        }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.io(path: path, message: "cannot write: \(LibArchive.errnoMessage())")
            }
            offset += n
        }
    }
}

/// Extracts an archive without ever writing outside the target folder.
public enum SafeExtractor {
    /// Extracts every entry of `archive` into `folder` (created if missing). Entries go to a temp folder under
    /// `folder` first; only when every entry passed the checks are they moved into place. Existing items are not replaced.
    public static func extract(_ archive: URL, to folder: URL, limits: ArchiveLimits = .default) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let staging = folder.appendingPathComponent(".kitbag-extract-\(UUID().uuidString.prefix(8))")
        guard mkdir(staging.path, 0o700) == 0 else {
            throw ArchiveError.io(path: staging.path, message: "cannot create a temp folder: \(LibArchive.errnoMessage())")
        }
        defer { try? FileManager.default.removeItem(at: staging) }
        try extractEntries(of: archive, into: staging, limits: limits)
        let topLevel = try FileManager.default.contentsOfDirectory(atPath: staging.path).sorted()
        for name in topLevel where FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            throw ArchiveError.io(
                path: folder.appendingPathComponent(name).path, message: "already exists; extract into an empty folder")
        }
        for name in topLevel {
            if rename(staging.appendingPathComponent(name).path, folder.appendingPathComponent(name).path) != 0 {
                throw ArchiveError.io(path: folder.appendingPathComponent(name).path, message: "cannot move into place: \(LibArchive.errnoMessage())")
            }
        }
    }

    /// Writes every entry under `root` (which must exist and be private), throwing at the first refused entry.
    static func extractEntries(of archive: URL, into root: URL, limits: ArchiveLimits) throws {
        let reader = try ArchiveReader(url: archive, limits: limits)
        defer { reader.close() }
        let tree = EntryFileTree(root: root)
        while let header = try reader.next() {
            if header.type == .directory {
                try tree.makeFolder(header.path)
                continue
            }
            let fd = try tree.createFile(header.path)
            defer { posixClose(fd) }
            try reader.forEachChunk { chunk in
                try EntryFileTree.write(fd, chunk, path: root.path + "/" + header.path)
            }
        }
    }
}
