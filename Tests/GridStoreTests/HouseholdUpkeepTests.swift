import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// Household upkeep in the store, on the sample county's grids: versions across
/// imports, edits racing for one version, and a refusal that writes nothing.
@Suite struct HouseholdUpkeepTests {
    let actor = HouseholdActor(name: "王网格", auditAction: "test")

    @Test func anImportOverAnEditedHouseholdMakesTheEditorsVersionStale() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        let file = try t.file("h.csv", "id,lon,lat,head,members\nH1,112.355,28.842,周大,3\n")
        _ = try t.store.importPoints(.households, path: file)
        #expect(try t.store.household(id: "H1").version == 1)
        _ = try t.store.importPoints(.households, path: file)
        #expect(try t.store.household(id: "H1").version == 2)
        #expect { _ = try t.store.changeHousehold(id: "H1", HouseholdEdit(fields: [.members: "4"], expectedVersion: 1), by: actor,
                                                  placement: nil, permit: { _, _ in }) } throws: {
            ($0 as? WanggeError)?.kind == .conflict && "\($0)".contains("you have version 1, it is now 2")
        }
        #expect(try t.store.household(id: "H1").members == 3 && t.store.householdHistory(id: "H1").isEmpty)
    }

    /// Eight workers save the same version at once: one edit lands, seven are told it changed.
    @Test func concurrentEditsOfOneVersionLetOneThrough() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        _ = try t.store.importPoints(.households, path: try t.file("h.csv", "id,lon,lat\nH1,112.355,28.842\n"))
        let store = t.store, actor = actor
        let results = Mutex<[Result<HouseholdRecord, Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let result = Result { try store.changeHousehold(id: "H1", HouseholdEdit(fields: [.members: String(i + 1)], expectedVersion: 1), by: actor,
                                                            placement: nil, permit: { _, _ in }) }
            results.withLock { $0.append(result) }
        }
        let all = results.withLock { $0 }
        #expect(all.filter { (try? $0.get()) != nil }.count == 1)
        #expect(all.filter { if case .failure(let e) = $0 { return (e as? WanggeError)?.kind == .conflict } else { return false } }.count == 7)
        #expect(try t.store.household(id: "H1").version == 2 && t.store.householdHistory(id: "H1").count == 1)
    }
}
