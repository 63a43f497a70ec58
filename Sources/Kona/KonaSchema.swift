import Foundation

/// Kona's wire facts that more than one file of the connector needs (seeds/kona-api.txt, api-facts.md).
public enum KonaSchema {
    public static let defaultBaseURL = "https://io.kona.com"
    public static let baseURLVariable = "KONA_BASE_URL"
    /// OAuth 2 access token (`Authorization: Bearer`), valid for about a week.
    public static let accessTokenVariable = "KONA_ACCESS_TOKEN"
    /// Refresh grant used when the access token expires mid-run; the refresh token itself stays the same.
    public static let refreshTokenVariable = "KONA_REFRESH_TOKEN"
    public static let clientIDVariable = "KONA_CLIENT_ID"
    public static let clientSecretVariable = "KONA_CLIENT_SECRET"
}
