import Foundation
import KitbagCore
import KitbagSandboxCore

/// Builds the starting state of a Kona sandbox. Every seed is deterministic: fixed ids and timestamps.
enum KonaSeeder {
    static let owner = 501
    static let colleague = 502
    static let chloe = 503
    static let outsider = 504
    static let accountID = 11
    /// 2024-03-01 09:00:00 UTC.
    static let base = SandboxTime.millis(year: 2024, month: 3, day: 1, hour: 9)

    static func state(options: SandboxOptions) -> KonaState {
        var s = KonaState()
        s.tokenLifetime = options.tokenLifetime ?? KonaSandbox.defaultTokenLifetime
        s.behaviour = options.kona
        s.clientID = options.oauthClientID ?? KonaSandbox.defaultClientID
        s.clientSecret = options.oauthClientSecret ?? KonaSandbox.defaultClientSecret
        let expires = s.clock() + s.tokenLifetime
        let tokens = options.credentials
        let refresh = options.refreshTokens
        s.account = JSONObject([("id", .int(accountID)), ("name", "Lovelace Labs"), ("href", .null), ("account_type", 2)])
        addUser(&s, owner, "Ada Lovelace", "ada@example.com")
        s.accessTokens[tokens.first ?? KonaSandbox.defaultCredential] = .init(userID: owner, expiresAt: expires)
        s.refreshTokens[refresh.first ?? KonaSandbox.defaultRefreshToken] = owner
        guard options.seed != .empty else { return s }

        addUser(&s, colleague, "Ben Okafor", "ben@example.com")
        addUser(&s, chloe, "Chloé Martin", "chloe@example.com")
        addUser(&s, outsider, "Dev Patel", "dev@example.com")
        s.accessTokens[tokens.count > 1 ? tokens[1] : KonaSandbox.defaultColleagueToken] = .init(userID: colleague, expiresAt: expires)
        s.refreshTokens[refresh.count > 1 ? refresh[1] : KonaSandbox.defaultColleagueRefreshToken] = colleague

        switch options.seed {
        case .empty: break
        case .demo: demo(&s)
        case .generated(let cards): generated(&s, tasks: cards, spaces: options.kona.generatedSpaces)
        }
        return s
    }

    static func minutes(_ n: Int) -> Int64 { base + Int64(n) * 60_000 }
    static func ms(_ v: Int64) -> JSONValue { .number(String(v)) }

    static func addUser(_ s: inout KonaState, _ id: Int, _ name: String, _ email: String) {
        s.users[id] = JSONObject([
            ("id", .int(id)), ("email", .string(email)), ("name", .string(name)),
            ("picture_thumb", .string("/kona/images/avatars/\(id).png")), ("updated_at", ms(minutes(-60 * 24 + id))),
            ("href", .null),
        ])
    }

    static func addSpace(
        _ s: inout KonaState, _ id: Int, _ name: String, details: String?, welcome: String? = nil, category: Int = 1,
        at minute: Int, participants: [(user: Int, role: Int, status: Int)], hiddenFor: Set<Int> = []
    ) {
        let object = JSONObject([
            ("id", .int(id)), ("name", .string(name)), ("href", .null), ("account_id", .int(accountID)),
            ("details", details.map(JSONValue.string) ?? .null), ("welcome_message", welcome.map(JSONValue.string) ?? .null),
            ("updated_at", ms(minutes(minute + 30))), ("picture_thumb", "/kona/images/defaultproject.png"),
            ("category", .int(category)), ("space_type", 0), ("template", false), ("published", false),
        ])
        var record = KonaState.SpaceRecord(object: object, createdAt: minutes(minute))
        record.participants = participants.map {
            JSONObject([("user_id", .int($0.user)), ("role", .int($0.role)), ("status", .int($0.status)), ("updated_at", ms(minutes(minute)))])
        }
        record.hiddenFor = hiddenFor
        s.spaces[id] = record
        s.nextID["space"] = max(s.nextID["space"] ?? 0, id + 1)
    }

    static func addItem(
        _ s: inout KonaState, _ resource: KonaState.Resource, _ id: Int, at minute: Int, _ fields: [(String, JSONValue)]
    ) {
        var item = JSONObject(KonaFields.template(resource))
        item["id"] = .int(id)
        item["created_at"] = ms(minutes(minute))
        if resource != .comments { item["updated_at"] = ms(minutes(minute + 5)) }
        for (k, v) in fields { item[k] = v }
        s.items[resource, default: [:]][id] = item
        s.nextID[resource.rawValue] = max(s.nextID[resource.rawValue] ?? 0, id + 1)
    }

    static func people(_ list: [(Int, Int)]) -> JSONValue {
        .array(list.map { ["user_id": .int($0.0), "role": .int($0.1)] })
    }

    static func day(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0) -> JSONValue {
        ms(SandboxTime.millis(year: y, month: m, day: d, hour: h, minute: mi))
    }

