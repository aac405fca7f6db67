import Foundation
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
import Localization
@testable import GridApplication
@testable import GridStore

/// Household upkeep on PostGIS gives SpatiaLite's answers: the same visits give the
/// same records, errors, history and audit log, and a stale version conflicts,
/// also when another server (a second store on the database) changed it first.
@Suite(.serialized) struct HouseholdUpkeepParityTests {
    static let day = Date(timeIntervalSince1970: 1_800_000_000)

    static func edit(_ fields: [HouseholdField: String?] = [:], at place: LonLat? = nil, version: Int? = nil) -> HouseholdEdit {
        HouseholdEdit(fields: fields, place: place.map { ($0, ($0.lon, $0.lat, .wgs84)) }, expectedVersion: version)
    }

    /// Every answer of a round of visits, in order (errors by kind and words).
    static func transcript(_ store: any Repositories) throws -> [String] {
        var lines: [String] = []
        func note(_ label: String, _ value: Any) { lines.append("\(label): \(value)") }
        func attempt(_ label: String, _ body: () throws -> Any) {
            do { note(label, try body()) } catch { note(label, "\((error as? WanggeError)?.kind.rawValue ?? "?") \(error)") }
        }
        let token = try store.createToken(name: "王网格", role: .gridWorker, grids: [], villages: ["430981-001-017"], towns: [], expiresAt: nil, hash: "w")
        let caller = try #require(try store.caller(tokenHash: "w", now: day))
        let actor = HouseholdActor(name: "王网格", caller: caller, auditAction: "PATCH /v1/households/N1")
        let permitted: (String?) throws -> Void = { grid in
            guard let grid, caller.grids.contains(grid) else { throw WanggeError(.unauthorized, .verbatim("not your grid \(grid ?? "-")")) }
        }
        let home = LonLat(112.355, 28.842)
        // A place in another grid of the worker's village: where a household of it lives.
        let other = try #require(caller.grids.sorted().first { $0 != "430981-001-017-002" && !((try? store.households(grid: $0, tag: nil, generation: nil).isEmpty) ?? true) })
        let neighbour = try store.households(grid: other, tag: nil, generation: nil)[0]
        let next = LonLat(neighbour.lon, neighbour.lat)
        attempt("add") { try store.addHousehold(id: "N1", edit([.head: "周大", .phone: "13800138000", .members: "3", .tags: "独居老人;低保户"], at: home),
                                                by: actor, placement: nil, permit: permitted, at: day) }
        attempt("add again") { try store.addHousehold(id: "N1", edit(at: home), by: actor, placement: nil, permit: permitted, at: day) }
        attempt("add outside China") { try store.addHousehold(id: "N2", edit(at: LonLat(150, 10)), by: actor, placement: nil, permit: permitted, at: day) }
        attempt("add outside the grids") { try store.addHousehold(id: "N2", edit(at: LonLat(113.6, 28.0)), by: actor, placement: nil, permit: permitted, at: day) }
        attempt("add in another's grid") { try store.addHousehold(id: "N2", edit(at: LonLat(112.5, 29.0)), by: actor, placement: nil, permit: permitted, at: day) }
        attempt("add without a place") { try store.addHousehold(id: "N2", edit(), by: actor, placement: nil, permit: permitted, at: day) }
        attempt("bad phone") { try store.changeHousehold(id: "N1", edit([.phone: "12345"]), by: actor, placement: nil, permit: { _, _ in }, at: day) }
        attempt("bad ID number") { try store.changeHousehold(id: "N1", edit([.idNumber: "430981199001011235"]), by: actor, placement: nil, permit: { _, _ in }, at: day) }
        attempt("edit") { try store.changeHousehold(id: "N1", edit([.members: "4", .phone: nil, .address: "和桥路8号"], version: 1), by: actor,
                                                    placement: nil, permit: { _, _ in }, at: day.addingTimeInterval(60)) }
        attempt("stale edit") { try store.changeHousehold(id: "N1", edit([.members: "5"], version: 1), by: actor, placement: nil, permit: { _, _ in },
                                                          at: day.addingTimeInterval(90)) }
        attempt("move") { try store.changeHousehold(id: "N1", edit(at: next, version: 2), by: actor, placement: nil,
                                                    permit: { from, to in note("move permit", "\(from ?? "-") → \(to ?? "-")") }, at: day.addingTimeInterval(120)) }
        attempt("edit an imported one") {
            let id = try store.householdPage(grid: nil, tag: nil, query: nil, searchNames: false, searchAddresses: true, limit: 1, after: nil, generation: nil)[0].id
            return try store.changeHousehold(id: id, edit([.tags: "残疾人"], version: 1), by: HouseholdActor(name: "命令行", auditAction: "edit"),
                                             placement: nil, permit: { _, _ in }, at: day)
        }
        attempt("stale removal") { try store.removeHousehold(id: "N1", expectedVersion: 2, by: actor, permit: { _ in }, at: day.addingTimeInterval(180)) }
        attempt("record") { try store.household(id: "N1") }
        note("grid households", try store.households(grid: try store.household(id: "N1").grid!, tag: nil, generation: nil).map { "\($0)" })
        attempt("removal") { try store.removeHousehold(id: "N1", expectedVersion: 3, by: actor, permit: { _ in }, at: day.addingTimeInterval(240)) }
        attempt("removed") { try store.household(id: "N1") }
        attempt("removed again") { try store.removeHousehold(id: "N1", expectedVersion: nil, by: actor, permit: { _ in }, at: day) }
        note("history", try store.householdHistory(id: "N1").map { e in
            "\(e.seq) \(e.at) \(e.actor) \(e.action) \(e.version) \(e.fromGrid ?? "-")→\(e.toGrid ?? "-") "
                + e.changes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.before ?? "-")→\($0.value.after ?? "-")" }.joined(separator: ", ")
        })
        note("audit", try store.auditLog(limit: 20).map { "\($0.caller) \($0.role) \($0.action) \($0.grid ?? "-") \($0.records) \($0.at)" })
        note("counts", try store.pointCounts().sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" })
        note("token", token)
        return lines
    }

