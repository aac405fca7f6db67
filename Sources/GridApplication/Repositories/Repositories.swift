import Foundation
import GeoFiles
import GeoKit
import GridCore
import GridStore
import Localization

/// What the use cases need from a store, in four parts. SpatiaLite
/// (`GridStore`) is the embedded implementation; PostgreSQL + PostGIS
/// (`PostGISStore`) the server one. Neither touches a use case. Every call is one transaction.

/// Generations of grid boundaries, their grids and areas, and planning.
public protocol GridRepository: Sendable {
    /// The rules points were assigned with (the configuration's, unless a generation recorded its own).
    var rules: AssignmentRules { get }
    /// Where the data is and what keeps it, for summaries: a file path and "SpatiaLite 5.0.1", say.
    var location: String { get }
    func engine() throws -> String
    func activeGeneration() throws -> Int64
    func generation(_ id: Int64) throws -> GenerationSummary
    func generations() throws -> [GenerationSummary]
    func grids(generation: Int64?) throws -> [GridInfo]
    func grid(code: String, generation: Int64?) throws -> GridInfo?
    func gridShapes(generation: Int64?) throws -> [GridShape]
    func areaShapes(_ level: AreaLevel, generation: Int64?) throws -> [(code: String, name: String, wkb: [UInt8])]
    func areas(_ level: AreaLevel, town: String?) throws -> [(code: String, name: String, town: String?, grids: Int)]
    func areaCode(_ level: AreaLevel, named value: String, generation: Int64?) throws -> String
    func extent() throws -> Envelope
    func importGrids(path: String, _ file: GridFileOptions, generationName: String?,
                     dispatch: DispatchRules, thresholds: PlanThresholds, force: Bool, progress: (@Sendable (String) -> Void)?) throws -> ImportReport
    func importDraft(path: String, _ file: GridFileOptions, name: String?) throws -> ImportReport
    func draft(_ id: Int64?, for purpose: Localized) throws -> Int64
    func createDraft(from source: Int64?, name: String) throws -> Int64
    func deleteDraft(_ id: Int64) throws
    func editDraft(_ id: Int64?, thresholds: PlanThresholds, _ body: (PlanEditor) throws -> [PlanEdit]) throws -> PlanEditReport
    func validate(_ generation: Int64, thresholds: PlanThresholds) throws -> [PlanProblem]
    func impact(of draft: Int64, against base: Int64?) throws -> PlanImpactReport
    func gridChanges(from: Int64, to: Int64) throws -> [String: GridChangeKind]
    func suggestDraft(from source: Int64?, maxHouseholds: Int, name: String, thresholds: PlanThresholds)
        throws -> (draft: Int64, report: PlanEditReport, overloaded: [(code: String, households: Int)])
    func activate(_ id: Int64, thresholds: PlanThresholds, dispatch: DispatchRules, at now: Date) throws -> ActivationReport
    func rollback(dispatch: DispatchRules, at now: Date) throws -> ActivationReport
}

/// Households, cameras and incidents as points, their assignments and counts.
public protocol PointRepository: Sendable {
    func pointCounts() throws -> [PointLayer: Int]
    func unassignedCounts(generation: Int64?) throws -> [PointLayer: Int]
    func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem, encoding: TextEncoding?, dispatch: DispatchRules,
                      columnNames: PointColumnNames, progress: (@Sendable (String) -> Void)?) throws -> ImportReport
    func statistics(by level: AreaLevel, generation: Int64?, grid: String?) throws -> [AreaStatistics]
    func households(grid: String, tag: String?, generation: Int64?) throws -> [HouseholdRecord]
    func householdPage(grid: String?, tag: String?, query: String?, searchNames: Bool, searchAddresses: Bool, limit: Int?,
                       after cursor: String?, generation: Int64?) throws -> [HouseholdRecord]
    func householdGrids(generation: Int64?) throws -> [(position: LonLat, grid: String?)]
    func cameraViews() throws -> [CameraView]
    func positions(_ layer: PointLayer) throws -> [LonLat]
    func features(_ collection: Collection, bbox: BoundingBox?, grid: String?, id: String?, limit: Int, offset: Int,
                  generation: Int64?, countLimit: Int) throws -> (matched: Int?, features: [FeatureRecord])
    func eachFeature(_ collection: Collection, areas: [String]?, generation: Int64?, _ body: (FeatureRecord) throws -> Void) throws
    func history(_ layer: PointLayer, id: String) throws -> [(generation: GenerationSummary, grid: String?, method: AssignmentMethod?)]
    func household(id: String) throws -> HouseholdRecord
    func householdHistory(id: String) throws -> [HouseholdEvent]
    func addHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                      permit: (_ grid: String?) throws -> Void, at now: Date) throws -> HouseholdRecord
    func changeHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                         permit: (_ from: String?, _ to: String?) throws -> Void, at now: Date) throws -> HouseholdRecord
    func removeHousehold(id: String, expectedVersion: Int?, by actor: HouseholdActor, permit: (_ grid: String?) throws -> Void,
                         at now: Date) throws
}

