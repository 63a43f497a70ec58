import CArchive
import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The kind of an archive entry that a reader lets through (everything else is refused).
public enum EntryType: String, Sendable, Codable {
    case file
    case directory
}

/// One entry's header, after the reader's safety checks.
public struct ArchiveEntryHeader: Sendable, Equatable {
    /// Relative path, validated (no `..`, not absolute, UTF-8); directories without a trailing slash.
    public var path: String
    /// Declared size in bytes; -1 when the container does not declare it.
    public var size: Int64
    public var type: EntryType
}

/// Streaming reader over a tar, tar.gz, tar.zst or zip archive (libarchive detects filters and formats)
/// or a folder. Refuses hostile entries with an `ArchiveError` naming the entry. Not thread-safe.
public final class ArchiveReader {
    private enum Backend {
        case library(OpaquePointer)
        case folder(FolderWalk)
    }

    public let url: URL
    public let limits: ArchiveLimits
    private var backend: Backend?
    private var current: ArchiveEntryHeader?
    private var currentRead: Int64 = 0
    private var folderFD: Int32 = -1
    private var entryCount = 0
    private var totalBytes: Int64 = 0
    private var lastPath: String?
    private var finished = false

    /// Opens `url` (a file or a folder) for reading.
    public init(url: URL, limits: ArchiveLimits = .default) throws {
        _ = LibArchive.ready
        self.url = url
        self.limits = limits
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ArchiveError.io(path: url.path, message: "no such archive; check the path")
        }
        if isDir.boolValue {
            backend = .folder(try FolderWalk(root: url))
            return
        }
        guard let a = archive_read_new() else { throw ArchiveError.library(archive: url.path, entry: nil, message: "out of memory") }
        archive_read_support_filter_gzip(a)
        archive_read_support_filter_zstd(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_zip(a)
        if archive_read_open_filename(a, url.path, 64 << 10) != ARCHIVE_OK {
            let message = LibArchive.errorMessage(a)
            archive_read_free(a)
            throw ArchiveError.library(
                archive: url.path, entry: nil, message: "cannot open: \(message); is it a tar, tar.gz, tar.zst or zip archive?")
        }
        backend = .library(a)
    }

    deinit { close() }

    /// Releases the archive; further calls return nothing.
    public func close() {
        if case .library(let a) = backend { archive_read_free(a) }
        backend = nil
        if folderFD >= 0 {
            posixClose(folderFD)
            folderFD = -1
        }
    }

