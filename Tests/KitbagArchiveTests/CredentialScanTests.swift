import Foundation
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagArchive

/// A temp folder removed without the scan: these tests plant credentials on purpose.
private func withPlantedFolder(_ body: (URL) throws -> Void) throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-planted-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    try body(url)
}

/// The secrets scan every test runs on its scratch folder (`Scratch.remove`) and on kitbag's output must find
/// what it looks for, wherever kitbag could leave it; and its list must hold every credential the tests use.
@Suite("The secrets scan finds credentials and knows them all")
struct CredentialScanTests {
    static let planted = CredentialScan.credentials.first { $0.value == "sandbox-kintone-api-token" }!

    @Test("a credential inside a compressed archive entry is found and named with the entry", arguments: [
        ArchiveFormat.tarZst, .tarGz, .zip, .tar, .folder,
    ])
    func insideArchives(format: ArchiveFormat) throws {
        try withPlantedFolder { folder in
            var content = sampleContent()
            content.files.append(("renderings/leak.txt", Data("header: \(Self.planted.value)\n".utf8)))
            let (dest, url) = destination(for: format, in: folder)
            _ = try writeSample(content, to: dest, format: format)
            let hits = CredentialScan.scan(folder)
            #expect(hits.contains { $0.contains("leak.txt") && $0.hasSuffix(Self.planted.label) }, "\(hits)")
            #expect(hits.allSatisfy { !$0.contains(Self.planted.value) }, "a hit names the credential, never shows it")
            if format == .tarGz {
                // Deflated, the value is not in the file's bytes: only reading the entries finds it.
                // (zstd may keep short literals as they are, so tar.zst is not checked this way.)
                let raw = try Data(contentsOf: url)
                #expect(CredentialScan.found(in: raw).isEmpty)
            }
        }
    }

    @Test("a clean archive, a journal-like file and logs give no hits")
    func cleanFolder() throws {
        try withPlantedFolder { folder in
            let (dest, _) = destination(for: .tarZst, in: folder)
            _ = try writeSample(to: dest, format: .tarZst)
            try Data("export: 12 entities, 3 attachments, token [redacted]\n".utf8).write(to: folder.appendingPathComponent("log.txt"))
            #expect(CredentialScan.scan(folder) == [])
        }
    }

    @Test("a credential split across two read chunks of a large file is found")
    func acrossChunks() throws {
        try withPlantedFolder { folder in
            var data = Data(repeating: UInt8(ascii: "x"), count: (1 << 20) - 7)
            data.append(Data(Self.planted.value.utf8))
            data.append(Data(repeating: UInt8(ascii: "y"), count: 100))
            try data.write(to: folder.appendingPathComponent("big.bin"))
            #expect(CredentialScan.scan(folder) == ["big.bin: \(Self.planted.label)"])
        }
    }

    @Test("a symbolic link out of the folder is not followed")
    func symlinksNotFollowed() throws {
        try withPlantedFolder { outer in
            let elsewhere = outer.appendingPathComponent("elsewhere.txt")
            try Data(Self.planted.value.utf8).write(to: elsewhere)
            let folder = outer.appendingPathComponent("scratch")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link"), withDestinationURL: elsewhere)
            #expect(CredentialScan.scan(folder) == [])
            #expect(CredentialScan.scan(outer) == ["elsewhere.txt: \(Self.planted.label)"])
        }
    }

    /// Every credential-shaped string literal in the tests and the sandboxes (`…-token-…`, `…-key`, `…secret…`,
    /// `…password…`, `…access…`, `…refresh…`, `…credential…`) is on the list, so a new test's token is scanned for.
    @Test("credentials.txt lists every credential-shaped literal in Tests/ and Sources/KitbagSandbox/")
    func listIsComplete() throws {
        let pattern = try Regex(
            #""([A-Za-z0-9_]*[-_][A-Za-z0-9_-]*(?:token|key|secret|password|credential|access|refresh|SECRET)[A-Za-z0-9_-]*|[A-Za-z0-9_-]*(?:token|key|secret|password|credential|access|refresh)[-_][A-Za-z0-9_-]*)""#)
        let root = CredentialScan.packageRoot
        var missing: [String] = []
        var checked = 0
        for folder in ["Tests", "Sources/KitbagSandbox"] {
            let walk = FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil)
            while let file = walk?.nextObject() as? URL {
                guard file.pathExtension == "swift", let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
                for match in text.matches(of: pattern) {
                    let literal = String(match.output[1].substring ?? "")
                    checked += 1
                    let known = CredentialScan.list.notCredentials.contains(literal)
                        || CredentialScan.credentials.contains { literal.contains($0.value) }
                    if !known { missing.append("\(file.lastPathComponent): \(literal)") }
                }
            }
        }
        #expect(checked > 40, "the pattern still finds the tests' credentials: \(checked)")
        #expect(missing.isEmpty, "add these to Tests/Support/credentials.txt (or mark them `!` if they are not credentials): \(missing)")
    }
}