    /// A small team account: five spaces (one hidden, one the owner is not in), conversations (one the owner may
    /// not see), tasks with due dates, assignees and done flags, calendar events, and comments on each kind.
    static func demo(_ s: inout KonaState) {
        addSpace(
            &s, 1001, "Product Launch 🚀", details: "Everything for the spring launch.",
            welcome: "Start a conversation per workstream.", at: 0,
            participants: [(owner, 1, 1), (colleague, 2, 1), (chloe, 2, 0)])
        addSpace(&s, 1002, "Hiring", details: "Open roles & interviews", at: 60, participants: [(owner, 1, 1), (colleague, 2, 1)])
        addSpace(&s, 1003, "Just for Me", details: "Reminders that fit nowhere else.", category: 0, at: 120, participants: [(owner, 1, 1)])
        addSpace(
            &s, 1004, "Old Projects", details: "Finished work, kept for reference.", at: 180,
            participants: [(owner, 1, 1), (colleague, 2, 1)], hiddenFor: [owner])
        addSpace(&s, 1005, "Board Room", details: "Board members only.", at: 240, participants: [(outsider, 1, 1)])

        addItem(&s, .conversations, 2001, at: 10, [
            ("name", "Launch plan"), ("details", "Dates, owners and risks for the launch."), ("space_id", 1001),
            ("creator_id", .int(owner)), ("participants", people([(owner, 1), (colleague, 1)])),
        ])
        addItem(&s, .conversations, 2002, at: 20, [
            ("name", "Press kit"), ("space_id", 1001), ("creator_id", .int(colleague)),
            ("participants", people([(colleague, 1), (owner, 2)])), ("stakeholder", 2),
            ("external_object", ["id": "CRM-4471", "name": "Press contacts", "url": "https://crm.example.com/lists/4471"]),
        ])
        addItem(&s, .conversations, 2003, at: 25, [
            ("name", "Ben & Chloé: surprise party"), ("space_id", 1001), ("creator_id", .int(colleague)),
            ("participants", people([(colleague, 1), (chloe, 1)])), ("stakeholder", 0),
        ])
        addItem(&s, .conversations, 2004, at: 70, [
            ("name", "Interview loop"), ("details", "Who interviews whom, and when."), ("space_id", 1002),
            ("creator_id", .int(owner)), ("participants", people([(owner, 1)])), ("stakeholder", 2),
        ])
        addItem(&s, .conversations, 2005, at: 190, [
            ("name", "Archive notes"), ("space_id", 1004), ("creator_id", .int(owner)), ("participants", people([(owner, 1)])),
        ])
        addItem(&s, .conversations, 2006, at: 250, [
            ("name", "Quarterly numbers"), ("space_id", 1005), ("creator_id", .int(outsider)), ("participants", people([(outsider, 1)])),
        ])

        addItem(&s, .tasks, 3001, at: 30, [
            ("name", "Write release notes"), ("details", "Cover the new sync engine and the price change."),
            ("end_at", day(2024, 3, 15, 17)), ("space_id", 1001), ("creator_id", .int(owner)),
            ("participants", people([(owner, 1), (colleague, 2)])),
        ])
        addItem(&s, .tasks, 3002, at: 35, [
            ("name", "Book the venue"), ("location", "Riverside Hall"), ("end_at", day(2024, 3, 8, 12)), ("space_id", 1001),
            ("creator_id", .int(colleague)), ("status", 2), ("group_complete", true), ("completed_at", ms(minutes(2 * 24 * 60))),
            ("completed_by_id", .int(colleague)), ("participants", people([(colleague, 1)])),
        ])
        addItem(&s, .tasks, 3003, at: 40, [
            ("name", "Order swag"), ("space_id", 1001), ("creator_id", .int(owner)), ("status", 0),
            ("participants", people([(owner, 1)])),
        ])
        addItem(&s, .tasks, 3004, at: 80, [
            ("name", "Post the job ad"), ("details", "Backend engineer, remote."), ("end_at", day(2024, 3, 20, 9)),
            ("space_id", 1002), ("creator_id", .int(owner)), ("participants", people([(owner, 1), (colleague, 1)])),
        ])
        addItem(&s, .tasks, 3005, at: 130, [
            ("name", "Dentist appointment"), ("end_at", day(2024, 3, 12, 8, 30)), ("space_id", 1003), ("creator_id", .int(owner)),
            ("visibility", 1), ("participants", people([(owner, 1)])),
        ])
        addItem(&s, .tasks, 3006, at: 200, [
            ("name", "Close the old repository"), ("space_id", 1004), ("creator_id", .int(owner)), ("status", 2),
            ("group_complete", true), ("completed_at", ms(minutes(210))), ("completed_by_id", .int(owner)),
        ])
        addItem(&s, .tasks, 3007, at: 260, [
            ("name", "Prepare board deck"), ("space_id", 1005), ("creator_id", .int(outsider)),
        ])

        addItem(&s, .calendarEvents, 4001, at: 45, [
            ("name", "Launch day"), ("all_day", true), ("start_at", day(2024, 4, 2)), ("end_at", day(2024, 4, 2, 23, 59)),
            ("space_id", 1001), ("creator_id", .int(owner)), ("participants", people([(owner, 1), (colleague, 1)])),
        ])
        addItem(&s, .calendarEvents, 4002, at: 50, [
            ("name", "Launch rehearsal"), ("location", "Room 4"), ("details", "Full run-through with demo."),
            ("start_at", day(2024, 3, 28, 14)), ("end_at", day(2024, 3, 28, 16)), ("space_id", 1001),
            ("creator_id", .int(colleague)), ("participants", people([(colleague, 1), (owner, 2)])),
        ])
        addItem(&s, .calendarEvents, 4003, at: 90, [
            ("name", "Interview: Grace H."), ("start_at", day(2024, 3, 21, 10)), ("end_at", day(2024, 3, 21, 11)),
            ("space_id", 1002), ("creator_id", .int(owner)), ("participants", people([(owner, 1)])),
        ])
        addItem(&s, .calendarEvents, 4004, at: 140, [
            ("name", "Yoga"), ("start_at", day(2024, 3, 6, 18)), ("end_at", day(2024, 3, 6, 19)), ("space_id", 1003),
            ("creator_id", .int(owner)), ("period", 2), ("frequency", 1), ("sel_days", 3),
            ("series_end_at", day(2024, 6, 30)),
        ])

        s.attachments[6001] = JSONObject([
            ("id", 6001), ("name", "launch-deck.pdf"), ("space_id", 1001), ("resource_type", "task"), ("resource_id", 3001),
        ])

        let comments: [(Int, Int, String, Int, String, Int)] = [
            (5001, owner, "task", 3001, "Draft is in the shared folder.", 0),
            (5002, colleague, "task", 3001, "Reviewed — two typos fixed.", 1),
            (5003, owner, "conversation", 2001, "Kick-off on Monday?", 0),
            (5004, colleague, "conversation", 2001, "Monday works. <br>I'll book the room.", 0),
            (5005, owner, "calendar_event", 4001, "Doors open at 9.", 1),
            (5006, colleague, "attachment", 6001, "Slide 4 needs the new logo.", 0),
            (5007, owner, "task", 3004, "Posted on two boards.", 0),
            (5008, colleague, "conversation", 2003, "Don't tell Ada!", 0),
            (5009, owner, "calendar_event", 4003, "Grace confirmed.", 0),
            (5010, owner, "conversation", 2005, "Everything moved to the new wiki.", 0),
        ]
        for (n, c) in comments.enumerated() {
            addItem(&s, .comments, c.0, at: 300 + n * 7, [
                ("creator_id", .int(c.1)), ("content", .string(c.4)), ("priority", .int(c.5)),
                ("resource_type", .string(c.2)), ("resource_id", .int(c.3)),
            ])
        }
    }

