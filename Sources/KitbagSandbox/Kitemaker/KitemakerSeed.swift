import Foundation
import KitbagCore
import KitbagSandboxCore

/// Fixed, advancing timestamps for seeded entities.
final class SeedClock {
    private var millis: Int64
    init(millis: Int64) { self.millis = millis }
    func callAsFunction(_ minutes: Int64 = 7) -> String {
        millis += minutes * 60_000
        return SandboxTime.iso8601(millis: millis)
    }
}

/// Builds the deterministic starting state of a Kitemaker sandbox.
///
/// Every seed has the same two spaces (`ACM` Acme App, `OPS` Operations) with their statuses, because neither
/// API can create spaces or statuses. `empty` adds nothing else; `demo` adds users, labels, work items with
/// labels/effort/impact/members/watchers in a deliberate column order, comment threads with replies, initiatives
/// and feedback with insights; `generated(cards: N)` adds the labels and N work items spread over both spaces.
enum KitemakerSeeder {
    typealias S = KitemakerState

    static func state(seed: SandboxSeed, credentials: [String]) -> KitemakerState {
        var s = KitemakerState()
        let seedNumber: UInt64
        switch seed {
        case .empty: seedNumber = 11
        case .demo: seedNumber = 23
        case .generated(let n): seedNumber = 37 &+ UInt64(n)
        }
        var ids = KitemakerIDs(seed: 0x5345_4544 &+ seedNumber)
        s.ids = KitemakerIDs(seed: 0x4150_4921 &+ seedNumber)
        s.organizationID = ids.next()
        let tick = SeedClock(millis: SandboxTime.millis(year: 2024, month: 3, day: 1, hour: 9))
        s.organizationCreatedAt = tick()
        s.organizationUpdatedAt = s.organizationCreatedAt

        let tokens = credentials.isEmpty ? [KitemakerSandbox.defaultCredential] : credentials
        let owner = S.Actor(id: ids.next(), name: "@ada", type: "user", username: "ada", createdAt: tick())
        s.actors.append(owner)
        for (n, token) in tokens.enumerated() {
            if n == 0 {
                s.tokens[token] = owner.id
            } else {
                let app = S.Actor(
                    id: ids.next(), name: "API application \(n)", type: "application", username: "application-\(n)",
                    createdAt: tick())
                s.actors.append(app)
                s.tokens[token] = app.id
            }
        }
        var members = [owner.id]
        if seed != .empty {
            for name in ["grace", "linus"] {
                let user = S.Actor(id: ids.next(), name: "@\(name)", type: "user", username: name, createdAt: tick())
                s.actors.append(user)
                members.append(user.id)
            }
        }

        func status(_ name: String, _ type: String, _ isDefault: Bool = false) -> S.Status {
            let t = tick(1)
            return S.Status(id: ids.next(), name: name, type: type, isDefault: isDefault, createdAt: t, updatedAt: t)
        }
        for (key, name, statuses) in [
            ("ACM", "Acme App", [("Backlog", "BACKLOG"), ("Todo", "TODO"), ("In Progress", "IN_PROGRESS"), ("Done", "DONE"), ("Archived", "ARCHIVED")]),
            ("OPS", "Operations", [("Inbox", "BACKLOG"), ("Doing", "IN_PROGRESS"), ("Done", "DONE")]),
        ] {
            let t = tick()
            s.spaces.append(
                S.Space(
                    id: ids.next(), key: key, name: name, isPrivate: false, memberIDs: members,
                    statuses: statuses.enumerated().map { status($1.0, $1.1, $0 == 0) }, labels: [], createdAt: t,
                    updatedAt: t))
        }
        switch seed {
        case .empty: break
        case .demo: demo(&s, ids: &ids, tick: tick, users: members)
        case .generated(let n): generated(&s, ids: &ids, tick: tick, count: n)
        }
        return s
    }

    static func addLabels(_ s: inout S, ids: inout KitemakerIDs, tick: SeedClock) {
        let labels: [String: [(String, String)]] = [
            "ACM": [("bug", "e91e63"), ("feature", "2196f3"), ("design", "9c27b0"), ("good first issue", "4caf50")],
            "OPS": [("infra", "607d8b"), ("urgent", "f44336"), ("bug", "ff9800")],
        ]
        for i in s.spaces.indices {
            for (name, color) in labels[s.spaces[i].key] ?? [] {
                let t = tick()
                s.spaces[i].labels.append(
                    S.Label(id: ids.next(), name: name, color: color, spaceID: s.spaces[i].id, createdAt: t, updatedAt: t))
            }
        }
    }

