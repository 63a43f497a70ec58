import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender

/// How one service's archive reads into the readable model, for `kitbag render`: the same reading its export
/// source gives the walk, set up from what the archive records instead of from a live connection.
public struct RenderingSource: Sendable {
    public var service: ServiceName
    /// The container folders that are rendered (`spaces`, `apps`).
    public var containerKind: String
    /// The reading of an archive's containers, from its `kitbag.json` and account-level files.
    public var reading: @Sendable (ArchiveInfo, any ContainerFiles) throws -> ContainerReading

    public init(
        service: ServiceName, containerKind: String,
        reading: @escaping @Sendable (ArchiveInfo, any ContainerFiles) throws -> ContainerReading
    ) {
        self.service = service
        self.containerKind = containerKind
        self.reading = reading
    }

    /// Every rendered container of `archive`, in archive order.
    public func read(_ archive: SnapshotReader) throws -> [ReadableContainer] {
        let reading = try reading(archive.info, ArchivedContainer(archive, .account))
        return try ArchivedContainer.all(archive, kind: containerKind).compactMap { try reading.read($0) }
    }
}

/// What `kitbag render` wrote.
public struct RenderSummary: Codable, Sendable, Equatable {
    public var archive: String
    /// The folder the renderings went to: the folder archive itself, or the folder beside a file archive.
    public var output: String
    /// True when the renderings were added to a folder archive (its manifest now lists them).
    public var insideArchive: Bool
    public var formats: [String]
    public var containers: Int
    public var files: Int
}

/// Renders an existing, verified archive again from its JSON Lines (`kitbag render`).
public enum ArchiveRendering {
    /// The folder beside a file archive that receives its renderings: `NAME-renderings` for `NAME.tar.zst` etc.
    public static func besideFolder(for archive: URL) -> URL {
        var name = archive.lastPathComponent
        for ext in [".tar.gz", ".tar.zst", ".tgz", ".tar", ".zip"] where name.lowercased().hasSuffix(ext) {
            name = String(name.dropLast(ext.count))
            break
        }
        return archive.deletingLastPathComponent().appendingPathComponent(name + "-renderings")
    }

    /// True when `path` is a file that `format` writes (so a new rendering replaces it).
    static func owns(_ format: ReadableFormat, _ path: String) -> Bool {
        switch format {
        case .markdown: return path == ReadablePaths.index || path.hasPrefix("pages/")
        case .rss: return path.hasPrefix("feeds/")
        case .canvas: return path.hasPrefix("canvas/")
        case .html: return path.hasPrefix("html/")
        }
    }

    /// Every file of `formats` for `containers`, pages first, then the indexes; `linked` are the formats the
    /// pages may link to (those present beside them).
    public static func files(
        containers: [ReadableContainer], info: ArchiveInfo, displayName: String, entries: [Manifest.Entry],
        formats: Set<ReadableFormat>, linked: Set<ReadableFormat>
    ) throws -> [(path: String, data: Data)] {
        var out: [(String, Data)] = []
        let counts = HTMLRenderer.containerCounts(entries)
        var targets: [String: ReadableContainer] = [:]
        for c in containers where targets[c.id] == nil { targets[c.id] = c.indexEntry }
        for c in containers {
            out += try Renderings.files(of: c, formats: formats, linked: linked, container: { targets[$0] })
        }
        out += Renderings.indexes(
            service: displayName, account: info.source.account.name ?? info.source.account.id,
            containers: containers.map(\.indexEntry), contents: { folder in
                counts[folder].map(HTMLRenderer.contents) ?? ""
            },
            startedAt: Timestamp.parse(info.startedAt) ?? Date(timeIntervalSince1970: 0), formats: formats, linked: linked)
        return out
    }

    /// Verifies `url`, reads its containers through `source` and writes `formats`: into a folder archive (rewritten
    /// through a staging folder, so its manifest lists the new files and `verify` still passes), or into
    /// `besideFolder(for:)` next to a file archive. Nothing is changed when reading or rendering fails.
    public static func render(
        _ url: URL, formats: Set<ReadableFormat>, descriptor: (ServiceName) throws -> ConnectorDescriptor
    ) throws -> RenderSummary {
        let reader = try SnapshotReader.open(url)
        defer { reader.close() }
        let service = try descriptor(reader.info.service)
        let containers = try service.rendering.read(reader)
        let isFolder = ArchiveFormat.detect(at: url) == .folder
        let existing = Set(reader.info.renderings.compactMap(ReadableFormat.init(rawValue:)))
        let linked = isFolder ? existing.union(formats) : formats
        let rendered = try files(
            containers: containers, info: reader.info, displayName: service.displayName,
            entries: reader.manifest.entries, formats: formats, linked: linked)
        let names = ReadableFormat.allCases.filter(formats.contains).map(\.rawValue)

        if isFolder {
            var info = reader.info
            info.renderings = ReadableFormat.allCases.filter(linked.contains).map(\.rawValue)
            let started = Timestamp.parse(info.startedAt) ?? Date(timeIntervalSince1970: 0)
            let writer = try SnapshotWriter(destination: .folder(url), format: .folder, info: info, snapshotTime: started)
            do {
                for entry in reader.manifest.entries where entry.path != ArchivePath.info {
                    if formats.contains(where: { owns($0, entry.path) }) { continue }
                    try writer.copyEntry(entry, from: try reader.fileURL(entry.path))
                }
                for file in rendered { try writer.addFile(path: file.path, data: file.data) }
                try writer.sealStreamed(
                    notExported: reader.manifest.notExported,
                    finishedAt: Timestamp.parse(reader.manifest.finishedAt) ?? started)
            } catch {
                writer.abandon()
                throw error
            }
            return RenderSummary(
                archive: url.path, output: url.path, insideArchive: true, formats: names, containers: containers.count,
                files: rendered.count)
        }

        let target = besideFolder(for: url)
        let fm = FileManager.default
        let staging = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).kitbag-\(UUID().uuidString.prefix(8)).tmp")
        do {
            for file in rendered {
                let dest = staging.appendingPathComponent(file.path)
                try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
                try file.data.write(to: dest)
            }
            if fm.fileExists(atPath: target.path) {
                // Only a folder kitbag wrote before is replaced, never something else of the same name.
                guard fm.fileExists(atPath: target.appendingPathComponent(ReadablePaths.htmlIndex).path)
                    || fm.fileExists(atPath: target.appendingPathComponent(ReadablePaths.index).path)
                    || (try? fm.contentsOfDirectory(atPath: target.path).isEmpty) == true
                else {
                    throw UserError(
                        "\(target.path) already exists and holds no kitbag renderings; move it away and run kitbag render again")
                }
                try fm.removeItem(at: target)
            }
            try fm.moveItem(at: staging, to: target)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        return RenderSummary(
            archive: url.path, output: target.path, insideArchive: false, formats: names, containers: containers.count,
            files: rendered.count)
    }
}
