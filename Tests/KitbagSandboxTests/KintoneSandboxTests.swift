import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import NIOCore
import Testing

/// How a test request signs in.
private enum KintoneAuth {
    case token(String)
    case password(String, String)
    case none

    static let standard = KintoneAuth.password(KintoneSandbox.defaultLogin.user, KintoneSandbox.defaultLogin.password)
}

private struct KintoneAnswer: Sendable {
    let status: Int
    let headers: [(String, String)]
    let bytes: [UInt8]

    var json: JSONValue? { try? JSONValue(parsing: bytes) }
    subscript(key: String) -> JSONValue? { json?[key] }
    var code: String? { json?["code"]?.stringValue }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

private struct KintoneAPI: Sendable {
    let client: HTTPClient
    let baseURL: URL

    func request(
        _ method: String, _ path: String, auth: KintoneAuth = .standard, body: JSONValue? = nil,
        headers: [(String, String)] = []
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL.absoluteString + path)
        request.method = .RAW(value: method)
        switch auth {
        case .token(let token): request.headers.add(name: "X-Cybozu-API-Token", value: token)
        case .password(let user, let password):
            request.headers.add(name: "X-Cybozu-Authorization", value: Data("\(user):\(password)".utf8).base64EncodedString())
        case .none: break
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body.serialized())
        }
        return request
    }

    func execute(_ request: HTTPClientRequest) async throws -> KintoneAnswer {
        let response = try await client.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return KintoneAnswer(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            bytes: Array(buffer.readableBytesView))
    }

    func send(
        _ method: String, _ path: String, auth: KintoneAuth = .standard, body: JSONValue? = nil,
        headers: [(String, String)] = []
    ) async throws -> KintoneAnswer {
        try await execute(request(method, path, auth: auth, body: body, headers: headers))
    }

    /// GET with query parameters, percent-encoded.
    func get(_ path: String, _ query: [(String, String)] = [], auth: KintoneAuth = .standard) async throws -> KintoneAnswer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = query.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
        return try await send("GET", encoded.isEmpty ? path : path + "?" + encoded.joined(separator: "&"), auth: auth)
    }

    func upload(_ bytes: [UInt8], name: String, contentType: String, prefix: String = "/k/v1/") async throws -> KintoneAnswer {
        let boundary = "kitbag-test-boundary-42"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8)
        body += bytes
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        var request = request("POST", prefix + "file.json")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(body)
        return try await execute(request)
    }
}

private func kintoneOptions(seed: SandboxSeed = .demo, faultRate: Double = 0) -> SandboxOptions {
    SandboxOptions(seed: seed, faultRate: faultRate, faultSeed: 11, rateLimit: false)
}

private func withKintone<T>(
    _ options: SandboxOptions, _ body: (RunningSandbox, KintoneAPI) async throws -> T
) async throws -> T {
    try await withRunning(try await KintoneSandbox.start(options)) { sandbox, api in
        try await body(sandbox, KintoneAPI(client: api.client, baseURL: api.baseURL))
    }
}

/// A Kintone error body has code, id and message.
private func isKintoneError(_ answer: KintoneAnswer, _ status: Int, _ code: String) -> Bool {
    answer.status == status && answer.code == code && answer["id"]?.stringValue?.isEmpty == false
        && answer["message"]?.stringValue?.isEmpty == false
}

private func recordIds(_ answer: KintoneAnswer) -> [Int] {
    (answer["records"]?.arrayValue ?? []).compactMap { $0["$id"]?["value"]?.stringValue.flatMap { Int($0) } }
}

@Suite("Kintone sandbox")
struct KintoneSandboxTests {
    @Test("API tokens (also several, comma-separated), password sign-in and Basic pass; missing or wrong ones get 401, view-only token writes 403 GAIA_NO01")
    func authentication() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            #expect(try await api.get("/k/v1/app.json", [("id", "1")], auth: .token(KintoneSandbox.defaultCredential)).status == 200)
            let several = try await api.get("/k/v1/app.json", [("id", "1")],
                                            auth: .token("\(KintoneSandbox.defaultCredential), \(KintoneSandbox.viewOnlyCredential)"))
            #expect(several.status == 200)
            let login = KintoneSandbox.defaultLogin
            #expect(try await api.get("/k/v1/app.json", [("id", "1")], auth: .password(login.user, login.password)).status == 200)
            let withBasic = try await api.send("GET", "/k/v1/app.json?id=1", auth: .password(login.user, login.password),
                                               headers: [("Authorization", "Basic " + Data("proxy:secret".utf8).base64EncodedString())])
            #expect(withBasic.status == 200)

            let missing = try await api.get("/k/v1/app.json", [("id", "1")], auth: .none)
            #expect(isKintoneError(missing, 401, "CB_AU01"))
            #expect(isKintoneError(try await api.get("/k/v1/app.json", [("id", "1")], auth: .token("nope")), 401, "GAIA_IA02"))
            let oneBad = try await api.get("/k/v1/app.json", [("id", "1")], auth: .token("\(KintoneSandbox.defaultCredential),nope"))
            #expect(isKintoneError(oneBad, 401, "GAIA_IA02"))
            #expect(isKintoneError(try await api.get("/k/v1/app.json", [("id", "1")], auth: .password(login.user, "wrong")), 401, "CB_WA01"))
            let missingText = String(decoding: missing.bytes, as: UTF8.self)
            #expect(!missingText.contains(KintoneSandbox.defaultCredential))

