import Foundation

/// Kitemaker's wire facts that more than one file of the connector needs (seeds/kitemaker-api.txt, api-facts.md).
public enum KitemakerSchema {
    /// REST base; the GraphQL endpoint is `…/developers/graphql` on the same host.
    public static let defaultBaseURL = "https://toil.kitemaker.co"
    public static let baseURLVariable = "KITEMAKER_BASE_URL"
    /// Personal access token or application token (`X-API-KEY` for REST, `Authorization: Bearer` for GraphQL).
    public static let tokenVariable = "KITEMAKER_TOKEN"
}