    /// The header of the next entry, or nil at the end. Throws for hostile entries and read errors.
    public func next() throws -> ArchiveEntryHeader? {
        if folderFD >= 0 {
            posixClose(folderFD)
            folderFD = -1
        }
        current = nil
        currentRead = 0
        guard !finished, let backend else { return nil }
        let header: ArchiveEntryHeader?
        switch backend {
        case .library(let a):
            header = try nextLibraryHeader(a)
        case .folder(let walk):
            header = try walk.next()
            if let header, header.type == .file {
                folderFD = open(walk.root.path + "/" + header.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                if folderFD < 0 {
                    throw ArchiveError.io(path: walk.root.path + "/" + header.path, message: "cannot open: \(LibArchive.errnoMessage())")
                }
            }
        }
        guard let header else {
            finished = true
            return nil
        }
        entryCount += 1
        if entryCount > limits.maxEntries {
            throw ArchiveError.archiveTooLarge(entry: header.path, reason: "more than \(limits.maxEntries) entries")
        }
        if header.size > limits.maxEntrySize {
            throw ArchiveError.entryTooLarge(entry: header.path, size: header.size, limit: limits.maxEntrySize)
        }
        if header.size > 0, totalBytes + header.size > limits.maxTotalSize {
            throw ArchiveError.archiveTooLarge(entry: header.path, reason: "more than \(limits.maxTotalSize) bytes in total")
        }
        current = header
        lastPath = header.path
        return header
    }

    private func nextLibraryHeader(_ a: OpaquePointer) throws -> ArchiveEntryHeader? {
        var entryPointer: OpaquePointer?
        let status = archive_read_next_header(a, &entryPointer)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry = entryPointer else {
            let after = lastPath.map { "after entry '\($0)'" } ?? "at the first entry"
            throw ArchiveError.library(
                archive: url.path, entry: nil, message: "cannot read the next entry (\(after)): \(LibArchive.errorMessage(a))")
        }
        // Name: raw bytes must be UTF-8.
        var rawName: [UInt8] = []
        if let raw = archive_entry_pathname(entry) {
            rawName = Array(UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: strlen(raw)))
        } else if let utf8 = archive_entry_pathname_utf8(entry) {
            rawName = Array(String(cString: utf8).utf8)
        }
        if rawName.isEmpty, status == ARCHIVE_WARN {
            // libarchive could not convert a name flagged as UTF-8 (zip) and keeps no bytes of it to show.
            throw ArchiveError.invalidName(entry: lastPath.map { "the entry after \($0)" } ?? "the first entry")
        }
        guard var path = String(validating: rawName, as: UTF8.self) else {
            throw ArchiveError.invalidName(entry: EntryPath.display(rawName))
        }
        // Names in errors are shown with control characters escaped, so every message stays one line.
        let shown = EntryPath.display(rawName)
        if let link = archive_entry_hardlink(entry) {
            throw ArchiveError.unsupportedEntryType(entry: shown, type: "hard link to '\(EntryPath.display(Array(String(cString: link).utf8)))'")
        }
        let type: EntryType
        switch UInt32(archive_entry_filetype(entry)) {
        case EntryMode.regular: type = .file
        case EntryMode.directory: type = .directory
        case EntryMode.symlink:
            let target = archive_entry_symlink(entry).map { EntryPath.display(Array(String(cString: $0).utf8)) } ?? "?"
            throw ArchiveError.unsupportedEntryType(entry: shown, type: "symbolic link to '\(target)'")
        case EntryMode.characterDevice: throw ArchiveError.unsupportedEntryType(entry: shown, type: "character device")
        case EntryMode.blockDevice: throw ArchiveError.unsupportedEntryType(entry: shown, type: "block device")
        case EntryMode.fifo: throw ArchiveError.unsupportedEntryType(entry: shown, type: "FIFO")
        case EntryMode.socket: throw ArchiveError.unsupportedEntryType(entry: shown, type: "socket")
        default: throw ArchiveError.unsupportedEntryType(entry: shown, type: "entry of unknown type")
        }
        if let reason = EntryPath.problem(path, allowTrailingSlash: type == .directory) {
            throw ArchiveError.unsafePath(entry: shown, reason: reason)
        }
        if type == .directory, path.hasSuffix("/") { path.removeLast() }
        let size: Int64 = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : -1
        return ArchiveEntryHeader(path: path, size: type == .directory ? 0 : size, type: type)
    }

    /// Reads up to `max` bytes of the current entry into `buffer` (resized as needed); 0 at the entry's end.
    public func read(into buffer: inout [UInt8], max: Int) throws -> Int {
        if buffer.count < max { buffer = [UInt8](repeating: 0, count: max) }
        return try buffer.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<max])) }
    }

    /// Reads into `buffer`; returns the byte count, 0 at the entry's end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let header = current, header.type == .file, let backend, let base = buffer.baseAddress, buffer.count > 0 else {
            return 0
        }
        var n: Int
        switch backend {
        case .library(let a):
            n = archive_read_data(a, base, buffer.count)
            if n < 0 {
                throw ArchiveError.library(
                    archive: url.path, entry: header.path, message: "cannot read data: \(LibArchive.errorMessage(a))")
            }
        case .folder:
            repeat { n = posixRead(folderFD, base, buffer.count) } while n < 0 && errno == EINTR
            if n < 0 {
                throw ArchiveError.io(path: url.path + "/" + header.path, message: "cannot read: \(LibArchive.errnoMessage())")
            }
        }
        if n == 0, header.size >= 0, currentRead < header.size {
            // A damaged deflate stream (zip) can end early and cleanly; short is as wrong as long.
            throw ArchiveError.lessDataThanDeclared(entry: header.path, declared: header.size, read: currentRead)
        }
        currentRead += Int64(n)
        totalBytes += Int64(n)
        if header.size >= 0, currentRead > header.size {
            throw ArchiveError.moreDataThanDeclared(entry: header.path, declared: header.size)
        }
        if currentRead > limits.maxEntrySize {
            throw ArchiveError.entryTooLarge(entry: header.path, size: currentRead, limit: limits.maxEntrySize)
        }
        if totalBytes > limits.maxTotalSize {
            throw ArchiveError.archiveTooLarge(entry: header.path, reason: "more than \(limits.maxTotalSize) bytes in total")
        }
        return n
    }

    /// Calls `body` with the current entry's data in chunks, until the entry ends.
    func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try read(into: buffer)
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Reads the rest of the current entry into memory; throws if it is longer than `limit` bytes.
    public func readAll(limit: Int) throws -> Data {
        var data = Data()
        let name = current?.path ?? "?"
        try forEachChunk { chunk in
            if data.count + chunk.count > limit {
                throw ArchiveError.entryTooLarge(entry: name, size: Int64(data.count + chunk.count), limit: Int64(limit))
            }
            data.append(contentsOf: chunk)
        }
        return data
    }
}

