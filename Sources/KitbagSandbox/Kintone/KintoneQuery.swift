import Foundation
import KitbagCore

/// A parsed Kintone record query: conditions joined by `and`/`or` with parentheses, `order by`,
/// `limit` and `offset`. Operators: `= != > < >= <= in, not in, like, not like`; values are quoted
/// strings, numbers or `NOW()`, `TODAY()`, `LOGINUSER()`.
struct KintoneQuery: Sendable {
    indirect enum Condition: Sendable {
        case all([Condition])
        case any([Condition])
        case compare(field: String, op: Operator, values: [Value])
    }

    enum Operator: String, Sendable {
        case equal = "=", notEqual = "!=", greater = ">", less = "<", greaterOrEqual = ">=", lessOrEqual = "<="
        case isIn = "in", notIn = "not in", like = "like", notLike = "not like"
    }

    enum Value: Sendable {
        case text(String)
        case function(String)
    }

    var condition: Condition?
    var order: [(field: String, ascending: Bool)] = []
    var limit: Int?
    var offset: Int?

    private enum Token: Equatable {
        case word(String), string(String), symbol(String)
    }

    static func error(_ message: String) -> KintoneError {
        KintoneError.invalid("query", message)
    }

    static func parse(_ text: String) throws(KintoneError) -> KintoneQuery {
        var parser = Parser(tokens: try tokenize(text))
        return try parser.query()
    }

    private static func tokenize(_ text: String) throws(KintoneError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "\"" {
                var s = ""
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == "\\", i + 1 < chars.count { s.append(chars[i + 1]); i += 2; continue }
                    if chars[i] == "\"" { closed = true; i += 1; break }
                    s.append(chars[i]); i += 1
                }
                guard closed else { throw error("a string in the query is not closed with \".") }
                tokens.append(.string(s))
                continue
            }
            if "()," .contains(c) { tokens.append(.symbol(String(c))); i += 1; continue }
            if "=<>!".contains(c) {
                var op = String(c)
                if i + 1 < chars.count, chars[i + 1] == "=" { op.append("="); i += 1 }
                guard op != "!" else { throw error("unknown operator !.") }
                tokens.append(.symbol(op)); i += 1
                continue
            }
            var word = ""
            while i < chars.count, !chars[i].isWhitespace, !"()\",=<>!".contains(chars[i]) { word.append(chars[i]); i += 1 }
            tokens.append(.word(word))
        }
        return tokens
    }

    private struct Parser {
        let tokens: [Token]
        var i = 0

        init(tokens: [Token]) { self.tokens = tokens }

        func peekWord(_ offset: Int = 0) -> String? {
            guard i + offset < tokens.count, case .word(let w) = tokens[i + offset] else { return nil }
            return w.lowercased()
        }

        var atClause: Bool {
            guard let w = peekWord() else { return false }
            return (w == "order" && peekWord(1) == "by") || w == "limit" || w == "offset"
        }

        mutating func query() throws(KintoneError) -> KintoneQuery {
            var q = KintoneQuery()
            if i < tokens.count, !atClause { q.condition = try orExpression() }
            while i < tokens.count {
                guard let w = peekWord() else { throw KintoneQuery.error("unexpected text in the query.") }
                switch w {
                case "order":
                    guard peekWord(1) == "by", q.order.isEmpty else { throw KintoneQuery.error("expected order by.") }
                    i += 2
                    repeat {
                        guard i < tokens.count, case .word(let field) = tokens[i] else {
                            throw KintoneQuery.error("order by needs a field code.")
                        }
                        i += 1
                        var ascending = true
                        if let dir = peekWord(), dir == "asc" || dir == "desc" { ascending = dir == "asc"; i += 1 }
                        q.order.append((field, ascending))
                        if i < tokens.count, tokens[i] == .symbol(",") { i += 1; continue }
                        break
                    } while true
                case "limit", "offset":
                    i += 1
                    guard i < tokens.count, case .word(let n) = tokens[i], let value = Int(n), value >= 0 else {
                        throw KintoneQuery.error("\(w) needs a whole number.")
                    }
                    i += 1
                    if w == "limit" { q.limit = value } else { q.offset = value }
                default:
                    throw KintoneQuery.error("unexpected \(w) in the query.")
                }
            }
            return q
        }

        mutating func orExpression() throws(KintoneError) -> Condition {
            var parts = [try andExpression()]
            while peekWord() == "or" { i += 1; parts.append(try andExpression()) }
            return parts.count == 1 ? parts[0] : .any(parts)
        }

        mutating func andExpression() throws(KintoneError) -> Condition {
            var parts = [try primary()]
            while peekWord() == "and" { i += 1; parts.append(try primary()) }
            return parts.count == 1 ? parts[0] : .all(parts)
        }

        mutating func primary() throws(KintoneError) -> Condition {
            guard i < tokens.count else { throw KintoneQuery.error("the query ends where a condition was expected.") }
            if tokens[i] == .symbol("(") {
                i += 1
                let inner = try orExpression()
                guard i < tokens.count, tokens[i] == .symbol(")") else { throw KintoneQuery.error("missing ).") }
                i += 1
                return inner
            }
            guard case .word(let field) = tokens[i] else { throw KintoneQuery.error("a condition must start with a field code.") }
            i += 1
            guard i < tokens.count else { throw KintoneQuery.error("condition on \(field) has no operator.") }
            let op: Operator
            switch tokens[i] {
            case .symbol(let s):
                guard let o = Operator(rawValue: s) else { throw KintoneQuery.error("unknown operator \(s).") }
                op = o; i += 1
            case .word(let w):
                switch w.lowercased() {
                case "in": op = .isIn; i += 1
                case "like": op = .like; i += 1
                case "not":
                    let next = peekWord(1)
                    guard next == "in" || next == "like" else { throw KintoneQuery.error("expected not in or not like.") }
                    op = next == "in" ? .notIn : .notLike; i += 2
                default: throw KintoneQuery.error("unknown operator \(w).")
                }
            case .string:
                throw KintoneQuery.error("condition on \(field) has no operator.")
            }
            if op == .isIn || op == .notIn {
                guard i < tokens.count, tokens[i] == .symbol("(") else { throw KintoneQuery.error("\(op.rawValue) needs a list in parentheses.") }
                i += 1
                var values: [Value] = []
                while i < tokens.count, tokens[i] != .symbol(")") {
                    values.append(try value())
                    if i < tokens.count, tokens[i] == .symbol(",") { i += 1 }
                }
                guard i < tokens.count else { throw KintoneQuery.error("missing ) after the list.") }
                i += 1
                return .compare(field: field, op: op, values: values)
            }
            return .compare(field: field, op: op, values: [try value()])
        }

        mutating func value() throws(KintoneError) -> Value {
            guard i < tokens.count else { throw KintoneQuery.error("a value is missing.") }
            switch tokens[i] {
            case .string(let s):
                i += 1
                return .text(s)
            case .word(let w):
                i += 1
                if i + 1 < tokens.count, tokens[i] == .symbol("("), tokens[i + 1] == .symbol(")") {
                    i += 2
                    return .function(w.uppercased())
                }
                guard Double(w) != nil else { throw KintoneQuery.error("\(w) is not a value; quote strings with \".") }
                return .text(w)
            case .symbol(let s):
                throw KintoneQuery.error("unexpected \(s) where a value was expected.")
            }
        }
    }
}
