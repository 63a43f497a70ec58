import Foundation
import GRDB
import KitbagCore

/// Which account an import writes into. A journal is bound to one source archive and one target;
/// reusing it for another is refused, so ids can never be mapped into the wrong account.
public struct JournalBinding: Sendable, Equatable, Codable {
    public var sourceService: String
    public var sourceAccount: String
    public var targetService: String
    public var targetBaseURL: String
    public var targetAccount: String

    public init(sourceService: String, sourceAccount: String, targetService: String, targetBaseURL: String, targetAccount: String) {
        self.sourceService = sourceService
        self.sourceAccount = sourceAccount
        self.targetService = targetService
        self.targetBaseURL = targetBaseURL
        self.targetAccount = targetAccount
    }
}

/// State of one source entity in the target.
public enum JournalState: Int, Sendable, Codable {
    /// A target id was chosen and written down before the request that creates it was sent.
    case planned = 0
    /// The target answered: the entity exists there.
    case created = 1
    /// The request that creates it was sent; whether it arrived is not known until the target is asked.
    case attempted = 2
}

/// One source id → target id mapping.
public struct JournalEntry: Sendable, Equatable {
    public var kind: String
    public var sourceID: String
    public var targetID: String
    public var state: JournalState
}

/// Errors from the journal file.
public struct JournalError: KitbagError {
    public let message: String
    public var description: String { message }
}

/// The SQLite journal that maps source ids to target ids during an import.
///
/// Every id is planned (written down) before the request that creates the entity, and marked created the
/// moment the API answers; a rerun after a crash checks planned ids against the target and never creates
/// a duplicate.
public final class ImportJournal: Sendable {
    public let url: URL
    private let db: DatabaseQueue

