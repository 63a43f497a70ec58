import Foundation
import KitbagConnector
import Testing

/// Counts what runs at once, under a lock (the tasks it watches run on any thread).
private final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private(set) var peak = 0
    private(set) var events: [String] = []

    func enter() {
        lock.withLock {
            running += 1
            peak = max(peak, running)
        }
    }

    func leave() { lock.withLock { running -= 1 } }

    func note(_ event: String) { lock.withLock { events.append(event) } }

    var log: [String] { lock.withLock { events } }
}

private struct Boom: Error, Equatable {}

@Suite struct OverlapTests {
    @Test func mapKeepsTheElementsOrderWhateverOrderTheyFinishIn() async throws {
        let gauge = Gauge()
        // The earlier an element, the longer it takes: completion order is the reverse of the input's.
        let out = try await Overlap.map(Array(0..<12), limit: 12) { n -> String in
            gauge.enter()
            defer { gauge.leave() }
            try await Task.sleep(for: .milliseconds(5 * (12 - n)))
            gauge.note("done \(n)")
            return "item \(n)"
        }
        #expect(out == (0..<12).map { "item \($0)" })
        #expect(gauge.log.first == "done 11", "the last element finished first: \(gauge.log)")
        #expect(gauge.peak > 1, "the work overlapped")
    }

    @Test func mapRunsAtMostLimitAtOnce() async throws {
        let gauge = Gauge()
        let out = try await Overlap.map(Array(0..<40), limit: 5) { n -> Int in
            gauge.enter()
            defer { gauge.leave() }
            try await Task.sleep(for: .milliseconds(2))
            return n * 2
        }
        #expect(out == (0..<40).map { $0 * 2 })
        #expect(gauge.peak <= 5 && gauge.peak >= 2, "peak \(gauge.peak)")
        let one = Gauge()
        _ = try await Overlap.map(Array(0..<6), limit: 1) { n -> Int in
            one.enter()
            defer { one.leave() }
            try await Task.sleep(for: .milliseconds(1))
            return n
        }
        #expect(one.peak == 1, "a limit of one runs one after another")
    }

    @Test func mapThrowsTheFirstErrorAndStartsNothingMore() async throws {
        let gauge = Gauge()
        await #expect(throws: Boom.self) {
            _ = try await Overlap.map(Array(0..<100), limit: 4) { n -> Int in
                gauge.note("start \(n)")
                if n == 2 { throw Boom() }
                try await Task.sleep(for: .milliseconds(20))
                return n
            }
        }
        #expect(gauge.log.count < 100, "the walk stopped early: \(gauge.log.count) started")
    }

    @Test func readAheadReadsTheNextPageWhileOneIsConsumedAndNeverMoreThanOneAhead() async throws {
        let gauge = Gauge()
        var consumed: [Int] = []
        try await Overlap.readAhead({ hand in
            for page in 1...5 {
                gauge.note("read \(page)")
                try await hand(page)
            }
        }) { page in
            gauge.note("consume \(page) begins")
            try await Task.sleep(for: .milliseconds(30))
            gauge.note("consume \(page) ends")
            consumed.append(page)
        }
        #expect(consumed == [1, 2, 3, 4, 5])
        let log = gauge.log
        func at(_ event: String) -> Int { log.firstIndex(of: event) ?? -1 }
        for page in 1...4 {
            // Page n+1 is read while page n is consumed, and page n+2 only after page n was done with.
            #expect(at("read \(page + 1)") < at("consume \(page) ends"), "\(log)")
            if page <= 3 { #expect(at("read \(page + 2)") > at("consume \(page) ends"), "\(log)") }
        }
    }

    @Test func readAheadStopsOnAnErrorOnEitherSide() async throws {
        await #expect(throws: Boom.self) {
            try await Overlap.readAhead({ hand in
                try await hand(1)
                throw Boom()
            }) { _ in }
        }
        let reads = Gauge()
        await #expect(throws: Boom.self) {
            try await Overlap.readAhead({ hand in
                for page in 1...1_000 {
                    reads.note("read \(page)")
                    try await hand(page)
                }
            }) { page in
                if page == 2 { throw Boom() }
            }
        }
        #expect(reads.log.count <= 4, "the reader stopped when the consumer failed: \(reads.log.count) pages read")
    }
}
