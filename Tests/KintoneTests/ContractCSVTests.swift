import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: the CSV rendering is the file cli-kintone's `record import` reads, byte for byte on the examples its
/// documents give. Fixtures are written from kintone/cli-kintone:
/// - website/docs/guide/formats/csv.md (commit 8b12b7ba6642642066e9ee59301279351503b466): header of field codes,
///   quoted values, LF inside a cell for several values, `*` rows for tables;
/// - website/docs/reference/record-export/fields/table.md (commit 529a8c60b9d1ebc3868deff18c1331a8d31a2ae1): the one-
///   and two-table examples;
/// - website/docs/reference/record-export/fields/attachment.md (same commit): `<field>-<record id>/<file>` paths and
///   the "File names on CSV file" example.
@Suite("Kintone contract: cli-kintone CSV")
struct ContractCSVTests {
    static func field(_ type: String, _ value: JSONValue) -> JSONValue { ["type": .string(type), "value": value] }

    static func row(_ id: String, _ cells: [(String, JSONValue)]) -> JSONValue {
        ["id": .string(id), "value": .object(JSONObject(cells))]
    }

    @Test("one table: the documented example, row for row")
    func oneTable() {
        let propertiesValue: JSONValue = [
            "Text": ["type": "SINGLE_LINE_TEXT", "code": "Text"],
            "Table": ["type": "SUBTABLE", "code": "Table", "fields": ["TextInTable": ["type": "SINGLE_LINE_TEXT", "code": "TextInTable"]]],
        ]
        let layout: [JSONValue] = [
            ["type": "ROW", "fields": [["type": "SINGLE_LINE_TEXT", "code": "Text"]]],
            ["type": "SUBTABLE", "code": "Table", "fields": [["type": "SINGLE_LINE_TEXT", "code": "TextInTable"]]],
        ]
        let columns = KintoneCSV.columns(properties: propertiesValue.objectValue!, layout: layout)
        let record: JSONValue = [
            "$id": Self.field("__ID__", "1"), "Text": Self.field("SINGLE_LINE_TEXT", "first"),
            "Table": Self.field(
                "SUBTABLE",
                [
                    Self.row("<row id>", [("TextInTable", Self.field("SINGLE_LINE_TEXT", "alice"))]),
                    Self.row("<row id>", [("TextInTable", Self.field("SINGLE_LINE_TEXT", "bob"))]),
                ]),
        ]
        let csv = ([KintoneCSV.header(columns)] + KintoneCSV.rows(record, columns: columns) { _, _, _ in "" }).joined(separator: "\n")
        #expect(csv == """
            "*","Text","Table","TextInTable"
            "*","first","<row id>","alice"
            ,"first","<row id>","bob"
            """)
    }

    @Test("two tables: each row holds one table's row, the record's own fields repeat")
    func twoTables() {
        let propertiesValue: JSONValue = [
            "Text": ["type": "SINGLE_LINE_TEXT"],
            "Table": ["type": "SUBTABLE", "fields": ["TextInTable": ["type": "SINGLE_LINE_TEXT"]]],
            "Table_1": ["type": "SUBTABLE", "fields": ["NumberInTable": ["type": "NUMBER"]]],
        ]
        let columns = KintoneCSV.columns(properties: propertiesValue.objectValue!, layout: [])
        let record: JSONValue = [
            "Text": Self.field("SINGLE_LINE_TEXT", "first"),
            "Table": Self.field(
                "SUBTABLE",
                [
                    Self.row("<row id>", [("TextInTable", Self.field("SINGLE_LINE_TEXT", "alice"))]),
                    Self.row("<row id>", [("TextInTable", Self.field("SINGLE_LINE_TEXT", "bob"))]),
                ]),
            "Table_1": Self.field(
                "SUBTABLE",
                [
                    Self.row("<row id>", [("NumberInTable", Self.field("NUMBER", "10"))]),
                    Self.row("<row id>", [("NumberInTable", Self.field("NUMBER", "20"))]),
                ]),
        ]
        let csv = ([KintoneCSV.header(columns)] + KintoneCSV.rows(record, columns: columns) { _, _, _ in "" }).joined(separator: "\n")
        #expect(csv == """
            "*","Text","Table","TextInTable","Table_1","NumberInTable"
            "*","first","<row id>","alice",,
            ,"first","<row id>","bob",,
            ,"first",,,"<row id>","10"
            ,"first",,,"<row id>","20"
            """)
    }

    @Test("attachments: <field>-<record id>/<file>, several joined with LF; creator as login name; choices joined with LF")
    func attachmentsAndLists() {
        let propertiesValue: JSONValue = [
            "Record_number": ["type": "RECORD_NUMBER"], "Created_by": ["type": "CREATOR"],
            "Portfolio": ["type": "FILE"], "UserPhoto": ["type": "FILE"],
        ]
        let columns = KintoneCSV.columns(properties: propertiesValue.objectValue!, layout: [])
        func record(_ id: String, _ portfolio: [String], _ photos: [String]) -> JSONValue {
            [
                "$id": Self.field("__ID__", .string(id)), "Record_number": Self.field("RECORD_NUMBER", .string(id)),
                "Created_by": Self.field("CREATOR", ["code": "tasshi", "name": "Tasshi"]),
                "Portfolio": Self.field("FILE", .array(portfolio.map { ["name": .string($0)] })),
                "UserPhoto": Self.field("FILE", .array(photos.map { ["name": .string($0)] })),
            ]
        }
        var lines = [KintoneCSV.header(columns)]
        for (id, p, u) in [("1", ["Profile.pdf"], ["Photo1.png", "Photo2.png"]), ("15", ["Portfolio.pdf"], ["Photo1.png"])] {
            lines += KintoneCSV.rows(record(id, p, u), columns: columns) { code, _, file in "\(code)-\(id)/\(file["name"]?.stringValue ?? "")" }
        }
        #expect(lines.joined(separator: "\n") == """
            "Record_number","Created_by","Portfolio","UserPhoto"
            "1","tasshi","Portfolio-1/Profile.pdf","UserPhoto-1/Photo1.png
            UserPhoto-1/Photo2.png"
            "15","tasshi","Portfolio-15/Portfolio.pdf","UserPhoto-15/Photo1.png"
            """)
        let checks = KintoneCSV.value(Self.field("CHECK_BOX", ["value1", "value2"]), type: "CHECK_BOX") { _ in "" }
        #expect(checks == "value1\nvalue2")
        let users = KintoneCSV.value(
            Self.field("USER_SELECT", [["code": "John", "name": "J"], ["code": "Bob", "name": "B"]]), type: "USER_SELECT") { _ in "" }
        #expect(users == "John\nBob")
        #expect(KintoneCSV.quoted("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(KintoneCSV.numbered("Portfolio.pdf", 2) == "Portfolio (2).pdf")
        #expect(KintoneCSV.safeName("../../etc/passwd") == ".._.._etc_passwd")
        #expect(KintoneCSV.safeName("..") == "_..")
    }

    @Test("a demo archive renders per app: the CSV names attachment files that exist, byte for byte, in cli-kintone's layout")
    func anArchiveRendersWithItsFiles() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await KintoneConnectorTests.sandbox()
        defer { Task { await source.stop() } }
        let archive = dir.appendingPathComponent("a.tar.zst")
        _ = try await KintoneConnectorTests.export(try KintoneConnectorTests.connect(source), to: archive)
        let reader = try SnapshotReader.open(archive)
        let out = dir.appendingPathComponent("csv")
        let folders = try KintoneCSV.write(archive: reader, to: out)
        #expect(folders.count == 3)
        var filesSeen = 0
        var tablesSeen = 0
        for folder in folders {
            let text = try String(contentsOf: folder.appendingPathComponent("records.csv"), encoding: .utf8)
            let header = text.prefix { $0 != "\n" }
            #expect(!header.contains("\"$id\"") && !header.contains("\"$revision\""))
            if header.hasPrefix("\"*\"") { tablesSeen += 1 }
            // Every attachment path the CSV names is a file under attachments/, in <field>-<record id>[-<row>]/ form.
            for match in text.matches(of: #/"?([A-Za-z_0-9]+-[0-9]+(?:-[0-9]+)?/[^"\n]+)"?/#) {
                let path = String(match.1)
                let file = folder.appendingPathComponent("attachments").appendingPathComponent(path)
                #expect(FileManager.default.fileExists(atPath: file.path), "\(path) named in the CSV is missing")
                filesSeen += 1
            }
        }
        #expect(filesSeen > 0, "the demo has attachments")
        #expect(tablesSeen > 0, "the demo has a table")
    }
}
