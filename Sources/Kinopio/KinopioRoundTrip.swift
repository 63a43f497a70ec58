import Foundation
import KitbagConnector
import KitbagCore

/// What Kinopio's round trip sets aside, for the shared oracle (`RoundTripOracle`).
///
/// Target ids are translated back to source ids through the import journal, then server-owned keys (timestamps,
/// owners, visit counts, origin markers) are set aside; what remains must be equal. This proves both that every
/// entity came back and that every reference was rewritten to the right entity.
public enum KinopioRoundTrip {
    /// Keys the server sets or that describe the account rather than the content.
    public static let volatileKeys: Set<String> = Set([
        "createdAt", "updatedAt", "editedAt", "nameUpdatedAt", "editedByUserId", "nameUpdatedByUserId", "userId",
        "ownerUserId", "originSpaceId", "url", "visits", "isCreatedThroughPublicApi", "removedByUserId",
        "previewImage", "previewThumbnailImage", "user",
        // Set by the server on every card created through the API ("automatically assigned to cards created by /card POSTs").
        "shouldUpdateUrlPreview",
    ]).union(KinopioImporter.resetSpaceKeys)

    public static let rules = RoundTripRules(
        containerFolder: "spaces", containerKind: "space",
        // Space users and collaborators describe the account, not importable content.
        skippedContainerFiles: ["users", "collaborators"],
        journalKinds: ["space", "card", "connection", "box", "tag", "list", "mention", "line", "drawingStroke"]
    ) { values, side, file, ids, _ in
        var values = values
        if side == .source, file.name == "connections" {
            // Compared in the shape the import writes: item-id ends, legacy types folded in.
            let types = try file.sibling("connectionTypes")
            values = values.map { KinopioSchema.currentConnection($0, types: types) }
        }
        let translate = side == .target ? ids.merged : [:]
        return RoundTripRules.byID(values) {
            RoundTripRules.normalized($0, dropping: volatileKeys, translate: translate)
        }
    }
}
