import CArchive
import Foundation
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagArchive

/// A private temp folder removed when the test's closure returns.
func withTempFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-archive-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { Scratch.remove(url) }
    return try body(url)
}

let snapshotTime = Date(timeIntervalSince1970: 1_763_850_000)
let finishTime = Date(timeIntervalSince1970: 1_763_850_100)

func sampleInfo() -> ArchiveInfo {
    ArchiveInfo(
        service: .kinopio,
        source: .init(baseURL: "https://api.kinopio.club", account: .init(id: "user-1", name: "Zoë")),
        startedAt: snapshotTime, renderings: ["markdown"])
}

/// The content the sample archives hold, to compare a read-back against.
struct SampleContent {
    struct Lines {
        var container: ContainerRef
        var file: String
        var kind: String
        var values: [JSONValue]
        var path: String { ArchivePath.jsonLines(container: container, file: file) }
    }
    var lines: [Lines]
    var attachments: [Data]
    var files: [(path: String, data: Data)]
}

/// Deterministic pseudo-random bytes (xorshift), so attachments are large yet reproducible.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> Data {
    var state = seed | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        out[i] = UInt8(truncatingIfNeeded: state)
    }
    return Data(out)
}

func sampleContent() -> SampleContent {
    let spaceA = ContainerRef(kind: "spaces", id: "abc123")
    let spaceB = ContainerRef(kind: "spaces", id: "日本語 space/1")
    let spaceC = ContainerRef(kind: "spaces", id: "100%done..")
    func card(_ id: String, _ name: String) -> JSONValue {
        .object(JSONObject([("id", .string(id)), ("name", .string(name)), ("x", .number("1.50")), ("tags", ["a", "ü"])]))
    }
    return SampleContent(
        lines: [
            .init(container: .account, file: "user", kind: "user", values: [["id": "user-1", "name": "Zoë"]]),
            .init(container: spaceA, file: "space", kind: "space", values: [["id": "abc123", "name": "Plans"]]),
            .init(container: spaceA, file: "cards", kind: "card", values: (0..<50).map { card("c\($0)", "Card \($0) ✓") }),
            .init(container: spaceB, file: "space", kind: "space", values: [["id": "日本語 space/1", "name": "日本語"]]),
            .init(container: spaceB, file: "cards", kind: "card", values: [card("jp1", "こんにちは\n\"quoted\"")]),
            .init(container: spaceC, file: "cards", kind: "card", values: []),
        ],
        attachments: [Data("hello attachment".utf8), pseudoRandomBytes(5 << 20, seed: 42), Data("hello attachment".utf8)],
        files: [("renderings/spaces/Café ☕.md", Data("# Café ☕\n".utf8))])
}

/// Writes the sample content to `destination`; returns the stored attachments in order.
@discardableResult
func writeSample(
    _ content: SampleContent = sampleContent(), to destination: ArchiveDestination, format: ArchiveFormat,
    spool: URL? = nil
) throws -> (Manifest, [StoredAttachment]) {
    let writer = try SnapshotWriter(
        destination: destination, format: format, info: sampleInfo(), snapshotTime: snapshotTime, spoolDirectory: spool)
    for group in content.lines {
        let spool = try writer.jsonLines(container: group.container, file: group.file, kind: group.kind)
        for value in group.values { try spool.append(value) }
        try writer.commit(spool)
    }
    var stored: [StoredAttachment] = []
    for data in content.attachments {
        let spool = try writer.attachmentSpool()
        // Feed in uneven pieces, as a download would.
        var offset = 0
        while offset < data.count {
            let n = min(70_001, data.count - offset)
            try spool.write(data.subdata(in: offset..<(offset + n)))
            offset += n
        }
        stored.append(try writer.commit(spool))
    }
    for file in content.files { try writer.addFile(path: file.path, data: file.data) }
    let manifest = try writer.seal(
        notExported: [NotExported(kind: "notification", reason: "the API has no route for it")], finishedAt: finishTime)
    return (manifest, stored)
}

/// The paths kitbag writes for the sample, in archive order.
func expectedPaths(_ manifest: Manifest) -> [String] {
    manifest.entries.map(\.path) + [ArchivePath.manifest]
}

func destination(for format: ArchiveFormat, in folder: URL, name: String = "snap") -> (ArchiveDestination, URL) {
    if format == .folder {
        let url = folder.appendingPathComponent(name)
        return (.folder(url), url)
    }
    let url = folder.appendingPathComponent("\(name).\(format.fileExtension)")
    return (.file(url), url)
}

