import Foundation
import GraphQL
import KitbagCore
import KitbagSandboxCore

/// The GraphQL mutations Kitemaker's own importer uses (kitemakerhq/productboard-importer `index.ts`, commit
/// f3a462393e7b876c5c9f513d340eb850b72ceb0f: `createWorkItem` and `createFeedback` with `createdAt`/`updatedAt`,
/// `createCompany`) and the published schema's `createPerson`, `createInitiative`, `editInitiative`,
/// `addInitiativesToRoadmap` and `removeInitiativesFromRoadmap` (kitemakerhq/km `src/kitemaker.graphql`, commit
/// 8e752965e19e23af4df7984ff267bbb412a9bc5b), with the input fields the schema gives them.
extension KitemakerState {
    /// A `Date` input: ISO 8601 as the API writes it; nil when absent.
    static func dateInput(_ value: Map, _ name: String) throws(SandboxHTTPError) -> String?? {
        guard !value.isUndefined else { return .none }
        if value.isNull { return .some(nil) }
        guard let text = value.string, Timestamp.parse(text) != nil else {
            throw SandboxHTTPError(.badRequest, "\(name) must be an ISO 8601 date such as 2024-03-01T09:00:00.000Z")
        }
        return .some(text)
    }

    static func idsInput(_ value: Map) -> [String] { (value.array ?? []).compactMap(\.string) }

    /// Users by id; an id that is no user of the organization is an error.
    func usersChecked(_ ids: [String]) throws(SandboxHTTPError) -> [String] {
        var out: [String] = []
        for id in ids where !out.contains(id) {
            guard actor(id)?.type == "user" else { throw SandboxHTTPError(.notFound, "Could not find the specified user") }
            out.append(id)
        }
        return out
    }

    static func sizeInput(_ value: Map, _ name: String) throws(SandboxHTTPError) -> String? {
        guard let text = value.string, !text.isEmpty else { return nil }
        let size = text.uppercased()
        guard ["SMALL", "MEDIUM", "LARGE"].contains(size) else {
            throw SandboxHTTPError(.badRequest, "\(name) must be one of SMALL, MEDIUM, LARGE")
        }
        return size
    }

    /// `createWorkItem(input: CreateWorkItemInput!)`: without `sort` the item goes to the top of its column, as the
    /// schema says; `createdAt`/`updatedAt` are kept when given.
    mutating func createWorkItem(_ input: Map, actor: String) throws(SandboxHTTPError) -> WorkItem {
        guard let title = input["title"].string, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        let statusID: String
        let si: Int
        if let id = input["statusId"].string {
            guard let (space, _) = status(id), let index = spaceIndex(space.id) else {
                throw SandboxHTTPError(.notFound, "Could not find the specified status")
            }
            if let wanted = input["spaceId"].string, wanted != space.id {
                throw SandboxHTTPError(.badRequest, "status \(id) belongs to another space")
            }
            statusID = id
            si = index
        } else if let spaceID = input["spaceId"].string {
            guard let index = spaceIndex(spaceID) else { throw SandboxHTTPError(.notFound, "The specified space does not exist") }
            guard let first = spaces[index].statuses.first(where: \.isDefault) ?? spaces[index].statuses.first else {
                throw SandboxHTTPError(.badRequest, "the space has no statuses")
            }
            statusID = first.id
            si = index
        } else {
            throw SandboxHTTPError(.badRequest, "statusId or spaceId is required")
        }
        let sort: Int64
        if let text = input["sort"].string {
            guard let value = Self.sortValue(text) else { throw SandboxHTTPError(.badRequest, "sort \(text) is not valid") }
            sort = value
        } else {
            sort = sortValue(status: statusID, placement: "top")
        }
        let time = now()
        let createdAt = try Self.dateInput(input["createdAt"], "createdAt") ?? nil
        let updatedAt = try Self.dateInput(input["updatedAt"], "updatedAt") ?? nil
        var item = WorkItem(
            id: ids.next(), spaceID: spaces[si].id, number: spaces[si].nextNumber, title: title,
            description: input["description"].string ?? "", statusID: statusID, sort: sort,
            labelIDs: try labelsChecked(Self.idsInput(input["labelIds"]), space: spaces[si].id),
            memberIDs: try usersChecked(Self.idsInput(input["memberIds"])),
            watcherIDs: try usersChecked(Self.idsInput(input["watcherIds"])),
            effort: try Self.sizeInput(input["effort"], "effort"), impact: try Self.sizeInput(input["impact"], "impact"),
            actorID: actor, createdAt: createdAt ?? time, updatedAt: updatedAt ?? createdAt ?? time)
        switch status(statusID)?.status.type {
        case "DONE": item.closedAt = time
        case "ARCHIVED": item.archivedAt = time
        default: break
        }
        spaces[si].nextNumber += 1
        workItems.append(item)
        return item
    }

