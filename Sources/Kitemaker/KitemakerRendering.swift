import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// How a Kitemaker space reads into the readable model — for the export walk and for `kitbag render` alike.
public enum KitemakerRendering {
    public static let source = RenderingSource(service: .kitemaker, containerKind: KitemakerSchema.spacesFolder) { _, _ in
        reading
    }

    static var reading: ContainerReading {
        ContainerReading { files in
            guard let space = try files.values("space").first else { return nil }
            return KitemakerReadable.container(
                space: space, statuses: try files.values("statuses"), labels: try files.values("labels"),
                workItems: try files.values("workItems"), comments: try files.values("comments"))
        }
    }
}
