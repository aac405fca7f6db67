import Foundation
import GeoKit
import GridCore
import Testing
import Localization
import TestSupport

/// Nine square grids of 0.01° in three villages (rows, south to north) of one
/// town, near 沅江: small enough to reason about every piece by hand.
///
///     village 003:  003-001  003-002  003-003
///     village 002:  002-001  002-002  002-003
///     village 001:  001-001  001-002  001-003
enum SquareCounty {
    static let west = 112.40, side = 0.01

    /// Corners computed the same way by every square that shares them, so
    /// neighbours share their edges exactly, as in real coverages.
    static func x(_ column: Int) -> Double { Double(11_240 + column) / 100 }
    static func y(_ row: Int) -> Double { Double(2_880 + row) / 100 }

    static func square(_ column: Int, _ row: Int) -> [(Double, Double)] {
        return [(x(column), y(row)), (x(column + 1), y(row)), (x(column + 1), y(row + 1)), (x(column), y(row + 1)), (x(column), y(row))]
    }

    static func code(_ column: Int, _ row: Int) -> String { "430981-001-00\(row + 1)-00\(column + 1)" }

    static func plan() throws -> BoundaryPlan {
        let geos = try GEOSContext()
        var grids: [(info: GridInfo, geometry: Geometry)] = []
        for row in 0..<3 {
            for column in 0..<3 {
                let polygon = try Geometry.polygon([square(column, row)], context: geos).asMultiPolygon()
                let info = GridInfo(code: code(column, row), name: "grid \(column),\(row)", villageCode: "430981-001-00\(row + 1)",
                                    villageName: "村\(row + 1)", townCode: "430981-001", townName: "镇", workerName: "worker \(column),\(row)",
                                    workerPhone: "1380000000\(row * 3 + column)", areaSquareMetres: try Geodesic.area(of: polygon))
                grids.append((info, polygon))
            }
        }
        let areas = try Hierarchy.areas(of: grids, context: geos)
        // The county as the store makes it: the union of the grids.
        let county = try Geometry.collection(.geometryCollection, grids.map(\.geometry), context: geos).unaryUnion().asMultiPolygon()
        return BoundaryPlan(grids: try grids.map { PlanGrid(info: $0.info, wkb: try $0.geometry.wkb()) }, villages: areas.villages,
                            towns: areas.towns, county: try county.wkb(), usedCodes: [])
    }

    static func wkb(_ wkt: String) throws -> [UInt8] { try Geometry(wkt: wkt, context: try GEOSContext()).wkb() }

    /// Geodesic areas of a plan's grids, by code.
    static func areas(_ plan: BoundaryPlan) throws -> [String: Double] {
        let geos = try GEOSContext()
        return try Dictionary(uniqueKeysWithValues: plan.grids.map { ($0.info.code, try Geodesic.area(of: try Geometry(wkb: $0.wkb, context: geos))) })
    }

    static func countyArea(_ plan: BoundaryPlan) throws -> Double {
        try Geodesic.area(of: try Geometry(wkb: plan.county, context: try GEOSContext()))
    }

    /// Planar areas in square degrees: exactly additive, whatever vertices an
    /// edit inserts on an edge (geodesic areas change by a few m² when a long
    /// edge along a parallel gets a vertex: the geodesic bows towards the pole).
    static func planarAreas(_ plan: BoundaryPlan) throws -> (grids: Double, county: Double) {
        let geos = try GEOSContext()
        let grids = try plan.grids.reduce(0) { $0 + (try Geometry(wkb: $1.wkb, context: geos).area) }
        return (grids, try Geometry(wkb: plan.county, context: geos).area)
    }
}

@Suite struct PlanEditorTests {
    let thresholds = PlanThresholds(maxOverlapSquareMetres: 1, maxGapSquareMetres: 1)