    /// The stand-in for deleting a label in Kitemaker's app (the API has no route for it; only tests call this, through
    /// `KitemakerSandbox.appDeleteLabelPath`): the label leaves its space and every work item and initiative that had
    /// it.
    mutating func deleteLabelAsInTheApp(_ id: String) throws(SandboxHTTPError) {
        guard let l = label(id), let si = spaceIndex(l.spaceID) else { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
        spaces[si].labels.removeAll { $0.id == id }
        for i in workItems.indices where workItems[i].labelIDs.contains(id) { workItems[i].labelIDs.removeAll { $0 == id } }
        for i in initiatives.indices where initiatives[i].labelIDs.contains(id) { initiatives[i].labelIDs.removeAll { $0 == id } }
    }

    /// The stand-in for deleting a work item in Kitemaker's app (the API has no route for it; only tests call this,
    /// through `KitemakerSandbox.appDeleteWorkItemPath`): the item goes for good with its comments and history, and
    /// initiatives and insights no longer link to it.
    mutating func deleteWorkItemAsInTheApp(_ id: String) throws(SandboxHTTPError) {
        guard workItemIndex(id) != nil else { throw SandboxHTTPError(.notFound, "Could not find the specified work item") }
        workItems.removeAll { $0.id == id }
        comments.removeAll { $0.workItemID == id }
        activities.removeAll { $0.entityID == id }
        for i in initiatives.indices where initiatives[i].workItemIDs.contains(id) { initiatives[i].workItemIDs.removeAll { $0 == id } }
        for f in feedback.indices {
            for n in feedback[f].insights.indices where feedback[f].insights[n].entityIDs.contains(id) {
                feedback[f].insights[n].entityIDs.removeAll { $0 == id }
            }
        }
    }

    /// The stand-in for deleting an initiative in Kitemaker's app (only tests call this, through
    /// `KitemakerSandbox.appDeleteInitiativePath`): it goes with its history, off its roadmap columns, and insights no
    /// longer link to it.
    mutating func deleteInitiativeAsInTheApp(_ id: String) throws(SandboxHTTPError) {
        guard initiativeIndex(id) != nil else { throw SandboxHTTPError(.notFound, "Could not find the specified initiative") }
        initiatives.removeAll { $0.id == id }
        activities.removeAll { $0.entityID == id }
        for f in feedback.indices {
            for n in feedback[f].insights.indices where feedback[f].insights[n].entityIDs.contains(id) {
                feedback[f].insights[n].entityIDs.removeAll { $0 == id }
            }
        }
    }

    /// The stand-in for deleting a feedback item in Kitemaker's app (only tests call this, through
    /// `KitemakerSandbox.appDeleteFeedbackPath`): it goes with its insights.
    mutating func deleteFeedbackAsInTheApp(_ id: String) throws(SandboxHTTPError) {
        guard feedback.contains(where: { $0.id == id }) else { throw SandboxHTTPError(.notFound, "Could not find the specified feedback") }
        feedback.removeAll { $0.id == id }
    }

    /// `addEntitiesToInsight(input: {id, entityIds})` (kitemakerhq/km `src/kitemaker.graphql`): the insight links the
    /// work items and initiatives named too (one it links already is no change); an unknown insight or entity is an
    /// error.
    mutating func addEntitiesToInsight(_ input: Map) throws(SandboxHTTPError) -> Insight {
        let id = input["id"].string ?? ""
        guard let f = feedback.firstIndex(where: { $0.insights.contains { $0.id == id } }),
            let n = feedback[f].insights.firstIndex(where: { $0.id == id })
        else { throw SandboxHTTPError(.notFound, "Could not find the specified insight") }
        var added: [String] = []
        for e in Self.idsInput(input["entityIds"]) {
            guard workItemIndex(e) != nil || initiativeIndex(e) != nil else {
                throw SandboxHTTPError(.notFound, "Could not find the specified entity")
            }
            added.append(e)
        }
        for e in added where !feedback[f].insights[n].entityIDs.contains(e) { feedback[f].insights[n].entityIDs.append(e) }
        let time = now()
        feedback[f].insights[n].updatedAt = time
        return feedback[f].insights[n]
    }

    /// `addTagsToFeedback(input: {id, tagIds})` (kitemakerhq/km `src/kitemaker.graphql`): the feedback carries the labels
    /// named too (one it has is no change); an unknown feedback or label is an error.
    mutating func addTagsToFeedback(_ input: Map) throws(SandboxHTTPError) -> Feedback {
        guard let f = feedback.firstIndex(where: { $0.id == input["id"].string }) else {
            throw SandboxHTTPError(.notFound, "Could not find the specified feedback")
        }
        let tags = Self.idsInput(input["tagIds"])
        for t in tags where label(t) == nil { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
        for t in tags where !feedback[f].tagIDs.contains(t) { feedback[f].tagIDs.append(t) }
        feedback[f].updatedAt = now()
        return feedback[f]
    }

    /// `editFeedback(input: EditFeedbackInput!)` (kitemakerhq/km `src/kitemaker.graphql`: id, title, content, processed,
    /// companyId, personId): the fields given are changed. Turning `processed` on stamps processedAt with the time, off
    /// clears it (a guess: the schema does not say).
    mutating func editFeedback(_ input: Map) throws(SandboxHTTPError) -> Feedback {
        guard let f = feedback.firstIndex(where: { $0.id == input["id"].string }) else {
            throw SandboxHTTPError(.notFound, "Could not find the specified feedback")
        }
        let time = now()
        if let title = input["title"].string {
            guard !title.trimmingCharacters(in: .whitespaces).isEmpty else { throw SandboxHTTPError(.badRequest, "title is required") }
            feedback[f].title = title
        }
        if let content = input["content"].string { feedback[f].contents = content }
        if let processed = input["processed"].bool, processed != feedback[f].processed {
            feedback[f].processed = processed
            feedback[f].processedAt = processed ? time : nil
        }
        if let person = input["personId"].string {
            guard persons.contains(where: { $0.id == person }) else { throw SandboxHTTPError(.notFound, "Could not find the specified person") }
            feedback[f].personID = person
        }
        if let company = input["companyId"].string {
            guard companies.contains(where: { $0.id == company }) else { throw SandboxHTTPError(.notFound, "Could not find the specified company") }
            feedback[f].companyID = company
        }
        feedback[f].updatedAt = time
        return feedback[f]
    }

    /// `editInitiative(input: EditInitiativeInput!)`: the fields given are changed; `add…Ids`/`remove…Ids` change the
    /// initiative's links (adding a link it has is no change).
    mutating func editInitiative(_ input: Map) throws(SandboxHTTPError) -> Initiative {
        guard let id = input["id"].string, let i = initiativeIndex(id) else {
            throw SandboxHTTPError(.notFound, "Could not find the specified initiative")
        }
        var initiative = initiatives[i]
        if let title = input["title"].string {
            guard !title.isEmpty else { throw SandboxHTTPError(.badRequest, "title must not be empty") }
            initiative.title = title
        }
        if let description = input["description"].string { initiative.description = description }
        if let color = input["color"].string { initiative.color = color }
        for key in ["effortId", "impactId"] where input[key].string != nil {
            throw SandboxHTTPError(.notFound, "Could not find the specified \(key == "effortId" ? "effort" : "impact")")
        }
        func adding(_ list: [String], _ ids: [String]) -> [String] { list + ids.filter { !list.contains($0) } }
        let addWork = Self.idsInput(input["addWorkItemIds"])
        for w in addWork where workItemIndex(w) == nil {
            throw SandboxHTTPError(.notFound, "Could not find the specified work item")
        }
        initiative.workItemIDs = adding(initiative.workItemIDs, addWork)
        let removeWork = Set(Self.idsInput(input["removeWorkItemIds"]))
        initiative.workItemIDs.removeAll { removeWork.contains($0) }
        initiative.memberIDs = adding(initiative.memberIDs, try usersChecked(Self.idsInput(input["addMemberIds"])))
        let removeMembers = Set(Self.idsInput(input["removeMemberIds"]))
        initiative.memberIDs.removeAll { removeMembers.contains($0) }
        let addLabels = Self.idsInput(input["addLabelIds"])
        for l in addLabels where label(l) == nil { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
        initiative.labelIDs = adding(initiative.labelIDs, addLabels)
        let removeLabels = Set(Self.idsInput(input["removeLabelIds"]))
        initiative.labelIDs.removeAll { removeLabels.contains($0) }
        initiative.updatedAt = now()
        initiatives[i] = initiative
        return initiative
    }

    /// Ids that must each name something `exists` finds; the first that does not is a 404 naming `what`.
    static func idsChecked(_ value: Map, _ what: String, exists: (String) -> Bool) throws(SandboxHTTPError) -> [String] {
        var out: [String] = []
        for id in idsInput(value) where !out.contains(id) {
            guard exists(id) else { throw SandboxHTTPError(.notFound, "Could not find the specified \(what)") }
            out.append(id)
        }
        return out
    }

    /// `createInitiative(input: CreateInitiativeInput!)`: title, description, colour, members, labels, work items,
    /// roadmap columns and the dates given (`archivedAt` archives it). The input has no spaces: the initiative
    /// belongs to none. Effort and impact are set by ids that no query lists, so any id is unknown here.
    mutating func createInitiative(_ input: Map, actor: String) throws(SandboxHTTPError) -> Initiative {
        guard let title = input["title"].string, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        for key in ["effortId", "impactId"] where input[key].string != nil {
            throw SandboxHTTPError(.notFound, "Could not find the specified \(key == "effortId" ? "effort" : "impact")")
        }
        let state = self
        let labels = try Self.idsChecked(input["labelIds"], "label") { state.label($0) != nil }
        let items = try Self.idsChecked(input["workItemIds"], "work item") { state.workItemIndex($0) != nil }
        let columns = try Self.idsChecked(input["roadmapColumnIds"], "roadmap column") { state.roadmapColumn($0) != nil }
        let members = try usersChecked(Self.idsInput(input["memberIds"]))
        let time = now()
        let createdAt = try Self.dateInput(input["createdAt"], "createdAt") ?? nil
        let updatedAt = try Self.dateInput(input["updatedAt"], "updatedAt") ?? nil
        let archivedAt = try Self.dateInput(input["archivedAt"], "archivedAt") ?? nil
        let initiative = Initiative(
            id: ids.next(), number: nextInitiativeNumber, title: title, description: input["description"].string ?? "",
            color: input["color"].string, spaceIDs: [], labelIDs: labels, workItemIDs: items, effort: nil, impact: nil,
            archivedAt: archivedAt, actorID: actor, createdAt: createdAt ?? time, updatedAt: updatedAt ?? createdAt ?? time,
            memberIDs: members, roadmapColumnIDs: columns)
        nextInitiativeNumber += 1
        initiatives.append(initiative)
        return initiative
    }

    /// `addInitiativesToRoadmap` / `removeInitiativesFromRoadmap` (`{columnId, initiativeIds}`): puts the initiatives
    /// in the column or takes them out; answers the column's roadmap. Adding one that is there already is no change.
    mutating func placeInitiatives(_ input: Map, adding: Bool) throws(SandboxHTTPError) -> Roadmap {
        guard let columnID = input["columnId"].string, let column = roadmapColumn(columnID),
            let roadmap = roadmaps.first(where: { $0.id == column.roadmapID })
        else {
            throw SandboxHTTPError(.notFound, "Could not find the specified roadmap column")
        }
        let state = self
        let chosen = try Self.idsChecked(input["initiativeIds"], "initiative") { state.initiativeIndex($0) != nil }
        for id in chosen {
            guard let i = initiativeIndex(id) else { continue }
            if adding {
                if !initiatives[i].roadmapColumnIDs.contains(columnID) { initiatives[i].roadmapColumnIDs.append(columnID) }
            } else {
                initiatives[i].roadmapColumnIDs.removeAll { $0 == columnID }
            }
        }
        return roadmap
    }

    /// `createCompany(input: CreateCompanyInput!)`.
    mutating func createCompany(_ input: Map) throws(SandboxHTTPError) -> Company {
        guard let name = input["name"].string, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "name is required")
        }
        let time = now()
        let company = Company(id: ids.next(), name: name, domain: input["domain"].string, createdAt: time, updatedAt: time)
        companies.append(company)
        return company
    }

    /// `createPerson(input: CreatePersonInput!)`.
    mutating func createPerson(_ input: Map) throws(SandboxHTTPError) -> Person {
        guard let name = input["name"].string, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "name is required")
        }
        let companyID = input["companyId"].string
        if let companyID, !companies.contains(where: { $0.id == companyID }) {
            throw SandboxHTTPError(.notFound, "Could not find the specified company")
        }
        let time = now()
        let person = Person(
            id: ids.next(), name: name, email: input["email"].string ?? "", companyID: companyID, createdAt: time,
            updatedAt: time)
        persons.append(person)
        return person
    }

    /// `createFeedback(input: CreateFeedbackInput!)`: with `linkInsightToEntityIds` one insight holding the whole
    /// content links the feedback to those work items or initiatives (the schema's description of the field).
    mutating func createFeedback(_ input: Map, actor: String) throws(SandboxHTTPError) -> Feedback {
        guard let title = input["title"].string, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.badRequest, "title is required")
        }
        let content = input["content"].string ?? ""
        var entityIDs: [String] = []
        for id in Self.idsInput(input["linkInsightToEntityIds"]) where !entityIDs.contains(id) {
            guard entity(id) != nil else { throw SandboxHTTPError(.notFound, "Could not find the specified work item") }
            entityIDs.append(id)
        }
        let personID = input["personId"].string
        if let personID, !persons.contains(where: { $0.id == personID }) {
            throw SandboxHTTPError(.notFound, "Could not find the specified person")
        }
        let companyID = input["companyId"].string
        if let companyID, !companies.contains(where: { $0.id == companyID }) {
            throw SandboxHTTPError(.notFound, "Could not find the specified company")
        }
        let tags = Self.idsInput(input["tagIds"])
        for t in tags where label(t) == nil { throw SandboxHTTPError(.notFound, "Could not find the specified label") }
        let time = now()
        let createdAt = try Self.dateInput(input["createdAt"], "createdAt") ?? nil
        let updatedAt = try Self.dateInput(input["updatedAt"], "updatedAt") ?? nil
        let processed = input["processed"].bool ?? false
        var insights: [Insight] = []
        if !entityIDs.isEmpty {
            insights.append(
                Insight(id: ids.next(), contents: content, entityIDs: entityIDs, actorID: actor, createdAt: time, updatedAt: time))
        }
        let f = Feedback(
            id: ids.next(), number: nextFeedbackNumber, title: title, contents: content, personID: personID,
            companyID: companyID, insights: insights, processed: processed, processedAt: processed ? time : nil,
            actorID: actor, createdAt: createdAt ?? time, updatedAt: updatedAt ?? createdAt ?? time,
            ownerIDs: try usersChecked(Self.idsInput(input["ownerIds"])), tagIDs: tags.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } })
        nextFeedbackNumber += 1
        feedback.append(f)
        return f
    }

    /// The inverse of `sortString`: nil for a string it could not have made.
    static func sortValue(_ text: String) -> Int64? {
        guard text.count == 13, let shifted = UInt64(text, radix: 36) else { return nil }
        return Int64(bitPattern: shifted) &- Int64.min
    }
}
