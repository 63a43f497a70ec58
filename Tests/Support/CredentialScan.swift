import Foundation
import KitbagArchive
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The credentials the tests use, and a scanner that looks for them in what kitbag leaves behind.
///
/// The list is `Tests/Support/credentials.txt` (one place, also read by `Tests/Support/scan-output.sh` for the
/// whole test output). A hit is reported by the credential's description, never by its value.
public enum CredentialScan {
    public struct Credential: Sendable {
        public var value: String
        public var label: String
        /// The value's UTF-8 bytes, made once: every chunk of every scanned file is searched for each credential.
        var bytes: [UInt8]

        init(value: String, label: String) {
            self.value = value
            self.label = label
            bytes = Array(value.utf8)
        }
    }

    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    public static let listURL = packageRoot.appendingPathComponent("Tests/Support/credentials.txt")

    /// The list's lines: credentials, and (`!`) credential-shaped names that are not credentials.
    public static let list: (credentials: [Credential], notCredentials: Set<String>) = {
        guard let text = try? String(contentsOf: listURL, encoding: .utf8) else {
            fatalError("cannot read \(listURL.path)")
        }
        var credentials: [Credential] = []
        var not: Set<String> = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("!") {
                not.insert(String(line.dropFirst()))
                continue
            }
            let parts = line.split(separator: " ", maxSplits: 1)
            let label = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "credential \(credentials.count + 1)"
            credentials.append(Credential(value: String(parts[0]), label: label))
        }
        return (credentials, not)
    }()

    public static var credentials: [Credential] { list.credentials }

    /// Labels of the credentials that occur in `bytes`.
    public static func found(in bytes: UnsafeRawBufferPointer) -> [String] {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return [] }
        var labels: [String] = []
        for credential in credentials where contains(base, bytes.count, credential.bytes) {
            labels.append(credential.label)
        }
        return labels
    }

    /// memchr for the first byte, then memcmp (glibc's memmem is not visible to Swift).
    static func contains(_ base: UnsafeRawPointer, _ count: Int, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= count else { return false }
        var offset = 0
        while offset + needle.count <= count {
            guard let found = memchr(base + offset, Int32(first), count - offset - needle.count + 1) else { return false }
            let at = base.distance(to: UnsafeRawPointer(found))
            if needle.withUnsafeBytes({ memcmp(base + at, $0.baseAddress!, needle.count) }) == 0 { return true }
            offset = at + 1
        }
        return false
    }

    public static func found(in data: Data) -> [String] { data.withUnsafeBytes { found(in: $0) } }
    public static func found(in text: String) -> [String] { found(in: Data(text.utf8)) }

    /// Every credential in a file or a folder tree, as "path: label". Plain files are scanned as they are;
    /// archives (tar, tar.gz, tar.zst, zip — by their magic bytes) entry by entry after decompression, and raw
    /// as well. Symbolic links are not followed.
    public static func scan(_ url: URL) -> [String] {
        var hits: [String] = []
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return [] }
        if !isDir.boolValue { return scanFile(url, shown: url.lastPathComponent) }
        let keys: [URLResourceKey] = [.isRegularFileKey, .isSymbolicLinkKey]
        guard let walk = FileManager.default.enumerator(at: url, includingPropertiesForKeys: keys) else { return [] }
        let rootLength = url.standardizedFileURL.path.count + 1
        for case let file as URL in walk {
            guard let values = try? file.resourceValues(forKeys: Set(keys)), values.isRegularFile == true,
                values.isSymbolicLink != true
            else { continue }
            hits += scanFile(file, shown: String(file.standardizedFileURL.path.dropFirst(rootLength)))
        }
        return hits
    }

    static func scanFile(_ url: URL, shown: String) -> [String] {
        var hits = Set<String>()
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return [] }
        defer { try? handle.close() }
        var stream = Stream()
        var head = Data()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            if head.count < 512 { head.append(chunk.prefix(512 - head.count)) }
            chunk.withUnsafeBytes { hits.formUnion(stream.feed($0)) }
        }
        var found = hits.sorted().map { "\(shown): \($0)" }
        if isArchive(head) { found += scanArchive(url, shown: shown) }
        return found
    }

    static func isArchive(_ head: Data) -> Bool {
        let b = [UInt8](head.prefix(512))
        if b.starts(with: [0x1f, 0x8b]) || b.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return true }
        if b.starts(with: [0x50, 0x4b, 0x03, 0x04]) || b.starts(with: [0x50, 0x4b, 0x05, 0x06]) { return true }
        return b.count >= 262 && Array(b[257..<262]) == Array("ustar".utf8)
    }

    /// Entries of an archive, decompressed. A damaged or hostile archive is scanned as far as it reads.
    static func scanArchive(_ url: URL, shown: String) -> [String] {
        let limits = ArchiveLimits(maxEntrySize: 1 << 30, maxTotalSize: 4 << 30, maxEntries: 2_000_000)
        guard let reader = try? ArchiveReader(url: url, limits: limits) else { return [] }
        defer { reader.close() }
        var hits: [String] = []
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        while let entry = try? reader.next() {
            var stream = Stream()
            var entryHits = Set<String>()
            while let n = try? reader.read(into: &buffer, max: buffer.count), n > 0 {
                buffer.withUnsafeBytes { entryHits.formUnion(stream.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]))) }
            }
            hits += entryHits.sorted().map { "\(shown) → \(entry.path): \($0)" }
        }
        return hits
    }

    /// Scans a byte stream chunk by chunk; a credential split across two chunks is still found.
    struct Stream {
        var tail: [UInt8] = []
        static let overlap = max(1, (CredentialScan.credentials.map(\.bytes.count).max() ?? 1) - 1)

        mutating func feed(_ chunk: UnsafeRawBufferPointer) -> [String] {
            var joined = tail
            joined.append(contentsOf: chunk)
            let labels = joined.withUnsafeBytes { CredentialScan.found(in: $0) }
            tail = Array(joined.suffix(Self.overlap))
            return labels
        }
    }
}

/// Scratch folders of the tests. `remove` scans the folder for credentials before deleting it, so every test's
/// archives, journals, reports and logs are checked: a hit is a test failure naming the file and the credential.
public enum Scratch {
    /// `credentialInputs`: paths (relative to `url`) of files the test itself wrote to hand kitbag a credential
    /// (a token file, a config with an inline key); they are the only files allowed to hold one.
    public static func remove(
        _ url: URL, credentialInputs: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for hit in CredentialScan.scan(url) where !credentialInputs.contains(where: { hit.hasPrefix("\($0): ") }) {
            Issue.record("a credential was left on disk: \(hit)", sourceLocation: sourceLocation)
        }
        try? FileManager.default.removeItem(at: url)
    }

    /// Fails the test when `text` (a child's output, an error message) holds a credential.
    public static func expectNoCredentials(
        in text: String, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for label in CredentialScan.found(in: text) {
            Issue.record("\(what()) holds a credential: \(label)", sourceLocation: sourceLocation)
        }
    }
}
