import Foundation
import KitbagCore
import KitbagSandboxCore

/// Builds the starting state. The user directory, tokens and logins are the same for every seed;
/// `demo` adds four apps and two spaces, `generated(cards:)` one plain app with that many records.
/// The same seed always gives the same ids, dates and bytes.
enum KintoneSeeder {
    /// 2024-03-01T09:00:00Z.
    static let baseTime: Int64 = SandboxTime.millis(year: 2024, month: 3, day: 1, hour: 9) / 1000

    static func state(seed: SandboxSeed, credentials: [String], logins: [String: String]) -> KintoneState {
        var state = KintoneState()
        state.users = JSONObject([
            ("Administrator", "Administrator"), ("sato", "Sato Hiroshi"), ("suzuki", "Suzuki Yumi"),
            ("tanaka", "Tanaka Ken"), ("guest-lee@example.com", "Lee Min"),
        ])
        state.organizations = JSONObject([("sales", "Sales"), ("dev", "Development")])
        state.groups = JSONObject([("everyone", "Everyone"), ("Administrators", "Administrators"), ("project-leads", "Project leads")])
        let accepted = logins.isEmpty ? [KintoneSandbox.defaultLogin.user: KintoneSandbox.defaultLogin.password] : logins
        state.logins = accepted
        if logins.isEmpty { state.credentialPasswords = Set(credentials.isEmpty ? [KintoneSandbox.defaultCredential] : credentials) }
        for user in accepted.keys.sorted() where state.users[user] == nil { state.users[user] = .string(user) }
        for token in credentials.isEmpty ? [KintoneSandbox.defaultCredential] : credentials {
            state.tokens[token] = KintoneToken(app: nil, permissions: KintoneToken.Permission.all)
        }
        if state.tokens[KintoneSandbox.viewOnlyCredential] == nil {
            state.tokens[KintoneSandbox.viewOnlyCredential] = KintoneToken(app: nil, permissions: [.view])
        }
        state.spaceTemplates = [1: "Project space"]
        state.installedPlugins = JSONObject([("djmhffjhfgmebgnmcggopedaofckljlj", "Sandbox Date Helper")])
        var builder = KintoneSeedBuilder(state: state)
        switch seed {
        case .empty: break
        case .demo: builder.demo()
        case .generated(let count): builder.generated(count)
        }
        for id in builder.state.appOrder { builder.state.apps[id]?.rebuildUniqueIndex() }
        return builder.state
    }
}

struct KintoneSeedBuilder {
    var state: KintoneState

    func user(_ code: String) -> JSONValue { state.userEntity(code) ?? ["code": .string(code), "name": .string(code)] }

    static func field(_ code: String, _ type: String, _ label: String, _ extras: [(String, JSONValue)] = []) -> (String, JSONValue) {
        var o = JSONObject([("type", .string(type)), ("code", .string(code)), ("label", .string(label)), ("noLabel", false)])
        for (k, v) in extras { o[k] = v }
        return (code, .object(o))
    }

    static func options(_ names: [String]) -> JSONValue {
        .object(JSONObject(names.enumerated().map { ($1, ["label": .string($1), "index": .string(String($0))]) }))
    }

    static func row(_ codes: [(String, String)]) -> JSONValue {
        ["type": "ROW", "fields": .array(codes.map { ["type": .string($0.1), "code": .string($0.0), "size": ["width": "200"]] })]
    }

    /// A live app whose settings are `documents` over the defaults; layout one row per field unless given.
    @discardableResult
    mutating func app(
        name: String, code: String = "", description: String = "", space: Int? = nil, thread: Int? = nil,
        fields: [(String, JSONValue)], layout: [JSONValue]? = nil, documents: [KintoneSetting: JSONObject] = [:],
        creator: String = "Administrator", at time: Int64
    ) -> Int {
        let id = state.nextAppId
        state.nextAppId += 1
        var docs = KintoneState.defaultSettings(name: name, description: description)
        let processEnabled = documents[.status]?["enable"]?.boolValue ?? false
        var properties = KintoneState.systemFields(processEnabled: processEnabled)
        for (code, field) in fields { properties[code] = field }
        docs[.fields] = JSONObject([("properties", .object(properties))])
        docs[.layout] = JSONObject([("layout", .array(layout ?? fields.compactMap { code, field in
            let type = field["type"]?.stringValue ?? ""
            if type == "SUBTABLE" {
                return ["type": "SUBTABLE", "code": .string(code), "fields": .array((field["fields"]?.objectValue ?? JSONObject()).map {
                    ["type": $0.value["type"] ?? "", "code": .string($0.key), "size": ["width": "150"]]
                })]
            }
            return Self.row([(code, type)])
        }))])
        for (setting, doc) in documents {
            var merged = docs[setting] ?? JSONObject()
            for (k, v) in doc { merged[k] = v }
            docs[setting] = merged
        }
        let settings = KintoneAppSettings(documents: docs, revision: 3)
        let stamp = KintoneState.dateTimeMillis(time)
        state.apps[id] = KintoneApp(
            id: id, code: code, name: name, description: description, spaceId: space, threadId: thread,
            createdAt: stamp, creator: user(creator), modifiedAt: stamp, modifier: user(creator),
            isLive: true, live: settings, preview: settings, deploy: nil, records: KintoneApp.recordTable(id))
        state.appOrder.append(id)
        return id
    }

