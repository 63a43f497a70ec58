import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

@Suite struct ReadablePathsTests {
    @Test func slugsAreReadableAsciiAndCarryTheID() {
        #expect(ReadablePaths.slug(title: "Garden plans", id: "HzVOgAct") == "garden-plans_HzVOgAct")
        #expect(ReadablePaths.slug(title: "Café Crème — 2024!", id: "a_b-C") == "cafe-creme-2024_a_b-C")
        #expect(ReadablePaths.slug(title: "花園", id: "x1", kind: "space") == "space_x1")
        #expect(ReadablePaths.slug(title: "../../etc", id: "../x") == "etc_---x-" + ReadablePaths.fnv1a64Hex("../x"))
        let long = ReadablePaths.slug(title: Hostile.long, id: String(repeating: "i", count: 200))
        #expect(long.utf8.count < 100)
    }

    @Test func slugsNeverCollideForDifferentIDs() {
        let ids = ["a b", "a-b", "a_b", "a", "A", "x-y", "y", "", "%", "a/b", "a\u{0}b"]
        let titles = ["x", "x-y", "x y", ""]
        var seen = Set<String>()
        for id in ids {
            for title in titles {
                let s = ReadablePaths.slug(title: title, id: id)
                #expect(s.utf8.allSatisfy { ReadablePaths.isIDByte($0) }, "\(s)")
                seen.insert(s)
            }
        }
        #expect(seen.count == ids.count * titles.count - ids.count * 1)  // "x y" and "x-y" give the same title part
    }

    @Test func relativePathsClimbOutOfPageFolders() {
        #expect(ReadablePaths.relative(from: "pages/spaces/a.md", to: "attachments/sha256/ab/abc") == "../../attachments/sha256/ab/abc")
        #expect(ReadablePaths.relative(from: "pages/spaces/a.md", to: "pages/spaces/b.md") == "b.md")
        #expect(ReadablePaths.relative(from: "pages/spaces/a.md", to: "pages/apps/b.md") == "../apps/b.md")
        #expect(ReadablePaths.relative(from: "index.md", to: "pages/spaces/b.md") == "pages/spaces/b.md")
        #expect(ReadablePaths.markdownLink(from: "index.md", to: "data/x y/%41.md") == "data/x%20y/%2541.md")
    }
}
