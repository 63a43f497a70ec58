import KitbagCore

/// Kinopio's entity kinds as kitbag names them in archives, and the keys that matter to the connector.
enum KinopioSchema {
    static let service = ServiceName.kinopio
    static let defaultBaseURL = "https://api.kinopio.club"
    static let apiKeyVariable = "KINOPIO_API_KEY"
    static let appKeyVariable = "KINOPIO_APP_KEY"
    static let keyKindVariable = "KINOPIO_KEY_KIND"
    /// Card names are "Limited to 4000 characters" (kinopio-client src/data/apiDocs.md, card `name`, commit
    /// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
    static let maxCardNameLength = 4000

    /// Arrays inside `GET /space/:id` and the archive file + entity kind each goes to.
    static let spaceArrays: [(key: String, file: String, kind: String)] = [
        ("cards", "cards", "card"),
        ("connections", "connections", "connection"),
        ("connectionTypes", "connectionTypes", "connectionType"),
        ("boxes", "boxes", "box"),
        ("lists", "lists", "list"),
        ("lines", "lines", "line"),
        ("drawingStrokes", "drawingStrokes", "drawingStroke"),
        ("tags", "tags", "tag"),
        ("users", "users", "spaceUser"),
        ("collaborators", "collaborators", "collaborator"),
    ]

    /// Keys that are access secrets: never written to an archive.
    static let secretKeys: Set<String> = [
        "apiKey", "collaboratorKey", "readOnlyKey", "linkToSpaceCollaboratorKey", "password",
    ]

    static let spaceContainer = "spaces"

    static func container(space id: String) -> ContainerRef { ContainerRef(kind: spaceContainer, id: id) }

    /// Removes secret keys at any depth.
    /// A space as `GET /space/:id` answers it, split as the archive keeps it: its own fields, each array of entities
    /// (known ones and any kitbag does not know yet, kept verbatim) and its removed cards. The current server returns
    /// removed cards inside `cards` with `isRemoved: true`; they are split off as kinopio-client src/utils.js
    /// `normalizeRemoteSpace` does (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7). Secrets are dropped first.
    static func spaceParts(_ raw: JSONValue) -> (
        meta: JSONObject, arrays: [(file: String, kind: String, values: [JSONValue])], removedInline: [JSONValue]
    )? {
        guard var meta = withoutSecrets(raw).objectValue else { return nil }
        var removedInline: [JSONValue] = meta["removedCards"]?.arrayValue ?? []
        meta["removedCards"] = nil
        if let cards = meta["cards"]?.arrayValue {
            removedInline += cards.filter { $0["isRemoved"]?.boolValue == true }
            meta["cards"] = .array(cards.filter { $0["isRemoved"]?.boolValue != true })
        }
        var arrays: [(file: String, kind: String, values: [JSONValue])] = []
        for a in spaceArrays {
            arrays.append((a.file, a.kind, meta[a.key]?.arrayValue ?? []))
            meta[a.key] = nil
        }
        for key in meta.keys.sorted() {
            if case .array(let items) = meta[key]!, items.contains(where: { $0.objectValue != nil }) {
                arrays.append((key, key, items))
                meta[key] = nil
            }
        }
        return (meta, arrays, removedInline)
    }

    static func withoutSecrets(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let o):
            var out = JSONObject()
            for (k, v) in o where !secretKeys.contains(k) { out[k] = withoutSecrets(v) }
            return .object(out)
        case .array(let a): return .array(a.map(withoutSecrets))
        default: return value
        }
    }

    /// Sorts entities by their `id` (entities without one keep their relative order, after those with one).
    static func sortedByID(_ values: [JSONValue]) -> [JSONValue] {
        values.enumerated().sorted { a, b in
            switch (a.element["id"]?.idString, b.element["id"]?.idString) {
            case let (x?, y?): return x == y ? a.offset < b.offset : x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.offset < b.offset
            }
        }.map(\.element)
    }

    /// Start/end card of a connection in either of the two shapes Kinopio has used.
    static func connectionEnds(_ c: JSONValue) -> (start: String?, end: String?) {
        (
            c["startCardId"]?.idString ?? c["startItemId"]?.idString,
            c["endCardId"]?.idString ?? c["endItemId"]?.idString
        )
    }
}

extension KinopioSchema {
    /// Colour for a connection that has none of its own nor a legacy type's (`POST /connection` must contain one).
    static let defaultConnectionColor = "#c9c9c9"

    /// A connection in the shape the current API takes: `startItemId`/`endItemId`, its own `name` and `color`,
    /// no `connectionTypeId`. A legacy type's name and colour are copied in when the connection has neither, as
    /// kinopio-client src/utils.js `migrateConnectionTypes` does (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
    static func currentConnection(_ raw: JSONValue, types: [JSONValue]) -> JSONValue {
        guard var c = raw.objectValue else { return raw }
        let ends = connectionEnds(raw)
        c["startCardId"] = nil
        c["endCardId"] = nil
        if let start = ends.start { c["startItemId"] = .string(start) }
        if let end = ends.end { c["endItemId"] = .string(end) }
        if let typeID = raw["connectionTypeId"]?.idString,
            (c["name"]?.stringValue ?? "").isEmpty && (c["color"]?.stringValue ?? "").isEmpty,
            let type = types.first(where: { $0["id"]?.idString == typeID })
        {
            c["name"] = type["name"] ?? .null
            c["color"] = type["color"] ?? .null
        }
        c["connectionTypeId"] = nil
        if c["color"]?.stringValue?.isEmpty ?? true { c["color"] = .string(defaultConnectionColor) }
        return .object(c)
    }
}

/// Kinopio-style ids: 21 characters from the URL-safe alphabet, as its client generates them.
enum KinopioID {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")

    static func make() -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<21).map { _ in alphabet[Int(rng.next() % 64)] })
    }
}
