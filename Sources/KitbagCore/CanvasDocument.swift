import Foundation

/// A JSON Canvas 1.0 document: nodes (in ascending z order) and edges.
public struct CanvasDocument: Sendable, Equatable {
    public var nodes: [CanvasNode]
    public var edges: [CanvasEdge]

    public init(nodes: [CanvasNode] = [], edges: [CanvasEdge] = []) {
        self.nodes = nodes
        self.edges = edges
    }

    /// Deterministic bytes: `{"nodes":[…],"edges":[…]}` with one node or edge per line,
    /// keys in a fixed order, integers only, UTF-8, ending with a newline.
    public func serialized() -> Data {
        var out: [UInt8] = Array("{\n\"nodes\":[".utf8)
        for (i, n) in nodes.enumerated() {
            out.append(contentsOf: (i == 0 ? "\n" : ",\n").utf8)
            n.json.write(into: &out)
        }
        out.append(contentsOf: (nodes.isEmpty ? "],\n\"edges\":[" : "\n],\n\"edges\":[").utf8)
        for (i, e) in edges.enumerated() {
            out.append(contentsOf: (i == 0 ? "\n" : ",\n").utf8)
            e.json.write(into: &out)
        }
        out.append(contentsOf: (edges.isEmpty ? "]\n}\n" : "\n]\n}\n").utf8)
        return Data(out)
    }
}

/// One canvas node; `kind` carries the type-specific fields.
public struct CanvasNode: Sendable, Equatable {
    public var id: String
    public var kind: Kind
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    /// `#rrggbb` or a preset `"1"`…`"6"`.
    public var color: String?

    /// The node types of JSON Canvas 1.0.
    public enum Kind: Sendable, Equatable {
        /// Markdown text.
        case text(String)
        /// A file path, with an optional subpath starting with `#`.
        case file(String, subpath: String?)
        case link(url: String)
        case group(label: String?, background: String?, backgroundStyle: String?)

        /// The JSON `type` value.
        public var typeName: String {
            switch self {
            case .text: return "text"
            case .file: return "file"
            case .link: return "link"
            case .group: return "group"
            }
        }
    }

    public init(id: String, kind: Kind, x: Int, y: Int, width: Int, height: Int, color: String? = nil) {
        self.id = id
        self.kind = kind
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.color = color
    }

    var json: JSONValue {
        var o = JSONObject()
        o["id"] = .string(id)
        o["type"] = .string(kind.typeName)
        switch kind {
        case .text(let text): o["text"] = .string(text)
        case .file(let file, let subpath):
            o["file"] = .string(file)
            if let subpath { o["subpath"] = .string(subpath) }
        case .link(let url): o["url"] = .string(url)
        case .group(let label, _, _):
            if let label { o["label"] = .string(label) }
        }
        o["x"] = .int(x)
        o["y"] = .int(y)
        o["width"] = .int(width)
        o["height"] = .int(height)
        if let color { o["color"] = .string(color) }
        if case .group(_, let background, let style) = kind {
            if let background { o["background"] = .string(background) }
            if let style { o["backgroundStyle"] = .string(style) }
        }
        return .object(o)
    }
}

/// One canvas edge between two nodes.
public struct CanvasEdge: Sendable, Equatable {
    /// A side of a node an edge attaches to.
    public enum Side: String, Sendable, Equatable, CaseIterable {
        case top, right, bottom, left
    }
    /// What an edge end looks like.
    public enum End: String, Sendable, Equatable, CaseIterable {
        case none, arrow
    }

    public var id: String
    public var fromNode: String
    public var toNode: String
    public var fromSide: Side?
    public var toSide: Side?
    /// Defaults to `none` (spec).
    public var fromEnd: End
    /// Defaults to `arrow` (spec).
    public var toEnd: End
    public var color: String?
    public var label: String?

    public init(
        id: String, fromNode: String, toNode: String, fromSide: Side? = nil, toSide: Side? = nil,
        fromEnd: End = .none, toEnd: End = .arrow, color: String? = nil, label: String? = nil
    ) {
        self.id = id
        self.fromNode = fromNode
        self.toNode = toNode
        self.fromSide = fromSide
        self.toSide = toSide
        self.fromEnd = fromEnd
        self.toEnd = toEnd
        self.color = color
        self.label = label
    }

    var json: JSONValue {
        var o = JSONObject()
        o["id"] = .string(id)
        o["fromNode"] = .string(fromNode)
        if let fromSide { o["fromSide"] = .string(fromSide.rawValue) }
        o["fromEnd"] = .string(fromEnd.rawValue)
        o["toNode"] = .string(toNode)
        if let toSide { o["toSide"] = .string(toSide.rawValue) }
        o["toEnd"] = .string(toEnd.rawValue)
        if let color { o["color"] = .string(color) }
        if let label { o["label"] = .string(label) }
        return .object(o)
    }
}

/// Reads and validates JSON Canvas 1.0 files (for `kitbag import FILE.canvas`).
///
/// Refuses: non-JSON, a top level that is not an object, `nodes`/`edges` that are not arrays,
/// nodes without a string `id`, an unknown `type`, missing type fields (`text`, `file`, `url`),
/// non-numeric or non-finite coordinates, negative sizes, duplicate ids, edges naming unknown nodes,
/// and unknown sides/ends. Unknown extra keys are ignored (the spec allows extensions).
/// Fractional coordinates are rounded to the nearest integer.
public enum CanvasReader {
    /// Largest canvas file accepted by default (64 MiB).
    public static let defaultLimit = 64 << 20