    struct ItemSpec {
        var space: String
        var title: String
        var status: String
        var labels: [String] = []
        var effort: String? = nil
        var impact: String? = nil
        var members: [Int] = []
        var watchers: [Int] = []
        var description = ""
    }

    // swiftlint:disable:next function_body_length
    static func demo(_ s: inout S, ids: inout KitemakerIDs, tick: SeedClock, users: [String]) {
        addLabels(&s, ids: &ids, tick: tick)
        let specs: [ItemSpec] = [
            ItemSpec(space: "ACM", title: "Sign-in page flickers on Safari", status: "Todo", labels: ["bug"], effort: "SMALL", impact: "LARGE", members: [0], watchers: [1], description: "Steps:\n\n1. Open Safari 17\n2. Sign in\n\nThe form **flickers** twice."),
            ItemSpec(space: "ACM", title: "Dark mode", status: "Backlog", labels: ["feature", "design"], effort: "LARGE", impact: "MEDIUM"),
            ItemSpec(space: "ACM", title: "Export boards as CSV", status: "In Progress", labels: ["feature"], effort: "MEDIUM", impact: "MEDIUM", members: [1], description: "One row per work item; labels joined with `;`."),
            ItemSpec(space: "ACM", title: "Onboarding checklist", status: "Todo", labels: ["feature", "good first issue"], effort: "SMALL", impact: "SMALL"),
            ItemSpec(space: "ACM", title: "Crash when a label name is empty", status: "Done", labels: ["bug"], effort: "SMALL", impact: "LARGE", members: [2]),
            ItemSpec(space: "ACM", title: "Keyboard shortcuts cheat sheet", status: "Backlog"),
            ItemSpec(space: "ACM", title: "Redesign the settings page", status: "Todo", labels: ["design"], effort: "LARGE", impact: "MEDIUM", members: [0, 1], watchers: [2], description: "See the Figma file linked in the thread."),
            ItemSpec(space: "ACM", title: "Old importer", status: "Archived", description: "Replaced by the new importer."),
            ItemSpec(space: "ACM", title: "Unicode titles: Ünïcødé ✓ 日本語", status: "Backlog", labels: ["bug"], effort: "MEDIUM", impact: "SMALL", description: "Titles with emoji 🚀 and <angle> & ampersands."),
            ItemSpec(space: "OPS", title: "Rotate the database credentials", status: "Doing", labels: ["infra", "urgent"], effort: "MEDIUM", impact: "LARGE", members: [2]),
            ItemSpec(space: "OPS", title: "Upgrade the CI runners", status: "Inbox", labels: ["infra"], effort: "MEDIUM", impact: "SMALL"),
            ItemSpec(space: "OPS", title: "Pager rota for December", status: "Done", effort: "SMALL", impact: "SMALL"),
            ItemSpec(space: "OPS", title: "Disk alert on build-02", status: "Inbox", labels: ["urgent", "bug"], effort: "SMALL", impact: "MEDIUM", watchers: [0]),
            ItemSpec(space: "OPS", title: "Write the incident runbook", status: "Doing", effort: "LARGE", impact: "MEDIUM", members: [0, 2], description: "Start from the postmortem template."),
        ]
        // Column order that differs from creation order: these numbers go to the top of their column.
        let raisedToTop: Set<String> = ["Redesign the settings page", "Write the incident runbook", "Keyboard shortcuts cheat sheet"]
        var created: [String: String] = [:]
        var columns: [String: (min: Int64, max: Int64)] = [:]
        for spec in specs {
            let item = makeItem(
                &s, spec, ids: &ids, tick: tick, users: users, top: raisedToTop.contains(spec.title), columns: &columns)
            created[spec.title] = item
        }
        func item(_ title: String) -> String { created[title]! }

        let threads: [(String, [(Int, String)])] = [
            ("Sign-in page flickers on Safari", [(0, "Reproduced on Safari 17."), (1, "Looks like a CSS transition issue."), (0, "Can we fix it in the next build?")]),
            ("Sign-in page flickers on Safari", [(2, "Also happens on iPad.")]),
            ("Export boards as CSV", [(1, "First draft is up."), (0, "Nice — ship it behind a flag.")]),
            ("Crash when a label name is empty", [(2, "Root cause: missing validation on the label form.")]),
            ("Rotate the database credentials", [(2, "Done for staging."), (0, "Production next week, during the maintenance window.")]),
            ("Rotate the database credentials", [(1, "Remember the backup user.")]),
        ]
        for (title, comments) in threads {
            var thread: String?
            for (who, body) in comments {
                let t = tick(3)
                let id = ids.next()
                let threadID = thread ?? ids.next()
                s.comments.append(
                    S.Comment(
                        id: id, workItemID: item(title), body: body, threadID: threadID, reply: thread != nil,
                        actorID: users[who], createdAt: t, updatedAt: t))
                thread = threadID
            }
        }

        func spaceID(_ key: String) -> String { s.spaces.first { $0.key == key }!.id }
        func labelID(_ key: String, _ name: String) -> String {
            s.spaces.first { $0.key == key }!.labels.first { $0.name == name }!.id
        }
        let initiatives: [(String, String, String, [String], [(String, String)], [String])] = [
            ("Q2 polish", "Make the app feel finished before the summer.", "blue", ["ACM", "OPS"], [("ACM", "design")],
             ["Dark mode", "Redesign the settings page", "Upgrade the CI runners"]),
            ("Reliability", "Fewer pages at night.\n\n- runbooks\n- alerts", "green", ["OPS"], [("OPS", "infra")],
             ["Rotate the database credentials", "Disk alert on build-02"]),
        ]
        for (title, description, color, spaces, labels, items) in initiatives {
            let t = tick()
            s.initiatives.append(
                S.Initiative(
                    id: ids.next(), number: s.nextInitiativeNumber, title: title, description: description, color: color,
                    spaceIDs: spaces.map(spaceID), labelIDs: labels.map(labelID), workItemIDs: items.map(item),
                    effort: nil, impact: nil, archivedAt: nil, actorID: users[0], createdAt: t, updatedAt: t))
            s.nextInitiativeNumber += 1
        }
        s.persons = [
            S.Person(id: ids.next(), name: "Maria Lopez", email: "maria@example.com"),
            S.Person(id: ids.next(), name: "Tom Berg", email: "tom@example.org"),
        ]
        let feedback: [(String, String, Int?, [String])] = [
            ("Safari sign-in is broken", "Every time I sign in on Safari the page flickers.", 0, ["Sign-in page flickers on Safari"]),
            ("CSV export, please", "We would use a CSV export of our boards every week.", 1, ["Export boards as CSV", "Upgrade the CI runners"]),
            ("General praise", "Great tool, thanks!", nil, []),
        ]
        for (title, contents, person, entities) in feedback {
            let t = tick()
            let id = ids.next()
            let insights = entities.isEmpty
                ? [] : [S.Insight(id: ids.next(), contents: contents, entityIDs: entities.map(item), actorID: users[0], createdAt: t, updatedAt: t)]
            s.feedback.append(
                S.Feedback(
                    id: id, number: s.nextFeedbackNumber, title: title, contents: contents,
                    personID: person.map { s.persons[$0].id }, companyID: nil, insights: insights, processed: false,
                    processedAt: nil, actorID: users[0], createdAt: t, updatedAt: t))
            s.nextFeedbackNumber += 1
        }
        let csvItem = item("Export boards as CSV")
        let bugLabel = labelID("ACM", "bug")
        schemaExtras(&s, ids: &ids, tick: tick, users: users, statusChanged: csvItem, tag: bugLabel)
    }

