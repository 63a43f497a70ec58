import CArchive
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One-time process setup for libarchive and small C helpers shared by the writer and the reader.
enum LibArchive {
    /// Sets a UTF-8 locale once so libarchive keeps non-ASCII entry names intact.
    static let ready: Void = {
        if setlocale(LC_ALL, "C.UTF-8") == nil { _ = setlocale(LC_ALL, "en_US.UTF-8") }
    }()

    static func errorMessage(_ a: OpaquePointer?) -> String {
        guard let a, let s = archive_error_string(a) else { return "unknown libarchive error" }
        // Some libarchive messages end with (or hold) a newline; kitbag's errors are one line.
        let text = String(cString: s).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        return text.isEmpty ? "unknown libarchive error" : text
    }

    static func errnoMessage(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}

/// libarchive's file-type constants (`AE_IFREG` etc. are cast macros that do not import into Swift).
enum EntryMode {
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000
    static let characterDevice: UInt32 = 0o020000
    static let blockDevice: UInt32 = 0o060000
    static let fifo: UInt32 = 0o010000
    static let socket: UInt32 = 0o140000
}

/// `write(2)`, named so it does not clash with methods called `write`.
func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
    #else
        return Darwin.write(fd, buffer, count)
    #endif
}

/// `close(2)`, named so it does not clash with methods called `close`.
@discardableResult
func posixClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
        return Glibc.close(fd)
    #else
        return Darwin.close(fd)
    #endif
}

/// `read(2)`, named so it does not clash with methods called `read`.
func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.read(fd, buffer, count)
    #else
        return Darwin.read(fd, buffer, count)
    #endif
}

/// Where the bytes that libarchive produces go: a file descriptor, counted.
final class FileDescriptorOutput {
    let fd: Int32
    let closeOnFinish: Bool
    private(set) var bytesWritten: Int64 = 0
    private(set) var failure: String?

    init(fd: Int32, closeOnFinish: Bool) {
        self.fd = fd
        self.closeOnFinish = closeOnFinish
    }

    func write(_ buffer: UnsafeRawPointer, _ length: Int) -> Int {
        var offset = 0
        while offset < length {
            let n = posixWrite(fd, buffer + offset, length - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = LibArchive.errnoMessage()
                return -1
            }
            offset += n
        }
        bytesWritten += Int64(length)
        return length
    }
}

private let archiveWriteCallback:
    @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Int = { _, context, buffer, length in
        guard let context, let buffer else { return length == 0 ? 0 : -1 }
        let output = Unmanaged<FileDescriptorOutput>.fromOpaque(context).takeUnretainedValue()
        return output.write(buffer, length)
    }

/// Receives the entries of an archive being written, in order.
protocol EntrySink: AnyObject {
    var bytesWritten: Int64 { get }
    func beginEntry(path: String, size: Int64) throws
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func finishEntry() throws
    /// Writes the archive trailer and flushes; the output is complete afterwards.
    func finish() throws
    /// Releases resources without any guarantee about the output.
    func release()
}

/// Writes a tar (pax restricted, optionally gzip/zstd) or zip stream through libarchive.
final class LibArchiveSink: EntrySink {
    private var archive: OpaquePointer?
    private let output: FileDescriptorOutput
    private let mtime: time_t
    private let name: String
    private var currentPath = ""

    var bytesWritten: Int64 { output.bytesWritten }

    init(format: ArchiveFormat, output: FileDescriptorOutput, mtime: time_t, name: String) throws {
        _ = LibArchive.ready
        self.output = output
        self.mtime = mtime
        self.name = name
        guard let a = archive_write_new() else { throw ArchiveError.library(archive: name, entry: nil, message: "out of memory") }
        archive = a
        var status: Int32
        switch format {
        case .zip:
            status = archive_write_set_format_zip(a)
            if status == ARCHIVE_OK { status = archive_write_set_options(a, "zip:compression=deflate") }
        default:
            status = archive_write_set_format_pax_restricted(a)
            if status == ARCHIVE_OK, format == .tarGz {
                status = archive_write_add_filter_gzip(a)
                if status == ARCHIVE_OK { status = archive_write_set_options(a, "gzip:!timestamp") }
            } else if status == ARCHIVE_OK, format == .tarZst {
                status = archive_write_add_filter_zstd(a)
            }
        }
        if status == ARCHIVE_OK, format != .tar {
            // No zero padding after a compressed stream or a zip central directory.
            status = archive_write_set_bytes_in_last_block(a, 1)
        }
        if status == ARCHIVE_OK {
            status = archive_write_open2(
                a, Unmanaged.passUnretained(output).toOpaque(), nil, archiveWriteCallback, nil, nil)
        }
        if status != ARCHIVE_OK {
            let message = LibArchive.errorMessage(a)
            archive_write_free(a)
            archive = nil
            throw ArchiveError.library(archive: name, entry: nil, message: "cannot start writing: \(message)")
        }
    }