    /// Parses and validates a canvas file.
    public static func read(_ data: Data, limit: Int = defaultLimit) throws -> CanvasDocument {
        guard data.count <= limit else { throw RenderError.canvasTooLarge(size: data.count, limit: limit) }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: data)
        } catch let e as JSONParseError {
            throw RenderError.canvasNotJSON(e.description)
        } catch {
            throw RenderError.canvasNotJSON("\(error)")
        }
        guard let top = json.objectValue else {
            throw RenderError.canvasInvalid(path: "the top level", problem: "must be an object, found \(typeName(json))")
        }
        var doc = CanvasDocument()
        var ids = Set<String>()
        for (i, value) in try array(top["nodes"], "nodes").enumerated() {
            let path = "nodes[\(i)]"
            let node = try readNode(value, path: path)
            guard ids.insert(node.id).inserted else {
                throw RenderError.canvasInvalid(path: "\(path).id", problem: "repeats the id \(quoted(node.id))")
            }
            doc.nodes.append(node)
        }
        let nodeIDs = ids
        for (i, value) in try array(top["edges"], "edges").enumerated() {
            let path = "edges[\(i)]"
            let edge = try readEdge(value, path: path)
            guard ids.insert(edge.id).inserted else {
                throw RenderError.canvasInvalid(path: "\(path).id", problem: "repeats the id \(quoted(edge.id))")
            }
            for (key, ref) in [("fromNode", edge.fromNode), ("toNode", edge.toNode)] where !nodeIDs.contains(ref) {
                throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "names no node (\(quoted(ref)))")
            }
            doc.edges.append(edge)
        }
        return doc
    }

    static func readNode(_ value: JSONValue, path: String) throws -> CanvasNode {
        guard let o = value.objectValue else {
            throw RenderError.canvasInvalid(path: path, problem: "must be an object, found \(typeName(value))")
        }
        let id = try string(o, "id", path)
        guard !id.isEmpty else { throw RenderError.canvasInvalid(path: "\(path).id", problem: "is empty") }
        let type = try string(o, "type", path)
        let kind: CanvasNode.Kind
        switch type {
        case "text": kind = .text(try string(o, "text", path))
        case "file": kind = .file(try string(o, "file", path), subpath: try optionalString(o, "subpath", path))
        case "link": kind = .link(url: try string(o, "url", path))
        case "group":
            kind = .group(
                label: try optionalString(o, "label", path), background: try optionalString(o, "background", path),
                backgroundStyle: try optionalString(o, "backgroundStyle", path))
        default:
            throw RenderError.canvasInvalid(
                path: "\(path).type", problem: "is \(quoted(type)), expected text, file, link or group")
        }
        let width = try integer(o, "width", path)
        let height = try integer(o, "height", path)
        for (key, v) in [("width", width), ("height", height)] where v < 0 {
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "is negative (\(v))")
        }
        return CanvasNode(
            id: id, kind: kind, x: try integer(o, "x", path), y: try integer(o, "y", path), width: width,
            height: height, color: try optionalString(o, "color", path))
    }

    static func readEdge(_ value: JSONValue, path: String) throws -> CanvasEdge {
        guard let o = value.objectValue else {
            throw RenderError.canvasInvalid(path: path, problem: "must be an object, found \(typeName(value))")
        }
        let id = try string(o, "id", path)
        guard !id.isEmpty else { throw RenderError.canvasInvalid(path: "\(path).id", problem: "is empty") }
        return CanvasEdge(
            id: id, fromNode: try string(o, "fromNode", path), toNode: try string(o, "toNode", path),
            fromSide: try enumValue(o, "fromSide", path), toSide: try enumValue(o, "toSide", path),
            fromEnd: try enumValue(o, "fromEnd", path) ?? CanvasEdge.End.none,
            toEnd: try enumValue(o, "toEnd", path) ?? .arrow,
            color: try optionalString(o, "color", path), label: try optionalString(o, "label", path))
    }

    static func array(_ value: JSONValue?, _ key: String) throws -> [JSONValue] {
        guard let value, !value.isNull else { return [] }
        guard let a = value.arrayValue else {
            throw RenderError.canvasInvalid(path: key, problem: "must be an array, found \(typeName(value))")
        }
        return a
    }

    static func string(_ o: JSONObject, _ key: String, _ path: String) throws -> String {
        guard let v = o[key] else { throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "is missing") }
        guard let s = v.stringValue else {
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "must be a string, found \(typeName(v))")
        }
        return s
    }

    static func optionalString(_ o: JSONObject, _ key: String, _ path: String) throws -> String? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let s = v.stringValue else {
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "must be a string, found \(typeName(v))")
        }
        return s
    }

    static func integer(_ o: JSONObject, _ key: String, _ path: String) throws -> Int {
        guard let v = o[key] else { throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "is missing") }
        guard case .number(let literal) = v else {
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "must be a number, found \(typeName(v))")
        }
        if let i = Int(literal), abs(i) <= 1 << 40 { return i }
        guard let d = Double(literal), d.isFinite, abs(d) <= Double(1 << 40) else {
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "is out of range (\(literal))")
        }
        return Int(d.rounded())
    }

    static func enumValue<E: RawRepresentable>(_ o: JSONObject, _ key: String, _ path: String) throws -> E?
    where E.RawValue == String, E: CaseIterable {
        guard let s = try optionalString(o, key, path) else { return nil }
        guard let e = E(rawValue: s) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw RenderError.canvasInvalid(path: "\(path).\(key)", problem: "is \(quoted(s)), expected one of \(allowed)")
        }
        return e
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// A short, one-line, quoted echo of a value from the file.
    static func quoted(_ s: String) -> String {
        let flat = OneLine.flatten(s)
        return "\"" + (flat.count > 60 ? flat.prefix(60) + "…" : flat) + "\""
    }
}
