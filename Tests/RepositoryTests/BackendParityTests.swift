import Foundation
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridApplication
@testable import GridStore

/// The two stores behind the use cases.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case spatialite, postgis

    var testDescription: String { rawValue }

    /// An empty store of this kind.
    func emptyStore(rules: AssignmentRules = AssignmentRules()) throws -> any Repositories {
        switch self {
        case .spatialite: try GridStore(path: Fixtures.temporaryPath("parity.sqlite"), rules: rules)
        case .postgis: try PostGISStore(url: try PostgresTestCluster.freshDatabase(), rules: rules)
        }
    }

    /// Two stores of this kind on one database (two processes, or two servers), the first loaded with the sample county.
    func loadedPair() throws -> (any Repositories, any Repositories) {
        switch self {
        case .spatialite:
            let path = Fixtures.temporaryPath("parity-pair.sqlite")
            let first = try GridStore(path: path)
            try load(first)
            return (first, try GridStore(path: path))
        case .postgis:
            let url = try PostgresTestCluster.freshDatabase()
            let first = try PostGISStore(url: url)
            try load(first)
            return (first, try PostGISStore(url: url))
        }
    }
}

/// The sample county's grids and generated points (fixed seed), written once per test process.
enum SampleFiles {
    static let directory: String = {
        let directory = Fixtures.temporaryPath("sample-points")
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let county = try! CountyGenerator(countyGeoJSON: try! String(contentsOfFile: Fixtures.countyBoundary, encoding: .utf8))
        _ = try! PointGenerator(county: county, grids: try! GeoJSONDocument(contentsOf: Fixtures.sampleGrids), householdCount: 12_000)
            .write(to: directory)
        // Points outside every grid, near (within the nearest-grid tolerance) and far (tens of km away).
        let outside = "id,lon,lat,status\nC-NEAR-1,112.15,28.72,online\nC-FAR-1,112.9,29.4,offline\nC-FAR-2,111.5,28.0,online\n"
        try! outside.write(toFile: directory + "/outside.csv", atomically: true, encoding: .utf8)
        return directory
    }()

    static var households: String { directory + "/households.csv" }
    static var cameras: String { directory + "/cameras.csv" }
    static var outsideCameras: String { directory + "/outside.csv" }
}

/// A store of each kind loaded with the same county.
func loadedStore(_ backend: Backend) throws -> any Repositories {
    let store = try backend.emptyStore()
    try load(store)
    return store
}

/// Loads the sample county into an empty store.
func load(_ store: any Repositories) throws {
    _ = try store.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: "parity", dispatch: DispatchRules(),
                              thresholds: PlanThresholds(), force: false, progress: nil)
    _ = try store.importPoints(.households, path: SampleFiles.households, crs: .wgs84, encoding: nil, dispatch: DispatchRules(),
                               columnNames: PointColumnNames(), progress: nil)
    _ = try store.importPoints(.cameras, path: SampleFiles.cameras, crs: .wgs84, encoding: nil, dispatch: DispatchRules(),
                               columnNames: PointColumnNames(), progress: nil)
    _ = try store.importPoints(.cameras, path: SampleFiles.outsideCameras, crs: .wgs84, encoding: nil, dispatch: DispatchRules(),
                               columnNames: PointColumnNames(), progress: nil)
}

/// SpatiaLite and PostGIS, loaded from the same files, give the same answers.
/// The SpatiaLite store is the reference: its answers are checked by the rest of the suite.
@Suite(.serialized) struct BackendParityTests {
    let reference: any Repositories
    let postgis: any Repositories

    /// Loaded once for the suite (the tests only read, but for tokens and the audit log, which they check alone).
    static let loaded = Result { (try loadedStore(.spatialite), try loadedStore(.postgis)) }

    init() throws {
        (reference, postgis) = try Self.loaded.get()
    }

    @Test func gridsAreasAndShapesAreTheSame() throws {
        #expect(try postgis.grids(generation: nil) == reference.grids(generation: nil))
        #expect(try postgis.grids(generation: nil).count == 271)
        for level in [AreaLevel.town, .village] {
            let a = try postgis.areas(level, town: nil), b = try reference.areas(level, town: nil)
            #expect(a.map(\.code) == b.map(\.code) && a.map(\.name) == b.map(\.name) && a.map(\.grids) == b.map(\.grids) && a.map(\.town) == b.map(\.town))
            // Areas are unions that PostGIS stored and gave back: byte for byte the WKB we wrote.
            #expect(try postgis.areaShapes(level, generation: nil).map(\.wkb) == reference.areaShapes(level, generation: nil).map(\.wkb))
        }
        #expect(try postgis.gridShapes(generation: nil).map(\.wkb) == reference.gridShapes(generation: nil).map(\.wkb))
        #expect(try postgis.areaCode(.town, named: "琼湖街道", generation: nil) == "430981-001")
        #expect(throws: WanggeError.self) { try postgis.areaCode(.town, named: "琼湖街", generation: nil) }
    }

