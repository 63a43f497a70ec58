import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kitemaker for `kitbag render`: each archived space read back into the model its exporter renders.
public enum KitemakerRendering {
    public static let source = RenderingSource(service: .kitemaker) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        var out: [ReadableContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func values(_ file: String) throws -> [JSONValue] {
                let path = "\(folder)/\(file).jsonl"
                return present.contains(path) ? try archive.values(at: path) : []
            }
            for space in try archive.values(at: entry.path) {
                out.append(
                    KitemakerReadable.container(
                        space: space, statuses: try values("statuses"), labels: try values("labels"),
                        workItems: try values("workItems"), comments: try values("comments")))
            }
        }
        return out
    }
}