    /// Opens (or creates) the journal at `url` and checks it belongs to `binding`.
    public init(url: URL, binding: JournalBinding) throws {
        self.url = url
        var config = Configuration()
        config.label = "kitbag-journal"
        config.busyMode = .timeout(5)
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            db = try DatabaseQueue(path: url.path, configuration: config)
            try Self.refuseNewer(db, url: url)
            try Self.migrator.migrate(db)
        } catch let error as DatabaseError {
            throw JournalError(message: "journal \(url.path): cannot open (\(error.message ?? "SQLite error \(error.resultCode)")) — pass another --journal path")
        }
        let encoded = String(decoding: try JSONEncoder().encode(binding), as: UTF8.self)
        let existing: String? = try db.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'binding'")
        }
        if let existing {
            let old = try? JSONDecoder().decode(JournalBinding.self, from: Data(existing.utf8))
            if old != binding {
                let was = old.map { "\($0.sourceService) \($0.sourceAccount) → \($0.targetService) \($0.targetAccount) at \($0.targetBaseURL)" } ?? "another import"
                throw JournalError(
                    message: "journal \(url.path) belongs to \(was); use a new --journal file for this import")
            }
        } else {
            try db.write { db in
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('binding', ?)", arguments: [encoded])
            }
        }
    }

    /// Opens an existing journal to read its mappings (for reports and round-trip checks), whatever its binding.
    public init(readingFrom url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw JournalError(message: "journal \(url.path) does not exist")
        }
        var config = Configuration()
        config.readonly = true
        do {
            db = try Self.openForReading(url, configuration: config)
            try Self.refuseNewer(db, url: url)
        } catch let error as DatabaseError {
            throw JournalError(message: "journal \(url.path): cannot read (\(error.message ?? "SQLite error")) — is it a kitbag journal?")
        }
    }

    /// Opens read-only; a journal whose import was killed still has its write-ahead log, which SQLite must replay
    /// and a read-only connection cannot: such a journal is opened for writing (the replay is all that is written).
    private static func openForReading(_ url: URL, configuration: Configuration) throws -> DatabaseQueue {
        do {
            let queue = try DatabaseQueue(path: url.path, configuration: configuration)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM mapping") }
            return queue
        } catch let error as DatabaseError where error.resultCode == .SQLITE_READONLY {
            let queue = try DatabaseQueue(path: url.path)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM mapping") }
            return queue
        }
    }

    /// The journal's schema, one migration per change. Journals written before migrations were recorded have the
    /// tables of the first one, which therefore creates them only where they are missing: such a journal is
    /// adopted as it is, so an upgrade of kitbag in the middle of an import keeps every mapping.
    /// A later change to the layout is a new migration appended here — never an edit of one already released.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 meta, mapping, step") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS mapping (
                        kind TEXT NOT NULL,
                        source_id TEXT NOT NULL,
                        target_id TEXT NOT NULL,
                        state INTEGER NOT NULL,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (kind, source_id));
                    CREATE INDEX IF NOT EXISTS mapping_state ON mapping(kind, state);
                    CREATE TABLE IF NOT EXISTS step (
                        name TEXT NOT NULL,
                        source_id TEXT NOT NULL,
                        PRIMARY KEY (name, source_id));
                    """)
        }
        return migrator
    }()

    /// The schema migrations this kitbag knows, oldest first (what `kitbag` writes into a new journal).
    public static var schemaVersions: [String] { migrator.migrations }

    /// A journal a newer kitbag has migrated may hold mappings this one would misread: it is left untouched.
    private static func refuseNewer(_ db: DatabaseQueue, url: URL) throws {
        let unknown = try db.read { db in
            try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
        }
        guard unknown.isEmpty else {
            throw JournalError(
                message: "journal \(url.path) was written by a newer kitbag (schema \(unknown.sorted().joined(separator: ", "))); "
                    + "run that kitbag, or upgrade this one, to go on with this import")
        }
    }

    /// The mapping of one source entity, if any.
    public func entry(kind: String, sourceID: String) throws -> JournalEntry? {
        try db.read { db in
            try Row.fetchOne(
                db, sql: "SELECT target_id, state FROM mapping WHERE kind = ? AND source_id = ?",
                arguments: [kind, sourceID]
            ).map { row in
                JournalEntry(
                    kind: kind, sourceID: sourceID, targetID: row["target_id"],
                    state: JournalState(rawValue: row["state"]) ?? .planned)
            }
        }
    }

    /// All mappings of one kind, keyed by source id.
    public func entries(kind: String) throws -> [String: JournalEntry] {
        try db.read { db in
            var out: [String: JournalEntry] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT source_id, target_id, state FROM mapping WHERE kind = ?", arguments: [kind])
            {
                let source: String = row["source_id"]
                out[source] = JournalEntry(
                    kind: kind, sourceID: source, targetID: row["target_id"],
                    state: JournalState(rawValue: row["state"]) ?? .planned)
            }
            return out
        }
    }

    /// The mappings of the given source ids of one kind (those without one are absent), in one read.
    public func entries(kind: String, sourceIDs: some Sequence<String>) throws -> [String: JournalEntry] {
        let ids = Array(sourceIDs)
        return try db.read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT target_id, state FROM mapping WHERE kind = ? AND source_id = ?")
            var out: [String: JournalEntry] = [:]
            for id in ids {
                if let row = try Row.fetchOne(statement, arguments: [kind, id]) {
                    out[id] = JournalEntry(
                        kind: kind, sourceID: id, targetID: row["target_id"],
                        state: JournalState(rawValue: row["state"]) ?? .planned)
                }
            }
            return out
        }
    }

    /// Writes down target ids chosen for source entities, in one transaction. Existing mappings win:
    /// the returned dictionary holds the target id in force for every source id given.
    @discardableResult
    public func plan(kind: String, _ pairs: [(sourceID: String, targetID: String)]) throws -> [String: String] {
        let now = Timestamp.string(Date())
        return try db.write { db in
            // Statements prepared once per transaction, not parsed again for every pair.
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO mapping(kind, source_id, target_id, state, updated_at) VALUES (?, ?, ?, 0, ?)
                    ON CONFLICT(kind, source_id) DO NOTHING
                    """)
            let select = try db.cachedStatement(sql: "SELECT target_id FROM mapping WHERE kind = ? AND source_id = ?")
            var result: [String: String] = [:]
            for (source, target) in pairs {
                try insert.execute(arguments: [kind, source, target, now])
                // A row inserted holds the id given; only an existing mapping needs reading back.
                result[source] = db.changesCount > 0 ? target : try String.fetchOne(select, arguments: [kind, source])
            }
            return result
        }
    }

    /// Marks entities as existing in the target (the API answered), optionally correcting the target id.
    public func markCreated(kind: String, _ pairs: [(sourceID: String, targetID: String)]) throws {
        let now = Timestamp.string(Date())
        try db.write { db in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO mapping(kind, source_id, target_id, state, updated_at) VALUES (?, ?, ?, 1, ?)
                    ON CONFLICT(kind, source_id) DO UPDATE SET target_id = excluded.target_id, state = 1,
                        updated_at = excluded.updated_at
                    """)
            for (source, target) in pairs { try upsert.execute(arguments: [kind, source, target, now]) }
        }
    }

    /// Marks planned entities as sent, just before the request that creates them goes out. A rerun asks the
    /// target about attempted entities only; planned ones were never sent and are simply created.
    public func markAttempted(kind: String, sourceIDs: [String]) throws {
        let now = Timestamp.string(Date())
        try db.write { db in
            let update = try db.cachedStatement(
                sql: "UPDATE mapping SET state = 2, updated_at = ? WHERE kind = ? AND source_id = ? AND state = 0")
            for id in sourceIDs { try update.execute(arguments: [now, kind, id]) }
        }
    }

    /// Records that a follow-up step (e.g. `remove-card`) was done for a source entity.
    public func markStep(_ name: String, sourceIDs: [String]) throws {
        try db.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO step(name, source_id) VALUES (?, ?)")
            for id in sourceIDs { try insert.execute(arguments: [name, id]) }
        }
    }

    /// Forgets entities that are gone from the target since the journal recorded them (a restore creating again
    /// what an earlier restore created and someone deleted since), so that the next create plans, attempts and
    /// records them afresh: the mappings of `kind` for `sourceIDs`, those whose source id matches one of the SQL
    /// `LIKE` patterns (`_` and `%` as in SQL; `\` escapes), and every step done for a source id that one of `steps`
    /// names.
    public func forget(kind: String, sourceIDs: [String] = [], matching patterns: [String] = [], steps: [String] = []) throws {
        try db.write { db in
            for id in sourceIDs {
                try db.execute(sql: "DELETE FROM mapping WHERE kind = ? AND source_id = ?", arguments: [kind, id])
            }
            for pattern in patterns {
                try db.execute(
                    sql: "DELETE FROM mapping WHERE kind = ? AND source_id LIKE ? ESCAPE '\\'", arguments: [kind, pattern])
            }
            for id in steps {
                try db.execute(sql: "DELETE FROM step WHERE source_id = ?", arguments: [id])
            }
        }
    }

    /// Source ids for which a step was done.
    public func steps(_ name: String) throws -> Set<String> {
        try db.read { db in
            Set(try String.fetchAll(db, sql: "SELECT source_id FROM step WHERE name = ?", arguments: [name]))
        }
    }

    /// The (source, target) pair the journal was opened for, if it records one.
    public func binding() throws -> JournalBinding? {
        try db.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'binding'")
        }.flatMap { try? JSONDecoder().decode(JournalBinding.self, from: Data($0.utf8)) }
    }

    /// Number of mappings per kind and state.
    public func counts() throws -> [String: (planned: Int, created: Int)] {
        try db.read { db in
            var out: [String: (planned: Int, created: Int)] = [:]
            // Attempted entities count as planned until the target confirms them.
            for row in try Row.fetchAll(db, sql: "SELECT kind, state, COUNT(*) AS n FROM mapping GROUP BY kind, state") {
                let kind: String = row["kind"]
                let state: Int = row["state"]
                let n: Int = row["n"]
                var c = out[kind] ?? (0, 0)
                if state == 1 { c.created = n } else { c.planned = n }
                out[kind] = c
            }
            return out
        }
    }
}
