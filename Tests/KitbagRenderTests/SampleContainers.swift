import Foundation
import KitbagCore
import Testing

/// Fixed dates so renderings are stable.
enum Dates {
    static let d2024_05_01 = Date(timeIntervalSince1970: 1_714_564_800)  // 2024-05-01 12:00:00 UTC
    static let d2024_05_02 = Date(timeIntervalSince1970: 1_714_651_200)  // 2024-05-02 12:00:00 UTC
    static let d2024_05_03 = Date(timeIntervalSince1970: 1_714_737_600)  // 2024-05-03 12:00:00 UTC
}

/// Hostile service text used in every format.
enum Hostile {
    static let script = "<script>alert(1)</script>"
    static let cdataEnd = "]]>"
    static let amp = "&amp; &"
    static let quotes = "\"quotes\" and 'single'"
    static let controls = String(String.UnicodeScalarView((1...0x1F).map { Unicode.Scalar($0)! }))
    static let nonChars = "a\u{FFFE}b\u{FFFF}c"
    static let rtl = "abc\u{202E}def"
    static let table = "| table | breakers |"
    static let heading = "# heading"
    static let quote = "> quote"
    static let backticks = "``` code ``` and `tick`"
    static let long = String(repeating: "長", count: 5_000) + String(repeating: "x", count: 5_000)
    static let emoji = "🌱 花園 計画 ✨"
    static let list = "- item\n1. first\n+ plus\n* star"

    /// Every hostile string, each on its own, named for test logs.
    static let all: [HostileText] = [
        .init("script", script), .init("cdata-end", cdataEnd), .init("ampersands", amp), .init("quotes", quotes),
        .init("C0 controls", controls), .init("U+FFFE/U+FFFF", nonChars), .init("RTL override", rtl),
        .init("table breakers", table), .init("heading", heading), .init("quote", quote),
        .init("backticks", backticks), .init("10,000 characters", long), .init("emoji/CJK", emoji),
        .init("list markers", list),
    ]

    /// `text` as XML can carry it: C0 controls except tab/LF/CR, U+FFFE and U+FFFF removed.
    static func xmlVisible(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { s in
            switch s.value {
            case 0x9, 0xA, 0xD: return true
            case 0..<0x20, 0xFFFE, 0xFFFF: return false
            default: return true
            }
        }))
    }
}

/// A small Kinopio-like space: two boxes, cards with and without frames, connections, a removed card.
enum Sample {
    static let other = ReadableContainer(id: "OtherSpace1", kind: "space", title: "Other space")

    static let space = ReadableContainer(
        id: "HzVOgAct", kind: "space", title: "Garden plans",
        summary: "What to plant **this year**.\n\n# not a heading",
        url: "https://kinopio.club/garden-plans-HzVOgAct",
        createdAt: Dates.d2024_05_01, updatedAt: Dates.d2024_05_03,
        fields: [ReadableFieldDefinition(code: "beds", label: "Beds", type: "NUMBER")],
        groups: [
            ReadableGroup(
                id: "box1", kind: "box", title: "Ideas",
                frame: ReadableFrame(x: 0, y: 0, width: 600, height: 400, z: 0, color: "#ffcc00")),
            ReadableGroup(id: "box2", kind: "box", title: "Done", color: "green"),
        ],
        items: [
            ReadableItem(
                id: "card1", title: "Tomatoes", body: "Plant in **May**.\nWater daily.", author: "Ada",
                createdAt: Dates.d2024_05_01, labels: ["veg"], groupID: "box1",
                frame: ReadableFrame(x: 40.4, y: 60.6, width: 200, height: 80, z: 2, color: "#f00"),
                fields: [
                    ReadableFieldValue(name: "Beds", value: .text("2")),
                    ReadableFieldValue(name: "Tags", value: .list(["a", "b"])),
                    ReadableFieldValue(
                        name: "Schedule", value: .table(columns: ["Week", "Task"], rows: [["1", "Sow"], ["2", "Water"]])),
                ],
                comments: [ReadableComment(author: "Bo", createdAt: Dates.d2024_05_02, body: "Use *cages*.")],
                attachments: [
                    ReadableAttachment(
                        name: "plan.png", archivePath: "attachments/sha256/ab/abcdef", size: 2048,
                        contentType: "image/png")
                ],
                url: "https://kinopio.club/garden-plans-HzVOgAct?card=card1"),
            ReadableItem(
                id: "card2", title: "Basil", body: "", updatedAt: Dates.d2024_05_03, groupID: "box1",
                frame: ReadableFrame(x: 300, y: 60, z: 1)),
            ReadableItem(id: "card3", title: "Compost", body: "See the other space", linkedContainerID: "OtherSpace1"),
            ReadableItem(id: "card4", title: "Harvested peas", groupID: "box2"),
            ReadableItem(id: "card5", title: "Old idea", isRemoved: true),
        ],
        links: [
            ReadableLink(id: "conn1", from: "card1", to: "card2", label: "then", color: "rgb(0, 128, 255)"),
            ReadableLink(id: "conn2", from: "card2", to: "card3", directed: false),
            ReadableLink(id: "conn3", from: "card1", to: "card5"),
        ],
        tags: [ReadableTag(name: "veg", color: "#00aa00")])

    /// A container whose every text field is `text`.
    static func hostile(_ text: String, id: String = "h1") -> ReadableContainer {
        ReadableContainer(
            id: id, kind: "space", title: text, summary: text, url: "https://example.com/x",
            fields: [ReadableFieldDefinition(code: text, label: text, type: text)],
            groups: [ReadableGroup(id: "g1", kind: "box", title: text, frame: ReadableFrame(x: 0, y: 0), color: text)],
            items: [
                ReadableItem(
                    id: "i1", title: text, body: text, author: text, createdAt: Dates.d2024_05_01, labels: [text],
                    status: text, groupID: "g1", fields: [ReadableFieldValue(name: text, value: .text(text))],
                    comments: [ReadableComment(author: text, body: text)],
                    attachments: [ReadableAttachment(name: text, archivePath: "attachments/sha256/ab/ab01")]),
                ReadableItem(id: "i2", title: text, body: text, createdAt: Dates.d2024_05_02),
            ],
            links: [ReadableLink(id: "l1", from: "i1", to: "i2", label: text, color: text)],
            tags: [ReadableTag(name: text, color: text)])
    }
}

/// A hostile string with a short name, so test logs stay readable.
struct HostileText: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    init(_ name: String, _ text: String) {
        self.name = name
        self.text = text
    }
    var testDescription: String { name }
}
