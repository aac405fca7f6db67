import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A feature as a caller may see it: personal properties and positions masked by the privacy policy.
public struct VisibleFeature: Sendable {
    public let id: String
    /// GeoJSON geometry text.
    public let geometryJSON: String
    public let properties: [String: PropertyValue]
}

extension GridService {
    /// Features of a collection, optionally in a WGS84 box, paged; masked for
    /// the caller, unmasked reads audited as `action`. `matched` is nil over the count limit.
    /// `generation` (nil: the active one) is the generation whose areas, and assignments, are read.
    public func features(_ collection: Collection, bbox: BoundingBox?, limit: Int, offset: Int, generation: Int64? = nil, for caller: Caller,
                         action: String) throws -> (matched: Int?, features: [VisibleFeature]) {
        if collection == .households { try requireHouseholdRecords(caller) }
        var bbox = bbox
        if collection.hasPersonalPosition, privacy.role(caller.role).fields[.position] != .full {
            // Tiny boxes would find a masked point to any precision: search whole cells of the masking.
            bbox = bbox?.coarsened
        }
        let (matched, records) = try translatingErrors { try store.features(collection, bbox: bbox, grid: nil, id: nil, limit: limit, offset: offset, generation: generation, countLimit: GridStore.matchCountLimit) }
        let shown = try visible(records, collection, caller: caller, action: action, grid: nil)
        return (matched, shown)
    }

    /// One feature by id, masked for the caller, or not found.
    public func feature(_ collection: Collection, id: String, for caller: Caller, action: String) throws -> VisibleFeature {
        if collection == .households { try requireHouseholdRecords(caller) }
        guard let record = try translatingErrors({ try store.features(collection, bbox: nil, grid: nil, id: id, limit: 1, offset: 0, generation: nil, countLimit: GridStore.matchCountLimit).features.first }) else {
            throw WanggeError.notFound(tr("no feature \(TextLimits.shown(id)) in \(collection.rawValue)"))
        }
        return try visible([record], collection, caller: caller, action: action, grid: record.grid)[0]
    }

    private func visible(_ records: [FeatureRecord], _ collection: Collection, caller: Caller, action: String, grid: String?) throws -> [VisibleFeature] {
        var unmasked = 0
        let shown = records.map { record in
            let (properties, revealsIdentity) = visibleProperties(record, collection: collection, caller: caller)
            if revealsIdentity { unmasked += 1 }
            return VisibleFeature(id: record.id, geometryJSON: visibleGeometry(record, collection: collection, caller: caller), properties: properties)
        }
        if unmasked > 0 { try translatingErrors { try store.audit(caller, action: action, grid: grid, records: unmasked) } }
        return shown
    }
}
