import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore
import MultipartKit
import NIOCore

/// Record comments, files, and spaces with their threads and members.
extension KintoneState {
    static let maxCommentsPerRead = 10
    static let maxCommentLength = 65_535
    static let maxMentions = 10

    static var commentEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        return [
            E(.get, "record/comments.json") { s, c throws(KintoneError) in try s.getComments(c) },
            E(.post, "record/comment.json", writes: true) { s, c throws(KintoneError) in try s.addComment(c) },
            E(.delete, "record/comment.json", writes: true) { s, c throws(KintoneError) in try s.deleteComment(c) },
        ]
    }

    static var fileEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        return [
            E(.get, "file.json") { s, c throws(KintoneError) in try s.downloadFile(c) },
            E(.post, "file.json", writes: true) { s, c throws(KintoneError) in try s.uploadFile(c) },
        ]
    }

    static var spaceEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        return [
            E(.get, "space.json") { s, c throws(KintoneError) in try s.getSpace(c) },
            E(.delete, "space.json", writes: true) { s, c throws(KintoneError) in try s.deleteSpace(c) },
            E(.get, "space/members.json") { s, c throws(KintoneError) in try s.getSpaceMembers(c) },
            E(.put, "space/members.json", writes: true) { s, c throws(KintoneError) in try s.putSpaceMembers(c) },
            E(.put, "space/body.json", writes: true) { s, c throws(KintoneError) in try s.putSpaceBody(c) },
            E(.post, "space/thread.json", writes: true) { s, c throws(KintoneError) in try s.addThread(c) },
            E(.put, "space/thread.json", writes: true) { s, c throws(KintoneError) in try s.updateThread(c) },
            E(.post, "space/thread/comment.json", writes: true) { s, c throws(KintoneError) in try s.addThreadComment(c) },
            E(.post, "template/space.json", writes: true) { s, c throws(KintoneError) in try s.addSpaceFromTemplate(c) },
        ]
    }

    // MARK: - Record comments

    func commentTarget(_ call: KintoneCall) throws(KintoneError) -> (app: (id: Int, live: KintoneAppSettings), record: KintoneRecord) {
        let app = try writableApp(call)
        let id = try call.params.requiredInt("record")
        guard let record = apps[app.id]?.records[id] else { throw KintoneError.recordNotFound(id) }
        return (app, record)
    }

    func getComments(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let (_, record) = try commentTarget(call)
        let order = call.params.string("order")?.lowercased() ?? "desc"
        guard order == "asc" || order == "desc" else { throw KintoneError.invalid("order", "must be asc or desc.") }
        let limit = try call.params.int("limit") ?? Self.maxCommentsPerRead
        guard (1...Self.maxCommentsPerRead).contains(limit) else {
            throw KintoneError.invalid("limit", "must be between 1 and \(Self.maxCommentsPerRead).")
        }
        let offset = try call.params.int("offset") ?? 0
        guard offset >= 0 else { throw KintoneError.invalid("offset", "must be 0 or more.") }
        let ordered = order == "asc" ? record.comments : record.comments.reversed()
        let page = ordered.dropFirst(offset).prefix(limit)
        let more = offset + page.count < ordered.count
        let before = offset > 0 && !ordered.isEmpty
        return SandboxReply([
            "comments": .array(page.map(JSONValue.object)),
            "older": .bool(order == "desc" ? more : before),
            "newer": .bool(order == "desc" ? before : more),
        ])
    }

    /// Validates `{text, mentions}` and returns the stored mentions.
    func checkedComment(_ comment: JSONValue?, path: String) throws(KintoneError) -> (text: String, mentions: [JSONValue]) {
        guard let comment = comment?.objectValue else { throw KintoneError.invalid(path, "Required field.") }
        guard let text = comment["text"]?.stringValue, !text.isEmpty else {
            throw KintoneError.invalid("\(path).text", "Required field.")
        }
        guard text.count <= Self.maxCommentLength else {
            throw KintoneError.invalid("\(path).text", "up to \(Self.maxCommentLength) characters.")
        }
        let mentions = comment["mentions"]?.arrayValue ?? []
        guard mentions.count <= Self.maxMentions else {
            throw KintoneError.invalid("\(path).mentions", "up to \(Self.maxMentions) mentions.")
        }
        var stored: [JSONValue] = []
        for (i, mention) in mentions.enumerated() {
            let code = mention["code"]?.stringValue ?? ""
            let type = mention["type"]?.stringValue ?? "USER"
            let known: Bool
            switch type {
            case "USER": known = users[code] != nil
            case "GROUP": known = groups[code] != nil
            case "ORGANIZATION": known = organizations[code] != nil
            default: throw KintoneError.invalid("\(path).mentions[\(i)].type", "must be USER, GROUP or ORGANIZATION.")
            }
            guard known else { throw KintoneError.invalid("\(path).mentions[\(i)].code", "\(type.lowercased()) \(code) does not exist.") }
            stored.append(["code": .string(code), "type": .string(type)])
        }
        return (text, stored)
    }

    mutating func addComment(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let (app, record) = try commentTarget(call)
        guard app.live[.general]["enableComments"]?.boolValue ?? true else {
            throw KintoneError(.badRequest, "GAIA_CM01", "Comments are turned off for app \(app.id).")
        }
        let (text, mentions) = try checkedComment(call.params["comment"], path: "comment")
        var updated = record
        let id = updated.nextCommentId
        updated.nextCommentId += 1
        updated.comments.append(JSONObject([
            ("id", .string(String(id))), ("text", .string(text)), ("createdAt", .string(Self.dateTime(call.now))),
            ("creator", call.caller.entity), ("mentions", .array(mentions)),
        ]))
        apps[app.id]?.records[record.id] = updated
        return SandboxReply(["id": .string(String(id))])
    }

    mutating func deleteComment(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let (app, record) = try commentTarget(call)
        let id = try call.params.requiredInt("comment")
        guard let index = record.comments.firstIndex(where: { $0["id"]?.idString == String(id) }) else {
            throw KintoneError(.notFound, "GAIA_RE02", "The comment (ID: \(id)) of record \(record.id) is not found.")
        }
        guard record.comments[index]["creator"]?["code"]?.stringValue == call.caller.code else {
            throw KintoneError(.forbidden, "CB_NO02", "No privilege to proceed: only the comment's poster can delete it.")
        }
        apps[app.id]?.records[record.id]?.comments.remove(at: index)
        return SandboxReply(.object(JSONObject()))
    }

    // MARK: - Files

    func downloadFile(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let key = call.params.string("fileKey"), !key.isEmpty else { throw KintoneError.invalid("fileKey", "Required field.") }
        guard let file = files[key] else {
            throw KintoneError(.notFound, "GAIA_BL01", "The specified file (fileKey: \(key)) not found.")
        }
        var headers = HTTPFields()
        let encoded = file.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
        headers[HTTPFields.Element.Name("Content-Disposition")!] = "attachment; filename*=UTF-8''\(encoded)"
        return .bytes(file.bytes, contentType: file.contentType, headers: headers)
    }

    mutating func uploadFile(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let contentType = call.request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Self.boundary(contentType) else {
            throw KintoneError.invalid("file", "send the file as multipart/form-data in a part named file.")
        }
        let upload = KintoneUploadCollector()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in upload.header(name, value) }
        parser.onBody = { buffer in upload.body(&buffer) }
        parser.onPartComplete = { upload.complete() }
        do {
            try parser.execute(call.request.body)
        } catch {
            throw KintoneError.invalid("file", "the multipart body could not be read (\(error)).")
        }
        guard let part = upload.parts.first(where: { $0.name == "file" }) else {
            throw KintoneError.invalid("file", "Required field: a multipart part named file.")
        }
        let key = newUploadKey()
        uploads[key] = KintoneFile(
            name: part.filename ?? "file", contentType: part.contentType ?? "application/octet-stream", bytes: part.bytes)
        return SandboxReply(["fileKey": .string(key)])
    }

    static func boundary(_ contentType: String) -> String? {
        for piece in contentType.split(separator: ";") {
            let trimmed = piece.trimmingCharacters(in: .whitespaces)
            guard trimmed.lowercased().hasPrefix("boundary=") else { continue }
            var value = String(trimmed.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    // MARK: - Spaces

    /// A space reachable through the call's prefix (guest spaces only through their own).
    func space(_ id: Int, _ call: KintoneCall) throws(KintoneError) -> KintoneSpace {
        guard let space = spaces[id] else { throw KintoneError(.notFound, "GAIA_SP01", "The space (ID: \(id)) not found.") }
        guard (space.isGuest ? space.id : nil) == call.guestSpaceId else {
            throw KintoneError(.forbidden, "CB_NO02",
                               space.isGuest ? "No privilege to proceed: space \(id) is a guest space; use /k/guest/\(id)/v1/."
                                             : "No privilege to proceed: space \(id) is not this guest space; use /k/v1/.")
        }
        return space
    }

    func getSpace(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("id"), call)
        let attached: [JSONValue] = appOrder.compactMap { apps[$0] }.filter { $0.spaceId == space.id && $0.isLive }.map { app in
            .object(JSONObject([
                ("threadId", .string(String(app.threadId ?? space.defaultThread))), ("appId", .string(String(app.id))),
                ("code", .string(app.code)), ("name", .string(app.name)), ("description", .string(app.description)),
                ("createdAt", .string(app.createdAt)), ("creator", app.creator),
                ("modifiedAt", .string(app.modifiedAt)), ("modifier", app.modifier),
            ]))
        }
        return SandboxReply(.object(JSONObject([
            ("id", .string(String(space.id))), ("name", .string(space.name)),
            ("defaultThread", .string(String(space.defaultThread))), ("isPrivate", .bool(space.isPrivate)),
            ("creator", space.creator), ("modifier", space.modifier),
            ("memberCount", .string(String(space.members.count))), ("coverType", "PRESET"),
            ("coverKey", .string(space.coverKey)), ("coverUrl", .string("https://static.cybozu.com/contents/k/image/argo/preset/space/\(space.coverKey).png")),
            ("body", .string(space.body)), ("useMultiThread", .bool(space.useMultiThread)), ("isGuest", .bool(space.isGuest)),
            ("attachedApps", .array(attached)), ("fixedMember", .bool(space.fixedMember)),
            ("showAnnouncement", .bool(space.showAnnouncement)), ("showThreadList", .bool(space.useMultiThread)),
            ("showAppList", true), ("showMemberList", true), ("showRelatedLinkList", true),
            ("permissions", ["createApp": "EVERYONE"]),
        ])))
    }

    func getSpaceMembers(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("id"), call)
        return SandboxReply(["members": .array(space.members)])
    }

    func checkedMembers(_ list: [JSONValue]?) throws(KintoneError) -> [JSONValue] {
        guard let list, !list.isEmpty else { throw KintoneError.invalid("members", "Required field.") }
        var out: [JSONValue] = []
        var hasAdmin = false
        for (i, member) in list.enumerated() {
            let type = member["entity"]?["type"]?.stringValue ?? ""
            let code = member["entity"]?["code"]?.stringValue ?? ""
            let known = type == "USER" ? users[code] != nil : type == "GROUP" ? groups[code] != nil
                : type == "ORGANIZATION" ? organizations[code] != nil : false
            guard known else { throw KintoneError.invalid("members[\(i)].entity", "\(type) \(code) does not exist.") }
            let isAdmin = member["isAdmin"]?.boolValue ?? false
            hasAdmin = hasAdmin || (isAdmin && type == "USER")
            out.append(.object(JSONObject([
                ("entity", ["type": .string(type), "code": .string(code)]), ("isAdmin", .bool(isAdmin)),
                ("isImplicit", false), ("includeSubs", .bool(member["includeSubs"]?.boolValue ?? false)),
            ])))
        }
        guard hasAdmin else { throw KintoneError.invalid("members", "at least one user must be a space administrator.") }
        return out
    }

    mutating func putSpaceMembers(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("id"), call)
        let members = try checkedMembers(call.params.list("members"))
        spaces[space.id]?.members = members
        return SandboxReply(.object(JSONObject()))
    }

    mutating func putSpaceBody(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("id"), call)
        spaces[space.id]?.body = call.params.string("body") ?? ""
        spaces[space.id]?.modifier = call.caller.entity
        return SandboxReply(.object(JSONObject()))
    }

    mutating func deleteSpace(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("id"), call)
        spaces[space.id] = nil
        spaceOrder.removeAll { $0 == space.id }
        for id in appOrder where apps[id]?.spaceId == space.id {
            apps[id] = nil
        }
        appOrder.removeAll { apps[$0] == nil }
        return SandboxReply(.object(JSONObject()))
    }

    mutating func addThread(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("space"), call)
        guard space.useMultiThread else {
            throw KintoneError(.badRequest, "GAIA_ST01", "Space \(space.id) uses a single thread; turn on multiple threads to add one.")
        }
        guard let name = call.params.string("name"), !name.isEmpty, name.count <= 128 else {
            throw KintoneError.invalid("name", "Required field (1 to 128 characters).")
        }
        let id = nextThreadId
        nextThreadId += 1
        spaces[space.id]?.threads.append(KintoneThread(id: id, name: name, body: ""))
        return SandboxReply(["id": .string(String(id))])
    }

    func threadLocation(_ id: Int) -> (space: Int, index: Int)? {
        for spaceId in spaceOrder {
            if let index = spaces[spaceId]?.threads.firstIndex(where: { $0.id == id }) { return (spaceId, index) }
        }
        return nil
    }

    mutating func updateThread(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let id = try call.params.requiredInt("id")
        guard let (spaceId, index) = threadLocation(id) else {
            throw KintoneError(.notFound, "GAIA_TH01", "The thread (ID: \(id)) not found.")
        }
        _ = try space(spaceId, call)
        if let name = call.params.string("name") {
            guard !name.isEmpty, name.count <= 128 else { throw KintoneError.invalid("name", "1 to 128 characters.") }
            spaces[spaceId]?.threads[index].name = name
        }
        if let body = call.params.string("body") { spaces[spaceId]?.threads[index].body = body }
        return SandboxReply(.object(JSONObject()))
    }

    mutating func addThreadComment(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let space = try space(try call.params.requiredInt("space"), call)
        let threadId = try call.params.requiredInt("thread")
        guard let index = space.threads.firstIndex(where: { $0.id == threadId }) else {
            throw KintoneError(.notFound, "GAIA_TH01", "The thread (ID: \(threadId)) not found in space \(space.id).")
        }
        let (text, mentions) = try checkedComment(call.params["comment"], path: "comment")
        var attached: [JSONValue] = []
        for (i, file) in (call.params["comment"]?["files"]?.arrayValue ?? []).enumerated() {
            let key = file["fileKey"]?.stringValue ?? ""
            guard let upload = uploads[key] else {
                throw KintoneError.invalid("comment.files[\(i)].fileKey", "the file key \(key) is not an uploaded file.")
            }
            uploads[key] = nil
            let download = newDownloadKey(at: call.now)
            files[download] = upload
            attached.append(upload.descriptor(key: download))
        }
        let id = spaces[space.id]!.nextCommentId
        spaces[space.id]?.nextCommentId += 1
        spaces[space.id]?.threads[index].comments.append(JSONObject([
            ("id", .string(String(id))), ("text", .string(text)), ("createdAt", .string(Self.dateTime(call.now))),
            ("creator", call.caller.entity), ("mentions", .array(mentions)), ("files", .array(attached)),
        ]))
        return SandboxReply(["id": .string(String(id))])
    }

    mutating func addSpaceFromTemplate(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let template = try call.params.requiredInt("id")
        guard spaceTemplates[template] != nil else {
            throw KintoneError(.notFound, "GAIA_TE01", "The space template (ID: \(template)) not found.")
        }
        guard let name = call.params.string("name"), !name.isEmpty, name.count <= 128 else {
            throw KintoneError.invalid("name", "Required field (1 to 128 characters).")
        }
        let members = try checkedMembers(call.params.list("members"))
        let id = nextSpaceId
        nextSpaceId += 1
        let thread = nextThreadId
        nextThreadId += 1
        spaces[id] = KintoneSpace(
            id: id, name: name, body: "", isGuest: call.params.bool("isGuest") ?? false,
            isPrivate: !(call.params.bool("isPublic") ?? false), useMultiThread: true,
            creator: call.caller.entity, modifier: call.caller.entity, members: members,
            threads: [KintoneThread(id: thread, name: name, body: "")],
            fixedMember: call.params.bool("fixedMember") ?? false)
        spaceOrder.append(id)
        return SandboxReply(["id": .string(String(id))])
    }
}

/// Collects multipart parts while MultipartKit parses (used synchronously inside one request).
final class KintoneUploadCollector {
    struct Part {
        var name: String?
        var filename: String?
        var contentType: String?
        var bytes: [UInt8] = []
    }

    private(set) var parts: [Part] = []
    private var current = Part()

    func header(_ name: String, _ value: String) {
        switch name.lowercased() {
        case "content-disposition":
            for piece in value.split(separator: ";") {
                let kv = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { continue }
                var v = kv[1]
                if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                switch kv[0].lowercased() {
                case "name": current.name = v
                case "filename": current.filename = v
                case "filename*":
                    if let range = v.range(of: "''") { current.filename = String(v[range.upperBound...]).removingPercentEncoding }
                default: break
                }
            }
        case "content-type": current.contentType = value
        default: break
        }
    }

    func body(_ buffer: inout ByteBuffer) {
        current.bytes.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func complete() {
        parts.append(current)
        current = Part()
    }
}
