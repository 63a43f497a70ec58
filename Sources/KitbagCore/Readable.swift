import Foundation

// The connector-neutral model that every connector maps its entities to and every
// renderer (Markdown, RSS 2.0, JSON Canvas) reads. Text is service text, unescaped:
// renderers do all escaping. Order of arrays is meaningful and kept.

/// The readable renderings an archive can hold next to its JSON Lines (KitbagRender writes them).
public enum ReadableFormat: String, Sendable, Hashable, CaseIterable {
    case markdown, rss, canvas, html
}

/// A container as a person sees it: a Kinopio space, a Kintone app, a Kitemaker or Kona space.
public struct ReadableContainer: Sendable, Equatable {
    /// The container's id as the service gives it.
    public var id: String
    /// Singular kind, e.g. `space`, `app`; pages go under `pages/<kind>s/`.
    public var kind: String
    /// One-line title (newlines are flattened by renderers).
    public var title: String
    /// Description as Markdown.
    public var summary: String?
    /// The container on the service, when known.
    public var url: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    /// Field definitions, e.g. a Kintone app's field table; may be empty.
    public var fields: [ReadableFieldDefinition]
    /// Kinopio boxes, Kitemaker statuses (columns) …
    public var groups: [ReadableGroup]
    /// Cards, records, work items, conversations.
    public var items: [ReadableItem]
    /// Connections between items (Kinopio connections).
    public var links: [ReadableLink]
    /// Tags/labels with colors, for legends.
    public var tags: [ReadableTag]
    /// Lists, lines, strokes and link paths of a drawn canvas (Kinopio); nil elsewhere.
    public var drawing: ReadableDrawing?

    public init(
        id: String, kind: String, title: String, summary: String? = nil, url: String? = nil,
        createdAt: Date? = nil, updatedAt: Date? = nil, fields: [ReadableFieldDefinition] = [],
        groups: [ReadableGroup] = [], items: [ReadableItem] = [], links: [ReadableLink] = [],
        tags: [ReadableTag] = [], drawing: ReadableDrawing? = nil
    ) {
        self.id = id
        self.kind = kind
        self.title = title
        self.summary = summary
        self.url = url
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.fields = fields
        self.groups = groups
        self.items = items
        self.links = links
        self.tags = tags
        self.drawing = drawing
    }
}

/// One card, record, work item or conversation.
public struct ReadableItem: Sendable, Equatable {
    public var id: String
    /// Plain text, one line (renderers flatten newlines).
    public var title: String
    /// Markdown; may be empty.
    public var body: String
    public var author: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    /// Labels/tags by name.
    public var labels: [String]
    public var status: String?
    /// The `ReadableGroup.id` this item sits in, if any.
    public var groupID: String?
    /// Position on a canvas, when the service has one.
    public var frame: ReadableFrame?
    /// Ordered name/value pairs (record fields, custom properties).
    public var fields: [ReadableFieldValue]
    public var comments: [ReadableComment]
    public var attachments: [ReadableAttachment]
    /// The item on the service, when known.
    public var url: String?
    /// A link to another container in the same archive (Kinopio `linkToSpaceId`).
    public var linkedContainerID: String?
    /// True for items in the service's trash.
    public var isRemoved: Bool
    /// The service's preview of a URL in the item (only the HTML rendering shows it, as text).
    public var preview: ReadablePreview?

    public init(
        id: String, title: String, body: String = "", author: String? = nil, createdAt: Date? = nil,
        updatedAt: Date? = nil, labels: [String] = [], status: String? = nil, groupID: String? = nil,
        frame: ReadableFrame? = nil, fields: [ReadableFieldValue] = [], comments: [ReadableComment] = [],
        attachments: [ReadableAttachment] = [], url: String? = nil, linkedContainerID: String? = nil,
        isRemoved: Bool = false, preview: ReadablePreview? = nil
    ) {
        self.id = id
        self.title = title
        self.body = body
        self.author = author
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.labels = labels
        self.status = status
        self.groupID = groupID
        self.frame = frame
        self.fields = fields
        self.comments = comments
        self.attachments = attachments
        self.url = url
        self.linkedContainerID = linkedContainerID
        self.isRemoved = isRemoved
        self.preview = preview
    }
}