    /// `tasks` tasks spread over ⌈tasks/100⌉ spaces owned by the owner, with due dates, assignees and done flags.
    static func generated(_ s: inout KonaState, tasks: Int, spaces: Int? = nil) {
        let spaceCount = spaces.map { max(1, $0) } ?? (tasks + 99) / 100
        // Tasks fill the spaces in order, the same number in each (the last may hold fewer): 100 unless the number
        // of spaces is given.
        let perSpace = spaces == nil ? 100 : max(1, (tasks + spaceCount - 1) / spaceCount)
        for k in 0..<spaceCount {
            addSpace(
                &s, 1001 + k, "Generated space \(k + 1)", details: k % 2 == 0 ? "Volume test space \(k + 1)" : nil,
                at: k, participants: [(owner, 1, 1), (colleague, 2, 1)], hiddenFor: k % 10 == 9 ? [owner] : [])
        }
        for i in 0..<tasks {
            let space = 1001 + i / perSpace
            var fields: [(String, JSONValue)] = [
                ("name", .string("Task \(i + 1)")), ("space_id", .int(space)), ("creator_id", .int(owner)),
                ("participants", people(i % 3 == 0 ? [(owner, 1), (colleague, 2)] : [(owner, 1)])),
            ]
            if i % 4 == 0 { fields.append(("details", .string("Details of task \(i + 1).\nSecond line."))) }
            if i % 2 == 0 { fields.append(("end_at", ms(minutes(24 * 60 + i * 15)))) }
            if i % 5 == 0 {
                fields += [
                    ("status", 2), ("group_complete", true), ("completed_at", ms(minutes(i + 600))),
                    ("completed_by_id", .int(owner)),
                ]
            }
            addItem(&s, .tasks, 3001 + i, at: i, fields)
        }
    }
}