            let viewOnly = KintoneAuth.token(KintoneSandbox.viewOnlyCredential)
            #expect(try await api.get("/k/v1/records.json", [("app", "1")], auth: viewOnly).status == 200)
            let write = try await api.send("POST", "/k/v1/record.json", auth: viewOnly,
                                           body: ["app": 1, "record": ["Company": ["value": "Nope Inc."]]])
            #expect(isKintoneError(write, 403, "GAIA_NO01"))
        }
    }

    /// cybozu.dev "APIトークンを使って操作できるAPI"; kintone.dev tutorials/introduction-to-kintone-customizations/api-tokens
    /// (the three token refusals; at most 9 tokens); kintone/js-sdk AppClient.ts (commit 003b2770) for the routes.
    @Test("API tokens: no apps.json, app creation or spaces (403 GAIA_NO01); own app only (GAIA_IA02); permissions; ≤ 9 per request")
    func tokenScopes() async throws {
        try await withKintone(kintoneOptions()) { _, api async throws in
            let app1 = KintoneAuth.token(KintoneSandbox.appToken(1))
            #expect(isKintoneError(try await api.get("/k/v1/apps.json", auth: app1), 403, "GAIA_NO01"))
            #expect(isKintoneError(try await api.send("POST", "/k/v1/preview/app.json", auth: app1, body: ["name": "X"]), 403, "GAIA_NO01"))
            #expect(isKintoneError(try await api.get("/k/v1/space.json", [("id", "1")], auth: app1), 403, "GAIA_NO01"))
            // Even the domain-wide sandbox token cannot list or create apps.
            #expect(isKintoneError(try await api.get("/k/v1/apps.json", auth: .token(KintoneSandbox.defaultCredential)), 403, "GAIA_NO01"))
            #expect(try await api.get("/k/v1/records.json", [("app", "1")], auth: app1).status == 200)
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "2")], auth: app1), 400, "GAIA_IA02"))
            let both = KintoneAuth.token("\(KintoneSandbox.appToken(1)),\(KintoneSandbox.appToken(2))")
            #expect(try await api.get("/k/v1/records.json", [("app", "2")], auth: both).status == 200)
            let view = KintoneAuth.token(KintoneSandbox.appViewToken(1))
            #expect(try await api.get("/k/v1/records.json", [("app", "1")], auth: view).status == 200)
            #expect(isKintoneError(try await api.send("POST", "/k/v1/record.json", auth: view, body: ["app": 1, "record": [:]]), 403, "GAIA_NO01"))
            #expect(isKintoneError(try await api.get("/k/v1/app/acl.json", [("app", "1")], auth: view), 403, "GAIA_NO01"))
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "1")], auth: .token(KintoneSandbox.appToken(99))), 401, "GAIA_IA02"))
            let ten = (1...10).map { _ in KintoneSandbox.appToken(1) }.joined(separator: ",")
            #expect(try await api.get("/k/v1/records.json", [("app", "1")], auth: .token(ten)).status == 400)
            let nine = (1...9).map { _ in KintoneSandbox.appToken(1) }.joined(separator: ",")
            #expect(try await api.get("/k/v1/records.json", [("app", "1")], auth: .token(nine)).status == 200)
        }
    }

    @Test("on add, unknown field codes are ignored; an empty DATETIME reads \"\"; an administering token may set the creator")
    func addShapes() async throws {
        try await withKintone(kintoneOptions()) { _, api async throws in
            let added = try await api.send("POST", "/k/v1/record.json", body: ["app": 1, "record": [
                "Company": ["value": "Ignored Fields Ltd."], "No_Such_Field": ["value": "x"],
            ]])
            #expect(added.status == 200, "\(String(decoding: added.bytes, as: UTF8.self))")
            let order = try await api.send("POST", "/k/v1/record.json", body: ["app": 2, "record": ["Order_No": ["value": "EMPTY-DT-1"]]])
            let id = try #require(order["id"]?.stringValue)
            let stored = try await api.get("/k/v1/record.json", [("app", "2"), ("id", id)])
            #expect(stored["record"]?["Shipped_At"]?["value"] == "")
            // A token with add but no app-management permission may not set the creator (cybozu.dev "Add Records").
            let adder = KintoneAuth.token(KintoneSandbox.appToken(1))
            #expect(try await api.send("POST", "/k/v1/record.json", auth: adder, body: ["app": 1, "record": [
                "Company": ["value": "By admin token"], "Created_by": ["value": ["code": "sato"]],
            ]]).status == 200)
        }
    }

    @Test("apps list in the prefix's scope; guest-space apps answer only under /k/guest/{id}/v1/; apps.json limit ≤ 100")
    func appsAndGuestPrefix() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let apps = try await api.get("/k/v1/apps.json")
            #expect(apps.status == 200)
            #expect(apps["apps"]?.arrayValue?.compactMap { $0["appId"]?.stringValue } == ["1", "2", "3"])
            let page = try await api.get("/k/v1/apps.json", [("limit", "1"), ("offset", "1")])
            #expect(page["apps"]?.arrayValue?.first?["name"] == "Orders")
            let byIds = try await api.send("GET", "/k/v1/apps.json?ids[0]=3&ids[1]=1")
            #expect(byIds["apps"]?.arrayValue?.count == 2)
            #expect(isKintoneError(try await api.get("/k/v1/apps.json", [("limit", "101")]), 400, "CB_VA01"))

            let guestApps = try await api.get("/k/guest/2/v1/apps.json")
            #expect(guestApps["apps"]?.arrayValue?.compactMap { $0["appId"]?.stringValue } == ["4"])
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "4")]), 403, "CB_NO02"))
            let guestRecords = try await api.get("/k/guest/2/v1/records.json", [("app", "4")])
            #expect(guestRecords.status == 200)
            #expect(guestRecords["records"]?.arrayValue?.count == 2)
            #expect(isKintoneError(try await api.get("/k/guest/2/v1/records.json", [("app", "1")]), 403, "CB_NO02"))
            #expect(isKintoneError(try await api.get("/k/guest/1/v1/apps.json"), 403, "CB_NO02"))
            #expect(isKintoneError(try await api.get("/k/v1/app.json", [("id", "99")]), 404, "GAIA_AP01"))

            let guestSpace = try await api.get("/k/guest/2/v1/space.json", [("id", "2")])
            #expect(guestSpace["isGuest"] == true)
            #expect(isKintoneError(try await api.get("/k/v1/space.json", [("id", "2")]), 403, "CB_NO02"))
            let space = try await api.get("/k/v1/space.json", [("id", "1")])
            #expect(space["defaultThread"] == "1")
            #expect(space["attachedApps"]?.arrayValue?.first?["threadId"] == "2")
            let members = try await api.get("/k/v1/space/members.json", [("id", "1")])
            #expect(members["members"]?.arrayValue?.count == 4)
        }
    }

    @Test("every settings document answers live and preview with a revision")
    func settingsDocuments() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let paths = ["app/form/fields.json", "app/form/layout.json", "app/views.json", "app/settings.json", "app/status.json",
                         "app/customize.json", "app/notifications/general.json", "app/notifications/perRecord.json",
                         "app/notifications/reminder.json", "app/reports.json", "app/actions.json", "app/acl.json",
                         "record/acl.json", "field/acl.json", "app/adminNotes.json", "app/plugins.json"]
            for path in paths {
                for prefix in ["/k/v1/", "/k/v1/preview/"] {
                    let answer = try await api.get(prefix + path, [("app", "2")])
                    #expect(answer.status == 200, "\(prefix)\(path)")
                    #expect(answer["revision"]?.stringValue != nil, "\(prefix)\(path)")
                }
            }
            let fields = try await api.get("/k/v1/app/form/fields.json", [("app", "2")])
            let properties = try #require(fields["properties"]?.objectValue)
            #expect(properties["Customer"]?["lookup"]?["relatedApp"]?["app"] == "1")
            #expect(properties["Items"]?["fields"]?["Quantity"]?["type"] == "NUMBER")
            #expect(properties["Status"]?["enabled"] == true)
            let customers = try await api.get("/k/v1/app/form/fields.json", [("app", "1")])
            #expect(customers["properties"]?["Related_Orders"]?["type"] == "REFERENCE_TABLE")
            let status = try await api.get("/k/v1/app/status.json", [("app", "2")])
            #expect(status["enable"] == true)
            #expect(status["states"]?.objectValue?.count == 3)
        }
    }

    @Test("records carry every field type; queries seek by $id, filter by Updated_datetime, and enforce limit ≤ 500 and offset ≤ 10,000")
    func recordsAndQueries() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let record = try await api.get("/k/v1/record.json", [("app", "2"), ("id", "1")])
            let fields = try #require(record["record"]?.objectValue)
            #expect(fields["$id"]?["value"] == "1")
            #expect(fields["Record_number"]?["value"] == "ORD-1")
            #expect(fields["Items"]?["value"]?.arrayValue?.count == 2)
            #expect(fields["Items"]?["value"]?.arrayValue?.first?["id"]?.stringValue?.isEmpty == false)
            #expect(fields["Items"]?["value"]?.arrayValue?.first?["value"]?["Subtotal"]?["value"] == "59.97")
            #expect(fields["Total"]?["value"] == "309.97")
            #expect(fields["Attachments"]?["value"]?.arrayValue?.count == 2)
            #expect(fields["Owner"]?["value"]?.arrayValue?.first?["code"] == "sato")
            #expect(fields["Tags"]?["value"] == ["Gift", "Fragile"])
            #expect(fields["Status"]?["value"] == "Completed")
            #expect(fields["Order_Date"]?["type"] == "DATE")
            #expect(fields["Details"] == nil)
            #expect(isKintoneError(try await api.get("/k/v1/record.json", [("app", "2"), ("id", "99")]), 404, "GAIA_RE01"))

            let byDate = try await api.get("/k/v1/records.json", [("app", "2"), ("query", "Updated_datetime > \"2024-03-01T11:30:00Z\" order by $id asc"), ("totalCount", "true")])
            #expect(recordIds(byDate) == [1, 2, 3])
            let later = try await api.get("/k/v1/records.json", [("app", "2"), ("query", "Updated_datetime >= \"2024-03-01T12:00:00Z\" and $id < 3 order by $id asc")])
            #expect(recordIds(later) == [1, 2])
            let some = try await api.get("/k/v1/records.json", [("app", "2"), ("fields", "Order_No"), ("query", "Priority in (\"High\", \"Low\")")])
            #expect(recordIds(some).isEmpty)
            #expect(some["records"]?.arrayValue?.first?["Order_No"]?["value"] == "ORD-0003")
            #expect(try await api.get("/k/v1/records.json", [("app", "2")])["totalCount"] == .null)
        }

        try await withKintone(kintoneOptions(seed: .generated(cards: 1_234))) { _, api in
            var seen: [Int] = []
            var last = 0
            while true {
                let page = try await api.get("/k/v1/records.json", [("app", "1"), ("query", "$id > \(last) order by $id asc limit 500")])
                #expect(page.status == 200)
                let ids = recordIds(page)
                seen += ids
                guard let next = ids.last else { break }
                last = next
            }
            #expect(seen == Array(1...1_234))
            let total = try await api.get("/k/v1/records.json", [("app", "1"), ("query", "limit 1"), ("totalCount", "true")])
            #expect(total["totalCount"] == "1234")
            #expect(recordIds(total) == [1_234])
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "1"), ("query", "limit 501")]), 400, "CB_VA01"))
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "1"), ("query", "offset 10001")]), 400, "CB_VA01"))
            #expect(try await api.get("/k/v1/records.json", [("app", "1"), ("query", "limit 500 offset 10000")]).status == 200)
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "1"), ("query", "Nope = \"1\"")]), 400, "CB_VA01"))

            let viaOverride = try await api.send("POST", "/k/v1/records.json", body: ["app": 1, "query": "$id <= 3 order by $id asc"],
                                                 headers: [("X-HTTP-Method-Override", "GET")])
            #expect(recordIds(viaOverride) == [1, 2, 3])
        }
    }

    @Test("cursors: size ≤ 500, at most 10 open per domain, a cursor read to the end is deleted, DELETE frees one")
    func cursors() async throws {
        try await withKintone(kintoneOptions(seed: .generated(cards: 250))) { sandbox, api in
            #expect(isKintoneError(try await api.send("POST", "/k/v1/records/cursor.json", body: ["app": 1, "size": 501]), 400, "CB_VA01"))
            #expect(isKintoneError(try await api.send("POST", "/k/v1/records/cursor.json", body: ["app": 1, "query": "limit 5"]), 400, "CB_VA01"))
            var ids: [String] = []
            for _ in 0..<10 {
                let cursor = try await api.send("POST", "/k/v1/records/cursor.json",
                                                body: ["app": 1, "fields": ["$id", "Title"], "query": "order by $id asc", "size": 100])
                #expect(cursor["totalCount"] == "250")
                ids.append(try #require(cursor["id"]?.stringValue))
            }
            #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 10)
            let eleventh = try await api.send("POST", "/k/v1/records/cursor.json", body: ["app": 1])
            #expect(isKintoneError(eleventh, 400, "GAIA_TM12"))

            var read: [Int] = []
            var next = true
            while next {
                let page = try await api.get("/k/v1/records/cursor.json", [("id", ids[0])])
                #expect(page.status == 200)
                read += recordIds(page)
                next = page["next"]?.boolValue ?? false
            }
            #expect(read == Array(1...250))
            #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 9)
            #expect(isKintoneError(try await api.get("/k/v1/records/cursor.json", [("id", ids[0])]), 400, "GAIA_CN01"))
            #expect(try await api.send("DELETE", "/k/v1/records/cursor.json", body: ["id": .string(ids[1])]).status == 200)
            #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 8)
            #expect(try await api.send("POST", "/k/v1/records/cursor.json", body: ["app": 1]).status == 200)
        }
    }

    @Test("record writes: add with server-set fields, revision conflict GAIA_CO02, validation errors map, at most 100 per call")
    func recordWrites() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let added = try await api.send("POST", "/k/v1/record.json", body: ["app": 2, "record": [
                "Order_No": ["value": "ORD-0100"], "Customer": ["value": "Sakura Trading"],
                "Items": ["value": [["value": ["Product": ["value": "Bolt"], "Quantity": ["value": "4"], "Price": ["value": "2.5"]]]]],
                "Shipped_At": ["value": "2024-05-01T10:15:42+09:00"],
            ]])
            #expect(added.status == 200)
            let id = try #require(added["id"]?.stringValue)
            #expect(added["revision"] == "1")
            let stored = try #require(try await api.get("/k/v1/record.json", [("app", "2"), ("id", id)])["record"])
            #expect(stored["Customer_Country"]?["value"] == "Japan")
            #expect(stored["Priority"]?["value"] == "Normal")
            #expect(stored["Status"]?["value"] == "Not started")
            #expect(stored["Assignee"]?["value"]?.arrayValue?.first?["code"] == "sato")
            #expect(stored["Total"]?["value"] == "10")
            #expect(stored["Shipped_At"]?["value"] == "2024-05-01T01:15:00Z")
            #expect(stored["Created_by"]?["value"]?["code"] == "Administrator")
            #expect(stored["Items"]?["value"]?.arrayValue?.first?["id"]?.stringValue?.isEmpty == false)

            let updated = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "id": .string(id), "revision": 1,
                                                                               "record": ["Memo": ["value": "changed"]]])
            #expect(updated["revision"] == "2")
            let stale = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "id": .string(id), "revision": 1,
                                                                             "record": ["Memo": ["value": "stale"]]])
            #expect(isKintoneError(stale, 409, "GAIA_CO02"))
            let skip = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "id": .string(id), "revision": -1,
                                                                            "record": ["Memo": ["value": "forced"]]])
            #expect(skip["revision"] == "3")

            let invalid = try await api.send("POST", "/k/v1/records.json", body: ["app": 2, "records": [
                ["Order_No": ["value": "ORD-0101"]],
                ["Order_No": ["value": "ORD-0001"], "Items": ["value": [["value": ["Quantity": ["value": "many"]]]]]],
            ]])
            #expect(isKintoneError(invalid, 400, "CB_VA01"))
            let errors = try #require(invalid["errors"]?.objectValue)
            #expect(errors["records[1].Order_No.value"] != nil)
            #expect(errors["records[1].Items.value[0].value.Quantity.value"] != nil)
            #expect(try await api.get("/k/v1/records.json", [("app", "2"), ("query", "Order_No = \"ORD-0101\"")])["records"]?.arrayValue?.isEmpty == true)

            let tooMany: JSONValue = ["app": 1, "records": .array((0..<101).map { ["Company": ["value": .string("C\($0)")]] })]
            #expect(isKintoneError(try await api.send("POST", "/k/v1/records.json", body: tooMany), 400, "CB_VA01"))

            let status = try await api.send("PUT", "/k/v1/record/status.json", body: ["app": 2, "id": .string(id), "action": "Start"])
            #expect(status["revision"] == "5")
            let afterStatus = try await api.get("/k/v1/record.json", [("app", "2"), ("id", id)])
            #expect(afterStatus["record"]?["Status"]?["value"] == "In progress")
            #expect(afterStatus["record"]?["Assignee"]?["value"]?.arrayValue?.first?["code"] == "suzuki")
            let assign = try await api.send("PUT", "/k/v1/record/assignees.json", body: ["app": 2, "id": .string(id), "assignees": ["tanaka"]])
            #expect(assign["revision"] == "6")
            #expect(try await api.send("DELETE", "/k/v1/records.json", body: ["app": 2, "ids": [.string(id)], "revisions": [5]]).status == 409)
            #expect(try await api.send("DELETE", "/k/v1/records.json?app=2&ids[0]=\(id)").status == 200)
            #expect(try await api.get("/k/v1/record.json", [("app", "2"), ("id", id)]).status == 404)
        }
    }

    @Test("PUT with upsert and updateKey updates a match and inserts a miss; a non-unique key field is GAIA_IQ27")
    func upsertByUpdateKey() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let answer = try await api.send("PUT", "/k/v1/records.json", body: ["app": 2, "upsert": true, "records": [
                ["updateKey": ["field": "Order_No", "value": "ORD-0002"], "record": ["Memo": ["value": "upserted"]]],
                ["updateKey": ["field": "Order_No", "value": "ORD-0200"], "record": ["Memo": ["value": "new one"]]],
            ]])
            #expect(answer.status == 200)
            let results = answer["records"]?.arrayValue ?? []
            #expect(results.map { $0["operation"] } == ["UPDATE", "INSERT"])
            #expect(results.first?["id"] == "2")
            #expect(results.first?["revision"] == "2")
            let inserted = try #require(results.last?["id"]?.stringValue)
            let record = try await api.get("/k/v1/record.json", [("app", "2"), ("id", inserted)])
            #expect(record["record"]?["Order_No"]?["value"] == "ORD-0200")
            #expect(record["record"]?["Memo"]?["value"] == "new one")

            let plain = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "updateKey": ["field": "Order_No", "value": "ORD-0003"],
                                                                             "record": ["Memo": ["value": "by key"]]])
            #expect(plain["revision"] == "2")
            let notUnique = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "updateKey": ["field": "Memo", "value": "by key"],
                                                                                 "record": ["Memo": ["value": "x"]]])
            #expect(isKintoneError(notUnique, 400, "GAIA_IQ27"))
            let duplicate = try await api.send("POST", "/k/v1/record.json", body: ["app": 2, "record": ["Order_No": ["value": "ORD-0001"]]])
            #expect(isKintoneError(duplicate, 400, "CB_VA01"))
        }
    }

    @Test("bulkRequest runs in order and rolls back everything on a failure, marking the failing index; ≤ 20 requests")
    func bulkRequestRollback() async throws {
        try await withKintone(kintoneOptions()) { sandbox, api in
            let before = await sandbox.snapshot()
            let failing = try await api.send("POST", "/k/v1/bulkRequest.json", body: ["requests": [
                ["method": "POST", "api": "/k/v1/records.json", "payload": ["app": 1, "records": [["Company": ["value": "Bulk One"]]]]],
                ["method": "PUT", "api": "/k/v1/record.json", "payload": ["app": 1, "id": 1, "revision": 7, "record": ["Notes": ["value": "x"]]]],
                ["method": "DELETE", "api": "/k/v1/records.json", "payload": ["app": 1, "ids": [2]]],
            ]])
            #expect(failing.status == 400)
            // kintone/js-sdk src/error/KintoneRestAPIError.ts (commit 003b2770): a failed bulk answers only `results`,
            // an empty object for each request but the failing one, which has `{id, code, message, errors}`.
            #expect(failing["code"] == nil && failing["message"] == nil)
            #expect(failing.json?.objectValue?.keys.sorted() == ["results"])
            let results = try #require(failing["results"]?.arrayValue)
            #expect(results.count == 3)
            #expect(results[0] == .object(JSONObject()))
            #expect(results[1]["code"] == "GAIA_CO02")
            #expect(results[1]["message"]?.stringValue?.isEmpty == false)
            #expect(results[1]["id"]?.stringValue?.isEmpty == false)
            #expect(results[2] == .object(JSONObject()))
            #expect(await sandbox.snapshot() == before)

            let ok = try await api.send("POST", "/k/v1/bulkRequest.json", body: ["requests": [
                ["method": "POST", "api": "/k/v1/record.json", "payload": ["app": 1, "record": ["Company": ["value": "Bulk Two"]]]],
                ["method": "PUT", "api": "/k/v1/record.json", "payload": ["app": 1, "id": 1, "revision": 1, "record": ["Notes": ["value": "y"]]]],
                ["method": "POST", "api": "/k/guest/2/v1/record.json", "payload": ["app": 4, "record": ["Title": ["value": "via bulk"]]]],
                ["method": "PUT", "api": "/k/v1/record/status.json", "payload": ["app": 2, "id": 3, "action": "Start"]],
            ]])
            #expect(ok.status == 200)
            #expect(ok["results"]?.arrayValue?.map { $0["revision"] ?? $0["id"] ?? .null }.count == 4)
            #expect(ok["results"]?.arrayValue?.first?["id"] == "5")

            let notAllowed = try await api.send("POST", "/k/v1/bulkRequest.json", body: ["requests": [
                ["method": "GET", "api": "/k/v1/records.json", "payload": ["app": 1]],
            ]])
            #expect(notAllowed.status == 400 && notAllowed["results"]?.arrayValue?.first?["code"] == "CB_VA01")
            let tooMany: JSONValue = ["requests": .array((0..<21).map { _ in
                ["method": "POST", "api": "/k/v1/record.json", "payload": ["app": 1, "record": [:]]]
            })]
            #expect(try await api.send("POST", "/k/v1/bulkRequest.json", body: tooMany).status == 400)
        }
    }

    @Test("an uploaded file attached to a record downloads byte for byte under a new key; the upload key is not a download key")
    func fileRoundTrip() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let bytes: [UInt8] = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let upload = try await api.upload(bytes, name: "päckage.bin", contentType: "application/x-test")
            #expect(upload.status == 200)
            let uploadKey = try #require(upload["fileKey"]?.stringValue)
            #expect(isKintoneError(try await api.get("/k/v1/file.json", [("fileKey", uploadKey)]), 404, "GAIA_BL01"))

            let added = try await api.send("POST", "/k/v1/record.json", body: ["app": 2, "record": [
                "Order_No": ["value": "ORD-0300"], "Attachments": ["value": [["fileKey": .string(uploadKey)]]],
            ]])
            let id = try #require(added["id"]?.stringValue)
            let record = try await api.get("/k/v1/record.json", [("app", "2"), ("id", id)])
            let file = try #require(record["record"]?["Attachments"]?["value"]?.arrayValue?.first)
            #expect(file["name"] == "päckage.bin")
            #expect(file["size"] == "3000")
            #expect(file["contentType"] == "application/x-test")
            let downloadKey = try #require(file["fileKey"]?.stringValue)
            #expect(downloadKey != uploadKey)
            let download = try await api.get("/k/v1/file.json", [("fileKey", downloadKey)])
            #expect(download.status == 200)
            #expect(download.bytes == bytes)
            #expect(download.header("Content-Type") == "application/x-test")

            // Reusing the consumed upload key fails; keeping the existing download key on update keeps the file.
            let reuse = try await api.send("POST", "/k/v1/record.json", body: ["app": 2, "record": [
                "Order_No": ["value": "ORD-0301"], "Attachments": ["value": [["fileKey": .string(uploadKey)]]],
            ]])
            #expect(isKintoneError(reuse, 400, "CB_VA01"))
            let keep = try await api.send("PUT", "/k/v1/record.json", body: ["app": 2, "id": .string(id), "record": [
                "Attachments": ["value": [["fileKey": .string(downloadKey)]]],
            ]])
            #expect(keep.status == 200)
            #expect(try await api.get("/k/v1/file.json", [("fileKey", downloadKey)]).bytes == bytes)

            let seeded = try await api.get("/k/v1/record.json", [("app", "2"), ("id", "1")])
            let readme = try #require(seeded["record"]?["Attachments"]?["value"]?.arrayValue?.first?["fileKey"]?.stringValue)
            let text = try await api.get("/k/v1/file.json", [("fileKey", readme)])
            #expect(String(decoding: text.bytes, as: UTF8.self).hasPrefix("Order notes"))
        }
    }

    @Test("comments page ≤ 10 with older/newer; posting and deleting comments")
    func comments() async throws {
        try await withKintone(kintoneOptions()) { _, api in
            let first = try await api.get("/k/v1/record/comments.json", [("app", "2"), ("record", "3")])
            #expect(first["comments"]?.arrayValue?.count == 10)
            #expect(first["comments"]?.arrayValue?.first?["id"] == "12")
            #expect(first["older"] == true && first["newer"] == false)
            let second = try await api.get("/k/v1/record/comments.json", [("app", "2"), ("record", "3"), ("offset", "10")])
            #expect(second["comments"]?.arrayValue?.count == 2)
            #expect(second["older"] == false && second["newer"] == true)
            let ascending = try await api.get("/k/v1/record/comments.json", [("app", "2"), ("record", "3"), ("order", "asc"), ("limit", "3")])
            #expect(ascending["comments"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["1", "2", "3"])
            #expect(isKintoneError(try await api.get("/k/v1/record/comments.json", [("app", "2"), ("record", "3"), ("limit", "11")]), 400, "CB_VA01"))

            let posted = try await api.send("POST", "/k/v1/record/comment.json", body: ["app": 2, "record": 2, "comment": [
                "text": "Looks good", "mentions": [["code": "sato", "type": "USER"]],
            ]])
            #expect(posted["id"] == "2")
            let listed = try await api.get("/k/v1/record/comments.json", [("app", "2"), ("record", "2")])
            #expect(listed["comments"]?.arrayValue?.first?["mentions"]?.arrayValue?.first?["code"] == "sato")
            #expect(try await api.send("DELETE", "/k/v1/record/comment.json", body: ["app": 2, "record": 2, "comment": 2]).status == 200)
            #expect(try await api.send("DELETE", "/k/v1/record/comment.json", body: ["app": 2, "record": 2, "comment": 1]).status == 403)
        }
    }

    /// kintone/js-sdk packages/rest-api-client/src/client/AppClient.ts (commit 003b2770edee77b314a7b67cb7645836f543b426),
    /// the note on updateAppAcl / updateRecordAcl / updateFieldAcl: without `preview`, the call deploys every pending
    /// preview setting of the app to the live app. Admin notes and plug-ins have no live write at all.
    @Test("a live-path permission write deploys every pending preview setting; live admin-notes and plug-in writes do not exist")
    func livePermissionWritesDeployThePreview() async throws {
        try await withKintone(kintoneOptions()) { _, api async throws in
            let pending = try await api.send("PUT", "/k/v1/preview/app/settings.json", body: ["app": 1, "description": "half-written"])
            #expect(pending.status == 200)
            #expect(try await api.get("/k/v1/app/settings.json", [("app", "1")])["description"] != "half-written")
            let rights = try await api.get("/k/v1/app/acl.json", [("app", "1")])["rights"] ?? []
            #expect(try await api.send("PUT", "/k/v1/app/acl.json", body: ["app": 1, "rights": rights]).status == 200)
            // The pending description went live with the permissions, without any deploy request.
            #expect(try await api.get("/k/v1/app/settings.json", [("app", "1")])["description"] == "half-written")
            #expect(try await api.send("PUT", "/k/v1/app/adminNotes.json", body: ["app": 1, "content": "x"]).status != 200)
            #expect(try await api.send("POST", "/k/v1/app/plugins.json", body: ["app": 1, "ids": []]).status != 200)
        }
    }

    @Test("a preview app gets fields and settings, stays unpublished until deploy, which polls PROCESSING then SUCCESS")
    func previewAndDeploy() async throws {
        // Deploys run on a clock that stands still: a deploy finishes when polled, not because a loaded machine let
        // two seconds pass between two requests.
        var options = kintoneOptions(seed: .empty)
        options.clock = SandboxManualClock()
        try await withKintone(options) { _, api in
            let created = try await api.send("POST", "/k/v1/preview/app.json", body: ["name": "Imported"])
            let app = try #require(created["app"]?.stringValue)
            #expect(try await api.get("/k/v1/app.json", [("id", app)]).status == 404)
            let fields = try await api.send("POST", "/k/v1/preview/app/form/fields.json", body: ["app": .string(app), "properties": [
                "Title": ["type": "SINGLE_LINE_TEXT", "label": "Title", "unique": true],
                "Size": ["type": "NUMBER"],
            ]])
            #expect(fields.status == 200)
            let views = try await api.send("PUT", "/k/v1/preview/app/views.json", body: ["app": .string(app), "views": [
                "Everything": ["type": "LIST", "index": 0, "fields": ["Title"]],
            ]])
            #expect(views["views"]?["Everything"]?["id"]?.stringValue?.isEmpty == false)
            let stale = try await api.send("PUT", "/k/v1/preview/app/settings.json", body: ["app": .string(app), "revision": 1, "name": "X"])
            #expect(isKintoneError(stale, 409, "GAIA_CO02"))
            #expect(try await api.send("PUT", "/k/v1/preview/app/settings.json", body: ["app": .string(app), "description": "from a test"]).status == 200)
            #expect(try await api.send("PUT", "/k/v1/preview/app/status.json", body: ["app": .string(app), "enable": true, "states": [
                "Open": ["name": "Open", "index": "0", "assignee": ["type": "ONE", "entities": []]],
                "Done": ["name": "Done", "index": "1", "assignee": ["type": "ONE", "entities": []]],
            ], "actions": [["name": "Finish", "from": "Open", "to": "Done"]]]).status == 200)
            #expect(try await api.send("PUT", "/k/v1/preview/app/acl.json", body: ["app": .string(app), "rights": []]).status == 200)

            #expect(try await api.send("POST", "/k/v1/preview/app/deploy.json", body: ["apps": [["app": .string(app)]]]).status == 200)
            // PROCESSING until the next poll (or one second); the app is not live while it is processing.
            var statuses: [String] = []
            while statuses.last != "SUCCESS" && statuses.count < 5 {
                let poll = try await api.get("/k/v1/preview/app/deploy.json", [("apps[0]", app)])
                let status = poll["apps"]?.arrayValue?.first?["status"]?.stringValue ?? "?"
                if status == "PROCESSING" { #expect(try await api.get("/k/v1/app.json", [("id", app)]).status == 404) }
                statuses.append(status)
            }
            #expect(statuses.last == "SUCCESS")
            #expect(statuses.count <= 2)

            let live = try await api.get("/k/v1/app.json", [("id", app)])
            #expect(live["description"] == "from a test")
            #expect(try await api.get("/k/v1/app/form/fields.json", [("app", app)])["properties"]?["Size"]?["type"] == "NUMBER")
            #expect(try await api.get("/k/v1/app/acl.json", [("app", app)])["rights"] == [])
            let record = try await api.send("POST", "/k/v1/record.json", body: ["app": .string(app), "record": [
                "Title": ["value": "one"], "Size": ["value": "12"],
                "Created_by": ["value": ["code": "sato"]], "Created_datetime": ["value": "2020-01-02T03:04:05Z"],
            ]])
            let id = try #require(record["id"]?.stringValue)
            let stored = try await api.get("/k/v1/record.json", [("app", app), ("id", id)])
            #expect(stored["record"]?["Created_by"]?["value"]?["code"] == "sato")
            #expect(stored["record"]?["Created_datetime"]?["value"] == "2020-01-02T03:04:00Z")
            #expect(stored["record"]?["Status"]?["value"] == "Open")
            let bad = try await api.send("POST", "/k/v1/record.json", body: ["app": .string(app), "record": ["Size": ["value": "twelve"]]])
            #expect(bad["errors"]?["record.Size.value"] != nil)
        }
    }

    @Test("more requests in flight than the concurrency limit get 429 GAIA_TO04 with X-ConcurrencyLimit headers")
    func concurrencyLimit() async throws {
        var options = kintoneOptions()
        options.rateLimit = true
        options.concurrencyLimit = 1
        try await withKintone(options) { sandbox, api in
            let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
            let body = (["app": 1, "record": ["Company": ["value": "Slow Upload Ltd."]]] as JSONValue).serialized()
            var slow = api.request("POST", "/k/v1/record.json")
            slow.headers.add(name: "Content-Type", value: "application/json")
            slow.body = .stream(chunks, length: .known(Int64(body.count)))
            feed.yield(ByteBuffer(bytes: body.prefix(10)))
            let inFlight = Task { try await api.execute(slow) }
            while await sandbox.stats().totalRequests < 1 { try await Task.sleep(for: .milliseconds(5)) }

            let refused = try await api.get("/k/v1/apps.json")
            #expect(isKintoneError(refused, 429, "GAIA_TO04"))
            #expect(refused.header("X-ConcurrencyLimit-Limit") == "1")
            #expect(refused.header("X-ConcurrencyLimit-Running") == "1")

            feed.yield(ByteBuffer(bytes: body.dropFirst(10)))
            feed.finish()
            let done = try await inFlight.value
            #expect(done.status == 200)
            #expect(done.header("X-ConcurrencyLimit-Limit") == "1")
            let after = try await api.get("/k/v1/apps.json")
            #expect(after.status == 200)
            #expect(await sandbox.stats().concurrencyLimited == 1)
        }
    }

    @Test("at fault rate 1.0 every request is faulted with Kintone-shaped errors and no write takes effect")
    func faults() async throws {
        try await withKintone(kintoneOptions(faultRate: 1.0)) { sandbox, api in
            let before = await sandbox.snapshot()
            var statuses: [Int] = []
            for n in 0..<30 {
                let request = n % 2 == 0
                    ? api.request("POST", "/k/v1/record.json", body: ["app": 1, "record": ["Company": ["value": .string("Fault \(n)")]]])
                    : api.request("GET", "/k/v1/records.json?app=1")
                do {
                    let answer = try await api.execute(request)
                    statuses.append(answer.status)
                    if answer.status >= 400 { #expect(answer.code != nil) }
                } catch {
                    statuses.append(0)
                }
            }
            let stats = await sandbox.stats()
            #expect(stats.faultsInjected == 30)
            #expect(statuses.filter { $0 == 200 }.count <= (stats.faultsByKind[.truncatedBody] ?? 0))
            #expect(await sandbox.snapshot() == before)
        }
    }

    @Test("the same seed gives the same state; unknown routes answer a Kintone error")
    func deterministicSeeds() async throws {
        let a = try await withKintone(kintoneOptions()) { sandbox, _ in await sandbox.snapshot() }
        let b = try await withKintone(kintoneOptions()) { sandbox, _ in await sandbox.snapshot() }
        #expect(a == b)
        #expect(a["apps"]?.arrayValue?.count == 4)
        #expect(!a.serializedString().contains(KintoneSandbox.defaultLogin.password))
        let big = try await withKintone(kintoneOptions(seed: .generated(cards: 2_000))) { sandbox, api -> JSONValue in
            let unknown = try await api.get("/k/v1/nothing.json")
            #expect(isKintoneError(unknown, 404, "CB_NF01"))
            return await sandbox.snapshot()
        }
        #expect(big["apps"]?.arrayValue?.first?["records"]?.arrayValue?.count == 2_000)
    }

    @Test("the sandbox-only stand-in for Delete App: the app goes with its records and files, other apps keep pointing at its id; unknown app 404, no sign-in 401")
    func deleteAppStandIn() async throws {
        try await withKintone(kintoneOptions()) { sandbox, api in
            let record = try await api.get("/k/v1/record.json", [("app", "2"), ("id", "1")])
            let fileKey = try #require(record["record"]?["Attachments"]?["value"]?.arrayValue?.first?["fileKey"]?.stringValue)
            #expect(try await api.get("/k/v1/file.json", [("fileKey", fileKey)]).status == 200)
            #expect(isKintoneError(try await api.send("POST", KintoneSandbox.appDeleteAppPath, auth: .none, body: ["id": "2"]), 401, "CB_AU01"))

            let mark = await sandbox.writeMark()
            #expect(try await api.send("POST", KintoneSandbox.appDeleteAppPath, body: ["id": "2"]).status == 200)
            let writes = await sandbox.writes(since: mark)
            #expect(writes.count == 1 && writes.first?.changes.contains { $0.kind == "app" && $0.id == "2" && $0.action == .deleted } == true, "\(writes)")
            #expect(isKintoneError(try await api.get("/k/v1/app.json", [("id", "2")]), 404, "GAIA_AP01"))
            #expect(isKintoneError(try await api.get("/k/v1/records.json", [("app", "2")]), 404, "GAIA_AP01"))
            #expect(isKintoneError(try await api.get("/k/v1/file.json", [("fileKey", fileKey)]), 404, "GAIA_BL01"))
            let apps = try await api.get("/k/v1/apps.json")
            #expect(!(apps["apps"]?.arrayValue ?? []).contains { $0["appId"]?.stringValue == "2" } && apps["apps"]?.arrayValue?.isEmpty == false)
            // App 1's related-records field still names app 2, as Kintone leaves it.
            let fields = try await api.get("/k/v1/app/form/fields.json", [("app", "1")])
            #expect(fields["properties"]?["Related_Orders"]?["referenceTable"]?["relatedApp"]?["app"]?.stringValue == "2")
            #expect(isKintoneError(try await api.send("POST", KintoneSandbox.appDeleteAppPath, body: ["id": "2"]), 404, "GAIA_AP01"))
        }
    }
}
