import Foundation
import KitbagCore

/// The container kinds a kitbag archive can be written as.
public enum ArchiveFormat: String, CaseIterable, Sendable, Codable {
    case tar
    case tarGz = "tar.gz"
    case tarZst = "tar.zst"
    case zip
    case folder

    /// From a file name (`x.tar.zst`, `x.tgz`, `x.zip`, `x.tar`, a path ending in `/` or an existing folder → folder);
    /// nil if the name says nothing.
    public static func infer(from path: String) -> ArchiveFormat? {
        if path.hasSuffix("/") { return .folder }
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".tar.zst") || name.hasSuffix(".tzst") || name.hasSuffix(".tar.zstd") { return .tarZst }
        if name.hasSuffix(".tar.gz") || name.hasSuffix(".tgz") { return .tarGz }
        if name.hasSuffix(".tar") { return .tar }
        if name.hasSuffix(".zip") { return .zip }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return .folder }
        return nil
    }

    /// Detects the container kind of an existing archive from its first bytes (or folder-ness); nil if unknown.
    public static func detect(at url: URL) -> ArchiveFormat? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { return .folder }
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 512)) ?? Data())
        if head.starts(with: [0x1F, 0x8B]) { return .tarGz }
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .tarZst }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
        return nil
    }

    /// The file name extension without the leading dot (`tar.zst`); empty for a folder.
    public var fileExtension: String {
        self == .folder ? "" : rawValue
    }
}

/// Where a `SnapshotWriter` puts its archive.
public enum ArchiveDestination: Sendable {
    /// A single archive file (tar, tar.gz, tar.zst or zip), published atomically on seal.
    case file(URL)
    /// A plain folder tree, published atomically on seal.
    case folder(URL)
    /// Streamed to stdout; always a tar container (optionally gzip/zstd compressed).
    case standardOutput
}

/// Bounds a reader enforces so a hostile or broken archive cannot exhaust disk or memory.
public struct ArchiveLimits: Sendable, Equatable {
    /// Largest declared or actual size of one entry.
    public var maxEntrySize: Int64
    /// Largest sum of all entry sizes.
    public var maxTotalSize: Int64
    /// Largest number of entries.
    public var maxEntries: Int

    public init(maxEntrySize: Int64 = 4 << 30, maxTotalSize: Int64 = 256 << 30, maxEntries: Int = 10_000_000) {
        self.maxEntrySize = maxEntrySize
        self.maxTotalSize = maxTotalSize
        self.maxEntries = maxEntries
    }

    /// 4 GiB per entry, 256 GiB in total, ten million entries.
    public static let `default` = ArchiveLimits()
}

/// Why an archive could not be written, read, verified or extracted. Descriptions are one line.
public enum ArchiveError: KitbagError, Equatable {
    /// An entry path that is absolute, climbs with `..`, has empty components or a NUL byte.
    case unsafePath(entry: String, reason: String)
    /// An entry name that is not valid UTF-8 (shown with invalid bytes as `\xNN`).
    case invalidName(entry: String)
    /// A symlink, hard link, device node, FIFO or socket entry.
    case unsupportedEntryType(entry: String, type: String)
    /// An entry larger than `ArchiveLimits.maxEntrySize` (declared or actual).
    case entryTooLarge(entry: String, size: Int64, limit: Int64)
    /// The archive holds more data or entries than `ArchiveLimits` allow.
    case archiveTooLarge(entry: String, reason: String)
    /// An entry yields more bytes than its header declared.
    case moreDataThanDeclared(entry: String, declared: Int64)
    /// An entry ends before the size its header declared, without the container reporting an error.
    case lessDataThanDeclared(entry: String, declared: Int64, read: Int64)
    /// The same path written twice.
    case duplicatePath(entry: String)
    /// libarchive (or the file system) reported a failure.
    case library(archive: String, entry: String?, message: String)
    /// A file could not be created, read or renamed.
    case io(path: String, message: String)
    /// The writer was used after it was sealed or abandoned, or a spool after commit.
    case misuse(String)
    /// The archive is not whole (verify found problems); the report names them all.
    case notWhole(VerifyReport)
    /// A JSON Lines entry holds a line that is not valid JSON.
    case malformedLine(entry: String, line: Int, reason: String)
    /// An entry requested by path is not in the archive.
    case entryNotFound(entry: String, archive: String)
    /// The file is not an archive kitbag can read.
    case unknownFormat(archive: String)