/// Runs a tool from PATH; nil if it is not installed.
func runTool(_ name: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: Data)? {
    let candidates = ["/usr/bin/\(name)", "/bin/\(name)", "/usr/local/bin/\(name)"]
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
    var environment = ProcessInfo.processInfo.environment
    environment["LC_ALL"] = "C.UTF-8"
    // Input comes from a file, so a tool that writes while it reads cannot deadlock against us.
    var inputFile: URL?
    if let input {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-tool-input-\(UUID().uuidString)")
        try input.write(to: url)
        inputFile = url
    }
    defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
    let run = try ChildProcess.runBlocking(
        path, arguments, environment: environment, input: inputFile.map { .file($0.path) } ?? .null, error: .null)
    return (run.status, run.stdout)
}

func lines(_ data: Data) -> [String] {
    String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// All regular files under a folder, relative path → bytes.
func fileTree(_ root: URL) throws -> [String: Data] {
    var out: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])!
    let base = root.resolvingSymlinksInPath().path
    for case let url as URL in enumerator {
        guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
        let full = url.resolvingSymlinksInPath().path
        out[String(full.dropFirst(base.count + 1))] = try Data(contentsOf: url)
    }
    return out
}

// MARK: - Building archives by hand with libarchive

/// One entry for `buildTar`.
struct RawEntry {
    var name: [UInt8]
    var data: Data = Data()
    var type: UInt32 = 0o100000
    var symlink: String? = nil
    var hardlink: String? = nil
    var declaredSize: Int64? = nil

    init(_ name: String, _ data: Data = Data()) {
        self.name = Array(name.utf8)
        self.data = data
    }
    init(rawName: [UInt8], _ data: Data = Data()) {
        self.name = rawName
        self.data = data
    }
}

/// Writes a plain tar (ustar, or pax for `pax: true`) with exactly the given entries, using libarchive directly.
func buildTar(_ entries: [RawEntry], to url: URL, pax: Bool = false) throws {
    let a = archive_write_new()!
    defer { archive_write_free(a) }
    _ = pax ? archive_write_set_format_pax_restricted(a) : archive_write_set_format_ustar(a)
    guard archive_write_open_filename(a, url.path) == ARCHIVE_OK else {
        throw UserError("cannot open \(url.path): \(String(cString: archive_error_string(a)))")
    }
    for raw in entries {
        let entry = archive_entry_new()!
        defer { archive_entry_free(entry) }
        raw.name.withUnsafeBufferPointer { buffer in
            var bytes = Array(buffer)
            bytes.append(0)
            bytes.withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { archive_entry_copy_pathname(entry, $0) } }
        }
        archive_entry_set_filetype(entry, raw.type)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, 1_763_850_000, 0)
        if let target = raw.symlink { archive_entry_copy_symlink(entry, target) }
        if let target = raw.hardlink { archive_entry_copy_hardlink(entry, target) }
        if raw.type == 0o020000 { archive_entry_set_rdev(entry, makeDevice(1, 3)) }
        archive_entry_set_size(entry, raw.type == 0o100000 && raw.hardlink == nil ? Int64(raw.data.count) : 0)
        guard archive_write_header(a, entry) == ARCHIVE_OK else {
            throw UserError("cannot write header: \(String(cString: archive_error_string(a)))")
        }
        if !raw.data.isEmpty {
            _ = raw.data.withUnsafeBytes { archive_write_data(a, $0.baseAddress, $0.count) }
        }
    }
    archive_write_close(a)
}

func makeDevice(_ major: UInt32, _ minor: UInt32) -> dev_t {
    dev_t((major << 8) | minor)
}

/// A 512-byte ustar header with an arbitrary octal size field (libarchive refuses to write absurd sizes).
func ustarHeader(name: String, octalSize: String) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    func put(_ s: String, at offset: Int) { for (i, b) in s.utf8.enumerated() { h[offset + i] = b } }
    put(name, at: 0)
    put("0000644", at: 100)
    put("0000000", at: 108)
    put("0000000", at: 116)
    put(octalSize, at: 124)
    put("15045140220", at: 136)
    put("        ", at: 148)
    h[156] = UInt8(ascii: "0")
    put("ustar", at: 257)
    put("00", at: 263)
    let sum = h.reduce(0) { $0 + Int($1) }
    put(String(format: "%06o", sum), at: 148)
    h[154] = 0
    h[155] = UInt8(ascii: " ")
    return h
}

/// Copies an archive's entries into a new plain tar, letting `transform` drop, change or add entries.
func rewriteAsTar(_ source: URL, to target: URL, transform: ([(String, Data)]) -> [(String, Data)]) throws {
    let reader = try ArchiveReader(url: source)
    var entries: [(String, Data)] = []
    while let header = try reader.next() {
        entries.append((header.path, try reader.readAll(limit: 64 << 20)))
    }
    reader.close()
    try buildTar(transform(entries).map { RawEntry($0.0, $0.1) }, to: target, pax: true)
}
