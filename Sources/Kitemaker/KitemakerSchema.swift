import Foundation
import KitbagCore

/// Kitemaker's wire facts that more than one file of the connector needs (seeds/kitemaker-api.txt, api-facts.md,
/// and Kitemaker's published GraphQL schema).
public enum KitemakerSchema {
    /// REST base; the GraphQL endpoint is `…/developers/graphql` on the same host.
    public static let defaultBaseURL = "https://toil.kitemaker.co"
    public static let baseURLVariable = "KITEMAKER_BASE_URL"
    /// Personal access token or application token (`X-API-KEY` for REST, `Authorization: Bearer` for GraphQL).
    public static let tokenVariable = "KITEMAKER_TOKEN"

    static let restPrefix = "/developers/rest/v1"
    static let graphQLPath = "/developers/graphql"
    /// GraphQL lists return at most 50 per page (`count`), then `cursor` + `hasMore`.
    static let pageSize = 50

    static let spacesFolder = "spaces"
    static func container(space id: String) -> ContainerRef { ContainerRef(kind: spacesFolder, id: id) }

    // MARK: - GraphQL documents

    // Every document below validates against Kitemaker's published schema (kitemakerhq/km `src/kitemaker.graphql`,
    // commit 8e752965e19e23af4df7984ff267bbb412a9bc5b) and asks for at least what Kitemaker's own export asks for
    // (kitemakerhq/dump-organization `queries/*.ts`, commit 911f908cb7e3d8dc76fbaf2063be645e29bdd853).

    /// The `Actor` union has four members; each is named by `__typename` and its id.
    static let actorFields = """
        actor { __typename ... on User { id username } ... on Application { id name } \
        ... on Integration { id type } ... on IntegrationUser { id type externalName } }
        """

    /// An `Entity` (work item or initiative) by kind and id.
    static let entityFields = "__typename ... on WorkItem { id } ... on Initiative { id }"

    static let activityFields = "activities { id type details createdAt updatedAt \(actorFields) }"

    static let organizationQuery = """
        query Organization {
          organization {
            id name slug createdAt updatedAt
            users { id username name guest deactivated createdAt updatedAt }
            integrations { id type domain createdAt updatedAt }
            integrationUsers { id type domain externalId externalName createdAt updatedAt }
            applications { id name createdAt updatedAt }
            spaces {
              id key name slug private createdAt updatedAt
              members { id }
              statuses { id name type default createdAt updatedAt }
              labels { id name color createdAt updatedAt }
            }
          }
        }
        """

    /// A work item as the archive holds it, with its comments (which the export moves to `comments.jsonl`).
    static let workItemFields = """
        id number title description sort effort impact closedAt archivedAt createdAt updatedAt
              \(actorFields)
              status { id name type }
              labels { id name color }
              members { id }
              watchers { id }
              comments {
                id body threadId createdAt updatedAt
                \(actorFields)
                entity { \(entityFields) }
              }
              \(activityFields)
        """

    static let workItemsQuery = """
        query WorkItems($spaceId: ID!, $cursor: String, $count: Int) {
          workItems(spaceId: $spaceId, cursor: $cursor, count: $count) {
            workItems {
              \(workItemFields)
            }
            cursor
            hasMore
          }
        }
        """

    /// One work item by id (`workItem(id: ID!): WorkItem!`), with the same fields as `workItemsQuery` plus its space:
    /// the live read of a restore that names work items. The field is non-null, so a work item that does not exist
    /// answers `data: null` and an error (see `KitemakerConnection.workItem(id:)`).
    static let workItemQuery = """
        query WorkItem($id: ID!) {
          workItem(id: $id) {
            \(workItemFields)
            space { id }
          }
        }
        """

    /// An initiative as the archive holds it (its comments inline).
    static let initiativeFields = """
        id number title description color effort impact archivedAt createdAt updatedAt
              \(actorFields)
              spaces { id key }
              labels { id name color }
              workItems { id }
              members { id }
              watchers { id }
              roadmapColumns { id }
              comments { id body threadId createdAt updatedAt \(actorFields) }
              \(activityFields)
        """