/// A rectangle on a canvas, in the service's pixel units; `z` orders overlapping things.
public struct ReadableFrame: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var width: Double?
    public var height: Double?
    public var z: Double?
    /// A color as the service spells it (`#rrggbb` passes through to canvases).
    public var color: String?

    public init(
        x: Double, y: Double, width: Double? = nil, height: Double? = nil, z: Double? = nil,
        color: String? = nil
    ) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.z = z
        self.color = color
    }
}

/// A group of items: a Kinopio box, a Kitemaker status column.
public struct ReadableGroup: Sendable, Equatable {
    public var id: String
    /// What the service calls it, singular and lowercase: `box`, `status`; used in headings ("Box: Ideas").
    public var kind: String
    public var title: String
    public var frame: ReadableFrame?
    public var color: String?

    public init(id: String, kind: String = "group", title: String, frame: ReadableFrame? = nil, color: String? = nil) {
        self.id = id
        self.kind = kind
        self.title = title
        self.frame = frame
        self.color = color
    }
}

/// A connection between two items of the same container.
public struct ReadableLink: Sendable, Equatable {
    public var id: String
    /// `ReadableItem.id` of the start.
    public var from: String
    /// `ReadableItem.id` of the end.
    public var to: String
    public var label: String?
    public var color: String?
    /// True when the link points from `from` to `to` (an arrow).
    public var directed: Bool

    public init(
        id: String, from: String, to: String, label: String? = nil, color: String? = nil,
        directed: Bool = true
    ) {
        self.id = id
        self.from = from
        self.to = to
        self.label = label
        self.color = color
        self.directed = directed
    }
}

/// A tag or label with its color, for legends.
public struct ReadableTag: Sendable, Equatable {
    public var name: String
    public var color: String?

    public init(name: String, color: String? = nil) {
        self.name = name
        self.color = color
    }
}

/// One field definition of a container (a column of a table): code, label, type.
public struct ReadableFieldDefinition: Sendable, Equatable {
    public var code: String
    public var label: String
    public var type: String

    public init(code: String, label: String, type: String) {
        self.code = code
        self.label = label
        self.type = type
    }
}

/// A named value of an item; `value` may be text, a list or a table (subtables).
public struct ReadableFieldValue: Sendable, Equatable {
    public var name: String
    public var value: ReadableValue

    public init(name: String, value: ReadableValue) {
        self.name = name
        self.value = value
    }
}

/// A field's value: plain text, a list of texts, or a table of rows (ordered name/value pairs).
public enum ReadableValue: Sendable, Equatable {
    case text(String)
    case list([String])
    case table(columns: [String], rows: [[String]])
}

/// A comment on an item.
public struct ReadableComment: Sendable, Equatable {
    public var author: String?
    public var createdAt: Date?
    /// Markdown.
    public var body: String

    public init(author: String? = nil, createdAt: Date? = nil, body: String) {
        self.author = author
        self.createdAt = createdAt
        self.body = body
    }
}

/// A file attached to an item, stored in the archive at `archivePath` (see `ArchivePath.attachment`).
public struct ReadableAttachment: Sendable, Equatable {
    public var name: String
    /// Path from the archive root, e.g. `attachments/sha256/ab/ab12…`.
    public var archivePath: String
    public var size: Int64?
    public var contentType: String?

    public init(name: String, archivePath: String, size: Int64? = nil, contentType: String? = nil) {
        self.name = name
        self.archivePath = archivePath
        self.size = size
        self.contentType = contentType
    }
}

