import Foundation

// Public initializers for the values a connector's `applyRestore` reports back (an entity left alone at write time),
// so that connectors outside this module can make them.

extension LiveDiff.Entry {
    public init(kind: String, container: String?, id: String, title: String?, change: LiveDiff.Change, fields: [String]? = nil) {
        self.kind = kind
        self.container = container
        self.id = id
        self.title = title
        self.change = change
        self.fields = fields
    }
}

extension RestoreSkip {
    public init(entry: LiveDiff.Entry, reason: String) {
        self.entry = entry
        self.reason = reason
    }
}
