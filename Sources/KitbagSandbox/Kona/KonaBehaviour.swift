import Foundation
import KitbagSandboxCore

/// How a Kona sandbox answers where Kona's documentation (KonaTeam/kona-api, commit
/// 995e42935e5a62b3ca06a2bc07706d130771f78f) leaves the real server's behaviour open. The default is one reading of
/// each open question; every switch turns on the other, so a connector can be tested against both.
public struct KonaServerBehaviour: Sendable, Equatable {
    /// `sections/spaces.md` says `GET /spaces?hidden=true` "will return hidden spaces": on, it lists only the
    /// hidden ones; off (default), hidden spaces along with the others.
    public var hiddenOnly = false
    /// `space_id` is documented as a filter for conversations only: on, `GET /tasks` and `GET /calendar_events`
    /// ignore it and list the items of every space; off (default), they filter by it too.
    public var ignoresSpaceID = false
    /// No maximum `per_page` is documented: with a cap, a larger `per_page` is quietly lowered to it (pages are cut
    /// at the cap); nil (default), more than 100 is a 400.
    public var perPageCap: Int? = nil
    /// Only the risks section speaks of batches (they are not supported): on, a create takes the first object of
    /// the array and ignores the rest; off (default), it creates all of them, all or nothing.
    public var noBatches = false
    /// Not a behaviour but the shape of a volume seed: spread `generated` tasks over this many spaces; nil (default),
    /// one space per 100 tasks. Lets a benchmark grow the tasks while the number of spaces stays the same.
    public var generatedSpaces: Int? = nil

    public init(
        hiddenOnly: Bool = false, ignoresSpaceID: Bool = false, perPageCap: Int? = nil, noBatches: Bool = false,
        generatedSpaces: Int? = nil
    ) {
        self.hiddenOnly = hiddenOnly
        self.ignoresSpaceID = ignoresSpaceID
        self.perPageCap = perPageCap
        self.noBatches = noBatches
        self.generatedSpaces = generatedSpaces
    }
}

extension KonaServerBehaviour: SandboxServiceOption {
    public static var defaultValue: KonaServerBehaviour { KonaServerBehaviour() }
}

extension SandboxOptions {
    /// Which reading of Kona's undocumented behaviours the Kona sandbox follows.
    public var kona: KonaServerBehaviour {
        get { self[service: KonaServerBehaviour.self] }
        set { self[service: KonaServerBehaviour.self] = newValue }
    }
}
