import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bodies of the libFuzzer targets (`Fuzz/run.sh`) and of the corpus replay tests.
/// Each takes one input and returns the broken promises it found (empty: all held). The fuzz executables
/// trap on a non-empty answer so libFuzzer saves the input; the tests assert it is empty.
public enum FuzzTargets {
    /// Bounds for fuzzed archives, so an input cannot make a run allocate or write gigabytes.
    public static let limits = ArchiveLimits(maxEntrySize: 8 << 20, maxTotalSize: 32 << 20, maxEntries: 4096)

    /// A private folder for one process's scratch files (tmpfs when there is one).
    static let scratch: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("kitbag-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    // MARK: Archive reader

    /// Any bytes as an archive file: verify answers without crashing, consistently, in one-line problems;
    /// the plain reader only ever yields safe relative UTF-8 paths; extraction writes nothing outside its target,
    /// and extracts exactly the entries the reader accepted.
    public static func archive(_ input: UnsafeRawBufferPointer) -> [String] {
        var broken: [String] = []
        let folder = scratch.appendingPathComponent("archive")
        try? FileManager.default.removeItem(at: folder)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("input")
        guard FileManager.default.createFile(atPath: file.path, contents: Data(input)) else { return ["cannot write scratch file"] }

        let report = ArchiveVerifier.verify(file, limits: limits)
        if report.status == .whole, !report.problems.isEmpty { broken.append("whole with problems: \(report.problems)") }
        if report.status != .whole, report.problems.isEmpty { broken.append("\(report.status) without a problem") }
        for problem in report.problems where problem.problem.contains("\n") || problem.path.contains("\n") {
            broken.append("problem spans lines: \(problem)")
        }
        if report.summaryLine.contains("\n") { broken.append("summary spans lines") }

        // The reader's view: every accepted path is safe.
        var accepted: [String: Int] = [:]
        var readerFailed = false
        if let reader = try? ArchiveReader(url: file, limits: limits) {
            while true {
                let next: ArchiveEntryHeader?
                do {
                    next = try reader.next()
                } catch {
                    readerFailed = true
                    break
                }
                guard let header = next else { break }
                let p = header.path
                if p.isEmpty || p.hasPrefix("/") || p.utf8.contains(0) || p.contains("\\")
                    || p.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty })
                {
                    broken.append("reader accepted unsafe path '\(p)'")
                }
                guard header.type == .file else { continue }
                guard let data = try? reader.readAll(limit: Int(limits.maxEntrySize)) else {
                    readerFailed = true
                    break
                }
                if header.size >= 0, Int64(data.count) != header.size {
                    // A short entry must fail, not pass quietly (zip/tar declare sizes).
                    broken.append("entry '\(p)' declared \(header.size) bytes but read \(data.count) without an error")
                }
                accepted[p] = data.count
            }
            reader.close()
        } else {
            readerFailed = true
        }

