import Foundation
import KitbagCore
import NIOConcurrencyHelpers

/// One entity a write created, changed or removed.
public struct SandboxEntityChange: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Action: String, Sendable, Hashable {
        case created, updated, deleted
    }

    /// The entity's kind in the service's own words, e.g. `card`, `record`, `workItem`, `task`.
    public let kind: String
    /// Its id; an entity that lives inside another names its container first, e.g. Kintone record `3/42`
    /// (record 42 of app 3).
    public let id: String
    public let action: Action

    public init(kind: String, id: String, action: Action) {
        self.kind = kind
        self.id = id
        self.action = action
    }

    public var description: String { "\(action.rawValue) \(kind) \(id)" }

    public static func < (a: Self, b: Self) -> Bool { (a.kind, a.id) < (b.kind, b.id) }

    /// What differs between two versions of a keyed collection; free when both still share their storage (an
    /// untouched collection), one pass over both otherwise.
    package static func between<Key: Hashable, Value: Equatable>(
        _ old: [Key: Value], _ new: [Key: Value], kind: String, id: (Key) -> String = { "\($0)" }
    ) -> [SandboxEntityChange] {
        if old == new { return [] }
        var out: [SandboxEntityChange] = []
        for (key, value) in new {
            if let before = old[key] {
                if before != value { out.append(.init(kind: kind, id: id(key), action: .updated)) }
            } else {
                out.append(.init(kind: kind, id: id(key), action: .created))
            }
        }
        for key in old.keys where new[key] == nil { out.append(.init(kind: kind, id: id(key), action: .deleted)) }
        return out
    }

    /// The same for a list of entities that carry their own ids.
    package static func between<Element: Equatable>(
        _ old: [Element], _ new: [Element], kind: String, id: (Element) -> String
    ) -> [SandboxEntityChange] {
        if old == new { return [] }
        let before = Dictionary(old.map { (id($0), $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.map { (id($0), $0) }, uniquingKeysWith: { a, _ in a })
        return between(before, after, kind: kind)
    }
}

/// One write a sandbox accepted: an all-or-nothing write that succeeded, with what it changed.
public struct SandboxWrite: Sendable, Hashable, CustomStringConvertible {
    /// Its place in the sandbox's write log, from 1 (see `RunningSandbox.writeMark()`).
    public let sequence: Int
    /// When it was made.
    public let date: Date
    /// The HTTP method, e.g. `POST`.
    public let method: String
    /// The route label, as counted in `SandboxStats.requestsByRoute` (e.g. `POST /card/multiple`).
    public let route: String
    /// What it changed, ordered by kind and id; empty for a write that changed no entity.
    public let changes: [SandboxEntityChange]

    public var description: String { "#\(sequence) \(route): \(changes.map(\.description).joined(separator: ", "))" }
}

/// An emulator's whole state: a value the store owns and changes one request at a time.
package protocol SandboxState: Sendable {
    /// The whole state as JSON, for tests (`RunningSandbox.snapshot()`).
    func snapshot() -> JSONValue
    /// The entities that differ between the state before and after a successful write, for the write log.
    /// Compare each collection with `SandboxEntityChange.between`, which costs nothing for collections the write
    /// did not touch. Changes to `SandboxTable`s are reported by the store itself and need not be listed here.
    static func changes(from old: Self, to new: Self) -> [SandboxEntityChange]
}

/// Holds one emulator's state; every request runs against it one at a time. Writes are all or nothing: a write that
/// throws leaves the state as it was (its `SandboxTable` changes are undone from their journal, everything else is
/// put back from a copy of the state taken before it, which costs nothing until the write changes a collection),
/// and every write that succeeds is recorded in the write log.
package actor SandboxStore<State: SandboxState> {
    private var state: State
    private var log: [SandboxWrite] = []

    package init(state: State) { self.state = state }

    /// Reads the state as it is.
    package func read<T, E: Error>(_ body: (State) throws(E) -> T) throws(E) -> T { try body(state) }

    /// A read through an API route.
    package func read(
        _ request: SandboxRequest, _ body: @Sendable (State, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
    ) throws(SandboxHTTPError) -> SandboxReply {
        try body(state, request)
    }

    /// A write through an API route: all or nothing, recorded under the request's method and route.
    package func write(
        _ request: SandboxRequest,
        _ body: @Sendable (inout State, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply
    ) throws(SandboxHTTPError) -> SandboxReply {
        try write(method: request.method.rawValue, route: request.route) { (state: inout State) throws(SandboxHTTPError) in
            try body(&state, request)
        }
    }

    /// An all-or-nothing write, recorded under `method` and `route`.
    package func write<T, E: Error>(method: String, route: String, _ body: (inout State) throws(E) -> T) throws(E) -> T {
        try access { (state: inout State, writes: inout SandboxWriteLog) throws(E) in
            try writes.allOrNothing(&state, method: method, route: route, body)
        }
    }

    /// Changes the state in place, with neither rollback nor record: bookkeeping such as cursors and clocks.
    package func update<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T { try body(&state) }

    /// Runs `body` on the state in place; the writes it makes through `writes.allOrNothing` are all or nothing and
    /// recorded. For emulators that do bookkeeping before a write in the same turn (Kintone settles deploys).
    package func access<T, E: Error>(_ body: (inout State, inout SandboxWriteLog) throws(E) -> T) throws(E) -> T {
        var writes = SandboxWriteLog(firstSequence: log.count + 1)
        defer { log += writes.entries }
        return try body(&state, &writes)
    }

    /// The whole state as JSON.
    package func snapshot() -> JSONValue { state.snapshot() }

    /// The writes after the `mark`-th (0: all of them).
    package func writes(since mark: Int) -> [SandboxWrite] { Array(log.dropFirst(max(mark, 0))) }

    /// The sequence number of the last write (0 before the first).
    package func writeMark() -> Int { log.count }
}

/// The writes made during one turn of the store, appended to its log when the turn ends.
package struct SandboxWriteLog {
    private(set) var entries: [SandboxWrite] = []
    private let firstSequence: Int

    init(firstSequence: Int) { self.firstSequence = firstSequence }

    /// Runs `body` on `state`; if it throws, `state` is left as it was, else the write is recorded.
    package mutating func allOrNothing<State: SandboxState, T, E: Error>(
        _ state: inout State, method: String, route: String, _ body: (inout State) throws(E) -> T
    ) throws(E) -> T {
        let saved = state
        let journal = SandboxJournal()
        var outcome: Result<T, E>?
        SandboxJournal.$current.withValue(journal) {
            do throws(E) {
                outcome = .success(try body(&state))
            } catch {
                outcome = .failure(error)
            }
        }
        switch outcome! {
        case .success(let value):
            let changes = (journal.commit() + State.changes(from: saved, to: state)).sorted()
            entries.append(SandboxWrite(
                sequence: firstSequence + entries.count, date: Date(), method: method, route: route, changes: changes))
            return value
        case .failure(let error):
            journal.rollback()
            state = saved
            throw error
        }
    }
}

/// The tables one write has changed, with the value each changed key had before; the store commits it when the
/// write succeeds and rolls it back when it throws.
package final class SandboxJournal: Sendable {
    /// The journal of the write running in this task, if any.
    @TaskLocal package static var current: SandboxJournal?

    private let tables = NIOLockedValueBox<[any SandboxJournaled]>([])

    func enlist(_ table: any SandboxJournaled) { tables.withLockedValue { $0.append(table) } }

    func commit() -> [SandboxEntityChange] { tables.withLockedValue { $0 }.flatMap { $0.commitJournal() } }

    func rollback() { for table in tables.withLockedValue({ $0 }).reversed() { table.rollbackJournal() } }
}

package protocol SandboxJournaled: AnyObject, Sendable {
    func commitJournal() -> [SandboxEntityChange]
    func rollbackJournal()
}

/// A keyed collection for state too large to copy on every write (Kintone's records). Inside a store write, the
/// first change of each key keeps the value it had, so a failed write is undone key by key instead of by copying the
/// whole table, and a successful one reports what it changed. It is a reference: copies of the state share it.
package final class SandboxTable<Key: Hashable & Sendable, Value: Equatable & Sendable>: SandboxJournaled {
    private struct Storage {
        var values: [Key: Value]
        /// Key → value before the running write first changed it (nil: absent).
        var undo: [Key: Value?] = [:]
        var touched: [Key] = []
        var journal: ObjectIdentifier?
    }

    /// Kind reported in the write log; nil for an index that is no entity of its own.
    package let kind: String?
    /// Put before each key in the write log (`3/` for the records of app 3).
    package let idPrefix: String
    private let storage: NIOLockedValueBox<Storage>

    package init(kind: String?, idPrefix: String = "", values: [Key: Value] = [:]) {
        self.kind = kind
        self.idPrefix = idPrefix
        storage = NIOLockedValueBox(Storage(values: values))
    }

    package subscript(key: Key) -> Value? {
        get { storage.withLockedValue { $0.values[key] } }
        set { set(key, newValue) }
    }

    package var count: Int { storage.withLockedValue { $0.values.count } }

    package func reserveCapacity(_ capacity: Int) { storage.withLockedValue { $0.values.reserveCapacity(capacity) } }

    private func set(_ key: Key, _ value: Value?) {
        let journal = SandboxJournal.current
        let enlist = storage.withLockedValue { storage -> Bool in
            var first = false
            if let journal {
                let id = ObjectIdentifier(journal)
                if storage.journal != id {
                    storage.journal = id
                    storage.undo = [:]
                    storage.touched = []
                    first = true
                }
                if storage.undo.index(forKey: key) == nil {
                    storage.undo[key] = .some(storage.values[key])
                    storage.touched.append(key)
                }
            }
            if let value { storage.values[key] = value } else { storage.values.removeValue(forKey: key) }
            return first
        }
        if enlist, let journal { journal.enlist(self) }
    }

    package func commitJournal() -> [SandboxEntityChange] {
        storage.withLockedValue { storage in
            defer {
                storage.undo = [:]
                storage.touched = []
                storage.journal = nil
            }
            guard let kind else { return [] }
            return storage.touched.compactMap { key in
                let before = storage.undo[key] ?? nil
                let after = storage.values[key]
                let id = idPrefix + "\(key)"
                switch (before, after) {
                case (nil, nil): return nil
                case (nil, .some): return SandboxEntityChange(kind: kind, id: id, action: .created)
                case (.some, nil): return SandboxEntityChange(kind: kind, id: id, action: .deleted)
                case (.some(let a), .some(let b)): return a == b ? nil : SandboxEntityChange(kind: kind, id: id, action: .updated)
                }
            }
        }
    }

    package func rollbackJournal() {
        storage.withLockedValue { storage in
            for key in storage.touched.reversed() {
                if let before = storage.undo[key] ?? nil { storage.values[key] = before } else { storage.values.removeValue(forKey: key) }
            }
            storage.undo = [:]
            storage.touched = []
            storage.journal = nil
        }
    }
}