    static let initiativesQuery = """
        query Initiatives($cursor: String, $count: Int) {
          initiatives(cursor: $cursor, count: $count) {
            initiatives {
              \(initiativeFields)
            }
            cursor
            hasMore
          }
        }
        """

    /// One initiative by id (`initiative(id: ID!): Initiative!`), with the same fields as `initiativesQuery`: the read
    /// of a `--revert` just before its write. Non-null like `workItem(id:)`: a missing one answers `data: null` and an
    /// error (see `KitemakerConnection.initiative(id:)`).
    static let initiativeQuery = """
        query Initiative($id: ID!) {
          initiative(id: $id) {
            \(initiativeFields)
          }
        }
        """

    static let roadmapsQuery = """
        query Roadmaps {
          roadmaps {
            roadmaps {
              id name color createdAt updatedAt
              columns { id name columnType createdAt updatedAt initiatives { id } }
            }
          }
        }
        """

    /// A feedback item as the archive holds it.
    static let feedbackFields = """
        id number title content processed processedAt createdAt updatedAt
              \(actorFields)
              person { id name email }
              company { id name }
              owners { id }
              tags { id name color }
              insights { id content createdAt updatedAt \(actorFields) entities { \(entityFields) } }
        """

    static let feedbackQuery = """
        query Feedback($cursor: String, $count: Int) {
          feedback(cursor: $cursor, count: $count) {
            feedback {
              \(feedbackFields)
            }
            cursor
            hasMore
          }
        }
        """

    /// One feedback item by id (`feedbackById(id: ID!): Feedback!`), with the same fields as `feedbackQuery`: the
    /// read of a `--revert` just before its write. Non-null: a missing one answers `data: null` and an error (see
    /// `KitemakerConnection.feedback(id:)`).
    static let feedbackByIDQuery = """
        query FeedbackById($id: ID!) {
          feedbackById(id: $id) {
            \(feedbackFields)
          }
        }
        """

    static let feedbackPeopleQuery = """
        query FeedbackPeople {
          feedbackPersons { id name email externalId createdAt updatedAt company { id } }
          feedbackCompanies { id name domain createdAt updatedAt }
        }
        """

    static let workItemCommentsQuery = """
        query WorkItemComments($id: ID!) {
          workItem(id: $id) { id comments { id body threadId createdAt } }
        }
        """

    /// A mutation document as Kitemaker's own importer writes them: one `$input` of the mutation's input type,
    /// answering the fields in `selection`.
    static func mutation(_ field: String, input: String, _ selection: String) -> String {
        let name = field.prefix(1).uppercased() + field.dropFirst()
        return """
            mutation \(name)($input: \(input)!) {
              \(field)(input: $input) { \(selection) }
            }
            """
    }

    static let createWorkItemMutation = mutation("createWorkItem", input: "CreateWorkItemInput", "workItem { id number sort }")
    static let createInitiativeMutation = mutation("createInitiative", input: "CreateInitiativeInput", "initiative { id number }")
    static let addInitiativesToRoadmapMutation = mutation(
        "addInitiativesToRoadmap", input: "AddInitiativesToRoadmapInput", "roadmap { id }")
    static let editInitiativeMutation = mutation("editInitiative", input: "EditInitiativeInput", "initiative { id }")
    static let createFeedbackMutation = mutation("createFeedback", input: "CreateFeedbackInput", "feedback { id number }")
    static let addTagsToFeedbackMutation = mutation("addTagsToFeedback", input: "AddTagsToFeedbackInput", "feedback { id }")
    static let editFeedbackMutation = mutation("editFeedback", input: "EditFeedbackInput", "feedback { id }")
    static let addEntitiesToInsightMutation = mutation("addEntitiesToInsight", input: "AddEntitiesToInsightInput", "insight { id }")
    static let createPersonMutation = mutation("createPerson", input: "CreatePersonInput", "person { id }")
    static let createCompanyMutation = mutation("createCompany", input: "CreateCompanyInput", "company { id }")
    static let createReplyMutation = mutation(
        "createCommentOnWorkItem", input: "CreateCommentOnWorkItemInput", "comment { id threadId }")
}
