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

    static let actorFields = "actor { __typename ... on User { id username } ... on Application { id name } }"

    static let organizationQuery = """
        query Organization {
          organization {
            id name createdAt updatedAt
            users { id username name guest deactivated createdAt updatedAt }
            applications { id name createdAt updatedAt }
            spaces {
              id key name private createdAt updatedAt
              members { id }
              statuses { id name type default createdAt updatedAt }
              labels { id name color createdAt updatedAt }
            }
          }
        }
        """

    static let workItemsQuery = """
        query WorkItems($spaceId: ID!, $cursor: String, $count: Int) {
          workItems(spaceId: $spaceId, cursor: $cursor, count: $count) {
            workItems {
              id number title description sort effort impact createdAt updatedAt
              \(actorFields)
              status { id name type }
              labels { id name color }
              members { id }
              watchers { id }
              comments {
                id body threadId createdAt updatedAt
                \(actorFields)
                entity { __typename ... on WorkItem { id } }
              }
            }
            cursor
            hasMore
          }
        }
        """

    static let initiativesQuery = """
        query Initiatives($cursor: String, $count: Int) {
          initiatives(cursor: $cursor, count: $count) {
            initiatives {
              id number title description color effort impact archivedAt createdAt updatedAt
              \(actorFields)
              spaces { id key }
              labels { id name color }
              workItems { id }
            }
            cursor
            hasMore
          }
        }
        """

    static let feedbackQuery = """
        query Feedback($cursor: String, $count: Int) {
          feedback(cursor: $cursor, count: $count) {
            feedback {
              id number title contents processed processedAt createdAt updatedAt
              person { id name email }
              company { id name }
              insights { id contents entityIds createdAt updatedAt \(actorFields) }
            }
            cursor
            hasMore
          }
        }
        """

    static let workItemCommentsQuery = """
        query WorkItemComments($id: ID!) {
          workItem(id: $id) { id comments { id body threadId createdAt } }
        }
        """

    static let createReplyMutation = """
        mutation Reply($input: CreateCommentOnWorkItemInput!) {
          createCommentOnWorkItem(input: $input) { comment { id threadId } }
        }
        """
}