        // Extraction: all or nothing, and only inside the target.
        let target = folder.appendingPathComponent("target")
        do {
            try SafeExtractor.extract(file, to: target, limits: limits)
            if readerFailed { broken.append("extraction succeeded where the reader failed") }
            let tree = regularFiles(under: target)
            if tree != accepted {
                broken.append("extracted \(tree.count) files, the reader accepted \(accepted.count)")
            }
        } catch {
            if "\(error)".contains("\n") { broken.append("extraction error spans lines: \(error)") }
            if FileManager.default.fileExists(atPath: target.path), !regularFiles(under: target).isEmpty {
                broken.append("a failed extraction left files in the target")
            }
        }
        let outside = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.filter { $0 != "input" && $0 != "target" } ?? []
        if !outside.isEmpty { broken.append("extraction wrote outside its target: \(outside)") }
        return broken
    }

    static func regularFiles(under root: URL) -> [String: Int] {
        var out: [String: Int] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return out }
        while let relative = walker.nextObject() as? String {
            var info = stat()
            guard lstat(root.path + "/" + relative, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFREG { out[relative] = Int(info.st_size) }
        }
        return out
    }

    // MARK: JSON Lines

    /// Any bytes as a JSON Lines entry: the streaming check verify uses, fed in different chunk sizes, and the
    /// line reader import uses agree on the first bad line (or on the line count); a value that parses
    /// serialises to compact JSON that parses back to the same value.
    public static func jsonLines(_ input: UnsafeRawBufferPointer) -> [String] {
        var broken: [String] = []

        // Streaming check, whole and in small and odd chunks.
        var verdicts: [String] = []
        var firstProblem: (line: Int, text: String)?
        for chunk in [max(1, input.count), 1, 7, 4096] {
            var check = ArchiveScan.JSONLineCheck(entry: "fuzz.jsonl")
            var offset = 0
            while offset < input.count {
                let n = min(chunk, input.count - offset)
                check.consume(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)]))
                offset += n
            }
            check.finish()
            verdicts.append("\(check.number):\(check.problem ?? "ok")")
            if firstProblem == nil, let problem = check.problem { firstProblem = (check.number, problem) }
        }
        if Set(verdicts).count != 1 { broken.append("chunking changes the verdict: \(verdicts)") }

        // The line reader import uses.
        let file = scratch.appendingPathComponent("lines.jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        guard FileManager.default.createFile(atPath: file.path, contents: Data(input)) else { return ["cannot write scratch file"] }
        var values: [JSONValue] = []
        var readerLine: Int?
        do {
            let lines = try JSONLinesSequence(url: file, entry: "fuzz.jsonl")
            while let value = try lines.next() { values.append(value) }
        } catch let ArchiveError.malformedLine(_, line, reason) {
            readerLine = line
            if reason.contains("\n") { broken.append("reason spans lines") }
        } catch {
            broken.append("line reader threw \(error)")
        }
        if readerLine != firstProblem?.line {
            broken.append("verify's check says line \(firstProblem.map { String($0.line) } ?? "none"), the reader says \(readerLine.map(String.init) ?? "none")")
        }
        if firstProblem == nil, !verdicts.isEmpty, let count = Int(verdicts[0].split(separator: ":")[0]), count != values.count {
            broken.append("check counted \(count) lines, the reader returned \(values.count)")
        }

        // Round trip of every value read.
        for value in values {
            let compact = value.serialized()
            guard let again = try? JSONValue(parsing: compact) else {
                broken.append("serialised form does not parse: \(String(decoding: compact.prefix(200), as: UTF8.self))")
                continue
            }
            if again != value { broken.append("round trip changed a value") }
            if again.serialized() != compact { broken.append("serialisation is not stable") }
            if compact.contains(0x0A) { broken.append("compact form holds a newline") }
        }
        return broken
    }

    // MARK: RSS / XML

    /// Any bytes as an RSS feed: the reader answers without crashing; a document that declares entities is
    /// refused; nothing from the file system (e.g. /etc/passwd) appears unless the input holds it; errors are one line.
    public static func feed(_ input: UnsafeRawBufferPointer) -> [String] {
        var broken: [String] = []
        let data = Data(input)
        let passwd = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8))?.split(separator: "\n").first.map(String.init)
        do {
            let summary = try FeedReader.read(data, limit: 1 << 20)
            if data.range(of: Data("<!ENTITY".utf8)) != nil { broken.append("a document declaring entities was read") }
            let texts = [summary.channelTitle, summary.channelLink ?? ""]
                + summary.items.flatMap { [$0.title, $0.description, $0.guid, $0.link, $0.pubDate].compactMap { $0 } }
            if let passwd, !passwd.isEmpty, data.range(of: Data(passwd.utf8)) == nil, texts.contains(where: { $0.contains(passwd) }) {
                broken.append("the feed's text holds a line of /etc/passwd")
            }
        } catch {
            let text = "\(error)"
            if text.contains("\n") { broken.append("error spans lines: \(text)") }
            if let passwd, !passwd.isEmpty, data.range(of: Data(passwd.utf8)) == nil, text.contains(passwd) {
                broken.append("an error quotes /etc/passwd")
            }
        }
        return broken
    }

    /// Runs `target` on one input and traps with the broken promises, for libFuzzer.
    public static func trapUnlessHeld(_ name: String, _ broken: [String]) {
        if !broken.isEmpty { fatalError("\(name): " + broken.joined(separator: "; ")) }
    }
}
