import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender

/// The one export walk every connector runs through: the account-level entities, then container by container —
/// copied from the previous archive when its change marker did not move, else fetched — with each container's
/// renderings right after its files, then what comes after the containers and the two indexes.
///
/// Memory stays flat in the number of containers: the listing is spooled (to disk past a few MiB) until the walk
/// reaches each container, a container's files are retained only during its turn (to render it), and what stays
/// for the whole run is small per container: its marker, and with renderings its index row and link target.
///
/// Containers are taken in windows of the source's `batchSize`; each window's fetches could overlap (the files of
/// a container would then wait in its own spools until the containers before it are written), which is how a
/// concurrent walk would keep the archive's order.
public enum ExportWalk {
    /// What the walk returns to the job: the not-exported list for the manifest and the markers for the next run.
    public struct Result: Sendable {
        public var notExported: [NotExported]
        public var changes: ExportChanges
    }

    /// Walks `source` into `writer`. `displayName` titles the indexes; `base` (incremental runs only) is the
    /// previous archive and its markers.
    public static func run(
        _ source: any ExportSource, into writer: SnapshotWriter, renderings: Set<ReadableFormat>, base: ChangeBase?,
        displayName: String, progress: ProgressReporter
    ) async throws -> Result {
        let rendering = !renderings.isEmpty
        let account = ContainerOutput(.account, writer: writer, retaining: rendering)
        // The listing's entries wait in a spool (on disk past a few MiB); only what links and markers need stays.
        let listings = ScratchJSONLines(directory: writer.spoolDirectory)
        var containers: [ListedContainer] = []
        var targets: [String: ReadableContainer] = [:]
        for var c in try await source.begin(into: account) {
            try listings.append(json: c.listingJSON)
            c.listingJSON = []
            if rendering, targets[c.id] == nil { targets[c.id] = ReadableContainer(id: c.id, kind: c.kind, title: c.title) }
            containers.append(c)
        }
        let reading = rendering ? try source.reading(account: account.files) : nil
        account.release()
        let listingLines = try listings.lines()

        let stage = source.containerStage
        if let stage { progress.beginStage(stage, total: containers.count) }
        var changes = ExportChanges()
        var index: [ReadableContainer] = []
        /// Container folder → its contents column in the HTML index (`2 box · 12 card`).
        var contents: [String: String] = [:]
        let size = max(1, source.batchSize)
        var start = 0
        while start < containers.count {
            var window = Array(containers[start..<min(start + size, containers.count)])
            start += window.count
            for i in window.indices { window[i].listingJSON = try listingLines.nextLine() ?? [] }
            var reused: Set<Int> = []
            for (i, c) in window.enumerated() {
                if let marker = c.marker { changes.markers[c.ref.archiveFolder] = marker }
                if let base, base.canReuse(c.ref, marker: c.marker) { reused.insert(i) }
            }
            try await source.prefetch(window.enumerated().filter { !reused.contains($0.offset) }.map(\.element))
            for (i, c) in window.enumerated() {
                let before = writer.bytesWritten
                let output = ContainerOutput(c.ref, writer: writer, retaining: rendering)
                defer { output.release() }
                if reused.contains(i), let base {
                    try source.reuse(c, from: PreviousContainer(base: base, container: c.ref), into: output)
                    changes.reused.append(c.ref.archiveFolder)
                } else {
                    let fetched = try await source.fetch(
                        c, into: output, previous: base.map { PreviousContainer(base: $0, container: c.ref) })
                    if fetched.reused {
                        changes.reused.append(c.ref.archiveFolder)
                    } else {
                        changes.fetched.append(c.ref.archiveFolder)
                    }
                    if let marker = fetched.marker { changes.markers[c.ref.archiveFolder] = marker }
                }
                if let reading, let readable = try reading.read(output.files) {
                    let files = try Renderings.files(
                        of: readable, formats: renderings, linked: renderings, container: { targets[$0] })
                    for file in files { try writer.addFile(path: file.path, data: file.data) }
                    index.append(readable.indexEntry)
                    contents[readable.dataFolder] = HTMLRenderer.contents(output.counts)
                }
                if stage != nil { progress.advance(items: 1, bytes: writer.bytesWritten - before) }
            }
        }

        let after = ContainerOutput(.account, writer: writer, retaining: false)
        try await source.finish(into: after)
        let notExported = source.notExported()
        if rendering {
            let info = writer.info
            for file in Renderings.indexes(
                service: displayName, account: info.source.account.name ?? info.source.account.id, containers: index,
                contents: { contents[$0] ?? "" }, startedAt: Timestamp.parse(info.startedAt) ?? Date(), formats: renderings,
                linked: renderings)
            {
                try writer.addFile(path: file.path, data: file.data)
            }
        }
        return Result(notExported: notExported, changes: changes)
    }
}
