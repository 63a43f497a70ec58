/// Walks that overlap requests within the connection's budget while what they write stays in a fixed order: every
/// result is placed by the position of what asked for it, never by when its answer came, so an archive is the same
/// bytes however the answers interleave. The pacing (the `APIClient`'s gate) still decides when each request goes;
/// these only keep enough of them waiting for it.
public enum Overlap {
    /// `work` for each element, at most `limit` at once, the results in the elements' order. The first error cancels
    /// the rest and is thrown.
    public static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], limit: Int, _ work: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        guard elements.count > 1, limit > 1 else {
            var out: [Result] = []
            out.reserveCapacity(elements.count)
            for element in elements { out.append(try await work(element)) }
            return out
        }
        var out = [Result?](repeating: nil, count: elements.count)
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var next = 0
            func start() {
                let index = next
                let element = elements[index]
                next += 1
                group.addTask { (index, try await work(element)) }
            }
            while next < min(limit, elements.count) { start() }
            while let (index, result) = try await group.next() {
                out[index] = result
                if next < elements.count { start() }
            }
        }
        return out.map { $0! }
    }

    /// `work` for each element, at most `limit` at once, started in the elements' order; each result goes to `merge` in
    /// the elements' order as soon as it and every one before it are in, so what is merged is the same as one element
    /// after another. `prepare` runs on the caller's side just before an element starts, after the merges so far, so
    /// what earlier elements taught reaches later ones. While `merge` waits (it may send requests of its own), the
    /// elements already started go on. The first error cancels the rest and is thrown.
    public static func inOrder<Element: Sendable, Context: Sendable, Result: Sendable>(
        _ elements: [Element], limit: Int, prepare: () -> Context,
        _ work: @escaping @Sendable (Element, Context) async throws -> Result, merge: (Result) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var started = 0
            var merged = 0
            var waiting: [Int: Result] = [:]
            while merged < elements.count {
                // Results not merged yet count against the limit too: a slow element holds back at most `limit`.
                while started < elements.count, started - merged < max(1, limit) {
                    let (index, element, context) = (started, elements[started], prepare())
                    group.addTask { (index, try await work(element, context)) }
                    started += 1
                }
                guard let done = try await group.next() else { break }
                waiting[done.0] = done.1
                while let next = waiting.removeValue(forKey: merged) {
                    try await merge(next)
                    merged += 1
                }
            }
        }
    }

    /// Runs `produce` one page ahead of `consume`: while `consume` works on a page (and its own requests), the next
    /// page is already being read. At most one read page waits, so memory stays that of two pages. Pages reach
    /// `consume` in the order `produce` hands them out; an error on either side stops both and is thrown.
    public static func readAhead<Page: Sendable>(
        _ produce: @escaping @Sendable (_ hand: (Page) async throws -> Void) async throws -> Void,
        consume: (Page) async throws -> Void
    ) async throws {
        let (pages, pageSink) = AsyncThrowingStream.makeStream(of: Page.self)
        let (permits, permitSink) = AsyncStream.makeStream(of: Void.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var permit = permits.makeAsyncIterator()
                do {
                    try await produce { page in
                        // Waits until the page before has been taken up: never more than one page ahead.
                        guard await permit.next() != nil else { throw CancellationError() }
                        try Task.checkCancellation()
                        pageSink.yield(page)
                    }
                    pageSink.finish()
                } catch {
                    pageSink.finish(throwing: error)
                }
            }
            permitSink.yield(())
            do {
                for try await page in pages {
                    try await consume(page)
                    permitSink.yield(())
                }
            } catch {
                permitSink.finish()
                throw error
            }
            permitSink.finish()
            try await group.waitForAll()
        }
    }
}
