import Foundation
import KitbagArchive
import KitbagCore

/// One JSON Lines file of a container: its name (`cards` for `cards.jsonl`), entity kind and number of lines.
public struct ContainerFile: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var count: Int

    public init(name: String, kind: String, count: Int) {
        self.name = name
        self.kind = kind
        self.count = count
    }
}

/// One container's JSON Lines files — as an export has just written them, or as an archive holds them. A connector
/// reads its containers into the readable model through this, so an export's renderings and those `kitbag render`
/// makes later come from the same bytes by the same code.
public protocol ContainerFiles {
    /// The container, or `.account` for the account-level files.
    var container: ContainerRef { get }
    /// Its files in archive order.
    var files: [ContainerFile] { get }
    /// The entities of one file, line by line; nil when the container has no such file.
    func lines(_ file: String) throws -> JSONLinesSequence?
}

extension ContainerFiles {
    /// True when the container has this file (even an empty one).
    public func has(_ file: String) -> Bool { files.contains { $0.name == file } }

    /// Lines in the file; nil when the container has no such file.
    public func count(_ file: String) -> Int? { files.first { $0.name == file }?.count }

    /// Every entity of a small file (empty when the container has no such file).
    public func values(_ file: String) throws -> [JSONValue] {
        guard let lines = try lines(file) else { return [] }
        var out: [JSONValue] = []
        while let value = try lines.next() { out.append(value) }
        return out
    }
}

/// A container of a verified archive (`kitbag render`, or the previous archive of an incremental backup).
public struct ArchivedContainer: ContainerFiles {
    public let reader: SnapshotReader
    public let container: ContainerRef
    public let files: [ContainerFile]

    public init(_ reader: SnapshotReader, _ container: ContainerRef) {
        self.reader = reader
        self.container = container
        let prefix = container.archiveFolder + "/"
        files = reader.jsonLinesEntries(in: container).compactMap { entry in
            guard let kind = entry.kind, entry.path.hasPrefix(prefix), entry.path.hasSuffix(".jsonl") else { return nil }
            let name = ArchivePath.decodeComponent(String(entry.path.dropFirst(prefix.count).dropLast(".jsonl".count)))
            return ContainerFile(name: name, kind: kind, count: entry.count ?? 0)
        }
    }

    public func lines(_ file: String) throws -> JSONLinesSequence? {
        guard has(file) else { return nil }
        return try reader.lines(at: ArchivePath.jsonLines(container: container, file: file))
    }

    /// Every container of `kind` (`spaces`, `apps`) in the archive, in archive order.
    public static func all(_ reader: SnapshotReader, kind: String) -> [ArchivedContainer] {
        var seen: Set<String> = []
        var out: [ArchivedContainer] = []
        for entry in reader.jsonLinesEntries() {
            let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == "data", ArchivePath.decodeComponent(String(parts[1])) == kind,
                seen.insert(String(parts[2])).inserted
            else { continue }
            out.append(ArchivedContainer(reader, ContainerRef(kind: kind, id: ArchivePath.decodeComponent(String(parts[2])))))
        }
        return out
    }
}
