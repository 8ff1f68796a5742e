/// The small key/value section of a zmat header: ordered, keys unique, UTF-8 text.
///
/// Conventional keys (see docs/FORMAT.md): `kind` (features, pca-model, tree, forest,
/// predictions, ...), `producer` (tool and version), `param.*` (the parameters used), and
/// provenance hashes such as `input.hash` and `feature-space`.
public struct ZmatMetadata: Equatable, Sendable, Sequence {
    public private(set) var entries: [(key: String, value: String)] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> String? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> {
        entries.makeIterator()
    }

    public static func == (a: ZmatMetadata, b: ZmatMetadata) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// A list of numbers stored as one value (comma-separated, round-trip exact).
    public static func encode(_ values: [Double]) -> String {
        values.map { "\($0)" }.joined(separator: ",")
    }

    /// Parses `encode`'s form; nil when any item is not a number.
    public static func decodeDoubles(_ text: String) -> [Double]? {
        if text.isEmpty { return [] }
        var result = [Double]()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Double(part) else { return nil }
            result.append(v)
        }
        return result
    }
}
