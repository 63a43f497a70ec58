import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// The REST API under `/developers/rest/v1/` (seeds/kitemaker-api.txt).
extension KitemakerState {
    static let maxRecentCount = 50
    static let sizes: Set<String> = ["small", "medium", "large"]

    // MARK: - JSON shapes

    func actorJSON(_ id: String) -> JSONValue {
        guard let a = actor(id) else { return .null }
        return ["id": .string(a.id), "name": .string(a.name), "type": .string(a.type)]
    }

    func workItemJSON(_ w: WorkItem) -> JSONValue {
        let space = spaces[spaceIndex(w.spaceID)!]
        let statusName = space.statuses.first { $0.id == w.statusID }?.name ?? ""
        return .object(JSONObject([
            ("id", .string(w.id)),
            ("actor", actorJSON(w.actorID)),
            ("number", .int(w.number)),
            ("title", .string(w.title)),
            ("description", .string(w.description)),
            ("status", ["id": .string(w.statusID), "name": .string(statusName)]),
            ("space", ["id": .string(space.id), "name": .string(space.name)]),
            ("labels", .array(w.labelIDs.compactMap(label).map(labelJSON))),
            ("effort", Self.restSize(w.effort)),
            ("impact", Self.restSize(w.impact)),
            ("createdAt", .string(w.createdAt)),
            ("updatedAt", .string(w.updatedAt)),
        ]))
    }

    func labelJSON(_ l: Label) -> JSONValue {
        ["id": .string(l.id), "name": .string(l.name), "color": .string(l.color)]
    }

    func commentJSON(_ c: Comment) -> JSONValue {
        let w = workItems[workItemIndex(c.workItemID)!]
        let space = spaces[spaceIndex(w.spaceID)!]
        return .object(JSONObject([
            ("id", .string(c.id)),
            ("body", .string(c.body)),
            ("actor", actorJSON(c.actorID)),
            ("entity", .object(JSONObject([
                ("id", .string(w.id)), ("number", .int(w.number)), ("space", .string(space.key)),
                ("spaceId", .string(space.id)), ("title", .string(w.title)),
            ]))),
            ("reply", .bool(c.reply)),
            ("threadId", .string(c.threadID)),
            ("createdAt", .string(c.createdAt)),
            ("updatedAt", .string(c.updatedAt)),
        ]))
    }

    func initiativeJSON(_ i: Initiative) -> JSONValue {
        .object(JSONObject([
            ("id", .string(i.id)),
            ("number", .int(i.number)),
            ("title", .string(i.title)),
            ("description", .string(i.description)),
            ("actor", actorJSON(i.actorID)),
            ("spaces", .array(i.spaceIDs.compactMap(spaceIndex).map {
                ["id": .string(spaces[$0].id), "name": .string(spaces[$0].name)]
            })),
            ("labels", .array(i.labelIDs.compactMap(label).map(labelJSON))),
            ("effort", Self.restSize(i.effort)),
            ("impact", Self.restSize(i.impact)),
            ("archivedAt", i.archivedAt.map(JSONValue.string) ?? .null),
            ("updatedAt", .string(i.updatedAt)),
            ("createdAt", .string(i.createdAt)),
        ]))
    }

    func personJSON(_ id: String?) -> JSONValue {
        guard let id, let p = persons.first(where: { $0.id == id }) else { return .null }
        return ["id": .string(p.id), "name": .string(p.name), "email": .string(p.email)]
    }

    func companyJSON(_ id: String?) -> JSONValue {
        guard let id, let c = companies.first(where: { $0.id == id }) else { return .null }
        return ["id": .string(c.id), "name": .string(c.name)]
    }

    func feedbackJSON(_ f: Feedback) -> JSONValue {
        .object(JSONObject([
            ("id", .string(f.id)),
            ("organizationId", .string(organizationID)),
            ("number", .int(f.number)),
            ("title", .string(f.title)),
            ("person", personJSON(f.personID)),
            ("company", companyJSON(f.companyID)),
            ("contents", .string(f.contents)),
            ("insights", .array(f.insights.map { insight in
                .object(JSONObject([
                    ("id", .string(insight.id)), ("feedbackId", .string(f.id)),
                    ("createdAt", .string(insight.createdAt)), ("updatedAt", .string(insight.updatedAt)),
                    ("actor", actorJSON(insight.actorID)), ("contents", .string(insight.contents)),
                    ("entityIds", .array(insight.entityIDs.map(JSONValue.string))),
                ]))
            })),
            ("processed", .bool(f.processed)),
            ("processedAt", f.processedAt.map(JSONValue.string) ?? .null),
            ("createdAt", .string(f.createdAt)),
            ("updatedAt", .string(f.updatedAt)),
        ]))
    }