    /// What only the GraphQL schema shows, added after everything else so the ids and times of the REST-visible
    /// demo stay as they were: a GitHub integration and one of its users, an initiative thread, a roadmap with its
    /// columns, a recorded status change, a company, and one processed, owned and tagged feedback.
    static func schemaExtras(
        _ s: inout S, ids: inout KitemakerIDs, tick: SeedClock, users: [String], statusChanged: String, tag: String
    ) {
        s.actors.append(
            S.Actor(
                id: ids.next(), name: "GitHub", type: "integration", username: "github", createdAt: tick(),
                integrationType: "GITHUB", domain: "github.com"))
        s.actors.append(
            S.Actor(
                id: ids.next(), name: "octocat", type: "integrationUser", username: "octocat", createdAt: tick(),
                integrationType: "GITHUB", domain: "github.com", externalID: "583231", externalName: "octocat"))
        for i in s.initiatives.indices {
            s.initiatives[i].memberIDs = [users[0], users[1]]
            s.initiatives[i].watcherIDs = [users[2]]
        }
        // An initiative thread with a reply from the GitHub integration user.
        let integrationUser = s.actors.first { $0.type == "integrationUser" }!.id
        let thread = ids.next()
        for (n, (who, body)) in [(users[1], "Kick-off on Monday."), (integrationUser, "Linked pull request #42.")].enumerated() {
            let t = tick(3)
            s.initiativeComments.append(
                S.Comment(
                    id: ids.next(), workItemID: s.initiatives[0].id, body: body, threadID: thread, reply: n > 0,
                    actorID: who, createdAt: t, updatedAt: t))
        }
        let roadmapTime = tick()
        let roadmapID = ids.next()
        let columnSpecs = [("Done", "PAST"), ("Now", "PRESENT"), ("Next", "FUTURE")]
        let roadmapColumns = columnSpecs.map { name, type in
            S.RoadmapColumn(
                id: ids.next(), name: name, columnType: type, roadmapID: roadmapID, createdAt: roadmapTime,
                updatedAt: roadmapTime)
        }
        s.roadmaps = [
            S.Roadmap(
                id: roadmapID, name: "Product roadmap", color: "purple", columns: roadmapColumns,
                createdAt: roadmapTime, updatedAt: roadmapTime)
        ]
        s.initiatives[0].roadmapColumnIDs = [roadmapColumns[1].id]
        s.initiatives[1].roadmapColumnIDs = [roadmapColumns[2].id]
        let statusChange = tick()
        s.activities.append(
            S.Activity(
                id: ids.next(), type: "STATUS_CHANGED", entityID: statusChanged, actorID: users[1],
                details: ["from": "Todo", "to": "In Progress"], createdAt: statusChange))

        let companyTime = tick()
        s.companies = [
            S.Company(id: ids.next(), name: "Lopez Logistics", domain: "example.com", createdAt: companyTime, updatedAt: companyTime)
        ]
        for i in s.persons.indices {
            s.persons[i].createdAt = companyTime
            s.persons[i].updatedAt = companyTime
        }
        s.persons[0].companyID = s.companies[0].id
        s.persons[0].externalID = "crm-1001"
        // The first feedback is processed, owned by grace, tagged "bug" and from Maria's company.
        s.feedback[0].processed = true
        s.feedback[0].processedAt = tick()
        s.feedback[0].ownerIDs = [users[1]]
        s.feedback[0].tagIDs = [tag]
        s.feedback[0].companyID = s.companies[0].id
    }