    public var exitStatus: ExitStatus {
        if case .notWhole(let report) = self { return report.exitStatus }
        return .failure
    }

    public var description: String {
        switch self {
        case .unsafePath(let entry, let reason):
            return "refused archive entry '\(entry)': \(reason); the archive is hostile or damaged — do not use it"
        case .invalidName(let entry):
            return "refused archive entry '\(entry)': its name is not valid UTF-8; the archive was not written by kitbag or is damaged"
        case .unsupportedEntryType(let entry, let type):
            return "refused archive entry '\(entry)': it is a \(type), and kitbag archives hold only regular files"
        case .entryTooLarge(let entry, let size, let limit):
            return "refused archive entry '\(entry)': \(size) bytes exceeds the limit of \(limit) bytes; raise the limit only if you trust this archive"
        case .archiveTooLarge(let entry, let reason):
            return "stopped at archive entry '\(entry)': \(reason); raise the limit only if you trust this archive"
        case .moreDataThanDeclared(let entry, let declared):
            return "refused archive entry '\(entry)': it holds more data than the \(declared) bytes its header declares; the archive is damaged or hostile"
        case .lessDataThanDeclared(let entry, let declared, let read):
            return "refused archive entry '\(entry)': it ends after \(read) of the \(declared) bytes its header declares; the archive is damaged"
        case .duplicatePath(let entry):
            return "archive entry '\(entry)' was written twice; each path may appear once (this is a bug in the caller)"
        case .library(let archive, let entry, let message):
            if let entry { return "archive \(archive), entry '\(entry)': \(message)" }
            return "archive \(archive): \(message)"
        case .io(let path, let message):
            return "\(path): \(message)"
        case .misuse(let message):
            return message
        case .notWhole(let report):
            let names = report.problems.prefix(5).map { "\($0.path): \($0.problem)" }.joined(separator: "; ")
            let more = report.problems.count > 5 ? " (and \(report.problems.count - 5) more)" : ""
            return "archive \(report.archive) is \(report.status.rawValue): \(names)\(more); run `kitbag verify` for the full list"
        case .malformedLine(let entry, let line, let reason):
            return "\(entry), line \(line): not valid JSON (\(reason)); the archive is damaged"
        case .entryNotFound(let entry, let archive):
            return "archive \(archive) has no entry '\(entry)'"
        case .unknownFormat(let archive):
            return "\(archive) is not a tar, tar.gz, tar.zst or zip archive or a folder; check the path"
        }
    }
}

/// Path rules for entries, applied on write and on read.
enum EntryPath {
    static let maxLength = 4096

    /// Returns nil if `path` is acceptable, else the reason it is not.
    static func problem(_ path: String, allowTrailingSlash: Bool = false) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.utf8.contains(0) { return "the path contains a NUL byte" }
        if let problem = controlCharacterProblem(path) { return problem }
        if path.utf8.count > maxLength { return "the path is longer than \(maxLength) bytes" }
        if path.hasPrefix("/") { return "the path is absolute" }
        if path.contains("\\") { return "the path contains a backslash" }
        var body = Substring(path)
        if allowTrailingSlash, body.hasSuffix("/") { body = body.dropLast() }
        for component in body.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return "the path has an empty component" }
            if component == ".." { return "the path climbs out of the archive with '..'" }
            if component == "." { return "the path has a '.' component" }
        }
        return nil
    }

    /// A path holding a control character (U+0001–U+001F, U+007F) would break one-line messages and listings.
    static func controlCharacterProblem(_ path: String) -> String? {
        path.utf8.contains { ($0 > 0 && $0 < 0x20) || $0 == 0x7F } ? "the path contains a control character" : nil
    }

    /// Shows arbitrary bytes as text, escaping invalid UTF-8 as `\xNN`.
    static func display(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            var length = 0
            let b = bytes[i]
            if b < 0x80 { length = 1 } else if b & 0xE0 == 0xC0 { length = 2 } else if b & 0xF0 == 0xE0 { length = 3 } else if b & 0xF8 == 0xF0 { length = 4 }
            if length > 0, i + length <= bytes.count,
                let s = String(validating: bytes[i..<(i + length)], as: UTF8.self)
            {
                out += b < 0x20 || b == 0x7F ? String(format: "\\x%02X", b) : s
                i += length
            } else {
                out += String(format: "\\x%02X", b)
                i += 1
            }
        }
        return out
    }
}