/// What a drawn canvas holds besides items, groups and links (Kinopio lists, lines, drawing strokes and the paths
/// connections take). Only the HTML drawing reads it; the other renderings leave it out.
public struct ReadableDrawing: Sendable, Equatable {
    /// Columns that stack their items top to bottom (Kinopio lists), drawn behind the items.
    public var lists: [ReadableList]
    /// Horizontal dividers across the canvas (Kinopio lines).
    public var guides: [ReadableGuide]
    /// Freehand strokes, oldest first.
    public var strokes: [ReadableStroke]
    /// `ReadableLink.id` → the link's path as the service stores it (Kinopio `m x,y q cx,cy ex,ey`); renderers
    /// must parse it, never copy it.
    public var linkPaths: [String: String]

    public init(
        lists: [ReadableList] = [], guides: [ReadableGuide] = [], strokes: [ReadableStroke] = [],
        linkPaths: [String: String] = [:]
    ) {
        self.lists = lists
        self.guides = guides
        self.strokes = strokes
        self.linkPaths = linkPaths
    }
}

/// A list: a titled column at `frame` whose items (`itemIDs`, in list order) are stacked inside it.
public struct ReadableList: Sendable, Equatable {
    public var id: String
    public var title: String
    public var frame: ReadableFrame?
    public var color: String?
    public var itemIDs: [String]

    public init(id: String, title: String, frame: ReadableFrame? = nil, color: String? = nil, itemIDs: [String] = []) {
        self.id = id
        self.title = title
        self.frame = frame
        self.color = color
        self.itemIDs = itemIDs
    }
}

/// A horizontal line across a canvas at `y`, with an optional label.
public struct ReadableGuide: Sendable, Equatable {
    public var id: String
    public var title: String
    public var y: Double
    public var color: String?

    public init(id: String, title: String = "", y: Double, color: String? = nil) {
        self.id = id
        self.title = title
        self.y = y
        self.color = color
    }
}

/// A freehand stroke: points joined in order, `diameter` wide.
public struct ReadableStroke: Sendable, Equatable {
    public var points: [ReadablePoint]
    public var color: String?
    public var diameter: Double?

    public init(points: [ReadablePoint], color: String? = nil, diameter: Double? = nil) {
        self.points = points
        self.color = color
        self.diameter = diameter
    }
}

public struct ReadablePoint: Sendable, Equatable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// What a service shows for a URL inside an item (Kinopio's URL preview). `embedHTML` is the service's own
/// markup: renderers show it as text and never embed it.
public struct ReadablePreview: Sendable, Equatable {
    public var url: String?
    public var title: String?
    public var description: String?
    public var image: String?
    public var embedHTML: String?
    public var iframeURL: String?

    public init(
        url: String? = nil, title: String? = nil, description: String? = nil, image: String? = nil,
        embedHTML: String? = nil, iframeURL: String? = nil
    ) {
        self.url = url
        self.title = title
        self.description = description
        self.image = image
        self.embedHTML = embedHTML
        self.iframeURL = iframeURL
    }

    public var isEmpty: Bool {
        [url, title, description, image, embedHTML, iframeURL].allSatisfy { ($0 ?? "").isEmpty }
    }
}

/// Text made fit for one line (titles, error messages): newlines and tabs become spaces, control characters are
/// dropped, the ends are trimmed.
public enum OneLine {
    public static func flatten(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var lastWasCR = false
        for s in text.unicodeScalars {
            defer { lastWasCR = s == "\r" }
            switch s.value {
            case 0x0A where lastWasCR: continue
            case 0x09, 0x0A, 0x0D, 0x85, 0x2028, 0x2029: out.append(" ")
            case 0x00...0x1F, 0x7F...0x9F, 0xFFFE, 0xFFFF: continue
            default: out.append(s)
            }
        }
        return String(out).trimmingCharacters(in: .whitespaces)
    }
}
