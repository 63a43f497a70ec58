import Foundation
import KitbagArchive
import KitbagCore

/// One archive in a backup folder, recognised by its name `SERVICE-ACCOUNT-YYYYMMDDTHHMMSSZ[.ext]`.
public struct BackupArchive: Sendable, Equatable, CustomStringConvertible {
    public var url: URL
    public var service: ServiceName
    /// The account part of the name (an escaped account name or id).
    public var account: String
    /// The UTC time in the name: when the backup started.
    public var time: Date
    public var format: ArchiveFormat

    public var name: String { url.lastPathComponent }
    /// The account as prune groups it: the same for names written before and after names became slugs
    /// (`Ada%20Lovelace` and `ada-lovelace`).
    public var accountKey: String { ArchivePath.slug(ArchivePath.decodeComponent(account)) }
    public var description: String { name }

    /// Parses a file or folder name; nil for anything that is not a kitbag backup name.
    public static func parse(_ url: URL) -> BackupArchive? {
        let name = url.lastPathComponent
        var stem = name
        var format = ArchiveFormat.folder
        for candidate in [ArchiveFormat.tarGz, .tarZst, .tar, .zip] where name.hasSuffix("." + candidate.fileExtension) {
            format = candidate
            stem = String(name.dropLast(candidate.fileExtension.count + 1))
            break
        }
        // The stamp is the last 16 characters: YYYYMMDDTHHMMSSZ.
        guard stem.count > 18, let dash = stem.firstIndex(of: "-") else { return nil }
        let stampStart = stem.index(stem.endIndex, offsetBy: -16)
        let accountEnd = stem.index(before: stampStart)
        guard dash < accountEnd, stem[accountEnd] == "-", let time = Timestamp.parseCompact(String(stem[stampStart...])),
            let service = ServiceName(rawValue: String(stem[..<dash])), ServiceName.known.contains(service)
        else { return nil }
        let account = String(stem[stem.index(after: dash)..<accountEnd])
        guard !account.isEmpty else { return nil }
        return BackupArchive(url: url, service: service, account: account, time: time, format: format)
    }
}

/// A folder of backups (`kitbag backup --to DIR`) and its `.kitbag/` state folder.
public struct BackupFolder: Sendable {
    public let url: URL

    public init(_ url: URL) {
        self.url = url.standardizedFileURL
    }

    /// `DIR/.kitbag/`: the lock and the state database.
    public var stateFolder: URL { url.appendingPathComponent(".kitbag", isDirectory: true) }
    public var stateDatabase: URL { stateFolder.appendingPathComponent("state.sqlite") }
    public var lockFile: URL { stateFolder.appendingPathComponent("lock") }

    /// Creates the folder and its state folder when missing.
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(at: stateFolder, withIntermediateDirectories: true)
        } catch {
            throw UserError("cannot create the backup folder \(url.path): \(error.localizedDescription)", exitStatus: .failure)
        }
    }

    /// Every kitbag backup in the folder, oldest first (hidden and partial files are skipped).
    public func archives() throws -> [BackupArchive] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw UserError("cannot read the backup folder \(url.path): \(error.localizedDescription)", exitStatus: .failure)
        }
        return names.filter { !$0.hasPrefix(".") }
            .compactMap { BackupArchive.parse(url.appendingPathComponent($0)) }
            .sorted { $0.time != $1.time ? $0.time < $1.time : $0.name < $1.name }
    }

    /// Removes the staging files (`.NAME.kitbag-XXXXXXXX.partial`) that runs killed mid-write left behind (those no
    /// live process holds locked). Returns their names.
    @discardableResult
    public func removeDeadPartials() -> [String] {
        StagingFiles.removeAbandoned(in: url)
    }
}
