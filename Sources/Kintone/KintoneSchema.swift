import Foundation

/// Kintone's wire facts that more than one file of the connector needs (seeds/kintone-api.txt, api-facts.md).
public enum KintoneSchema {
    /// `https://{subdomain}.kintone.com`; there is no shared public host, so the base URL is always required.
    public static let baseURLVariable = "KINTONE_BASE_URL"
    /// One or more API tokens, comma-separated (`X-Cybozu-API-Token`).
    public static let apiTokenVariable = "KINTONE_API_TOKEN"
    /// Password authentication (`X-Cybozu-Authorization: base64(login:password)`).
    public static let usernameVariable = "KINTONE_USERNAME"
    public static let passwordVariable = "KINTONE_PASSWORD"
}