    /// Stores a file under a download key and returns its FILE value entry.
    mutating func file(_ name: String, _ contentType: String, _ bytes: [UInt8], at time: Int64) -> JSONValue {
        let key = state.newDownloadKey(at: time)
        let file = KintoneFile(name: name, contentType: contentType, bytes: bytes)
        state.files[key] = file
        return file.descriptor(key: key)
    }

    /// Table rows with server-assigned row ids.
    mutating func rows(_ cells: [[(String, JSONValue)]]) -> JSONValue {
        .array(cells.map { row in
            let id = state.nextRowId
            state.nextRowId += 1
            return ["id": .string(String(id)), "value": .object(JSONObject(row))]
        })
    }

    @discardableResult
    mutating func record(
        _ app: Int, _ values: [(String, JSONValue)], creator: String = "Administrator", at time: Int64,
        modifier: String? = nil, updatedAt: Int64? = nil, status: String? = nil, assignees: [String] = [],
        comments: [(String, String, [String])] = []
    ) -> Int {
        guard var stored = state.apps[app] else { return 0 }
        let id = stored.nextRecordId
        stored.nextRecordId += 1
        let created = KintoneState.truncatedToMinute(time)
        var record = KintoneRecord(
            id: id, revision: 1 + (updatedAt == nil ? 0 : 1), values: JSONObject(values), creator: user(creator),
            createdAt: created, modifier: user(modifier ?? creator),
            updatedAt: KintoneState.truncatedToMinute(updatedAt ?? time), status: status,
            assignees: assignees.map(user))
        for (i, comment) in comments.enumerated() {
            record.comments.append(JSONObject([
                ("id", .string(String(i + 1))), ("text", .string(comment.1)),
                ("createdAt", .string(KintoneState.dateTime(created + Int64(i + 1) * 600))), ("creator", user(comment.0)),
                ("mentions", .array(comment.2.map { ["code": .string($0), "type": "USER"] })),
            ]))
        }
        record.nextCommentId = comments.count + 1
        stored.records[id] = record
        stored.recordIds.append(id)
        state.apps[app] = stored
        return id
    }

    static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    // MARK: - demo

