import Foundation

/// An index over a value-type state, shared by the copies of that state (all-or-nothing writes copy it) and rebuilt
/// only when the state's tag moves. A state takes a new tag from `nextTag()` whenever what the index covers changes.
package final class TaggedIndexCache<Index: Sendable>: @unchecked Sendable {
    // Sendable because `tag` and `built` are only touched under `lock`.
    private let lock = NSLock()
    private var tag: UInt64?
    private var built: Index?

    package init() {}

    /// A tag no state has had before, across every cache.
    package static func nextTag() -> UInt64 {
        tagLock.withLock {
            lastTag += 1
            return lastTag
        }
    }

    /// The index for the state version `current`, built by `build` only if this cache holds another version.
    package func index(tag current: UInt64, build: () -> Index) -> Index {
        lock.withLock {
            if let built, tag == current { return built }
            let index = build()
            built = index
            tag = current
            return index
        }
    }
}

private let tagLock = NSLock()
nonisolated(unsafe) private var lastTag: UInt64 = 0