    @Test func theSameVisitsGiveTheSameAnswers() throws {
        let expected = try Self.transcript(try loadedStore(.spatialite))
        let found = try Self.transcript(try loadedStore(.postgis))
        #expect(found.count == expected.count)
        for (p, r) in zip(found, expected) { #expect(p == r) }
        // The transcript holds what it should: a conflict, a move between grids and four entries of history.
        #expect(expected.contains { $0.hasPrefix("stale edit: conflict household N1 was changed by someone else: you have version 1, it is now 2") })
        #expect(expected.contains { $0.hasPrefix("history: ") && $0.contains(" move 3 430981-001-017-002→430981-001-017-") && $0.contains(" remove 4 ") })
    }

    /// Another server changed the household first: the second save of the same version conflicts, and nothing of it is stored.
    @Test(arguments: Backend.allCases) func aVersionChangedOnAnotherServerIsStale(_ backend: Backend) throws {
        let (first, second) = try backend.loadedPair()
        let id = try first.householdPage(grid: nil, tag: nil, query: nil, searchNames: false, searchAddresses: true, limit: 1, after: nil, generation: nil)[0].id
        let actor = HouseholdActor(name: "王网格", auditAction: "test")
        _ = try first.changeHousehold(id: id, Self.edit([.members: "6"], version: 1), by: actor, placement: nil, permit: { _, _ in }, at: Self.day)
        #expect { try second.changeHousehold(id: id, Self.edit([.members: "7"], version: 1), by: actor, placement: nil, permit: { _, _ in }, at: Self.day) } throws: {
            ($0 as? WanggeError)?.kind == .conflict && "\($0)" == "household \(id) was changed by someone else: you have version 1, it is now 2; reload and try again"
        }
        #expect { try second.removeHousehold(id: id, expectedVersion: 1, by: actor, permit: { _ in }, at: Self.day) } throws: {
            ($0 as? WanggeError)?.kind == .conflict
        }
        #expect(try second.household(id: id).members == 6 && second.householdHistory(id: id).count == 1)
    }

    /// Eight workers on two servers save the same version at once: one edit lands, seven conflict.
    @Test(arguments: Backend.allCases) func concurrentEditsOnTwoServersLetOneThrough(_ backend: Backend) throws {
        let (first, second) = try backend.loadedPair()
        let id = try first.householdPage(grid: nil, tag: nil, query: nil, searchNames: false, searchAddresses: true, limit: 1, after: nil, generation: nil)[0].id
        let stores = [first, second]
        let actor = HouseholdActor(name: "王网格", auditAction: "test")
        let results = Mutex<[Result<HouseholdRecord, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let result = Result { try stores[i % 2].changeHousehold(id: id, Self.edit([.members: String(i + 1)], version: 1), by: actor, placement: nil,
                                                                    permit: { _, _ in }, at: Self.day) }
            results.withLock { $0.append(result) }
        }
        let all = results.withLock { $0 }
        #expect(all.filter { (try? $0.get()) != nil }.count == 1)
        #expect(all.filter { if case .failure(let e) = $0 { return (e as? WanggeError)?.kind == .conflict } else { return false } }.count == 7)
        #expect(try second.household(id: id).version == 2 && first.householdHistory(id: id).count == 1)
    }
}