    static func listing(_ pairs: [(String, String)]) -> SandboxReply {
        SandboxReply(.array(pairs.map { ["id": .string($0.0), "label": .string($0.1)] }))
    }

    // MARK: - Helpers

    static func string(_ body: JSONValue, _ key: String) -> String? {
        body[key]?.stringValue
    }

    /// `labelIds` or `labelIds[]`, as an array of strings.
    static func ids(_ body: JSONValue, _ key: String) throws(SandboxHTTPError) -> [String]? {
        guard let value = body[key] ?? body["\(key)[]"], !value.isNull else { return nil }
        if let s = value.stringValue { return [s] }
        guard let array = value.arrayValue else { throw SandboxHTTPError(.badRequest, "\(key) must be an array of ids") }
        var out: [String] = []
        for v in array {
            guard let s = v.stringValue else { throw SandboxHTTPError(.badRequest, "\(key) must be an array of ids") }
            out.append(s)
        }
        return out
    }

    static func size(_ body: JSONValue, _ key: String) throws(SandboxHTTPError) -> String?? {
        guard let value = body[key] else { return .none }
        if value.isNull { return .some(nil) }
        guard let s = value.stringValue?.lowercased(), sizes.contains(s) else {
            throw SandboxHTTPError(.badRequest, "\(key) must be one of 'small', 'medium', 'large'")
        }
        return .some(s.uppercased())
    }

    static func placement(_ body: JSONValue) throws(SandboxHTTPError) -> String? {
        guard let value = body["placement"], !value.isNull else { return nil }
        guard let s = value.stringValue, s == "top" || s == "bottom" else {
            throw SandboxHTTPError(.badRequest, "placement must be one of 'top', 'bottom'")
        }
        return s
    }

    func requireSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> Space {
        guard let id = request.query["spaceId"], !id.isEmpty else {
            throw SandboxHTTPError(.badRequest, "spaceId is required")
        }
        guard let i = spaceIndex(id) else { throw SandboxHTTPError(.notFound, "The specified space does not exist") }
        return spaces[i]
    }

    func recentCount(_ request: SandboxRequest) throws(SandboxHTTPError) -> Int {
        guard let raw = request.query["count"] else { return 10 }
        guard let n = Int(raw), n >= 1 else { throw SandboxHTTPError(.badRequest, "count must be a positive number") }
        guard n <= Self.maxRecentCount else {
            throw SandboxHTTPError(.badRequest, "count must be at most \(Self.maxRecentCount)")
        }
        return n
    }

