import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// How a Kinopio space reads into the readable model — for the export walk and for `kitbag render` alike.
public enum KinopioRendering {
    public static let source = RenderingSource(service: .kinopio, containerKind: KinopioSchema.spaceContainer) { info, _ in
        reading(webBase: webBase(info.source.baseURL))
    }

    /// Kinopio's web app, for links in renderings, when the archive comes from the public API.
    static func webBase(_ baseURL: String) -> String? {
        URL(string: baseURL)?.host == "api.kinopio.club" ? "https://kinopio.club" : nil
    }

    /// A space with its cards and the rest; a space without `cards.jsonl` (listed, but its contents were not
    /// returned) is not rendered.
    static func reading(webBase: String?) -> ContainerReading {
        ContainerReading { files in
            guard files.has("cards"), let meta = try files.values("space").first else { return nil }
            return KinopioReadable.container(
                space: meta, cards: try files.values("cards"), removedCards: try files.values("removedCards"),
                boxes: try files.values("boxes"), connections: try files.values("connections"),
                connectionTypes: try files.values("connectionTypes"), tags: try files.values("tags"), webBase: webBase,
                lists: try files.values("lists"), lines: try files.values("lines"),
                drawingStrokes: try files.values("drawingStrokes"))
        }
    }
}
