import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

@Suite("Deterministic output")
struct DeterminismTests {
    @Test("two writes of the same content are byte-identical", arguments: ArchiveFormat.allCases)
    func byteIdentical(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let first = folder.appendingPathComponent("one")
            let second = folder.appendingPathComponent("two")
            try FileManager.default.createDirectory(at: first, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: second, withIntermediateDirectories: true)
            let (destA, urlA) = destination(for: format, in: first)
            let (destB, urlB) = destination(for: format, in: second)
            try writeSample(to: destA, format: format)
            try writeSample(to: destB, format: format)
            if format == .folder {
                let treeA = try fileTree(urlA)
                #expect(!treeA.isEmpty)
                #expect(treeA == (try fileTree(urlB)))
                for path in treeA.keys {
                    let a = try FileManager.default.attributesOfItem(atPath: urlA.appendingPathComponent(path).path)
                    let b = try FileManager.default.attributesOfItem(atPath: urlB.appendingPathComponent(path).path)
                    #expect(a[.modificationDate] as? Date == b[.modificationDate] as? Date)
                    #expect((a[.posixPermissions] as? NSNumber) == (b[.posixPermissions] as? NSNumber))
                }
            } else {
                let a = try Data(contentsOf: urlA)
                #expect(a.count > 5 << 20)
                #expect(a == (try Data(contentsOf: urlB)))
            }
        }
    }

    @Test("the gzip header carries no timestamp and no file name")
    func gzipHeader() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tarGz, in: folder)
            try writeSample(to: dest, format: .tarGz)
            let head = [UInt8](try Data(contentsOf: url).prefix(10))
            #expect(head[0] == 0x1F && head[1] == 0x8B)
            #expect(head[3] & 0x08 == 0, "FNAME flag set")
            #expect(Array(head[4..<8]) == [0, 0, 0, 0], "MTIME is set")
        }
    }

    @Test("tar entries carry uid/gid 0, no owner names, mode 0644 and the snapshot time")
    func tarHeaders() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            guard let listing = try runTool("tar", ["--numeric-owner", "--full-time", "--utc", "-tvf", url.path]) else {
                Issue.record("GNU tar is not installed; skipped the header check")
                return
            }
            let rows = lines(listing.output)
            #expect(!rows.isEmpty)
            for row in rows {
                #expect(row.hasPrefix("-rw-r--r-- 0/0 "), "\(row)")
                #expect(row.contains("2025-11-22 22:20:00"), "\(row)")
            }
            // No owner names are written into the headers.
            let bytes = try Data(contentsOf: url)
            #expect(bytes.range(of: Data("root".utf8)) == nil)
        }
    }
}