    mutating func demo() {
        let t = KintoneSeeder.baseTime
        let member: (String, String, Bool) -> JSONValue = { type, code, admin in
            ["entity": ["type": .string(type), "code": .string(code)], "isAdmin": .bool(admin), "isImplicit": false, "includeSubs": false]
        }
        state.spaces[1] = KintoneSpace(
            id: 1, name: "Product Team", body: "<div>Plans, releases and the <b>team wiki</b>.</div>", isGuest: false,
            isPrivate: true, useMultiThread: true, creator: user("sato"), modifier: user("sato"),
            members: [member("USER", "Administrator", true), member("USER", "sato", true), member("USER", "suzuki", false),
                      member("ORGANIZATION", "dev", false)],
            threads: [
                KintoneThread(id: 1, name: "Product Team", body: "<div>General discussion.</div>",
                              comments: [JSONObject([
                                  ("id", "1"), ("text", "Welcome to the product space!"), ("createdAt", .string(KintoneState.dateTime(t))),
                                  ("creator", user("sato")), ("mentions", []), ("files", []),
                              ])]),
                KintoneThread(id: 2, name: "Releases", body: "<div>Release notes go here.</div>"),
            ],
            nextCommentId: 2)
        state.spaces[2] = KintoneSpace(
            id: 2, name: "Partner Portal", body: "<div>Shared with our partners.</div>", isGuest: true, isPrivate: true,
            useMultiThread: false, creator: user("Administrator"), modifier: user("Administrator"),
            members: [member("USER", "Administrator", true), member("USER", "guest-lee@example.com", false)],
            threads: [KintoneThread(id: 3, name: "Partner Portal", body: "")])
        state.spaceOrder = [1, 2]
        state.nextSpaceId = 3
        state.nextThreadId = 4

        // App 1: customers, target of the lookup and owner of the related-records field.
        let customers = app(
            name: "Customers", code: "CUST", description: "Companies we sell to.",
            fields: [
                Self.field("Company", "SINGLE_LINE_TEXT", "Company", [("required", true), ("unique", true), ("maxLength", "64")]),
                Self.field("Country", "DROP_DOWN", "Country", [("options", Self.options(["Japan", "USA", "Germany"])), ("defaultValue", "")]),
                Self.field("Website", "LINK", "Website", [("protocol", "WEB")]),
                Self.field("Employees", "NUMBER", "Employees", [("unit", "people"), ("unitPosition", "AFTER")]),
                Self.field("Notes", "RICH_TEXT", "Notes"),
                Self.field("About", "LABEL", "About", [("label", "<b>Customer master</b>")]),
                Self.field("Related_Orders", "REFERENCE_TABLE", "Orders", [("referenceTable", [
                    "relatedApp": ["app": "2", "code": "ORD"],
                    "condition": ["field": "Company", "relatedField": "Customer"],
                    "filterCond": "", "displayFields": ["Order_No", "Order_Date", "Total"],
                    "sort": "Record_number desc", "size": "5",
                ])]),
            ],
            documents: [.views: JSONObject([("views", ["All customers": [
                "type": "LIST", "name": "All customers", "id": "1001", "index": "0", "builtinType": .null,
                "fields": ["Company", "Country", "Employees"], "filterCond": "", "sort": "Record_number desc",
            ]])])],
            creator: "sato", at: t)
        let companies: [(String, String, String, String)] = [
            ("Acme Corporation", "USA", "https://acme.example.com", "1200"),
            ("Sakura Trading", "Japan", "https://sakura.example.jp", "85"),
            ("Bergmann GmbH", "Germany", "https://bergmann.example.de", "430"),
            ("Umlaut & Ümlaut — Ünïcode Ltd. 🍣", "Germany", "", ""),
        ]
        for (i, c) in companies.enumerated() {
            record(customers, [("Company", .string(c.0)), ("Country", .string(c.1)), ("Website", .string(c.2)),
                               ("Employees", .string(c.3)), ("Notes", .string(i == 0 ? "<div>Key account since <i>2019</i>.</div>" : ""))],
                   creator: "sato", at: t + Int64(i) * 3600)
        }

        // App 2: orders with a lookup, a table, files and process management.
        let assignee: (String?) -> JSONValue = { code in
            ["type": "ONE", "entities": .array(code.map { [["entity": ["type": "USER", "code": .string($0)], "includeSubs": false]] } ?? [])]
        }
        let orders = app(
            name: "Orders", code: "ORD", description: "<div>Orders with items, files and a workflow.</div>",
            fields: [
                Self.field("Order_No", "SINGLE_LINE_TEXT", "Order number", [("required", true), ("unique", true)]),
                Self.field("Customer", "SINGLE_LINE_TEXT", "Customer", [("lookup", [
                    "relatedApp": ["app": "1", "code": "CUST"], "relatedKeyField": "Company",
                    "fieldMappings": [["field": "Customer_Country", "relatedField": "Country"]],
                    "lookupPickerFields": ["Company", "Country"], "filterCond": "", "sort": "Record_number desc",
                ])]),
                Self.field("Customer_Country", "SINGLE_LINE_TEXT", "Customer country"),
                Self.field("Order_Date", "DATE", "Order date", [("defaultNowValue", false)]),
                Self.field("Delivery_Time", "TIME", "Delivery time"),
                Self.field("Shipped_At", "DATETIME", "Shipped at"),
                Self.field("Priority", "RADIO_BUTTON", "Priority", [("options", Self.options(["High", "Normal", "Low"])),
                                                                    ("defaultValue", "Normal"), ("required", true)]),
                Self.field("Tags", "CHECK_BOX", "Tags", [("options", Self.options(["Gift", "Express", "Fragile"])), ("defaultValue", [])]),
                Self.field("Channels", "MULTI_SELECT", "Channels", [("options", Self.options(["Web", "Phone", "Store"])), ("defaultValue", [])]),
                Self.field("Owner", "USER_SELECT", "Owner", [("entities", []), ("defaultValue", [])]),
                Self.field("Team", "ORGANIZATION_SELECT", "Team", [("entities", []), ("defaultValue", [])]),
                Self.field("Reviewers", "GROUP_SELECT", "Reviewers", [("entities", []), ("defaultValue", [])]),
                Self.field("Items", "SUBTABLE", "Items", [("fields", .object(JSONObject([
                    Self.field("Product", "SINGLE_LINE_TEXT", "Product"),
                    Self.field("Quantity", "NUMBER", "Quantity"),
                    Self.field("Price", "NUMBER", "Price", [("unit", "$"), ("unitPosition", "BEFORE")]),
                    Self.field("Subtotal", "CALC", "Subtotal", [("expression", "Quantity*Price"), ("format", "NUMBER")]),
                ])))]),
                Self.field("Total", "CALC", "Total", [("expression", "SUM(Subtotal)"), ("format", "NUMBER_DIGIT")]),
                Self.field("Attachments", "FILE", "Attachments", [("thumbnailSize", "150")]),
                Self.field("Memo", "MULTI_LINE_TEXT", "Memo"),
                Self.field("Details", "GROUP", "Details", [("openGroup", false)]),
            ],
            layout: [
                Self.row([("Order_No", "SINGLE_LINE_TEXT"), ("Customer", "SINGLE_LINE_TEXT"), ("Customer_Country", "SINGLE_LINE_TEXT")]),
                Self.row([("Order_Date", "DATE"), ("Delivery_Time", "TIME"), ("Shipped_At", "DATETIME")]),
                Self.row([("Priority", "RADIO_BUTTON"), ("Tags", "CHECK_BOX"), ("Channels", "MULTI_SELECT")]),
                Self.row([("Owner", "USER_SELECT"), ("Team", "ORGANIZATION_SELECT"), ("Reviewers", "GROUP_SELECT")]),
                ["type": "ROW", "fields": [["type": "HR", "size": ["width": "600"]]]],
                ["type": "SUBTABLE", "code": "Items", "fields": [
                    ["type": "SINGLE_LINE_TEXT", "code": "Product"], ["type": "NUMBER", "code": "Quantity"],
                    ["type": "NUMBER", "code": "Price"], ["type": "CALC", "code": "Subtotal"],
                ]],
                Self.row([("Total", "CALC"), ("Attachments", "FILE")]),
                ["type": "ROW", "fields": [["type": "SPACER", "elementId": "spacer1", "size": ["width": "100", "height": "20"]]]],
                ["type": "GROUP", "code": "Details", "layout": [Self.row([("Memo", "MULTI_LINE_TEXT")])]],
            ],
            documents: [
                .status: JSONObject([
                    ("enable", true),
                    ("states", .object(JSONObject([
                        ("Not started", ["name": "Not started", "index": "0", "assignee": assignee("sato")]),
                        ("In progress", ["name": "In progress", "index": "1", "assignee": assignee("suzuki")]),
                        ("Completed", ["name": "Completed", "index": "2", "assignee": assignee(nil)]),
                    ]))),
                    ("actions", [
                        ["name": "Start", "from": "Not started", "to": "In progress", "filterCond": "", "type": "PRIMARY"],
                        ["name": "Complete", "from": "In progress", "to": "Completed", "filterCond": "", "type": "PRIMARY"],
                        ["name": "Reopen", "from": "Completed", "to": "In progress", "filterCond": "", "type": "SECONDARY"],
                    ]),
                ]),
                .views: JSONObject([("views", [
                    "All orders": ["type": "LIST", "name": "All orders", "id": "2001", "index": "0", "builtinType": .null,
                                   "fields": ["Record_number", "Order_No", "Customer", "Total", "Status"],
                                   "filterCond": "", "sort": "Record_number desc"],
                    "Open orders": ["type": "LIST", "name": "Open orders", "id": "2002", "index": "1", "builtinType": .null,
                                    "fields": ["Order_No", "Customer"], "filterCond": "Status not in (\"Completed\")",
                                    "sort": "Order_Date asc"],
                    "Calendar": ["type": "CALENDAR", "name": "Calendar", "id": "2003", "index": "2", "builtinType": .null,
                                 "date": "Order_Date", "title": "Order_No", "filterCond": "", "sort": "Record_number desc"],
                ])]),
                .reports: JSONObject([("reports", [
                    "Orders by priority": ["chartType": "PIE", "chartMode": "NORMAL", "id": "3001", "name": "Orders by priority",
                                           "index": "0", "groups": [["code": "Priority"]], "aggregations": [["type": "COUNT"]],
                                           "filterCond": "", "sorts": [["by": "TOTAL", "order": "DESC"]], "periodicReport": .null],
                ])]),
                .actions: JSONObject([("actions", [
                    "Add to wiki": ["name": "Add to wiki", "id": "4001", "index": "0", "destApp": ["app": "3", "code": ""],
                                    "mappings": [["srcType": "FIELD", "srcField": "Order_No", "destField": "Title"]],
                                    "entities": [["type": "GROUP", "code": "everyone"]], "filterCond": ""],
                ])]),
                .customize: JSONObject([("desktop", ["js": [["type": "URL", "url": "https://cdn.example.com/orders.js"]], "css": []])]),
                .notificationsGeneral: JSONObject([("notifications", [
                    ["entity": ["type": "FIELD_ENTITY", "code": "Owner"], "includeSubs": false, "recordAdded": true,
                     "recordEdited": true, "commentAdded": true, "statusChanged": true, "fileImported": false],
                ])]),
                .notificationsPerRecord: JSONObject([("notifications", [
                    ["filterCond": "Priority in (\"High\")", "title": "High priority order",
                     "targets": [["entity": ["type": "USER", "code": "sato"], "includeSubs": false]]],
                ])]),
                .notificationsReminder: JSONObject([("notifications", [
                    ["timing": ["code": "Order_Date", "daysLater": 3, "time": "09:00"], "filterCond": "Status not in (\"Completed\")",
                     "title": "Order still open", "targets": [["entity": ["type": "FIELD_ENTITY", "code": "Owner"], "includeSubs": false]]],
                ]), ("timezone", "Asia/Tokyo")]),
                .recordACL: JSONObject([("rights", [
                    ["filterCond": "Priority in (\"High\")", "entities": [
                        ["entity": ["type": "GROUP", "code": "project-leads"], "viewable": true, "editable": true, "deletable": false, "includeSubs": false],
                    ]],
                ])]),
                .fieldACL: JSONObject([("rights", [
                    ["code": "Total", "entities": [["accessibility": "READ", "entity": ["type": "GROUP", "code": "everyone"], "includeSubs": false]]],
                ])]),
                .adminNotes: JSONObject([("content", "<div>Prices include tax.</div>"), ("includeInTemplateAndDuplicates", true)]),
                .plugins: JSONObject([("plugins", [["id": "djmhffjhfgmebgnmcggopedaofckljlj", "name": "Sandbox Date Helper", "enabled": true]])]),
            ],
            creator: "sato", at: t + 600)
        let readme = file("readme.txt", "text/plain", Array("Order notes\nDeliver to the loading dock.\n".utf8), at: t + 7200)
        let png = file("logo.png", "image/png",
                       [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Self.bytes(count: 120, seed: 42), at: t + 7200)
        let data = file("measurements.bin", "application/octet-stream", Self.bytes(count: 2048, seed: 7), at: t + 10800)
        let firstItems = rows([
            [("Product", "Widget"), ("Quantity", "3"), ("Price", "19.99")],
            [("Product", "Gadget ⚙️"), ("Quantity", "1"), ("Price", "250")],
        ])
        record(orders, [
            ("Order_No", "ORD-0001"), ("Customer", "Acme Corporation"), ("Customer_Country", "USA"),
            ("Order_Date", "2024-03-01"), ("Delivery_Time", "14:30"), ("Shipped_At", "2024-03-02T08:15:00Z"),
            ("Priority", "High"), ("Tags", ["Gift", "Fragile"]), ("Channels", ["Web"]),
            ("Owner", [user("sato")]), ("Team", [["code": "sales", "name": "Sales"]]),
            ("Reviewers", [["code": "project-leads", "name": "Project leads"]]),
            ("Items", firstItems), ("Attachments", [readme, png]), ("Memo", "First order.\nHandle with care."),
        ], creator: "sato", at: t + 7200, modifier: "suzuki", updatedAt: t + 86_400, status: "Completed",
           comments: [("sato", "Order received.", []), ("suzuki", "Shipped today.", ["sato"]), ("sato", "Thanks! 🎉", [])])
        record(orders, [
            ("Order_No", "ORD-0002"), ("Customer", "Sakura Trading"), ("Customer_Country", "Japan"),
            ("Order_Date", "2024-03-04"), ("Priority", "Normal"), ("Tags", ["Express"]), ("Channels", ["Phone", "Store"]),
            ("Owner", [user("suzuki")]), ("Items", rows([[("Product", "Widget"), ("Quantity", "10"), ("Price", "18.50")]])),
            ("Attachments", [data]), ("Memo", ""),
        ], creator: "suzuki", at: t + 10800, status: "In progress", assignees: ["suzuki"],
           comments: [("suzuki", "Waiting for stock.", [])])
        record(orders, [
            ("Order_No", "ORD-0003"), ("Customer", "Bergmann GmbH"), ("Customer_Country", "Germany"),
            ("Order_Date", "2024-03-05"), ("Priority", "Low"), ("Items", .array([])),
        ], creator: "Administrator", at: t + 14400, status: "Not started", assignees: ["sato"],
           comments: (1...12).map { ("tanaka", "Follow-up note \($0)", []) })

        // App 3: a wiki inside the Product Team space, in the Releases thread.
        let wiki = app(
            name: "Team Wiki", description: "Pages of the product team.", space: 1, thread: 2,
            fields: [Self.field("Title", "SINGLE_LINE_TEXT", "Title", [("required", true)]),
                     Self.field("Body", "MULTI_LINE_TEXT", "Body")],
            creator: "sato", at: t + 1200)
        record(wiki, [("Title", "Release checklist"), ("Body", "1. Freeze\n2. Test\n3. Ship")], creator: "sato", at: t + 20000,
               comments: [("suzuki", "Add a rollback step?", ["sato"])])
        record(wiki, [("Title", "Onboarding"), ("Body", "Read the handbook first.")], creator: "suzuki", at: t + 30000)

        // App 4: inside the guest space; reachable only under /k/guest/2/v1/.
        let feedback = app(
            name: "Guest Feedback", description: "Feedback from partners.", space: 2, thread: 3,
            fields: [Self.field("Title", "SINGLE_LINE_TEXT", "Title"), Self.field("Rating", "NUMBER", "Rating", [("minValue", "1"), ("maxValue", "5")])],
            creator: "Administrator", at: t + 1800)
        record(feedback, [("Title", "Great onboarding"), ("Rating", "5")], creator: "Administrator", at: t + 40000,
               comments: [("Administrator", "Thanks for the feedback!", [])])
        record(feedback, [("Title", "Docs could be clearer"), ("Rating", "3")], creator: "Administrator", at: t + 50000)
    }

    // MARK: - generated

    mutating func generated(_ count: Int) {
        let t = KintoneSeeder.baseTime
        let id = app(
            name: "Generated records", code: "GEN",
            fields: [
                Self.field("Title", "SINGLE_LINE_TEXT", "Title", [("required", true)]),
                Self.field("Key", "SINGLE_LINE_TEXT", "Key", [("unique", true)]),
                Self.field("Body", "MULTI_LINE_TEXT", "Body"),
                Self.field("Amount", "NUMBER", "Amount"),
                Self.field("Due", "DATE", "Due"),
                Self.field("Done", "CHECK_BOX", "Done", [("options", Self.options(["yes"])), ("defaultValue", [])]),
            ],
            at: t)
        guard var app = state.apps[id] else { return }
        app.records.reserveCapacity(count)
        app.recordIds.reserveCapacity(count)
        for n in 1...max(count, 1) where count > 0 {
            let time = KintoneState.truncatedToMinute(t + Int64(n) * 60)
            let values = JSONObject([
                ("Title", .string("Record \(n)")), ("Key", .string("K-\(n)")),
                ("Body", .string("Generated body \(n)\nline two of \(n)")), ("Amount", .string(String(n * 7 % 1000))),
                ("Due", .string(KintoneState.date(t + Int64(n % 365) * 86_400))),
                ("Done", n % 3 == 0 ? ["yes"] : []),
            ])
            app.records[n] = KintoneRecord(
                id: n, revision: 1, values: values, creator: user("Administrator"), createdAt: time,
                modifier: user("Administrator"), updatedAt: time, status: nil)
            app.recordIds.append(n)
        }
        app.nextRecordId = count + 1
        state.apps[id] = app
    }
}
