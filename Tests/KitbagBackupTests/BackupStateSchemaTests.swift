import Foundation
import GRDB
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagBackup

/// `state.sqlite` is versioned by GRDB's migrator: a file from before versions were recorded (with or without
/// the verification table issue 21 added) keeps its bookmarks, and one a newer kitbag wrote is refused untouched.
@Suite struct BackupStateSchemaTests {
    func tempFile() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("state-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("state.sqlite")
    }

    /// The two tables every state file had before the verification table and before versions were recorded.
    func writeOldestState(at url: URL) throws {
        try DatabaseQueue(path: url.path).write { db in
            try db.execute(
                sql: """
                    CREATE TABLE backup (archive TEXT PRIMARY KEY NOT NULL, service TEXT NOT NULL, account TEXT NOT NULL,
                        started_at TEXT NOT NULL, finished_at TEXT NOT NULL, full INTEGER NOT NULL, requests INTEGER NOT NULL,
                        reused INTEGER NOT NULL, fetched INTEGER NOT NULL);
                    CREATE TABLE bookmark (service TEXT NOT NULL, account TEXT NOT NULL, container TEXT NOT NULL,
                        marker TEXT NOT NULL, archive TEXT NOT NULL, PRIMARY KEY (service, account, container));
                    INSERT INTO backup VALUES ('kinopio-u1-20260101.tar.zst', 'kinopio', 'u1', '2026-01-01T00:00:00.000Z',
                        '2026-01-01T00:01:00.000Z', 1, 12, 0, 3);
                    INSERT INTO bookmark VALUES ('kinopio', 'u1', 'space-a', '2025-12-31T10:00:00.000Z',
                        'kinopio-u1-20260101.tar.zst');
                    """)
        }
    }

    @Test func aStateFileFromBeforeSchemaVersionsKeepsItsBookmarksAndGainsVerification() throws {
        let url = try tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        try writeOldestState(at: url)

        let state = try BackupState(url: url)
        #expect(try state.bookmarks(service: "kinopio", account: "u1") == ["space-a": "2025-12-31T10:00:00.000Z"])
        #expect(try state.latest(service: "kinopio", account: "u1")?.requests == 12)
        // The table added later exists and works on the adopted file.
        let check = VerificationRecord(
            archive: "kinopio-u1-20260101.tar.zst", status: "ok", checkedAt: "2026-01-02T00:00:00.000Z", fingerprint: "f")
        try state.record(check)
        #expect(try state.verifications()["kinopio-u1-20260101.tar.zst"]?.status == "ok")
        let applied = try DatabaseQueue(path: url.path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(applied == BackupState.schemaVersions)
        #expect(applied.count == 2)
    }

    @Test func aStateFileFromANewerKitbagIsRefusedInOneLineAndLeftUntouched() throws {
        let url = try tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        _ = try BackupState(url: url)
        try DatabaseQueue(path: url.path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v7 retention tags')")
        }
        let before = try Data(contentsOf: url)
        let error = #expect(throws: UserError.self) { try BackupState(url: url) }
        #expect(error?.message.contains("newer kitbag") == true)
        #expect(error?.message.contains("v7 retention tags") == true)
        #expect(error?.message.contains("\n") == false)
        #expect(try Data(contentsOf: url) == before)
    }
}
