import Crypto
import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `verify` found: whether the archive is whole, and every problem with the entry it concerns.
public struct VerifyReport: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// kitbag.json first, manifest.json last, every entry matches the manifest.
        case whole
        /// The archive ends without its manifest (an interrupted write or stream).
        case incomplete
        /// Entries differ from the manifest, are missing, extra, unreadable or hostile.
        case corrupt
    }

    /// One problem, naming the entry (or the archive) it concerns.
    public struct Problem: Codable, Sendable, Equatable {
        public var path: String
        public var problem: String
        public init(path: String, problem: String) {
            self.path = path
            self.problem = problem
        }
    }

    public var archive: String
    public var status: Status
    public var service: ServiceName?
    public var entriesChecked: Int
    public var bytesChecked: Int64
    public var counts: [String: Int]
    public var problems: [Problem]

    /// whole → 0, incomplete → 3, corrupt → 1.
    public var exitStatus: ExitStatus {
        switch status {
        case .whole: return .success
        case .incomplete: return .incomplete
        case .corrupt: return .failure
        }
    }

    /// One line for the terminal, e.g. `whole: backup.tar.zst — kinopio, 12 entries, 3.1 MiB, 40 card, 2 space`,
    /// naming the first problem when there are any.
    public var summaryLine: String {
        guard let first = problems.first else { return headline }
        return headline + ", first: \(first.path): \(first.problem)"
    }

    /// `summaryLine` without the first problem, for a report that lists every problem below it.
    public var headline: String {
        var line = "\(status.rawValue): \(archive)"
        var parts: [String] = []
        if let service { parts.append(service.rawValue) }
        parts.append("\(entriesChecked) entries")
        parts.append(ByteCount.format(bytesChecked))
        parts += counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        line += " — " + parts.joined(separator: ", ")
        if !problems.isEmpty { line += " — \(problems.count) problem\(problems.count == 1 ? "" : "s")" }
        return line
    }
}

/// Checks archives against their manifests.
public enum ArchiveVerifier {
    /// Re-reads every entry and compares it with `manifest.json`; never throws, every failure is a problem in the report.
    public static func verify(_ url: URL, limits: ArchiveLimits = .default) -> VerifyReport {
        ArchiveScan.run(url, limits: limits, extractTo: nil).report
    }
}

