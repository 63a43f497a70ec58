import Foundation
import KitbagCore

/// The rendering files of an archive, as an export writes them and `kitbag render` writes them again: per container
/// its page, feed, canvas and HTML page (in that order), then the two indexes.
public enum Renderings {
    /// One container's files in `formats`. `linked` are the formats its pages may link to (those beside them);
    /// `container(id)` finds another container of the archive by id (its id, kind and title), for items that link
    /// to one — only the containers this one links to are looked up.
    public static func files(
        of container: ReadableContainer, formats: Set<ReadableFormat>, linked: Set<ReadableFormat>,
        container lookup: (String) -> ReadableContainer?
    ) throws -> [(path: String, data: Data)] {
        var targets: [ReadableContainer] = []
        var seen: Set<String> = []
        for item in container.items {
            guard let id = item.linkedContainerID, seen.insert(id).inserted, let target = lookup(id) else { continue }
            targets.append(target)
        }
        var out: [(String, Data)] = []
        if formats.contains(.markdown) {
            out.append((ReadablePaths.page(container), MarkdownRenderer.page(container, allContainers: targets, formats: linked)))
        }
        if formats.contains(.rss) { out.append((ReadablePaths.feed(container), try RSSRenderer.feed(container))) }
        if formats.contains(.canvas) { out.append((ReadablePaths.canvas(container), CanvasRenderer.canvas(container))) }
        if formats.contains(.html) {
            out.append((ReadablePaths.html(container), HTMLRenderer.page(container, allContainers: targets, formats: linked)))
        }
        return out
    }

    /// `index.md` and `html/index.html` (those of `formats`) for `containers` — only their ids, kinds, titles and
    /// dates are read (see `ReadableContainer.indexEntry`) — with `contents(folder)` the HTML index's contents
    /// column of each container folder (`HTMLRenderer.contents`).
    public static func indexes(
        service: String, account: String?, containers: [ReadableContainer], contents: (String) -> String,
        startedAt: Date, formats: Set<ReadableFormat>, linked: Set<ReadableFormat>
    ) -> [(path: String, data: Data)] {
        var out: [(String, Data)] = []
        if formats.contains(.markdown) {
            out.append(
                (ReadablePaths.index,
                 MarkdownRenderer.index(
                    service: service, account: account, containers: containers, archiveStartedAt: startedAt,
                    formats: linked)))
        }
        if formats.contains(.html) {
            out.append(
                (ReadablePaths.htmlIndex,
                 HTMLRenderer.index(
                    service: service, account: account, containers: containers, archiveStartedAt: startedAt,
                    formats: linked, contents: contents)))
        }
        return out
    }
}

extension ReadableContainer {
    /// What an index and a link to this container need: its id, kind, title and dates, nothing it holds.
    public var indexEntry: ReadableContainer {
        ReadableContainer(id: id, kind: kind, title: title, createdAt: createdAt, updatedAt: updatedAt)
    }

    /// The archive folder of the container's JSON Lines, as the HTML index counts them (`data/spaces/abc`).
    public var dataFolder: String {
        ContainerRef(kind: ReadablePaths.folder(kind), id: id).archiveFolder
    }
}
