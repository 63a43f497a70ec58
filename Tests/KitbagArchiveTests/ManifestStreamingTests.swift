import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

/// The manifest streams from a spooled entry list (issue 20: memory flat in the number of entries); its bytes must
/// stay those the encoder makes of the whole manifest, and a path may still be written only once.
@Suite("Streamed manifest")
struct ManifestStreamingTests {
    /// Paths and kinds the fast path of the entry encoder does not take: quotes, backslashes, controls, non-ASCII.
    static let oddNames = ["plain", "with \"quote\"", "back\\slash", "tab\there", "bell\u{7}", "déjà vu", "del\u{7f}", "日本", "slash/ok"]

    @Test("the streamed manifest is byte for byte the encoder's, for odd kinds and paths too")
    func bytesAreTheEncoders() throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("odd")
            let info = ArchiveInfo(
                service: .kinopio, source: .init(baseURL: "http://x", account: .init(id: "a")),
                startedAt: Date(timeIntervalSince1970: 0))
            let writer = try SnapshotWriter(
                destination: .folder(url), format: .folder, info: info, snapshotTime: Date(timeIntervalSince1970: 0))
            for (i, name) in Self.oddNames.enumerated() {
                try writer.writeJSONLines(
                    container: ContainerRef(kind: "spaces", id: name), file: name, kind: name,
                    values: (0..<i).map { .int($0) })
            }
            try writer.addFile(path: "pages/x.md", data: Data("x".utf8))
            let sealed = try writer.seal(
                notExported: [NotExported(kind: "odd \"kind\"", container: "c\\d", reason: "tab\there")],
                finishedAt: Date(timeIntervalSince1970: 60))
            #expect(sealed.entries.count == Self.oddNames.count + 2)
            let expected = try SnapshotWriter.recordBytes(sealed)
            let written = try Data(contentsOf: url.appendingPathComponent(ArchivePath.manifest))
            #expect(written == expected)
        }
    }

    @Test("the entry list finds every path it holds after moving to disk, and no other")
    func entryListFindsPathsAcrossTheSpill() throws {
        try withTempFolder { folder in
            let log = ManifestEntryLog(directory: folder, memoryLimit: 4096)
            for i in 0..<3_000 {
                try log.append(Manifest.Entry(path: "data/spaces/s\(i)/cards.jsonl", size: Int64(i), sha256: "ab", kind: "card", count: i))
            }
            #expect(log.spilled && log.count == 3_000)
            for i in [0, 1, 1_499, 2_999] { #expect(try log.contains(path: "data/spaces/s\(i)/cards.jsonl")) }
            #expect(try !log.contains(path: "data/spaces/s3000/cards.jsonl"))
            #expect(try !log.contains(path: "data/spaces/s1/cards"), "a prefix of a path is not the path")
            var size = 0
            try log.forEachChunk { size += $0.count }
            #expect(Int64(size) == log.size)
        }
    }

    @Test("a path written before is refused, and the archive stays sealable")
    func duplicatesAreRefused() throws {
        try withTempFolder { folder in
            let info = ArchiveInfo(
                service: .kona, source: .init(baseURL: "http://x", account: .init(id: "a")),
                startedAt: Date(timeIntervalSince1970: 0))
            let writer = try SnapshotWriter(
                destination: .file(folder.appendingPathComponent("many.tar")), format: .tar, info: info,
                snapshotTime: Date(timeIntervalSince1970: 0))
            for i in 0..<300 { try writer.addFile(path: "pages/p\(i).md", data: Data()) }
            #expect(throws: ArchiveError.self) { try writer.addFile(path: "pages/p17.md", data: Data()) }
            try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [.int(1)])
            #expect(throws: ArchiveError.self) { try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: []) }
            let totals = try writer.sealStreamed(notExported: [], finishedAt: Date(timeIntervalSince1970: 1))
            #expect(totals.entryCount == 302)
            #expect(totals.counts == ["user": 1])
            let reader = try SnapshotReader.open(folder.appendingPathComponent("many.tar"))
            defer { reader.close() }
            #expect(reader.manifest.entries.count == 302)
            #expect(reader.manifest.entries.last?.path == "data/account/user.jsonl")
        }
    }
}
