import Foundation
import KitbagCore

extension APIClient {
    /// Sends a request whose answer is a JSON array and hands over its elements one at a time, so a list of many
    /// thousand entries (a Kinopio account's spaces) is never held as one tree. An empty body or one that is no
    /// array gives no element, as `json(_:).arrayValue ?? []` does; a body that is not JSON fails as in `json`.
    public func forEachElement(_ request: APIRequest, _ body: (JSONValue) throws -> Void) async throws {
        let response = try await send(request)
        do {
            try JSONValue.forEachElement(ofArrayIn: response.body, body)
        } catch let error as JSONParseError {
            if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return }
            throw HTTPFailure.invalidBody(
                service: response.service, route: response.route,
                reason: redact(APIResponse.notJSONReason(error, body: response.body, contentType: response.header("content-type"))))
        }
    }
}