    deinit { release() }

    private func fail(_ entry: String?) -> ArchiveError {
        let message = output.failure.map { "cannot write: \($0)" } ?? LibArchive.errorMessage(archive)
        return ArchiveError.library(archive: name, entry: entry, message: message)
    }

    func beginEntry(path: String, size: Int64) throws {
        guard let archive else { throw ArchiveError.misuse("archive \(name) is already closed") }
        currentPath = path
        guard let entry = archive_entry_new() else { throw fail(path) }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, EntryMode.regular)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, mtime, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        if archive_write_header(archive, entry) != ARCHIVE_OK { throw fail(path) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let archive, let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = archive_write_data(archive, base + offset, bytes.count - offset)
            if n <= 0 { throw fail(currentPath) }
            offset += n
        }
    }

    func finishEntry() throws {
        guard let archive else { return }
        if archive_write_finish_entry(archive) != ARCHIVE_OK { throw fail(currentPath) }
    }

    func finish() throws {
        guard let a = archive else { return }
        let status = archive_write_close(a)
        let error = status == ARCHIVE_OK ? nil : fail(nil)
        archive_write_free(a)
        archive = nil
        if let error { throw error }
    }

    func release() {
        if let a = archive {
            archive_write_free(a)
            archive = nil
        }
    }
}

/// Writes entries as files under a folder (the "folder" container kind).
final class FolderSink: EntrySink {
    let root: URL
    private let mtime: time_t
    private var fd: Int32 = -1
    private var currentPath = ""
    private var createdFolders: Set<String> = []
    private(set) var bytesWritten: Int64 = 0

    init(root: URL, mtime: time_t) throws {
        self.root = root
        self.mtime = mtime
        if mkdir(root.path, 0o755) != 0 {
            throw ArchiveError.io(path: root.path, message: "cannot create folder: \(LibArchive.errnoMessage())")
        }
        _ = chmod(root.path, 0o755)
    }

    deinit { release() }

    func beginEntry(path: String, size: Int64) throws {
        currentPath = path
        let parts = path.split(separator: "/").map(String.init)
        var folder = ""
        for part in parts.dropLast() {
            folder = folder.isEmpty ? part : folder + "/" + part
            if createdFolders.contains(folder) { continue }
            let full = root.path + "/" + folder
            if mkdir(full, 0o755) != 0, errno != EEXIST {
                throw ArchiveError.io(path: full, message: "cannot create folder: \(LibArchive.errnoMessage())")
            }
            _ = chmod(full, 0o755)
            createdFolders.insert(folder)
        }
        let full = root.path + "/" + path
        fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if fd < 0 { throw ArchiveError.io(path: full, message: "cannot create file: \(LibArchive.errnoMessage())") }
        _ = fchmod(fd, 0o644)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.io(path: root.path + "/" + currentPath, message: "cannot write: \(LibArchive.errnoMessage())")
            }
            offset += n
            bytesWritten += Int64(n)
        }
    }

    func finishEntry() throws {
        guard fd >= 0 else { return }
        let times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
        _ = futimens(fd, times)
        let status = close(fd)
        fd = -1
        if status != 0 {
            throw ArchiveError.io(path: root.path + "/" + currentPath, message: "cannot write: \(LibArchive.errnoMessage())")
        }
    }

    func finish() throws {
        release()
        // Deepest folders first, so setting a child's time does not disturb its parent afterwards.
        let times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
        for folder in createdFolders.sorted(by: { $0.count > $1.count }) {
            _ = utimensat(AT_FDCWD, root.path + "/" + folder, times, 0)
        }
        _ = utimensat(AT_FDCWD, root.path, times, 0)
    }

    func release() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }
}
