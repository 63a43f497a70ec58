import Foundation
import GRDB
import KitbagCore

/// One finished backup as the state database remembers it.
public struct BackupRecord: Sendable, Equatable, Codable {
    public var archive: String
    public var service: String
    public var account: String
    public var startedAt: String
    public var finishedAt: String
    /// True when every container was fetched (no copy from an earlier archive).
    public var full: Bool
    public var requests: Int
    public var reusedContainers: Int
    public var fetchedContainers: Int
}

/// `DIR/.kitbag/state.sqlite`: the backups written into a folder and, per account, the change marker of every
/// container as of the newest backup. Written in one transaction after an archive is sealed, so a crash
/// never advances a bookmark past what an archive holds.
public final class BackupState: Sendable {
    public let url: URL
    private let db: DatabaseQueue

    public init(url: URL) throws {
        self.url = url
        var config = Configuration()
        config.label = "kitbag-backup-state"
        config.busyMode = .timeout(5)
        do {
            db = try DatabaseQueue(path: url.path, configuration: config)
            let unknown = try db.read { db in try Self.migrator.appliedIdentifiers(db).subtracting(Self.migrator.migrations) }
            if !unknown.isEmpty {
                throw UserError(
                    "the backup state \(url.path) was written by a newer kitbag (schema \(unknown.sorted().joined(separator: ", "))); "
                        + "run that kitbag, or upgrade this one, for this folder", exitStatus: .failure)
            }
            try Self.migrator.migrate(db)
        } catch let error as UserError {
            throw error
        } catch {
            throw UserError(
                "cannot open the backup state \(url.path): \(error.localizedDescription); move it aside to start afresh "
                    + "(the next backup is then a full one)", exitStatus: .failure)
        }
    }

    /// The state's schema, one migration per change, never edited once released. State files written before
    /// migrations were recorded hold the tables of the first (and perhaps the second) migration, which therefore
    /// create them only where missing: such a file is adopted with every bookmark it holds.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 backup, bookmark") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS backup (
                        archive TEXT PRIMARY KEY NOT NULL,
                        service TEXT NOT NULL,
                        account TEXT NOT NULL,
                        started_at TEXT NOT NULL,
                        finished_at TEXT NOT NULL,
                        full INTEGER NOT NULL,
                        requests INTEGER NOT NULL,
                        reused INTEGER NOT NULL,
                        fetched INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS bookmark (
                        service TEXT NOT NULL,
                        account TEXT NOT NULL,
                        container TEXT NOT NULL,
                        marker TEXT NOT NULL,
                        archive TEXT NOT NULL,
                        PRIMARY KEY (service, account, container));
                    """)
        }
        migrator.registerMigration("v2 verification") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS verification (
                        archive TEXT PRIMARY KEY NOT NULL,
                        status TEXT NOT NULL,
                        checked_at TEXT NOT NULL,
                        fingerprint TEXT NOT NULL);
                    """)
        }
        return migrator
    }()

    /// The schema migrations this kitbag knows, oldest first.
    public static var schemaVersions: [String] { migrator.migrations }

    /// The newest backup recorded for an account, if any.
    public func latest(service: String, account: String) throws -> BackupRecord? {
        try db.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM backup WHERE service = ? AND account = ? ORDER BY started_at DESC, archive DESC LIMIT 1",
                arguments: [service, account]
            ).map(Self.record)
        }
    }

    /// When the newest full backup of an account started.
    public func latestFull(service: String, account: String) throws -> Date? {
        try db.read { db in
            try String.fetchOne(
                db, sql: "SELECT MAX(started_at) FROM backup WHERE service = ? AND account = ? AND full = 1",
                arguments: [service, account])
        }.flatMap(Timestamp.parse)
    }

    /// Container key → change marker, as of the newest backup of the account.
    public func bookmarks(service: String, account: String) throws -> [String: String] {
        try db.read { db in
            var out: [String: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT container, marker FROM bookmark WHERE service = ? AND account = ?",
                arguments: [service, account])
            {
                out[row["container"]] = row["marker"]
            }
            return out
        }
    }

    /// Records a sealed backup and replaces the account's bookmarks with `markers`, all or nothing.
    public func commit(_ record: BackupRecord, markers: [String: String]) throws {
        try db.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO backup (archive, service, account, started_at, finished_at, full, requests, reused, fetched)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.archive, record.service, record.account, record.startedAt, record.finishedAt, record.full,
                    record.requests, record.reusedContainers, record.fetchedContainers,
                ])
            try db.execute(
                sql: "DELETE FROM bookmark WHERE service = ? AND account = ?", arguments: [record.service, record.account])
            for (container, marker) in markers.sorted(by: { $0.key < $1.key }) {
                try db.execute(
                    sql: "INSERT INTO bookmark (service, account, container, marker, archive) VALUES (?, ?, ?, ?, ?)",
                    arguments: [record.service, record.account, container, marker, record.archive])
            }
        }
    }

    /// Forgets backups whose archives were removed (by prune or by hand).
    public func forget(archives: [String]) throws {
        try db.write { db in
            for name in archives {
                try db.execute(sql: "DELETE FROM backup WHERE archive = ?", arguments: [name])
                try db.execute(sql: "DELETE FROM verification WHERE archive = ?", arguments: [name])
            }
        }
    }

    /// Records what `kitbag verify` found for an archive of this folder (replacing an earlier check of it).
    public func record(_ check: VerificationRecord) throws {
        try db.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO verification (archive, status, checked_at, fingerprint) VALUES (?, ?, ?, ?)",
                arguments: [check.archive, check.status, check.checkedAt, check.fingerprint])
        }
    }

    /// The last verification of every archive that had one, by archive name.
    public func verifications() throws -> [String: VerificationRecord] {
        try db.read { db in
            var out: [String: VerificationRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM verification") {
                let check = VerificationRecord(
                    archive: row["archive"], status: row["status"], checkedAt: row["checked_at"],
                    fingerprint: row["fingerprint"])
                out[check.archive] = check
            }
            return out
        }
    }

    /// Every recorded backup, oldest first.
    public func all() throws -> [BackupRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM backup ORDER BY started_at, archive").map(Self.record)
        }
    }

    private static func record(_ row: Row) -> BackupRecord {
        BackupRecord(
            archive: row["archive"], service: row["service"], account: row["account"], startedAt: row["started_at"],
            finishedAt: row["finished_at"], full: row["full"], requests: row["requests"], reusedContainers: row["reused"],
            fetchedContainers: row["fetched"])
    }
}