/// Incidents: intake, the lifecycle's changes, notifications and figures.
public protocol IncidentRepository: Sendable {
    func report(_ report: IncidentReport, rules: DispatchRules, placement: Placement?) throws -> (id: String, routing: Routing)
    func incident(id: String, now: Date) throws -> IncidentRecord
    func incidents(_ filter: IncidentFilter, now: Date) throws -> [IncidentRecord]
    func apply(_ change: IncidentChange, to id: String, at now: Date, rules: DispatchRules, placement: Placement?) throws -> IncidentRecord
    func escalateOverdue(at now: Date, rules: DispatchRules) throws -> [(id: String, level: HandlingLevel)]
    func notifications(unit: String?, limit: Int, forGrids grids: Set<String>?) throws -> [IncidentNotification]
    func incidentStatistics(by grouping: IncidentGrouping, since: Date?, until: Date?, now: Date) throws -> [IncidentStatistics]
    func monthlyIncidentStatistics(_ filter: IncidentTrendFilter, now: Date) throws -> [MonthlyIncidentStatistics]
}

/// API tokens and the audit log of personal-data reads.
public protocol AccessRepository: Sendable {
    func createToken(name: String, role: Role, grids: [String], villages: [String], towns: [String], expiresAt: Date?, hash: String) throws -> Int64
    func caller(tokenHash: String, now: Date) throws -> Caller?
    func tokens(now: Date) throws -> [TokenSummary]
    func revokeToken(id: Int64) throws -> Bool
    func audit(_ caller: Caller, action: String, grid: String?, records: Int) throws
    func auditLog(limit: Int) throws -> [(at: String, caller: String, role: String, action: String, grid: String?, records: Int)]
}

/// The configuration stored in the database, which every process on it follows instead of its file's.
public protocol ConfigurationRepository: Sendable {
    /// The latest change (its text nil if it cleared the configuration); nil if none was ever stored.
    func storedConfiguration() throws -> StoredConfiguration?
    /// Stores `text` as the next version, announced to the other processes.
    func storeConfiguration(_ text: String, at now: Date) throws -> StoredConfiguration
    /// Clears it as the next version, announced; nil if none was stored (nothing changes).
    func clearConfiguration(at now: Date) throws -> StoredConfiguration?
}

/// Everything the use cases read and write.
public typealias Repositories = GridRepository & PointRepository & IncidentRepository & AccessRepository & ConfigurationRepository

extension GridStore: GridRepository, PointRepository, IncidentRepository, AccessRepository, ConfigurationRepository {
    public var location: String { database.path }
    public func engine() throws -> String { "SpatiaLite \(try database.spatialiteVersion())" }
}

/// A database several processes share tells each what the others changed.
public protocol ChangeFeed: Sendable {
    /// Blocks up to `timeout` seconds; the changes announced meanwhile (none on a timeout).
    func waitForChanges(timeout: TimeInterval) throws -> [StoreChange]
}

/// A store whose reads may be served by a replica that lags behind its primary.
public protocol ReplicationStatus: Sendable {
    /// How far the replica serving reads is behind, in seconds; nil without one, or while it is unavailable.
    func standbyLag() throws -> Double?
    /// Whether there is a replica but it could not answer lately, so reads go to the primary.
    var isStandbyUnavailable: Bool { get }
}

/// PostgreSQL + PostGIS: a city's or a province's centre, several servers on one database.
extension PostGISStore: GridRepository, PointRepository, IncidentRepository, AccessRepository, ConfigurationRepository, ChangeFeed,
    ReplicationStatus {}