/// Lists a folder archive's regular files: `kitbag.json` first, `manifest.json` last, the rest by path bytes.
/// Symlinks and special files are reported as hostile entries in their place.
final class FolderWalk {
    enum Item {
        case file(String, Int64)
        case refused(ArchiveError)
    }

    let root: URL
    private var items: [Item] = []
    private var index = 0

    init(root: URL) throws {
        self.root = root
        var found: [(key: [UInt8], item: Item)] = []
        try walk(relative: [], into: &found)
        func rank(_ key: [UInt8]) -> Int {
            if key == Array(ArchivePath.info.utf8) { return 0 }
            if key == Array(ArchivePath.manifest.utf8) { return 2 }
            return 1
        }
        found.sort { a, b in
            let ra = rank(a.key), rb = rank(b.key)
            return ra != rb ? ra < rb : a.key.lexicographicallyPrecedes(b.key)
        }
        items = found.map(\.item)
    }

    private func walk(relative: [UInt8], into found: inout [(key: [UInt8], item: Item)]) throws {
        let folderPath = relative.isEmpty ? root.path : root.path + "/" + String(decoding: relative, as: UTF8.self)
        guard let dir = opendir(folderPath) else {
            throw ArchiveError.io(path: folderPath, message: "cannot list folder: \(LibArchive.errnoMessage())")
        }
        defer { closedir(dir) }
        var children: [[UInt8]] = []
        while let ent = readdir(dir) {
            let name: [UInt8] = withUnsafePointer(to: &ent.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: UInt8.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))) }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            children.append(name)
        }
        for name in children {
            let key = relative.isEmpty ? name : relative + [0x2F] + name
            guard let path = String(validating: key, as: UTF8.self) else {
                found.append((key, .refused(.invalidName(entry: EntryPath.display(key)))))
                continue
            }
            var info = stat()
            if lstat(root.path + "/" + path, &info) != 0 {
                throw ArchiveError.io(path: root.path + "/" + path, message: "cannot inspect: \(LibArchive.errnoMessage())")
            }
            if let reason = EntryPath.controlCharacterProblem(path) {
                found.append((key, .refused(.unsafePath(entry: EntryPath.display(key), reason: reason))))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG: found.append((key, .file(path, Int64(info.st_size))))
            case S_IFDIR: try walk(relative: key, into: &found)
            case S_IFLNK: found.append((key, .refused(.unsupportedEntryType(entry: path, type: "symbolic link"))))
            default: found.append((key, .refused(.unsupportedEntryType(entry: path, type: "special file"))))
            }
        }
    }

    func next() throws -> ArchiveEntryHeader? {
        guard index < items.count else { return nil }
        let item = items[index]
        index += 1
        switch item {
        case .file(let path, let size): return ArchiveEntryHeader(path: path, size: size, type: .file)
        case .refused(let error): throw error
        }
    }
}
