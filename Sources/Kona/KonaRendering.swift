import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// How a Kona space reads into the readable model — for the export walk and for `kitbag render` alike.
public enum KonaRendering {
    public static let source = RenderingSource(service: .kona, containerKind: KonaSchema.spaceContainer) { _, account in
        reading(names: try names(account))
    }

    /// User id → name (else e-mail) from the account-level files: the users, then the current user.
    static func names(_ account: any ContainerFiles) throws -> [String: String] {
        var names: [String: String] = [:]
        for u in try account.values("users") + account.values("currentUser") {
            if let id = u["id"]?.idString { names[id] = u["name"]?.stringValue ?? u["email"]?.stringValue }
        }
        return names
    }

    static func reading(names: [String: String]) -> ContainerReading {
        ContainerReading { files in
            guard let space = try files.values("space").first else { return nil }
            return KonaReadable.container(
                space: space, conversations: try files.values(KonaSchema.conversations.file),
                tasks: try files.values(KonaSchema.tasks.file), events: try files.values(KonaSchema.calendarEvents.file),
                comments: try files.values("comments"), names: names)
        }
    }
}
