/// Class breaks for a choropleth: quantiles over the values in view, so
/// each class holds about as many areas, with duplicate breaks merged.
public struct Classification: Sendable, Equatable {
    /// Upper bounds of each class; the first class starts at `minimum`.
    public let upperBounds: [Double]
    public let minimum: Double

    public init(quantilesOf values: [Double], classes: Int = 6) {
        let sorted = values.sorted()
        guard let first = sorted.first, let last = sorted.last else {
            minimum = 0
            upperBounds = []
            return
        }
        minimum = first
        var bounds: [Double] = []
        for k in 1...max(classes, 1) {
            let index = min(sorted.count - 1, Int((Double(k) / Double(classes) * Double(sorted.count)).rounded(.up)) - 1)
            let bound = sorted[max(index, 0)]
            if bounds.last != bound { bounds.append(bound) }
        }
        if bounds.last != last { bounds.append(last) }
        upperBounds = bounds
    }

    public var count: Int { upperBounds.count }

    /// The class of a value, 0-based.
    public func classIndex(of value: Double) -> Int {
        for (i, bound) in upperBounds.enumerated() where value <= bound { return i }
        return max(upperBounds.count - 1, 0)
    }

    /// The lower bound of a class, as the legend shows it.
    public func lowerBound(ofClass index: Int) -> Double {
        index == 0 ? minimum : upperBounds[index - 1]
    }
}
