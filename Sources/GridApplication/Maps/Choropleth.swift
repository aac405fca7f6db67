import Foundation
import GridCore
import GridMap
import GridStore
import Localization

/// A grid-level choropleth for the web map: each grid's value of one
/// metric and its class, with the same quantile classes and colours as
/// the terminal map (`wangge map`), so both show the county alike.
public struct Choropleth: Sendable, Encodable {
    public struct Metric: Sendable, Encodable {
        public let key: String
        public let title: String
        public let unit: String
    }

    /// One class of the legend: values from `from` to `to` (both included in the first class, `to` only in the others).
    public struct Band: Sendable, Encodable {
        public let from: Double
        public let to: Double
        public let colour: String
    }

    public struct GridValue: Sendable, Encodable {
        public let code: String
        /// nil: no value (no statistics for the grid).
        public let value: Double?
        public let `class`: Int?
    }

    public let metric: Metric
    /// Every metric the map can show, for the picker.
    public let metrics: [Metric]
    public let classes: [Band]
    public let noDataColour: String
    public let grids: [GridValue]
}

extension MapMetricKind {
    var described: Choropleth.Metric {
        let m = metric
        return Choropleth.Metric(key: m.key, title: m.title, unit: m.unit)
    }
}

extension GridService {
    /// The active generation's grids coloured by `metric`.
    public func choropleth(_ metric: MapMetricKind) throws -> Choropleth {
        let values = try translatingErrors { try MapValues(service: self, withCoverage: metric == .coverage) }
        let grids = try translatingErrors { try store.grids(generation: nil) }
        let pairs = grids.map { ($0.code, values.value(metric, grid: $0.code)) }
        let classes = Classification(quantilesOf: pairs.compactMap(\.1), classes: 6)
        let colours = Palette.sequential(classes.count)
        return Choropleth(
            metric: metric.described,
            metrics: MapMetricKind.allCases.map(\.described),
            classes: (0..<classes.count).map { Choropleth.Band(from: classes.lowerBound(ofClass: $0), to: classes.upperBounds[$0], colour: colours[$0].hex) },
            noDataColour: Palette.noData.hex,
            grids: pairs.map { Choropleth.GridValue(code: $0.0, value: $0.1, class: $0.1.map(classes.classIndex(of:))) })
    }
}

/// An open incident as a map marker: where, what state, nothing personal,
/// so the page can ask every few seconds without reading anyone's name.
public struct MapIncident: Sendable, Encodable, Equatable {
    public let id: String
    public let lon: Double
    public let lat: Double
    public let status: IncidentStatus
    public let overdue: Bool
    public let version: Int
    public let grid: String?
    public let category: String?
}

extension GridService {
    /// Every open incident as a marker, its place as the caller may see it (rounded where positions are masked).
    public func mapIncidents(for caller: Caller) throws -> [MapIncident] {
        var filter = IncidentFilter()
        filter.statuses = IncidentStatus.allCases.filter(\.isOpen)
        let records = try translatingErrors { try store.incidents(filter, now: Date()) }
        return records.map { record in
            let rules = fieldRules(caller, inGrid: record.grid)
            return MapIncident(id: record.id, lon: rules.show(coordinate: record.lon), lat: rules.show(coordinate: record.lat),
                               status: record.status, overdue: record.overdue, version: record.version, grid: record.grid, category: record.category)
        }
    }
}
