import Foundation
import KitbagArchive
import KitbagCore

/// What a path given to `ls`, `verify` or `snapshots` is: one archive, a folder of archives, or neither.
public enum ArchiveTarget: Sendable {
    case archive(URL)
    /// A folder that holds kitbag archives (a backup folder, or any folder exports were written into).
    case backupFolder(BackupFolder, [BackupArchive])
    /// A folder that is neither an archive (no kitbag.json) nor holds any.
    case unrelatedFolder(URL)
    case missing(URL)

    public static func classify(_ path: String) -> ArchiveTarget {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return .missing(url) }
        guard isDir.boolValue else { return .archive(url) }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(ArchivePath.info).path) { return .archive(url) }
        let folder = BackupFolder(url)
        if let archives = try? folder.archives(), !archives.isEmpty { return .backupFolder(folder, archives) }
        return .unrelatedFolder(url)
    }
}

public extension BackupFolder {
    /// The state database when this folder has one (a folder `kitbag backup` wrote into); never creates it.
    func existingState() throws -> BackupState? {
        FileManager.default.fileExists(atPath: stateDatabase.path) ? try BackupState(url: stateDatabase) : nil
    }
}

/// One line of `kitbag snapshots DIR`: an archive in a backup folder, as its name, its records and the state say.
public struct SnapshotListing: Sendable, Codable, Equatable {
    public var archive: String
    public var service: ServiceName
    /// The account as the archive names it (its display name when the archive can be read).
    public var account: String
    public var time: String
    /// `full`, `incremental`, or nil when the state database has no record of it (an export, not a backup).
    public var kind: String?
    public var counts: [String: Int]
    public var bytes: Int64
    /// `whole`, `incomplete`, `corrupt` as the last `kitbag verify` of this very file found, nil if never verified.
    public var verified: String?
    public var verifiedAt: String?
    /// Why the archive could not be read for its counts, if it could not.
    public var problem: String?

    /// Lists every archive in `folder`, oldest first, reading each one's records (not verifying it).
    public static func list(_ folder: BackupFolder, archives: [BackupArchive]) throws -> [SnapshotListing] {
        let state = try folder.existingState()
        let records = Dictionary((try state?.all() ?? []).map { ($0.archive, $0) }, uniquingKeysWith: { a, _ in a })
        let checks = try state?.verifications() ?? [:]
        return archives.map { archive in
            var row = SnapshotListing(
                archive: archive.name, service: archive.service, account: archive.account,
                time: Timestamp.string(archive.time), kind: records[archive.name].map { $0.full ? "full" : "incremental" },
                counts: [:], bytes: 0, verified: nil, verifiedAt: nil, problem: nil)
            do {
                let summary = try ArchiveInspector.summary(of: archive.url)
                row.counts = summary.counts
                row.bytes = summary.archiveSize
                if let info = summary.info { row.account = info.source.account.name ?? info.source.account.id }
                if !summary.manifestPresent { row.problem = "no manifest: the run did not finish" }
            } catch {
                row.problem = String(describing: error)
            }
            if let check = checks[archive.name], check.fingerprint == VerificationRecord.fingerprint(of: archive.url) {
                row.verified = check.status
                row.verifiedAt = check.checkedAt
            }
            return row
        }
    }
}

/// The outcome of one `kitbag verify` of an archive in a backup folder, tied to the file's size and mtime so an
/// archive changed since is shown as not verified.
public struct VerificationRecord: Sendable, Equatable {
    public var archive: String
    public var status: String
    public var checkedAt: String
    public var fingerprint: String

    public init(archive: URL, status: String, checkedAt: Date) {
        self.archive = archive.lastPathComponent
        self.status = status
        self.checkedAt = Timestamp.string(checkedAt)
        self.fingerprint = Self.fingerprint(of: archive)
    }

    init(archive: String, status: String, checkedAt: String, fingerprint: String) {
        self.archive = archive
        self.status = status
        self.checkedAt = checkedAt
        self.fingerprint = fingerprint
    }

    /// `size:mtime` of a file; for a folder archive, of its manifest (rewritten by every export).
    public static func fingerprint(of url: URL) -> String {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
        let target = isDir.boolValue ? url.appendingPathComponent(ArchivePath.manifest) : url
        let attributes = (try? FileManager.default.attributesOfItem(atPath: target.path)) ?? [:]
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size):\(String(format: "%.6f", mtime))"
    }
}