    @Test func everyPointIsAssignedAlike() throws {
        #expect(try postgis.pointCounts() == reference.pointCounts())
        #expect(try postgis.unassignedCounts(generation: nil) == reference.unassignedCounts(generation: nil))
        for id in ["C-FAR-1", "C-FAR-2"] { #expect(try postgis.history(.cameras, id: id).map(\.method) == [AssignmentMethod.none], "far outside: in no grid") }
        let a = try postgis.householdGrids(generation: nil), b = try reference.householdGrids(generation: nil)
        #expect(a.count == 12_000)
        // Row order is the database's own: compare as sets of (position, grid).
        func keyed(_ rows: [(position: LonLat, grid: String?)]) -> [String: String] {
            Dictionary(rows.map { ("\($0.position.lon.bitPattern),\($0.position.lat.bitPattern)", $0.grid ?? "-") }) { first, _ in first }
        }
        #expect(keyed(a) == keyed(b))
        for id in ["C-NEAR-1", "C-FAR-1"] {
            let p = try postgis.history(.cameras, id: id), r = try reference.history(.cameras, id: id)
            #expect(p.map(\.grid) == r.map(\.grid) && p.map(\.method) == r.map(\.method) && p.map(\.generation.id) == r.map(\.generation.id))
        }
    }

    /// An independent check of the assignments: PostGIS's own ST_Covers over the stored grids.
    @Test func postGISCoversAgreesWithEveryAssignment() throws {
        let store = try #require(postgis as? PostGISStore)
        let rows = try store.database.read { connection in
            try connection.query("""
                SELECT a.method, a.grid_code,
                       (SELECT string_agg(g.code, ',' ORDER BY g.code) FROM grids g
                        WHERE g.generation_id = a.generation_id AND g.geom && h.geom AND ST_Covers(g.geom, h.geom)) AS covering
                FROM assignments a JOIN households h ON h.id = a.feature_id
                WHERE a.layer = 'household' AND a.generation_id = (SELECT id FROM generations WHERE status = 'active')
                """)
        }
        #expect(rows.count == 12_000)
        var disagreements: [String] = []
        for r in 0..<rows.count {
            let method = rows.text(r, "method"), grid = rows.string(r, "grid_code"), covering = rows.string(r, "covering")?.split(separator: ",").map(String.init) ?? []
            let agrees = switch method {
            case "inside": covering == [grid ?? ""]
            case "boundary": grid.map(covering.contains) ?? false
            default: covering.isEmpty
            }
            if !agrees { disagreements.append("\(method) \(grid ?? "-") covered by \(covering)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test func statisticsAreTheSameAtEveryLevel() throws {
        for level in [AreaLevel.town, .village, .grid] {
            #expect(try postgis.statistics(by: level, generation: nil, grid: nil) == reference.statistics(by: level, generation: nil, grid: nil))
        }
        let one = try reference.grids(generation: nil)[17].code
        #expect(try postgis.statistics(by: .grid, generation: nil, grid: one) == reference.statistics(by: .grid, generation: nil, grid: one))
        // Against an independent count: the households assigned to each grid.
        let counted = Dictionary(grouping: try reference.householdGrids(generation: nil).compactMap(\.grid), by: { $0 }).mapValues(\.count)
        for row in try postgis.statistics(by: .grid, generation: nil, grid: nil) { #expect(row.households == counted[row.code] ?? 0) }
    }

    @Test func householdListsAndSearchesAreTheSame() throws {
        let grid = try reference.grids(generation: nil)[3].code
        #expect(try postgis.households(grid: grid, tag: nil, generation: nil) == reference.households(grid: grid, tag: nil, generation: nil))
        let tagged = try reference.householdPage(grid: nil, tag: "独居老人", query: nil, searchNames: false, searchAddresses: true, limit: 50,
                                                 after: nil, generation: nil)
        #expect(!tagged.isEmpty)
        #expect(try postgis.householdPage(grid: nil, tag: "独居老人", query: nil, searchNames: false, searchAddresses: true, limit: 50,
                                          after: nil, generation: nil) == tagged)
        let page = try reference.householdPage(grid: nil, tag: nil, query: "路", searchNames: true, searchAddresses: true, limit: 20,
                                               after: tagged.last?.id, generation: nil)
        #expect(try postgis.householdPage(grid: nil, tag: nil, query: "路", searchNames: true, searchAddresses: true, limit: 20,
                                          after: tagged.last?.id, generation: nil) == page)
        let id = tagged[0].id
        #expect(try postgis.household(id: id) == reference.household(id: id))
        #expect(throws: WanggeError.self) { try postgis.household(id: "no-such-household") }
    }

    @Test(arguments: [Collection.grids, .villages, .towns, .households, .cameras])
    func featurePagesInABoxAreTheSame(_ collection: Collection) throws {
        let box = BoundingBox(minLon: 112.30, minLat: 28.80, maxLon: 112.40, maxLat: 28.87)
        // Counted (under the limit: one pass) and not (a limit of 30: the page read apart), a page past the end too.
        for (bbox, offset, countLimit) in [(Optional(box), 0, 10_000), (box, 7, 10_000), (nil, 0, 10_000), (box, 7, 30), (nil, 40, 30), (box, 100_000, 10_000)] {
            let p = try postgis.features(collection, bbox: bbox, grid: nil, id: nil, limit: 25, offset: offset, generation: nil, countLimit: countLimit)
            let r = try reference.features(collection, bbox: bbox, grid: nil, id: nil, limit: 25, offset: offset, generation: nil, countLimit: countLimit)
            #expect(p.matched == r.matched)
            #expect(p.features.map(\.id) == r.features.map(\.id))
            #expect(p.features.map(\.grid) == r.features.map(\.grid))
            #expect(p.features.map { $0.properties.map(\.key) } == r.features.map { $0.properties.map(\.key) })
            #expect(p.features.map { $0.properties.map { "\($0.value)" } } == r.features.map { $0.properties.map { "\($0.value)" } })
            // Each database writes GeoJSON its own way: the same coordinates to 7 decimals.
            for (a, b) in zip(p.features, r.features) { #expect(try coordinates(a.geometryJSON) == coordinates(b.geometryJSON)) }
        }
    }

    @Test func exportsWalkTheSameFeatures() throws {
        var a: [String] = [], b: [String] = []
        let areas = [try reference.grids(generation: nil)[0].code, try reference.grids(generation: nil)[5].code]
        try postgis.eachFeature(.households, areas: areas, generation: nil) { a.append($0.id) }
        try reference.eachFeature(.households, areas: areas, generation: nil) { b.append($0.id) }
        #expect(!a.isEmpty && a == b)
    }

    @Test func tokensScopesAndTheAuditLogBehaveAlike() throws {
        for store in [reference, postgis] {
            let grids = try store.grids(generation: nil)
            let worker = try store.createToken(name: "王网格员", role: .gridWorker, grids: [grids[0].code], villages: [grids[40].villageCode], towns: [],
                                               expiresAt: nil, hash: "h-worker")
            _ = try store.createToken(name: "调度", role: .dispatcher, grids: [], villages: [], towns: [], expiresAt: Date(timeIntervalSinceNow: -60), hash: "h-old")
            #expect(throws: WanggeError.self) { try store.createToken(name: "x", role: .gridWorker, grids: ["430981-999-999-999"], villages: [], towns: [], expiresAt: nil, hash: "h-x") }
            let caller = try #require(try store.caller(tokenHash: "h-worker", now: Date()))
            let expected = Set([grids[0].code] + grids.filter { $0.villageCode == grids[40].villageCode }.map(\.code))
            #expect(caller.grids == expected && caller.role == .gridWorker)
            #expect(try store.caller(tokenHash: "h-old", now: Date()) == nil, "expired")
            try store.audit(caller, action: "households", grid: grids[0].code, records: 3)
            #expect(try store.auditLog(limit: 5).map(\.action) == ["households"])
            #expect(try store.revokeToken(id: worker) && !store.revokeToken(id: worker))
            #expect(try store.caller(tokenHash: "h-worker", now: Date()) == nil)
        }
        #expect(try postgis.tokens(now: Date()).map(\.status) == reference.tokens(now: Date()).map(\.status))
    }

    @Test func generationsAreListedAlike() throws {
        let p = try postgis.generations(), r = try reference.generations()
        #expect(p.map(\.status) == r.map(\.status) && p.map(\.grids) == r.map(\.grids) && p.map(\.rules) == r.map(\.rules) && p.map(\.name) == r.map(\.name))
        let e1 = try postgis.extent(), e2 = try reference.extent()
        // SpatiaLite's extent comes from its R*Tree's float boxes (rounded outwards); PostGIS's is exact.
        #expect(abs(e1.minX - e2.minX) < 1e-4 && abs(e1.maxX - e2.maxX) < 1e-4 && abs(e1.minY - e2.minY) < 1e-4 && abs(e1.maxY - e2.maxY) < 1e-4)
    }
}

/// A GeoJSON geometry's coordinates, rounded to 7 decimals.
func coordinates(_ json: String) throws -> [Double] {
    var numbers: [Double] = []
    func walk(_ value: Any) {
        if let array = value as? [Any] { array.forEach(walk) } else if let number = value as? NSNumber { numbers.append((number.doubleValue * 1e7).rounded() / 1e7) }
    }
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    walk(object?["coordinates"] ?? [])
    return numbers
}