    @discardableResult
    static func makeItem(
        _ s: inout S, _ spec: ItemSpec, ids: inout KitemakerIDs, tick: SeedClock, users: [String], top: Bool,
        columns: inout [String: (min: Int64, max: Int64)]
    ) -> String {
        let si = s.spaces.firstIndex { $0.key == spec.space }!
        let space = s.spaces[si]
        let status = space.statuses.first { $0.name == spec.status }!
        let statusID = status.id
        let t = tick()
        // Each column's lowest and highest sort are kept as items are added, so seeding stays linear.
        let sort: Int64
        if let column = columns[statusID] {
            sort = top ? column.min - S.sortStep : column.max + S.sortStep
        } else {
            sort = S.sortStep
        }
        let bounds = columns[statusID] ?? (sort, sort)
        columns[statusID] = (Swift.min(bounds.min, sort), Swift.max(bounds.max, sort))
        var item = S.WorkItem(
            id: ids.next(), spaceID: space.id, number: space.nextNumber, title: spec.title,
            description: spec.description, statusID: statusID,
            sort: sort,
            labelIDs: spec.labels.map { name in space.labels.first { $0.name == name }!.id },
            memberIDs: spec.members.map { users[$0] }, watcherIDs: spec.watchers.map { users[$0] },
            effort: spec.effort, impact: spec.impact, actorID: users[0], createdAt: t, updatedAt: t)
        if status.type == "DONE" { item.closedAt = t }
        if status.type == "ARCHIVED" { item.archivedAt = t }
        s.spaces[si].nextNumber += 1
        s.workItems.append(item)
        return item.id
    }

    static func generated(_ s: inout S, ids: inout KitemakerIDs, tick: SeedClock, count: Int) {
        addLabels(&s, ids: &ids, tick: tick)
        let owner = s.actors[0].id
        let sizes = ["SMALL", "MEDIUM", "LARGE"]
        var columns: [String: (min: Int64, max: Int64)] = [:]
        s.workItems.reserveCapacity(max(0, count))
        for n in 0..<max(0, count) {
            let space = s.spaces[n % 2]
            let status = space.statuses[(n / 2) % space.statuses.count]
            let labels = space.labels.isEmpty ? [] : [space.labels[n % space.labels.count].name]
            let spec = ItemSpec(
                space: space.key, title: "Generated work item \(n + 1)", status: status.name, labels: labels,
                effort: sizes[n % 3], impact: sizes[(n / 3) % 3], description: "Generated description \(n + 1).")
            let id = makeItem(&s, spec, ids: &ids, tick: tick, users: [owner], top: n % 7 == 3, columns: &columns)
            if n % 5 == 0 {
                let t = tick(1)
                s.comments.append(
                    S.Comment(
                        id: ids.next(), workItemID: id, body: "Comment on generated item \(n + 1).", threadID: ids.next(),
                        reply: false, actorID: owner, createdAt: t, updatedAt: t))
            }
        }
    }
}
