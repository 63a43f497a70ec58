import Foundation
import GRDB
import KitbagTestSupport
import Testing

@testable import KitbagJournal

/// The journal's schema is versioned by GRDB's migrator: a journal written before versions were recorded is
/// adopted with its mappings, and one a newer kitbag wrote is refused without being touched.
@Suite struct JournalSchemaTests {
    let binding = JournalBinding(
        sourceService: "kintone", sourceAccount: "a.cybozu.com", targetService: "kintone",
        targetBaseURL: "http://127.0.0.1:1", targetAccount: "b.cybozu.com")

    func tempFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-schema-\(UUID().uuidString)/j.sqlite")
    }

    /// Writes a journal exactly as kitbag wrote them before its schema was versioned: the three tables, a binding,
    /// and an import stopped half way (one record created, one sent but unconfirmed, one step done).
    func writeUnversionedJournal(at url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: url.path)
        let encoded = String(decoding: try JSONEncoder().encode(binding), as: UTF8.self)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE mapping (kind TEXT NOT NULL, source_id TEXT NOT NULL, target_id TEXT NOT NULL,
                        state INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (kind, source_id));
                    CREATE INDEX mapping_state ON mapping(kind, state);
                    CREATE TABLE step (name TEXT NOT NULL, source_id TEXT NOT NULL, PRIMARY KEY (name, source_id));
                    INSERT INTO mapping VALUES ('record', '1', '101', 1, '2026-01-01T00:00:00.000Z');
                    INSERT INTO mapping VALUES ('record', '2', '102', 2, '2026-01-01T00:00:00.000Z');
                    INSERT INTO step VALUES ('comments', '1');
                    """)
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('binding', ?)", arguments: [encoded])
        }
    }

    @Test func aJournalFromBeforeSchemaVersionsIsAdoptedWithEveryMapping() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        try writeUnversionedJournal(at: url)

        // The upgraded kitbag resumes the import from the same file.
        let journal = try ImportJournal(url: url, binding: binding)
        let entries = try journal.entries(kind: "record")
        #expect(entries["1"]?.targetID == "101")
        #expect(entries["1"]?.state == .created)
        #expect(entries["2"]?.state == .attempted)
        #expect(try journal.steps("comments") == ["1"])
        // Planning the same records again keeps the ids already chosen: nothing is created twice.
        #expect(try journal.plan(kind: "record", [("1", "999"), ("3", "103")]) == ["1": "101", "3": "103"])

        let applied = try DatabaseQueue(path: url.path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(applied == ImportJournal.schemaVersions)
    }

    @Test func aNewJournalRecordsEverySchemaVersion() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        _ = try ImportJournal(url: url, binding: binding)
        let applied = try DatabaseQueue(path: url.path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        }
        #expect(!applied.isEmpty)
        #expect(applied == ImportJournal.schemaVersions)
    }

    @Test func aJournalFromANewerKitbagIsRefusedInOneLineAndLeftUntouched() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        do {
            let journal = try ImportJournal(url: url, binding: binding)
            try journal.plan(kind: "record", [("1", "101")])
        }
        try DatabaseQueue(path: url.path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v9 from the future')")
        }
        let before = try Data(contentsOf: url)

        let error = #expect(throws: JournalError.self) { try ImportJournal(url: url, binding: binding) }
        #expect(error?.description.contains("newer kitbag") == true)
        #expect(error?.description.contains("v9 from the future") == true)
        #expect(error?.description.contains("\n") == false)
        let reading = #expect(throws: JournalError.self) { try ImportJournal(readingFrom: url) }
        #expect(reading?.description.contains("newer kitbag") == true)
        #expect(try Data(contentsOf: url) == before)
    }
}