    /// Applies an edit and checks the result is still a clean coverage with the county's area.
    func applyClean(_ editor: PlanEditor, _ edit: PlanEdit) throws -> BoundaryPlan {
        try editor.apply(edit)
        let problems = try PlanValidator(thresholds: thresholds).problems(in: editor.plan)
        #expect(problems.isEmpty, "\(problems)")
        let planar = try SquareCounty.planarAreas(editor.plan)
        #expect(abs(planar.grids - planar.county) / planar.county < 1e-12, "total area \(planar.grids)° against \(planar.county)°")
        let total = try SquareCounty.areas(editor.plan).values.reduce(0, +)
        #expect(abs(total - (try SquareCounty.countyArea(editor.plan))) < 50, "total area \(total) m²")
        return editor.plan
    }

    @Test func theFixtureIsACleanCoverage() throws {
        #expect(try PlanValidator(thresholds: thresholds).problems(in: try SquareCounty.plan()).isEmpty)
    }

    @Test func splitMakesTwoNewGridsAndKeepsTheCoverage() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let centre = SquareCounty.code(1, 1)
        // A line a quarter of the way across the centre grid, overshooting into its neighbours.
        let x = SquareCounty.west + 1.25 * SquareCounty.side
        let edit = try editor.split(centre, along: try SquareCounty.wkb("LINESTRING(\(x) 28.805, \(x) 28.825)"))
        #expect(edit.removed == [centre])
        let pieces = edit.changed.filter { $0.info.villageCode == "430981-001-002" && !plan.grids.map(\.info.code).contains($0.info.code) }
        #expect(pieces.map(\.info.code) == ["430981-001-002-004", "430981-001-002-005"])
        // The larger piece (three quarters) keeps the worker; the other has none yet.
        #expect(pieces[0].info.workerName == "worker 1,1" && pieces[1].info.workerName == nil)
        #expect(pieces[0].info.name == "村2第四网格")
        let before = try SquareCounty.areas(plan)[centre]!
        #expect(abs(pieces[0].info.areaSquareMetres! - before * 0.75) / before < 1e-3)
        #expect(abs(pieces[0].info.areaSquareMetres! + pieces[1].info.areaSquareMetres! - before) < 10)
        let after = try applyClean(editor, edit)
        #expect(after.grids.count == 10)
        // The cut's ends are now vertices of the grids north and south too: their shapes did not change.
        let areas = try SquareCounty.areas(after)
        #expect(abs(areas[SquareCounty.code(1, 0)]! - (try SquareCounty.areas(plan)[SquareCounty.code(1, 0)]!)) < 1e-6)
        // Village and town polygons follow.
        #expect(after.villages["430981-001-002"] != nil)
    }

    @Test func splitRefusesLinesThatDoNotCutAcross() throws {
        let editor = try PlanEditor(plan: try SquareCounty.plan())
        let centre = SquareCounty.code(1, 1)
        #expect(throws: WanggeError.refused(.verbatim("split \(centre): the line does not cut grid \(centre) from edge to edge (it must cross the grid's boundary on both sides)"))) {
            try editor.split(centre, along: try SquareCounty.wkb("LINESTRING(112.415 28.805, 112.415 28.815)"))
        }
        #expect(throws: WanggeError.refused(.verbatim("split \(centre): the line does not cross grid \(centre)"))) {
            try editor.split(centre, along: try SquareCounty.wkb("LINESTRING(112.45 28.805, 112.45 28.825)"))
        }
        // A zig-zag crossing the grid twice makes three pieces.
        #expect(throws: WanggeError.refused(.verbatim("split \(centre): the line cuts grid \(centre) into 3 pieces; a split makes two: draw a line that crosses the grid once"))) {
            try editor.split(centre, along: try SquareCounty.wkb("LINESTRING(112.412 28.805, 112.412 28.825, 112.418 28.825, 112.418 28.805)"))
        }
        #expect(throws: WanggeError.refused(.verbatim("split \(centre): the cut must be a LineString or MultiLineString, not a Polygon"))) {
            try editor.split(centre, along: try SquareCounty.wkb("POLYGON((112.41 28.81, 112.42 28.81, 112.42 28.82, 112.41 28.81))"))
        }
    }

    @Test func mergeJoinsBorderingGridsOfOneVillage() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let a = SquareCounty.code(0, 0), b = SquareCounty.code(1, 0)
        let edit = try editor.merge([a, b])
        #expect(edit.removed == [a, b])
        #expect(edit.changed.count == 1 && edit.changed[0].info.code == "430981-001-001-004")
        #expect(edit.changed[0].info.workerName == "worker 0,0")
        let areas = try SquareCounty.areas(plan)
        #expect(abs(edit.changed[0].info.areaSquareMetres! - areas[a]! - areas[b]!) < 10)
        let after = try applyClean(editor, edit)
        #expect(after.grids.count == 8)
        // Codes are never reissued: a later split in the village continues after 004.
        #expect(try editor.merge([SquareCounty.code(2, 0), "430981-001-001-004"]).changed[0].info.code == "430981-001-001-005")
    }

    @Test func workerNamesAndPhonesAreBounded() throws {
        let editor = try PlanEditor(plan: try SquareCounty.plan())
        let code = SquareCounty.code(0, 0)
        #expect(throws: WanggeError.refused(.verbatim("worker \(code): phone: \"1380000000\u{0}\" contains the control character U+0000"))) {
            try editor.setWorker(code, name: "李四", phone: "1380000000\u{0}")
        }
        #expect { try editor.setWorker(code, name: String(repeating: "李", count: 201), phone: nil) } throws: {
            "\($0)".hasPrefix("worker \(code): name: ") && "\($0)".hasSuffix("is 201 characters long; at most 200 are allowed")
        }
        #expect(try editor.setWorker(code, name: "李四", phone: "13800000000").changed.first?.info.workerName == "李四")
    }

    @Test func mergeRefusesOtherVillagesAndGridsApart() throws {
        let editor = try PlanEditor(plan: try SquareCounty.plan())
        #expect(throws: WanggeError.refused(.verbatim("merge: grid 430981-001-002-001 is in village 430981-001-002, grid 430981-001-001-001 in 430981-001-001; only grids of one village merge (move 430981-001-002-001 to village 430981-001-001 first)"))) {
            try editor.merge([SquareCounty.code(0, 0), SquareCounty.code(0, 1)])
        }
        #expect(throws: WanggeError.refused(.verbatim("merge: grid 430981-001-001-003 shares no border with the other grids; merged grids must form one piece"))) {
            try editor.merge([SquareCounty.code(0, 0), SquareCounty.code(2, 0)])
        }
        #expect(throws: WanggeError.refused(.verbatim("no grid 430981-001-009-009 in the draft"))) { try editor.merge([SquareCounty.code(0, 0), "430981-001-009-009"]) }
    }

    @Test func reshapeTakesAreaFromNeighbours() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let centre = SquareCounty.code(1, 1), east = SquareCounty.code(2, 1)
        // The centre grows east over half of its eastern neighbour.
        let edit = try editor.reshape(centre, to: try SquareCounty.wkb("POLYGON((112.41 28.81, 112.425 28.81, 112.425 28.82, 112.41 28.82, 112.41 28.81))"))
        let before = try SquareCounty.areas(plan)
        let after = try SquareCounty.areas(try applyClean(editor, edit))
        #expect(abs(after[centre]! - 1.5 * before[centre]!) / before[centre]! < 1e-3)
        #expect(abs(after[east]! - 0.5 * before[east]!) / before[east]! < 1e-3)
        #expect(abs(after[centre]! + after[east]! - before[centre]! - before[east]!) < 10)
        #expect(edit.notes.contains { $0.hasPrefix("takes 0.") && $0.contains(east) })
    }

    @Test func reshapeGivesUpAreaToTheNeighbourWithTheLongestBorder() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let centre = SquareCounty.code(1, 1)
        // The centre gives up its south-west corner: 0.004° along its west side, 0.002° along its south side.
        let edit = try editor.reshape(centre, to: try SquareCounty.wkb(
            "POLYGON((112.412 28.81, 112.42 28.81, 112.42 28.82, 112.41 28.82, 112.41 28.814, 112.412 28.814, 112.412 28.81))"))
        let west = SquareCounty.code(0, 1), south = SquareCounty.code(1, 0)
        let before = try SquareCounty.areas(plan)
        let after = try SquareCounty.areas(try applyClean(editor, edit))
        let piece = before[centre]! - after[centre]!
        #expect(abs(piece - before[centre]! * 0.08) / piece < 1e-3)
        // The west neighbour shares 0.004° of border with the piece, the south one 0.002°: west takes it.
        #expect(abs(after[west]! - before[west]! - piece) < 10)
        #expect(abs(after[south]! - before[south]!) < 10)
        #expect(edit.notes.contains { $0.contains("to \(west) (the longest shared border, 44") })
    }

    @Test func reshapeRefusesToLeaveAGapOrSwallowAGrid() throws {
        let editor = try PlanEditor(plan: try SquareCounty.plan())
        let corner = SquareCounty.code(0, 0)
        // Giving up the county's south-west corner: no other grid borders that piece.
        #expect { try editor.reshape(corner, to: try SquareCounty.wkb("POLYGON((112.402 28.80, 112.41 28.80, 112.41 28.81, 112.40 28.81, 112.40 28.802, 112.402 28.802, 112.402 28.80))")) }
            throws: { error in
                "\(error)".hasPrefix("reshape \(corner): the grid would give up 0.04") && "\(error)".contains("that borders no other grid, leaving a gap")
            }
        #expect(throws: WanggeError.refused(.verbatim("reshape \(corner): the new shape covers all of grid \(SquareCounty.code(1, 0)); merge the grids instead"))) {
            try editor.reshape(corner, to: try SquareCounty.wkb("POLYGON((112.40 28.80, 112.42 28.80, 112.42 28.81, 112.40 28.81, 112.40 28.80))"))
        }
        #expect { try editor.reshape(corner, to: try SquareCounty.wkb("POLYGON((112.40 28.80, 112.41 28.81, 112.41 28.80, 112.40 28.81, 112.40 28.80))")) }
            throws: { "\($0)".hasPrefix("reshape \(corner): the new shape is not a valid polygon: Self-intersection at lon 112.405") }
    }

    @Test func reshapeBeyondTheCountyIsClipped() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let corner = SquareCounty.code(0, 0)
        let edit = try editor.reshape(corner, to: try SquareCounty.wkb("POLYGON((112.39 28.79, 112.41 28.79, 112.41 28.81, 112.39 28.81, 112.39 28.79))"))
        #expect(edit.notes.contains { $0.hasSuffix("of the new shape lies outside the county and was left out") })
        #expect(edit.changed.isEmpty)
        _ = try applyClean(editor, edit)
    }

    @Test func moveGivesACodeUnderTheNewVillage() throws {
        let editor = try PlanEditor(plan: try SquareCounty.plan())
        let edit = try editor.move(SquareCounty.code(2, 1), toVillage: "430981-001-001")
        #expect(edit.changed[0].info.code == "430981-001-001-004" && edit.changed[0].info.villageName == "村1")
        #expect(edit.changed[0].info.workerName == "worker 2,1")
        let after = try applyClean(editor, edit)
        #expect(after.villages["430981-001-002"] != nil && after.grids.filter { $0.info.villageCode == "430981-001-001" }.count == 4)
        #expect(throws: WanggeError.refused(.verbatim("move 430981-001-001-001: no village 430981-001-009 in the draft"))) {
            try editor.move(SquareCounty.code(0, 0), toVillage: "430981-001-009")
        }
    }

    @Test func theValidatorFindsOverlapsGapsAndSliversWithPlaceAndArea() throws {
        var plan = try SquareCounty.plan()
        let geos = try GEOSContext()
        // The centre grows 0.001° east over its neighbour (an overlap) and the
        // north-east corner shrinks 0.001° from its north edge (a gap); a
        // half-millimetre strip under the north-west grid is a sliver of about half a m².
        let edits: [(Int, Int, String)] = [
            (1, 1, "POLYGON((112.41 28.81, 112.421 28.81, 112.421 28.82, 112.41 28.82, 112.41 28.81))"),
            (2, 2, "POLYGON((112.42 28.82, 112.43 28.82, 112.43 28.829, 112.42 28.829, 112.42 28.82))"),
            (0, 2, "POLYGON((112.40 28.82, 112.41 28.82, 112.41 28.829999995, 112.40 28.829999995, 112.40 28.82))"),
        ]
        var changed: [PlanGrid] = []
        for (column, row, wkt) in edits {
            var grid = plan.grid(SquareCounty.code(column, row))!
            grid.wkb = try Geometry(wkt: wkt, context: geos).asMultiPolygon().wkb()
            changed.append(grid)
        }
        plan = try plan.applying(PlanEdit(removed: [], changed: changed, region: [], summary: ""), context: geos)
        let problems = try PlanValidator(thresholds: thresholds).problems(in: plan)
        let overlap = try #require(problems.first { $0.kind == .overlap })
        #expect(overlap.severity == .error && overlap.grids == [SquareCounty.code(1, 1), SquareCounty.code(2, 1)])
        // 0.001° × 0.01° at 28.815°N, geodesic: about 97.6 m × 1108 m.
        let expected = Geodesic.ringArea([(112.42, 28.81), (112.421, 28.81), (112.421, 28.82), (112.42, 28.82), (112.42, 28.81)])
        #expect(abs(overlap.areaSquareMetres! - expected) / expected < 1e-4)
        #expect(overlap.location!.lon > 112.42 && overlap.location!.lon < 112.421)
        let gap = try #require(problems.first { $0.kind == .gap })
        #expect(gap.grids == [SquareCounty.code(1, 2), SquareCounty.code(2, 2)] && gap.location!.lat > 28.829 && abs(gap.areaSquareMetres! / expected - 1) < 0.01)
        let sliver = try #require(problems.first { $0.kind == .sliver })
        #expect(sliver.severity == .warning && sliver.areaSquareMetres! < 0.7 && sliver.areaSquareMetres! > 0.4)
        #expect(problems.errors.count == 2, "\(problems)")
        #expect("\(overlap)".hasPrefix("error: grids 430981-001-002-002 and 430981-001-002-003 overlap (10"))
    }

    @Test func splittingByHouseholdsBalancesTwoSettlements() throws {
        let plan = try SquareCounty.plan()
        let editor = try PlanEditor(plan: plan)
        let centre = SquareCounty.code(1, 1)
        // 300 households around two points of the centre grid, west and east.
        var random = SeededRandom(seed: 3)
        var households: [LonLat] = []
        for i in 0..<300 {
            let x = i % 2 == 0 ? 112.413 : 112.417
            households.append(LonLat(x + random.normal() * 0.0005, 28.815 + random.normal() * 0.0015))
        }
        let edit = try #require(try editor.splitByHouseholds(centre, households: households, maxHouseholds: 200))
        let pieces = edit.changed.filter { $0.info.villageCode == "430981-001-002" && $0.info.code > "430981-001-002-003" }
        #expect(pieces.count == 2)
        // Count independently: households inside each piece by GEOS point-in-polygon.
        let geos = try GEOSContext()
        for piece in pieces {
            let shape = try PreparedGeometry(try Geometry(wkb: piece.wkb, context: geos))
            let count = try households.filter { try shape.covers(try Geometry.point(x: $0.lon, y: $0.lat, context: geos)) }.count
            #expect(count <= 200 && count >= 100, "\(piece.info.code): \(count)")
        }
        _ = try applyClean(editor, edit)
        #expect(try editor.splitByHouseholds(SquareCounty.code(0, 0), households: Array(households.prefix(10)), maxHouseholds: 200) == nil)
    }
}
