import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A page of a grid's households as the caller may see them.
public struct HouseholdPage: Sendable, Encodable {
    public let grid: String
    public let households: [HouseholdView]
    /// Give it back as `after` for the next page; nil on the last.
    public let nextCursor: String?
    public let masked: Bool
}

/// A page of a grid's cameras or incidents as flat properties.
public struct GridFeaturePage: Sendable, Encodable {
    public let grid: String
    /// How many match (nil: more than the count limit).
    public let matched: Int?
    public let items: [[String: PropertyValue]]
}

extension GridService {
    /// A grid's households (the operator at the command line: everything, unaudited).
    public func households(grid: String, tag: String? = nil, generation: Int64? = nil) throws -> [HouseholdRecord] {
        let code = try self.grid(code: grid, generation: generation).code
        return try translatingErrors { try store.households(grid: code, tag: tag, generation: generation) }
    }

    /// A page of a grid's households for a caller: personal fields as the
    /// privacy policy says, a search only in what the caller sees in full,
    /// unmasked reads audited as `action`.
    public func householdPage(grid: String, tag: String?, search: String?, limit: Int, after cursor: String?,
                              for caller: Caller, action: String) throws -> HouseholdPage {
        let code = try knownGrid(grid)
        try requireHouseholdRecords(caller)
        let rules = fieldRules(caller, inGrid: code)
        if tag != nil && rules[.tags] != .full {
            throw WanggeError.unauthorized(tr("tag: household tags are hidden from you (privacy.\(caller.role.rawValue))"))
        }
        // A search only looks in what the caller sees in full: a name search would otherwise reveal who lives where.
        if search != nil && rules[.name] != .full && rules[.address] != .full {
            throw WanggeError.unauthorized(tr("q: you see neither names nor addresses in full here, so you cannot search them"))
        }
        let page = try translatingErrors {
            try store.householdPage(grid: code, tag: tag, query: search, searchNames: rules[.name] == .full,
                                    searchAddresses: rules[.address] == .full, limit: limit + 1, after: cursor, generation: nil)
        }
        let shown = Array(page.prefix(limit))
        if rules.revealsIdentity && !shown.isEmpty {
            try translatingErrors { try store.audit(caller, action: action, grid: code, records: shown.count) }
        }
        return HouseholdPage(grid: code, households: shown.map { HouseholdView($0, rules: rules) },
                             nextCursor: page.count > limit ? shown.last?.id : nil, masked: rules != .everything)
    }

    /// Households anywhere in the county whose address (or head, for callers
    /// who see names) contains `search`, shown as the caller may see them: the
    /// dispatcher's "和平路 12 号" when a call comes in. A grid worker searches
    /// their own grids; a search only looks in what the caller sees in full.
    public func searchHouseholds(_ search: String, limit: Int, for caller: Caller, action: String) throws -> [HouseholdView] {
        try requireHouseholdRecords(caller)
        let areas: [String?] = caller.role == .gridWorker ? caller.grids.sorted() : [nil]
        var found: [HouseholdView] = []
        var revealed = 0
        var searchable = false
        for grid in areas where found.count < limit {
            let rules = fieldRules(caller, inGrid: grid)
            guard rules[.name] == .full || rules[.address] == .full else { continue }
            searchable = true
            let page = try translatingErrors {
                try store.householdPage(grid: grid, tag: nil, query: search, searchNames: rules[.name] == .full,
                                        searchAddresses: rules[.address] == .full, limit: limit - found.count, after: nil, generation: nil)
            }
            if rules.revealsIdentity { revealed += page.count }
            found += page.map { HouseholdView($0, rules: rules) }
        }
        guard searchable else {
            throw WanggeError.unauthorized(tr("q: you see neither names nor addresses in full here, so you cannot search them"))
        }
        if revealed > 0 { try translatingErrors { try store.audit(caller, action: action, grid: nil, records: revealed) } }
        return found
    }

    /// A page of a grid's cameras or incidents, masked for the caller; unmasked reads audited as `action`.
    public func gridFeatures(_ collection: Collection, grid: String, limit: Int, offset: Int, for caller: Caller,
                             action: String) throws -> GridFeaturePage {
        let code = try knownGrid(grid)
        let (matched, features) = try translatingErrors { try store.features(collection, bbox: nil, grid: code, id: nil, limit: limit, offset: offset, generation: nil, countLimit: GridStore.matchCountLimit) }
        var items: [[String: PropertyValue]] = []
        var unmaskedRecords = 0
        for feature in features {
            var (properties, unmasked) = visibleProperties(feature, collection: collection, caller: caller)
            properties["id"] = .string(feature.id)
            let geometryJSON = visibleGeometry(feature, collection: collection, caller: caller)
            if let geometry = try? JSONSerialization.jsonObject(with: Data(geometryJSON.utf8)) as? [String: Any],
               let coordinates = geometry["coordinates"] as? [Double], coordinates.count >= 2 {
                properties["lon"] = .number(coordinates[0])
                properties["lat"] = .number(coordinates[1])
            }
            if unmasked { unmaskedRecords += 1 }
            items.append(properties)
        }
        if unmaskedRecords > 0 {
            try translatingErrors { try store.audit(caller, action: action, grid: code, records: unmaskedRecords) }
        }
        return GridFeaturePage(grid: code, matched: matched, items: items)
    }

    /// The code of a grid of the active generation (from memory when it is loaded), or not found.
    public func knownGrid(_ code: String) throws -> String {
        if (try? active())?.grids[code] != nil { return code }
        return try grid(code: code).code
    }
}