/// One pass over an archive: hashes and counts lines of every entry, optionally writing each to a folder.
package struct ArchiveScan {
    struct Seen {
        var path: String
        var size: Int64
        var sha256: String
        var lines: Int
        var endsWithNewline: Bool
    }

    static let recordLimit = 512 << 20

    var report: VerifyReport
    var info: ArchiveInfo?
    var manifest: Manifest?

    static func run(_ url: URL, limits: ArchiveLimits, extractTo root: URL?) -> ArchiveScan {
        let detected = ArchiveFormat.detect(at: url)
        let isFolder = detected == .folder
        var problems: [VerifyReport.Problem] = []
        var seen: [Seen] = []
        var infoData: Data?
        var manifestData: Data?
        var manifestIndex: Int?
        var readFailure = false
        var truncated = false
        var bytes: Int64 = 0
        let tree = root.map { EntryFileTree(root: $0) }

        do {
            let reader = try ArchiveReader(url: url, limits: limits)
            defer { reader.close() }
            while true {
                let header: ArchiveEntryHeader
                do {
                    guard let next = try reader.next() else { break }
                    header = next
                } catch {
                    readFailure = true
                    truncated = isTruncation(error)
                    problems.append(.init(path: entryName(of: error) ?? "(archive)", problem: "\(error)"))
                    break
                }
                if header.type == .directory {
                    try tree?.makeFolder(header.path)
                    continue
                }
                var hasher = SHA256()
                var size: Int64 = 0
                var lines = 0
                var last: UInt8 = 0
                var captured: Data?
                var lineCheck = header.path.hasSuffix(".jsonl") ? JSONLineCheck(entry: header.path) : nil
                let capture = header.path == ArchivePath.info || header.path == ArchivePath.manifest
                if capture { captured = Data() }
                let fd = try tree?.createFile(header.path)
                defer { if let fd { posixClose(fd) } }
                do {
                    try reader.forEachChunk { chunk in
                        hasher.update(bufferPointer: chunk)
                        size += Int64(chunk.count)
                        for byte in chunk where byte == 0x0A { lines += 1 }
                        last = chunk[chunk.count - 1]
                        lineCheck?.consume(chunk)
                        if capture {
                            if captured!.count + chunk.count > recordLimit {
                                throw ArchiveError.entryTooLarge(entry: header.path, size: size, limit: Int64(recordLimit))
                            }
                            captured!.append(contentsOf: chunk)
                        }
                        if let fd { try EntryFileTree.write(fd, chunk, path: header.path) }
                    }
                } catch {
                    readFailure = true
                    truncated = isTruncation(error)
                    problems.append(.init(path: header.path, problem: "cannot be read: \(shortMessage(error))"))
                    break
                }
                bytes += size
                lineCheck?.finish()
                if let problem = lineCheck?.problem { problems.append(.init(path: header.path, problem: problem)) }
                if header.path == ArchivePath.info, seen.isEmpty { infoData = captured }
                if header.path == ArchivePath.manifest, manifestData == nil {
                    manifestData = captured
                    manifestIndex = seen.count
                }
                seen.append(Seen(path: header.path, size: size, sha256: hasher.finalize().hexString, lines: lines, endsWithNewline: last == 0x0A))
            }
        } catch {
            readFailure = true
            truncated = isTruncation(error)
            problems.append(.init(path: entryName(of: error) ?? "(archive)", problem: "\(error)"))
        }

        var scan = ArchiveScan(
            report: VerifyReport(
                archive: url.path, status: .whole, service: nil, entriesChecked: seen.count, bytesChecked: bytes,
                counts: [:], problems: []))

        // kitbag.json
        if let infoData {
            do {
                let info = try JSONDecoder().decode(ArchiveInfo.self, from: infoData)
                scan.info = info
                scan.report.service = info.service
                problems += formatProblems(path: ArchivePath.info, format: info.format, version: info.formatVersion)
            } catch {
                problems.append(.init(path: ArchivePath.info, problem: "is not a valid kitbag.json record (\(error))"))
            }
        } else if let first = seen.first {
            let where_ = seen.contains { $0.path == ArchivePath.info } ? "is not the first entry" : "is missing"
            problems.append(.init(path: ArchivePath.info, problem: "\(where_) (the first entry is '\(first.path)')"))
        } else if !readFailure {
            problems.append(.init(path: ArchivePath.info, problem: "is missing: the archive holds no entries"))
        }

        // manifest.json
        var manifestMissing = false
        if let manifestData, let manifestIndex {
            for extra in seen[(manifestIndex + 1)...] {
                problems.append(.init(path: extra.path, problem: "appears after manifest.json, so the manifest does not cover it"))
            }
            do {
                let manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
                scan.manifest = manifest
                scan.report.counts = manifest.counts
                if scan.report.service == nil { scan.report.service = manifest.service }
                problems += compare(manifest: manifest, with: Array(seen[..<manifestIndex]), info: scan.info)
            } catch {
                problems.append(.init(path: ArchivePath.manifest, problem: "is not a valid manifest record (\(error))"))
            }
        } else {
            manifestMissing = true
            // When reading stopped early the manifest was never reached: the read problem says it all.
            if !readFailure {
                problems.append(.init(path: ArchivePath.manifest, problem: "is missing: the archive is incomplete (the write or stream was interrupted)"))
            }
        }
        if detected == .zip, !readFailure {
            // libarchive falls back to reading local headers, but other zip tools need the central directory; and
            // the two copies of each entry's header must agree, whichever one libarchive read.
            problems += ZipLayout.problems(url)
        }
        if detected == .tar, !readFailure {
            // libarchive skips what lies between and after entries; kitbag writes zeros there, so anything else
            // is a change to the file (a flip in padding changes no entry, but the file is not as written).
            problems += TarLayout.problems(url)
        }
        if isFolder {
            // A folder has no order; only presence matters.
            problems.removeAll { $0.problem.hasPrefix("appears after manifest.json") || $0.problem.hasPrefix("is not the first entry") }
        }

        // Duplicates.
        var counted: [String: Int] = [:]
        for entry in seen { counted[entry.path, default: 0] += 1 }
        for (path, n) in counted.sorted(by: { $0.key < $1.key }) where n > 1 {
            problems.append(.init(path: path, problem: "appears \(n) times"))
        }

        scan.report.problems = problems
        if problems.isEmpty {
            scan.report.status = .whole
        } else if manifestMissing, !readFailure || truncated,
            problems.allSatisfy({ $0.path == ArchivePath.manifest || truncated || $0.problem.hasPrefix("is missing: the archive holds no entries") })
        {
            scan.report.status = .incomplete
        } else {
            scan.report.status = .corrupt
        }
        return scan
    }

    /// A record's `format` must name the kitbag archive format and `formatVersion` must be one this kitbag knows.
    static func formatProblems(path: String, format: String, version: Int) -> [VerifyReport.Problem] {
        var problems: [VerifyReport.Problem] = []
        if format != "kitbag-archive" {
            problems.append(.init(path: path, problem: "names format '\(EntryPath.display(Array(format.utf8)))', not 'kitbag-archive'"))
        }
        if version > 1 {
            problems.append(.init(path: path, problem: "format version \(version) is newer than this kitbag understands; upgrade kitbag"))
        } else if version < 1 {
            problems.append(.init(path: path, problem: "format version \(version) does not exist (versions start at 1)"))
        }
        return problems
    }

    static func compare(manifest: Manifest, with seen: [Seen], info: ArchiveInfo?) -> [VerifyReport.Problem] {
        var problems: [VerifyReport.Problem] = []
        problems += formatProblems(path: ArchivePath.manifest, format: manifest.format, version: manifest.formatVersion)
        if let info, info.service != manifest.service {
            problems.append(.init(path: ArchivePath.manifest, problem: "names service \(manifest.service.rawValue) but kitbag.json names \(info.service.rawValue)"))
        }
        var byPath: [String: Seen] = [:]
        for entry in seen where byPath[entry.path] == nil { byPath[entry.path] = entry }
        var listed: Set<String> = []
        var sums: [String: Int] = [:]
        for expected in manifest.entries {
            if !listed.insert(expected.path).inserted {
                problems.append(.init(path: expected.path, problem: "is listed twice in manifest.json"))
                continue
            }
            if let kind = expected.kind { sums[kind, default: 0] += expected.count ?? 0 }
            guard let actual = byPath[expected.path] else {
                problems.append(.init(path: expected.path, problem: "is listed in manifest.json but missing from the archive"))
                continue
            }
            if actual.size != expected.size {
                problems.append(.init(path: expected.path, problem: "is \(actual.size) bytes but manifest.json says \(expected.size)"))
            } else if actual.sha256 != expected.sha256.lowercased() {
                problems.append(.init(path: expected.path, problem: "content differs from manifest.json (SHA-256 \(actual.sha256.prefix(12))… instead of \(expected.sha256.prefix(12))…)"))
            }
            if expected.kind != nil {
                let count = expected.count ?? 0
                if actual.lines != count {
                    problems.append(.init(path: expected.path, problem: "holds \(actual.lines) lines but manifest.json counts \(count)"))
                }
                if actual.size > 0, !actual.endsWithNewline {
                    problems.append(.init(path: expected.path, problem: "does not end with a newline (last line cut short)"))
                }
            }
        }
        for entry in seen where !listed.contains(entry.path) && entry.path != ArchivePath.manifest {
            problems.append(.init(path: entry.path, problem: "is not listed in manifest.json"))
        }
        for kind in Set(sums.keys).union(manifest.counts.keys).sorted() where sums[kind, default: 0] != manifest.counts[kind, default: 0] {
            problems.append(.init(path: ArchivePath.manifest, problem: "counts \(manifest.counts[kind, default: 0]) \(kind) but its JSON Lines entries add up to \(sums[kind, default: 0])"))
        }
        return problems
    }

    /// Parses every line of a JSON Lines entry as it streams past; keeps the first problem.
    package struct JSONLineCheck {
        static let maxLineLength = 256 << 20
        let entry: String
        var line: [UInt8] = []
        package var number = 0
        package var problem: String?

        package init(entry: String) { self.entry = entry }

        package mutating func consume(_ chunk: UnsafeRawBufferPointer) {
            guard problem == nil else { return }
            var start = 0
            while start < chunk.count {
                guard let newline = chunk[start...].firstIndex(of: 0x0A) else {
                    line.append(contentsOf: chunk[start...])
                    if line.count > Self.maxLineLength {
                        problem = "line \(number + 1) is longer than \(Self.maxLineLength) bytes"
                    }
                    return
                }
                number += 1
                if line.isEmpty {
                    check(UnsafeRawBufferPointer(rebasing: chunk[start..<newline]))
                } else {
                    line.append(contentsOf: chunk[start..<newline])
                    line.withUnsafeBytes { check($0) }
                    line.removeAll(keepingCapacity: true)
                }
                if problem != nil { return }
                start = newline + 1
            }
        }

        package mutating func finish() {
            guard problem == nil, !line.isEmpty else { return }
            number += 1
            line.withUnsafeBytes { check($0) }
        }

        private mutating func check(_ bytes: UnsafeRawBufferPointer) {
            do {
                _ = try JSONValue(parsing: bytes)
            } catch {
                problem = "line \(number) is not valid JSON (\(error))"
                return
            }
            // The parser repairs invalid UTF-8 (for API answers); in an archive it means damage.
            if let offset = Self.invalidUTF8Offset(bytes) {
                problem = "line \(number) is not valid UTF-8 (at byte \(offset))"
            }
        }

        /// Offset of the first byte that is not part of a valid UTF-8 sequence, or nil.
        package static func invalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
            if !bytes.contains(where: { $0 >= 0x80 }) { return nil }
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            var offset = 0
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): offset += UTF8.width(scalar)
                case .emptyInput: return nil
                case .error: return offset
                }
            }
        }
    }

    static func entryName(of error: Error) -> String? {
        guard let error = error as? ArchiveError else { return nil }
        switch error {
        case .unsafePath(let e, _), .invalidName(let e), .unsupportedEntryType(let e, _), .entryTooLarge(let e, _, _),
            .archiveTooLarge(let e, _), .moreDataThanDeclared(let e, _), .lessDataThanDeclared(let e, _, _),
            .duplicatePath(let e), .malformedLine(let e, _, _),
            .entryNotFound(let e, _):
            return e
        case .library(_, let e, _): return e
        default: return nil
        }
    }

    /// The error without the archive path and entry name the report already shows.
    static func shortMessage(_ error: Error) -> String {
        if case .library(_, _, let message)? = error as? ArchiveError { return message }
        return "\(error)"
    }

    static func isTruncation(_ error: Error) -> Bool {
        let text = "\(error)".lowercased()
        return text.contains("truncat") || text.contains("premature") || text.contains("unexpected end")
            || text.contains("unexpected eof")
    }
}
