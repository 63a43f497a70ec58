import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hostile input HostileArchiveTests does not cover: zip bombs, lying zip sizes, non-UTF-8 names in zip and
/// folder archives, and malformed JSON Lines inside archives whose manifest is otherwise right.
@Suite("Hostile zips, names and JSON Lines are refused")
struct HostileInputTests {
    static let benign = ZipEntry(name: Array("kitbag.json".utf8), data: Data("{}\n".utf8))

    /// Extraction must throw naming `entry` and leave the target folder empty; verify must name it too.
    func expectRefused(_ archive: URL, entry: String, limits: ArchiveLimits = .default, in folder: URL) throws -> ArchiveError {
        let target = folder.appendingPathComponent("out-\(UUID().uuidString.prefix(6))")
        let error = try #require(throws: ArchiveError.self) { try SafeExtractor.extract(archive, to: target, limits: limits) }
        #expect(error.description.contains(entry), "\(error)")
        #expect(!error.description.contains("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == [])
        let report = ArchiveVerifier.verify(archive, limits: limits)
        #expect(report.status == .corrupt)
        #expect(report.problems.contains { $0.path == entry || $0.problem.contains(entry) }, "\(report.problems)")
        return error
    }

    @Test("a zip entry declaring 5 GiB (zip64) is refused by the default limit before any data is read")
    func zipDeclaresHugeSize() throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("bomb.zip")
            var huge = ZipEntry(name: Array("data/spaces/s/cards.jsonl".utf8), data: Data("{}\n".utf8))
            huge.declaredSize = 5 << 30
            try buildZip([Self.benign, huge]).write(to: url)
            let error = try expectRefused(url, entry: "data/spaces/s/cards.jsonl", in: folder)
            #expect(error == .entryTooLarge(entry: "data/spaces/s/cards.jsonl", size: 5 << 30, limit: 4 << 30))
        }
    }

    @Test("a zip bomb (honestly declared, 64 MiB of zeros in a few KiB) is refused by the configured limit")
    func zipBombOverLimit() throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("bomb.zip")
            let writer = try SnapshotWriter(destination: .file(url), format: .zip, info: sampleInfo(), snapshotTime: snapshotTime)
            try writer.addFile(path: "attachments/zeros", data: Data(count: 64 << 20))
            try writer.seal(notExported: [], finishedAt: finishTime)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
            #expect(size < 256 << 10, "the bomb is \(size) bytes")
            let limits = ArchiveLimits(maxEntrySize: 1 << 20, maxTotalSize: 8 << 20, maxEntries: 100)
            let error = try expectRefused(url, entry: "attachments/zeros", limits: limits, in: folder)
            #expect(error == .entryTooLarge(entry: "attachments/zeros", size: 64 << 20, limit: 1 << 20))
        }
    }

    @Test("a zip entry that inflates past the size it declares is stopped at the declared size")
    func zipExpandsPastDeclared() throws {
        try withTempFolder { folder in
            // A deflated 8 MiB entry whose headers claim 1000 bytes (the classic lying bomb).
            let honest = folder.appendingPathComponent("honest.zip")
            let writer = try SnapshotWriter(destination: .file(honest), format: .zip, info: sampleInfo(), snapshotTime: snapshotTime)
            try writer.addFile(path: "attachments/liar", data: Data(repeating: 0x41, count: 8 << 20))
            try writer.seal(notExported: [], finishedAt: finishTime)
            var bytes = [UInt8](try Data(contentsOf: honest))
            let patched = patchZipUncompressedSize(&bytes, name: "attachments/liar", to: 1000)
            #expect(patched >= 1, "no header of the entry was found to patch")
            let url = folder.appendingPathComponent("liar.zip")
            try Data(bytes).write(to: url)
            let error = try expectRefused(url, entry: "attachments/liar", in: folder)
            // Either kitbag's own size check or libarchive's CRC/size check stops it; never 8 MiB on disk.
            #expect(
                error == .moreDataThanDeclared(entry: "attachments/liar", declared: 1000)
                    || error.description.contains("attachments/liar"), "\(error)")
        }
    }

    /// Found by FuzzArchiveReader (Fuzz/regressions/archive/zip-entry-shorter-than-declared.zip): a damaged deflate
    /// stream that ends cleanly but early gave fewer bytes than the entry declares, and the reader passed them on.
    @Test("a zip entry that inflates to fewer bytes than it declares is refused, naming it")
    func zipShorterThanDeclared() throws {
        let crash = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/archive/zip-entry-shorter-than-declared.zip")
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("short.zip")
            try FileManager.default.copyItem(at: crash, to: url)
            let reader = try ArchiveReader(url: url)
            let header = try #require(try reader.next())
            #expect(header.path == "kitbag.json" && header.size == 310)
            let error = try #require(throws: ArchiveError.self) { try reader.readAll(limit: 1 << 20) }
            #expect(error == .lessDataThanDeclared(entry: "kitbag.json", declared: 310, read: 309))
            #expect(error.description == "refused archive entry 'kitbag.json': it ends after 309 of the 310 bytes its header declares; the archive is damaged")
            reader.close()
            _ = try expectRefused(url, entry: "kitbag.json", in: folder)
        }
    }

    /// Found by the corruption suite: a zip cut inside its central directory still reads entry by entry
    /// (libarchive falls back to local headers), so verify said whole although `unzip` cannot open it.
    @Test("a zip without its central directory is not whole, though every entry reads")
    func zipWithoutCentralDirectory() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .zip, in: folder)
            try writeSample(to: dest, format: .zip)
            let bytes = [UInt8](try Data(contentsOf: url))
            let end = try #require(stride(from: bytes.count - 22, through: 0, by: -1).first {
                bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4B && bytes[$0 + 2] == 5 && bytes[$0 + 3] == 6
            })
            let central = (0..<4).reduce(0) { $0 | Int(bytes[end + 16 + $1]) << (8 * $1) }
            try Data(bytes[..<(central + 30)]).write(to: url)  // into the first central directory record
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems == [.init(path: "(archive)", problem: "has no zip end-of-central-directory record: the file was cut short, and other zip tools cannot open it")])
        }
    }

    /// Found by the fuzz-corpus mutations (Fuzz/regressions/archive/zip-error-message-ends-with-newline.zip):
    /// libarchive's message for this ends with a newline, which broke the one-line report.
    @Test("a stored zip entry whose headers claim another size is refused in one line naming it")
    func zipStoredSizeMismatch() throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("sizes.zip")
            var liar = ZipEntry(name: Array("renderings/spaces/s1.md".utf8), data: Data("# Plan\n".utf8))
            liar.declaredSize = 2_837_189_432
            try buildZip([Self.benign, liar]).write(to: url)
            let error = try expectRefused(url, entry: "renderings/spaces/s1.md", in: folder)
            #expect(error.description.hasSuffix("ZIP uncompressed data is wrong size (read 7, expected 2837189432)"), "\(error)")
            let report = ArchiveVerifier.verify(url)
            #expect(!report.summaryLine.contains("\n"))
            #expect(report.problems.allSatisfy { !$0.problem.contains("\n") }, "\(report.problems)")
        }
    }

    @Test("a zip entry name that is not UTF-8 is refused and shown with \\x escapes", arguments: [true, false])
    func zipInvalidUTF8Name(flagged: Bool) throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("names.zip")
            var bad = ZipEntry(name: Array("data/bad".utf8) + [0xFF, 0xFE] + Array("name.jsonl".utf8), data: Data("{}\n".utf8))
            bad.utf8Flag = flagged
            try buildZip([Self.benign, bad]).write(to: url)
            // Flagged as UTF-8, libarchive fails to convert the name and keeps none of it, so the position is named;
            // unflagged, the raw bytes come through and are shown escaped.
            let shown = flagged ? "the entry after kitbag.json" : "data/bad\\xFF\\xFEname.jsonl"
            let error = try expectRefused(url, entry: shown, in: folder)
            #expect(error == .invalidName(entry: shown))
        }
    }

    @Test("a file in a folder archive whose name is not UTF-8 is named with \\x escapes")
    func folderInvalidUTF8Name() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .folder, in: folder)
            try writeSample(to: dest, format: .folder)
            let raw = Array((url.path + "/data/").utf8) + [0x62, 0xC3, 0x28, 0x00]  // "b\xC3(": a broken 2-byte sequence
            let fd = raw.withUnsafeBufferPointer {
                $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) { open($0, O_CREAT | O_WRONLY, 0o644) }
            }
            #expect(fd >= 0)
            close(fd)
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems.contains { $0.path == "data/b\\xC3(" }, "\(report.problems)")
            let error = try #require(throws: ArchiveError.self) { try SafeExtractor.extract(url, to: folder.appendingPathComponent("out")) }
            #expect(error == .invalidName(entry: "data/b\\xC3("))
        }
    }

    struct BadLine: Sendable, CustomStringConvertible {
        var label: String
        var line: [UInt8]
        var reason: String
        var description: String { label }
    }

    static let badLines: [BadLine] = [
        BadLine(label: "blank line", line: [], reason: "unexpected end of input"),
        BadLine(label: "two values", line: Array(#"{"id":2} {"id":3}"#.utf8), reason: "unexpected data after the value"),
        BadLine(label: "cut short", line: Array(#"{"id":2,"name":"Car"#.utf8), reason: "unterminated string"),
        BadLine(label: "byte-order mark", line: [0xEF, 0xBB, 0xBF] + Array(#"{"id":2}"#.utf8), reason: "unexpected character"),
        BadLine(label: "NUL byte", line: Array(#"{"id":2}"#.utf8) + [0], reason: "unexpected data after the value"),
        BadLine(label: "raw control character in a string", line: Array(#"{"id":"a"#.utf8) + [0x01] + Array(#""}"#.utf8), reason: "control character in string"),
        BadLine(label: "nested 600 deep", line: Array(repeating: UInt8(ascii: "["), count: 600) + Array(repeating: UInt8(ascii: "]"), count: 600), reason: "nesting deeper than 512"),
        BadLine(label: "invalid UTF-8 in a string", line: Array(#"{"name":"caf"#.utf8) + [0xE9] + Array(#""}"#.utf8), reason: "is not valid UTF-8"),
        BadLine(label: "truncated UTF-8 sequence at the end of a string", line: Array(#"{"name":""#.utf8) + [0xE6, 0x97] + Array(#""}"#.utf8), reason: "is not valid UTF-8"),
    ]

    @Test("a malformed JSON line in an archive whose manifest matches it is named with its entry and line", arguments: badLines)
    func malformedLine(bad: BadLine) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tarZst, in: folder)
            let writer = try SnapshotWriter(destination: dest, format: .tarZst, info: sampleInfo(), snapshotTime: snapshotTime)
            let entry = "data/spaces/s1/cards.jsonl"
            let body = Array("{\"id\":1}\n".utf8) + bad.line + [0x0A] + Array("{\"id\":4}\n".utf8)
            try writer.addFile(path: entry, data: Data(body))
            try writer.seal(notExported: [], finishedAt: finishTime)
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems.count == 1, "\(report.problems)")
            #expect(report.problems.first?.path == entry)
            let problem = report.problems.first?.problem ?? ""
            #expect(problem.hasPrefix("line 2 is not valid"), "\(problem)")
            #expect(problem.contains(bad.reason), "\(problem)")
            #expect(!problem.contains("\n"))
            let error = try #require(throws: ArchiveError.self) { try SnapshotReader.open(url) }
            #expect(error.description.contains("\(entry): line 2 is not valid"), "\(error)")
        }
    }
}

// MARK: - Hand-made zips

/// One stored (uncompressed) zip entry; `declaredSize` makes the headers lie (zip64 when over 4 GiB).
struct ZipEntry {
    var name: [UInt8]
    var data: Data
    var declaredSize: Int64? = nil
    var utf8Flag = true
}

/// A zip of stored entries with local headers, a central directory and an end record, byte by byte.
func buildZip(_ entries: [ZipEntry]) -> Data {
    var out: [UInt8] = []
    var central: [UInt8] = []
    func le16(_ v: Int, into a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func le32(_ v: Int, into a: inout [UInt8]) { le16(v & 0xFFFF, into: &a); le16((v >> 16) & 0xFFFF, into: &a) }
    func le64(_ v: Int64, into a: inout [UInt8]) { le32(Int(v & 0xFFFF_FFFF), into: &a); le32(Int(v >> 32), into: &a) }
    for entry in entries {
        let offset = out.count
        let size = entry.declaredSize ?? Int64(entry.data.count)
        let zip64 = size > 0xFFFF_FFFE
        var extra: [UInt8] = []
        if zip64 {
            le16(0x0001, into: &extra)
            le16(16, into: &extra)
            le64(size, into: &extra)
            le64(Int64(entry.data.count), into: &extra)
        }
        let crc = crc32(entry.data)
        let flags = entry.utf8Flag ? 0x0800 : 0
        func common(_ a: inout [UInt8]) {
            le16(zip64 ? 45 : 20, into: &a)  // version needed
            le16(flags, into: &a)
            le16(0, into: &a)  // stored
            le16(0, into: &a)  // time
            le16(0x21, into: &a)  // date 1980-01-01
            le32(Int(crc), into: &a)
            le32(zip64 ? 0xFFFF_FFFF : entry.data.count, into: &a)
            le32(zip64 ? 0xFFFF_FFFF : Int(size), into: &a)
            le16(entry.name.count, into: &a)
            le16(extra.count, into: &a)
        }
        le32(0x0403_4B50, into: &out)
        common(&out)
        out += entry.name + extra + [UInt8](entry.data)

        le32(0x0201_4B50, into: &central)
        le16(0x0314, into: &central)  // made by: Unix
        common(&central)
        le16(0, into: &central)  // comment
        le16(0, into: &central)  // disk
        le16(0, into: &central)  // internal attributes
        le32(0o100644 << 16, into: &central)  // external attributes: regular file
        le32(offset, into: &central)
        central += entry.name + extra
    }
    let centralOffset = out.count
    out += central
    le32(0x0605_4B50, into: &out)
    le16(0, into: &out)
    le16(0, into: &out)
    le16(entries.count, into: &out)
    le16(entries.count, into: &out)
    le32(central.count, into: &out)
    le32(centralOffset, into: &out)
    le16(0, into: &out)
    return Data(out)
}

/// Rewrites the uncompressed size of every header (local, central, data descriptor) of `name`; returns how many.
func patchZipUncompressedSize(_ b: inout [UInt8], name: String, to size: Int) -> Int {
    let nameBytes = Array(name.utf8)
    func u16(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    func put32(_ v: Int, at: Int) { for k in 0..<4 { b[at + k] = UInt8((v >> (8 * k)) & 0xFF) } }
    var patched = 0
    var i = 0
    while i + 46 < b.count {
        if b[i] == 0x50, b[i + 1] == 0x4B, b[i + 2] == 3, b[i + 3] == 4, Array(b[(i + 30)..<min(b.count, i + 30 + nameBytes.count)]) == nameBytes {
            put32(size, at: i + 22)
            patched += 1
            // A data descriptor follows the data when flag bit 3 is set; patch it too.
            if u16(i + 6) & 0x08 != 0 {
                var j = i + 30
                while j + 16 <= b.count, !(b[j] == 0x50 && b[j + 1] == 0x4B && b[j + 2] == 7 && b[j + 3] == 8) { j += 1 }
                if j + 16 <= b.count { put32(size, at: j + 12) }
            }
        }
        if b[i] == 0x50, b[i + 1] == 0x4B, b[i + 2] == 1, b[i + 3] == 2, Array(b[(i + 46)..<min(b.count, i + 46 + nameBytes.count)]) == nameBytes {
            put32(size, at: i + 24)
            patched += 1
        }
        i += 1
    }
    return patched
}

/// CRC-32 (IEEE), as zip stores it.
func crc32(_ data: Data) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for n in 0..<256 {
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[n] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}