    func labelsChecked(_ ids: [String], space: String) throws(SandboxHTTPError) -> [String] {
        var out: [String] = []
        for id in ids where !out.contains(id) {
            guard let l = label(id) else { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
            guard l.spaceID == space else {
                throw SandboxHTTPError(.badRequest, "label \(id) belongs to another space")
            }
            out.append(id)
        }
        return out
    }

    // MARK: - Routes

    func getOrganization(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        return SandboxReply(.object(JSONObject([
            ("id", .string(organizationID)), ("name", .string(organizationName)),
            ("createdAt", .string(organizationCreatedAt)), ("updatedAt", .string(organizationUpdatedAt)),
        ])))
    }

    func getWorkItem(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        guard let key = request.query["spaceKey"], let number = request.query["workItemNumber"].flatMap({ Int($0) })
        else {
            throw SandboxHTTPError(.badRequest, "spaceKey and workItemNumber are required")
        }
        guard let space = spaces.first(where: { $0.key.lowercased() == key.lowercased() }),
            let item = workItems.first(where: { $0.spaceID == space.id && $0.number == number })
        else {
            throw SandboxHTTPError(.notFound, "Could not find the specified work item")
        }
        return SandboxReply(workItemJSON(item))
    }

    mutating func postWorkItem(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let actor = try restActor(request)
        let body = try request.json()
        guard let title = Self.string(body, "title"), !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        guard let statusID = Self.string(body, "statusId") else { throw SandboxHTTPError(.badRequest, "statusId is required") }
        guard let (space, _) = status(statusID) else { throw SandboxHTTPError(.notFound, "Could not find the specified status") }
        let labels = try labelsChecked(Self.ids(body, "labelIds") ?? [], space: space.id)
        let effort = try Self.size(body, "effort") ?? nil
        let impact = try Self.size(body, "impact") ?? nil
        let placement = try Self.placement(body) ?? "top"
        let description: String
        if let d = body["description"], !d.isNull {
            guard let s = d.stringValue else { throw SandboxHTTPError(.badRequest, "description must be a string") }
            description = s
        } else {
            description = ""
        }
        let si = spaceIndex(space.id)!
        let time = now()
        let item = WorkItem(
            id: ids.next(), spaceID: space.id, number: spaces[si].nextNumber, title: title, description: description,
            statusID: statusID, sort: sortValue(status: statusID, placement: placement), labelIDs: labels,
            memberIDs: [], watcherIDs: [], effort: effort, impact: impact, actorID: actor, createdAt: time,
            updatedAt: time)
        spaces[si].nextNumber += 1
        workItems.append(item)
        return SandboxReply(workItemJSON(item), status: .created)
    }

    mutating func putWorkItem(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        let body = try request.json()
        guard let id = Self.string(body, "id") else { throw SandboxHTTPError(.badRequest, "id is required") }
        guard let wi = workItemIndex(id) else { throw SandboxHTTPError(.notFound, "Could not find the specified work item") }
        var item = workItems[wi]
        if let title = body["title"], !title.isNull {
            guard let t = title.stringValue, !t.isEmpty else { throw SandboxHTTPError(.badRequest, "title must not be empty") }
            item.title = t
        }
        if let d = body["description"], !d.isNull {
            guard let s = d.stringValue else { throw SandboxHTTPError(.badRequest, "description must be a string") }
            item.description = s
        }
        let placement = try Self.placement(body)
        if let statusID = Self.string(body, "statusId") {
            guard let (space, _) = status(statusID), space.id == item.spaceID else {
                throw SandboxHTTPError(.notFound, "Could not find the specified status")
            }
            if statusID != item.statusID || placement != nil {
                item.statusID = statusID
                item.sort = sortValue(status: statusID, placement: placement ?? "top", excluding: item.id)
            }
        } else if let placement {
            item.sort = sortValue(status: item.statusID, placement: placement, excluding: item.id)
        }
        if let added = try Self.ids(body, "labelIds") {
            item.labelIDs = try labelsChecked(item.labelIDs + added, space: item.spaceID)
        }
        if let effort = try Self.size(body, "effort") { item.effort = effort }
        if let impact = try Self.size(body, "impact") { item.impact = impact }
        item.updatedAt = now()
        workItems[wi] = item
        return SandboxReply(workItemJSON(item))
    }

    mutating func postComment(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let actor = try restActor(request)
        let body = try request.json()
        guard let workItemID = Self.string(body, "workItemId") else {
            throw SandboxHTTPError(.badRequest, "workItemId is required")
        }
        guard let text = Self.string(body, "body") else { throw SandboxHTTPError(.badRequest, "body is required") }
        let comment = try addComment(workItemID: workItemID, body: text, threadID: nil, actor: actor)
        return SandboxReply(commentJSON(comment), status: .created)
    }

    mutating func postLabel(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        let body = try request.json()
        guard let spaceID = Self.string(body, "spaceId") else { throw SandboxHTTPError(.badRequest, "spaceId is required") }
        guard let name = Self.string(body, "labelName"), !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "labelName is required")
        }
        guard let si = spaceIndex(spaceID) else { throw SandboxHTTPError(.notFound, "The specified space does not exist") }
        var color = Self.string(body, "color") ?? ""
        if color.hasPrefix("#") { color.removeFirst() }
        if color.isEmpty {
            color = String(format: "%06x", UInt32(truncatingIfNeeded: name.utf8.reduce(5381) { ($0 &* 33) &+ UInt64($1) }) & 0xFFFFFF)
        }
        // The documentation asks for aa33ff, but labels in real organizations carry colour names ("brown"): both
        // are taken (api-facts.md, "Where the seeds are out of date").
        let isHex = color.count == 6 && color.allSatisfy(\.isHexDigit)
        let isName = !color.isEmpty && color.count <= 20 && color.allSatisfy { $0.isASCII && $0.isLetter }
        guard isHex || isName else {
            throw SandboxHTTPError(.badRequest, "color must look like aa33ff or be a colour name such as brown")
        }
        let time = now()
        let label = Label(id: ids.next(), name: name, color: color.lowercased(), spaceID: spaceID, createdAt: time, updatedAt: time)
        spaces[si].labels.append(label)
        return SandboxReply(
            .object(JSONObject([
                ("id", .string(label.id)), ("name", .string(label.name)), ("color", .string(label.color)),
                ("spaceId", .string(spaceID)),
            ])), status: .created)
    }

    func getInitiative(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        guard let number = request.query["number"].flatMap({ Int($0) }) else {
            throw SandboxHTTPError(.badRequest, "number is required")
        }
        guard let i = initiatives.first(where: { $0.number == number }) else {
            throw SandboxHTTPError(.notFound, "Could not find the specified initiative")
        }
        return SandboxReply(initiativeJSON(i))
    }

    mutating func postInitiative(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let actor = try restActor(request)
        let body = try request.json()
        guard let title = Self.string(body, "title"), !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        var spaceIDs: [String] = []
        for id in try Self.ids(body, "spaceIds") ?? [] where !spaceIDs.contains(id) {
            guard spaceIndex(id) != nil else { throw SandboxHTTPError(.notFound, "The specified space does not exist") }
            spaceIDs.append(id)
        }
        var labelIDs: [String] = []
        for id in try Self.ids(body, "labelIds") ?? [] where !labelIDs.contains(id) {
            guard label(id) != nil else { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
            labelIDs.append(id)
        }
        var columnIDs: [String] = []
        for id in try Self.ids(body, "roadmapColumnIds") ?? [] where !columnIDs.contains(id) {
            guard roadmapColumn(id) != nil else { throw SandboxHTTPError(.notFound, "Could not find the specified roadmap column") }
            columnIDs.append(id)
        }
        for key in ["effortId", "impactId"] where body[key] != nil && body[key]?.isNull == false {
            throw SandboxHTTPError(.notFound, "Could not find the specified \(key == "effortId" ? "effort" : "impact")")
        }
        let time = now()
        let initiative = Initiative(
            id: ids.next(), number: nextInitiativeNumber, title: title,
            description: Self.string(body, "description") ?? "", color: Self.string(body, "color"),
            spaceIDs: spaceIDs, labelIDs: labelIDs, workItemIDs: [], effort: nil, impact: nil, archivedAt: nil,
            actorID: actor, createdAt: time, updatedAt: time, roadmapColumnIDs: columnIDs)
        nextInitiativeNumber += 1
        initiatives.append(initiative)
        return SandboxReply(initiativeJSON(initiative), status: .created)
    }

    func getFeedback(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        guard let number = request.query["number"].flatMap({ Int($0) }) else {
            throw SandboxHTTPError(.badRequest, "number is required")
        }
        guard let f = feedback.first(where: { $0.number == number }) else {
            throw SandboxHTTPError(.notFound, "Could not find the specified feedback")
        }
        return SandboxReply(feedbackJSON(f))
    }

    mutating func postFeedback(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let actor = try restActor(request)
        let body = try request.json()
        guard let title = Self.string(body, "title"), !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        let contents = Self.string(body, "contents") ?? ""
        var entityIDs: [String] = []
        for id in try Self.ids(body, "linkInsightToEntityIds") ?? [] where !entityIDs.contains(id) {
            guard workItemIndex(id) != nil || initiatives.contains(where: { $0.id == id }) else {
                throw SandboxHTTPError(.notFound, "Could not find the specified work item")
            }
            entityIDs.append(id)
        }
        var personID: String?
        if let email = Self.string(body, "personEmail")?.trimmingCharacters(in: .whitespaces), !email.isEmpty {
            guard email.contains("@") else { throw SandboxHTTPError(.badRequest, "personEmail is not an email address") }
            if let p = persons.first(where: { $0.email.lowercased() == email.lowercased() }) {
                personID = p.id
            } else {
                let p = Person(id: ids.next(), name: email, email: email)
                persons.append(p)
                personID = p.id
            }
        }
        let time = now()
        var insights: [Insight] = []
        if !entityIDs.isEmpty {
            insights.append(
                Insight(id: ids.next(), contents: contents, entityIDs: entityIDs, actorID: actor, createdAt: time, updatedAt: time))
        }
        let f = Feedback(
            id: ids.next(), number: nextFeedbackNumber, title: title, contents: contents, personID: personID,
            companyID: nil, insights: insights, processed: false, processedAt: nil, actorID: actor, createdAt: time,
            updatedAt: time)
        nextFeedbackNumber += 1
        feedback.append(f)
        return SandboxReply(feedbackJSON(f), status: .created)
    }

    func getSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        return Self.listing(spaces.map { ($0.id, $0.name) })
    }

    func getStatuses(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        return Self.listing(try requireSpace(request).statuses.map { ($0.id, $0.name) })
    }

    func getLabels(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        return Self.listing(try requireSpace(request).labels.map { ($0.id, $0.name) })
    }

    func getWorkItemList(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        let space = try requireSpace(request)
        return Self.listing(workItems(inSpace: space.id).map { ($0.id, $0.title) })
    }

    func getRecentWorkItems(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        let space = try requireSpace(request)
        let count = try recentCount(request)
        let recent = workItems.enumerated().filter { $0.element.spaceID == space.id }
            .sorted { ($0.element.updatedAt, $0.offset) > ($1.element.updatedAt, $1.offset) }
            .prefix(count).map(\.element)
        return SandboxReply(.array(recent.map(workItemJSON)))
    }

    func getRecentComments(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try restActor(request)
        let space = try requireSpace(request)
        let count = try recentCount(request)
        let inSpace = Set(workItems.filter { $0.spaceID == space.id }.map(\.id))
        let recent = comments.enumerated().filter { inSpace.contains($0.element.workItemID) }
            .sorted { ($0.element.updatedAt, $0.offset) > ($1.element.updatedAt, $1.offset) }
            .prefix(count).map(\.element)
        return SandboxReply(.array(recent.map(commentJSON)))
    }
}
