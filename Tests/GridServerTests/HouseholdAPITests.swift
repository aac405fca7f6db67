import Foundation
import GRDB
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Household upkeep over HTTP (入户走访), tried as an attacker would: other
/// workers' households, roles that may not write, stale versions, smuggled
/// fields. The sample county's grids; a fixture of its own, as it changes households.
@Suite struct HouseholdAPITests {
    static let own: Result<ServerFixture, Error> = Result { try ServerFixture() }
    let fixture: ServerFixture

    init() throws { fixture = try Self.own.get() }

    static let validID = "430981198503120025"

    func headers(_ role: Role, ifMatch: String? = nil) -> HTTPFields {
        var headers = fixture.headers(role)
        if let ifMatch { headers[.ifMatch] = ifMatch }
        return headers
    }

    /// Sends a request and checks its status; the JSON answer (empty for none).
    @discardableResult
    func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ role: Role, _ body: String? = nil,
              ifMatch: String? = nil, expect status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        try await client.execute(uri: uri, method: method, headers: headers(role, ifMatch: ifMatch), body: body.map { ByteBuffer(string: $0) }) { response in
            #expect(response.status == status, "\(method) \(uri) \(body ?? ""): \(String(buffer: response.body))", sourceLocation: sourceLocation)
            return (try? json(response) as? [String: Any]) ?? [:]
        }
    }

    func place(in grid: String, offset: Double = 0.00015) -> (lon: Double, lat: Double) {
        let p = fixture.inside[grid]!
        return (p.lon + offset, p.lat + offset / 2)
    }

    func detail(_ answer: [String: Any]) -> String { answer["detail"] as? String ?? "" }

    /// Ids come from the centres' own files: spaces, Chinese, markup. The path carries them percent-encoded.
    @Test func idsThatNeedPercentEncodingReachTheirRecord() async throws {
        try await fixture.app().test(.router) { client in
            let p = place(in: ServerFixture.workerGrid, offset: 0.0002)
            let id = "户 甲/1 <b>"
            let path = "/v1/households/" + id.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let added = try await send(client, .post, path, .admin, "{\"lon\":\(p.lon),\"lat\":\(p.lat)}", expect: .created)
            #expect(added["id"] as? String == id)
            let read = try await send(client, .get, path, .admin, expect: .ok)
            #expect(read["id"] as? String == id)
            let history = try await client.execute(uri: path + "/history", method: .get, headers: fixture.headers(.admin)) { $0.status }
            #expect(history == .ok)
            let broken = try await send(client, .get, "/v1/households/%E6%88%B", .admin, expect: .badRequest)
            #expect(detail(broken).contains("percent-encoding"))
            try await send(client, .delete, path, .admin, ifMatch: "\"1\"", expect: .noContent)
        }
    }

    @Test func aWorkerAddsEditsMovesAndRemovesAHouseholdOfTheirGrid() async throws {
        let mine = ServerFixture.workerGrid, theirs = ServerFixture.otherGrid
        try await fixture.app().test(.router) { client in
            let p = place(in: mine)
            let added = try await send(client, .post, "/v1/households/U1", .gridWorker,
                                       "{\"lon\":\(p.lon),\"lat\":\(p.lat),\"head\":\"周大\",\"phone\":\"13900001111\",\"members\":3,\"tags\":[\"独居老人\"]}",
                                       expect: .created)
            #expect(added["grid"] as? String == mine && added["version"] as? Int == 1 && added["head"] as? String == "周大")
            #expect(added["tags"] as? [String] == ["独居老人"])
            // The id in the body works too; the same id again is a conflict naming its version.
            try await send(client, .post, "/v1/households", .admin, "{\"id\":\"U2\",\"lon\":\(p.lon),\"lat\":\(p.lat)}", expect: .created)
            let again = try await send(client, .post, "/v1/households/U1", .admin, "{\"lon\":\(p.lon),\"lat\":\(p.lat)}", expect: .conflict)
            #expect(detail(again).contains("already exists (version 1)"))

            let edited = try await send(client, .patch, "/v1/households/U1", .gridWorker,
                                        "{\"phone\":\"0737-2211333\",\"id_number\":\"\(Self.validID)\",\"address\":null}", ifMatch: "\"1\"", expect: .ok)
            #expect(edited["version"] as? Int == 2 && edited["phone"] as? String == "0737-2211333" && edited["address"] == nil)
            // Someone with the version before the edit: 409 with the current version, nothing changed.
            let stale = try await send(client, .patch, "/v1/households/U1", .admin, "{\"members\":9,\"version\":1}", expect: .conflict)
            #expect(detail(stale).contains("you have version 1, it is now 2"))

            // A move into another worker's grid: allowed, re-assigned, both grids in the history.
            let q = place(in: theirs)
            let moved = try await send(client, .patch, "/v1/households/U1", .gridWorker, "{\"lon\":\(q.lon),\"lat\":\(q.lat),\"version\":2}",
                                       expect: .ok)
            #expect(moved["grid"] as? String == theirs && moved["version"] as? Int == 3)
            #expect(moved["head"] as? String == "周*", "no longer theirs: masked as any other grid's")
            #expect(try fixture.store.household(id: "U1").method == .inside)
            // Now it is the other worker's: this one may neither edit nor remove it.
            try await send(client, .patch, "/v1/households/U1", .gridWorker, "{\"members\":4,\"version\":3}", expect: .forbidden)
            try await send(client, .delete, "/v1/households/U1", .gridWorker, ifMatch: "\"3\"", expect: .forbidden)

            let history = try await send(client, .get, "/v1/households/U1/history", .admin, expect: .ok)
            let events = try #require(history["events"] as? [[String: Any]])
            #expect(events.map { $0["action"] as? String } == ["add", "edit", "move"])
            #expect(events.map { $0["actor"] as? String } == ["test-grid_worker", "test-grid_worker", "test-grid_worker"])
            #expect(events[2]["from_grid"] as? String == mine && events[2]["to_grid"] as? String == theirs)
            let phone = try #require((events[1]["changes"] as? [String: Any])?["phone"] as? [String: Any])
            #expect(phone["before"] as? String == "13900001111" && phone["after"] as? String == "0737-2211333")
            #expect(((events[1]["changes"] as? [String: Any])?["address"]) == nil, "an address that was empty and stays empty is no change")
            #expect((events[2]["changes"] as? [String: Any])?.keys.sorted() == ["lat", "lon"])
            // The same history for a dispatcher: people masked as incident history masks them.
            let masked = try await send(client, .get, "/v1/households/U1/history", .dispatcher, expect: .ok)
            let maskedEvents = try #require(masked["events"] as? [[String: Any]])
            #expect(maskedEvents[0]["actor"] as? String == "t***************" && masked["masked"] as? Bool == true)
            let maskedPhone = try #require((maskedEvents[1]["changes"] as? [String: Any])?["phone"] as? [String: Any])
            #expect(maskedPhone["before"] as? String == "139****1111")
            try await send(client, .get, "/v1/households/U1/history", .viewer, expect: .forbidden)

            // The admin removes it: gone, its history stays and ends with the removal.
            try await send(client, .delete, "/v1/households/U1", .admin, expect: .preconditionRequired)
            try await send(client, .delete, "/v1/households/U1?version=2", .admin, expect: .conflict)
            try await send(client, .delete, "/v1/households/U1", .admin, ifMatch: "\"3\"", expect: .noContent)
            try await send(client, .get, "/v1/households/U1", .admin, expect: .notFound)
            let after = try await send(client, .get, "/v1/households/U1/history", .admin, expect: .ok)
            #expect((after["events"] as? [[String: Any]])?.last?["action"] as? String == "remove" && after["grid"] as? String == theirs)
            #expect(try fixture.store.household(id: "U2").version == 1)
            // Every change is in the audit log with who made it.
            let audited = try fixture.store.auditLog(limit: 1_000).filter { $0.action.contains("/v1/households/U1") && !$0.action.hasPrefix("GET") }
            #expect(audited.map(\.action).sorted() == ["DELETE /v1/households/U1", "PATCH /v1/households/U1", "PATCH /v1/households/U1",
                                                       "POST /v1/households/U1"])
        }
    }

    @Test func attackersAreRefusedAndNothingIsWritten() async throws {
        let theirs = ServerFixture.otherGrid
        try await fixture.app().test(.router) { client in
            let eventsBefore = try await fixture.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM household_events WHERE household_id IN ('G0-00', 'G1-00', 'G1-01', 'G1-02') OR household_id LIKE 'X%'") }
            let p = place(in: theirs)
            // A worker adding in another worker's grid, or editing, moving or removing a household there.
            let add = try await send(client, .post, "/v1/households/X1", .gridWorker, "{\"lon\":\(p.lon),\"lat\":\(p.lat)}", expect: .forbidden)
            #expect(detail(add).contains("not one of your grids"))
            try await send(client, .get, "/v1/households/X1", .admin, expect: .notFound)
            try await send(client, .patch, "/v1/households/G1-00", .gridWorker, "{\"head\":\"冒名\",\"version\":1}", expect: .forbidden)
            let q = place(in: ServerFixture.workerGrid)
            try await send(client, .patch, "/v1/households/G1-01", .gridWorker, "{\"lon\":\(q.lon),\"lat\":\(q.lat),\"version\":1}", expect: .forbidden)
            try await send(client, .delete, "/v1/households/G1-02", .gridWorker, ifMatch: "\"1\"", expect: .forbidden)
            // Roles that read but do not write.
            for role in [Role.viewer, .planner, .dispatcher] {
                try await send(client, .post, "/v1/households/X2", role, "{\"lon\":\(p.lon),\"lat\":\(p.lat)}", expect: .forbidden)
                try await send(client, .patch, "/v1/households/G0-00", role, "{\"members\":2,\"version\":1}", expect: .forbidden)
                try await send(client, .delete, "/v1/households/G0-00", role, ifMatch: "\"1\"", expect: .forbidden)
            }
            try await send(client, .get, "/v1/households/G0-00", .viewer, expect: .forbidden)
            try await client.execute(uri: "/v1/households/G0-00", method: .patch, body: ByteBuffer(string: "{}")) { #expect($0.status == .unauthorized) }
            // Smuggled fields: the grid follows from the place, the version is the caller's, not a value to set.
            let smuggled = try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"grid_code\":\"\(theirs)\",\"version\":1}",
                                          expect: .unprocessableContent)
            #expect(detail(smuggled).hasPrefix("grid_code: "))
            try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"members\":2,\"version\":\"99\"}", expect: .badRequest)
            try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"id\":\"G1-00\",\"version\":1}", expect: .unprocessableContent)
            try await send(client, .post, "/v1/households/X3", .admin, "{\"lon\":\(p.lon),\"lat\":\(p.lat),\"version\":7}", expect: .unprocessableContent)
            try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"members\":true,\"version\":1}", expect: .badRequest)
            // Malformed fields, each named.
            for (body, field) in [("\"phone\":\"1390000111\"", "phone"), ("\"phone\":\"call me\"", "phone"),
                                  ("\"id_number\":\"430981198503120026\"", "id_number"), ("\"id_number\":\"4309811985\"", "id_number"),
                                  ("\"members\":101", "members"), ("\"head\":\"\(String(repeating: "长", count: 201))\"", "head")] {
                let answer = try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\(body),\"version\":1}", expect: .unprocessableContent)
                #expect(detail(answer).hasPrefix("\(field): "), "\(body): \(detail(answer))")
            }
            let tag = try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"tags\":[\"a;b\"],\"version\":1}", expect: .badRequest)
            #expect(detail(tag).hasPrefix("tags: "))
            // Places: outside China (longitude and latitude swapped), outside every grid of the county.
            let swapped = try await send(client, .post, "/v1/households/X4", .admin, "{\"lon\":\(p.lat),\"lat\":\(p.lon)}", expect: .unprocessableContent)
            #expect(detail(swapped).contains("latitude 112.") && detail(swapped).contains("outside -90…90"))
            let paris = try await send(client, .post, "/v1/households/X6", .admin, "{\"lon\":2.35,\"lat\":48.85}", expect: .unprocessableContent)
            #expect(detail(paris).hasPrefix("lon: ") && detail(paris).contains("not in China"))
            let far = try await send(client, .post, "/v1/households/X5", .admin, "{\"lon\":113.5,\"lat\":28.0}", expect: .unprocessableContent)
            #expect(detail(far).contains("outside every grid"))
            try await send(client, .patch, "/v1/households/G0-00", .gridWorker, "{\"version\":1}", expect: .unprocessableContent)
            // Nothing of all that was written.
            #expect(try fixture.store.household(id: "G0-00").version == 1 && fixture.store.household(id: "G1-00").head == "李三")
            let eventsAfter = try await fixture.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM household_events WHERE household_id IN ('G0-00', 'G1-00', 'G1-01', 'G1-02') OR household_id LIKE 'X%'") }
            #expect(eventsAfter == eventsBefore)
        }
    }

    @Test func readingOneHouseholdIsMaskedAsListingsAre() async throws {
        try await fixture.app().test(.router) { client in
            let own = try await send(client, .get, "/v1/households/G0-03", .gridWorker, expect: .ok)
            #expect(own["head"] as? String == "张三" && own["version"] as? Int != nil)
            let other = try await send(client, .get, "/v1/households/G1-03", .gridWorker, expect: .ok)
            #expect(other["head"] as? String == "李*" && other["phone"] as? String == "138****0003" && other["masked"] as? Bool == true)
            try await client.execute(uri: "/v1/households/G0-03", method: .get, headers: fixture.headers(.admin)) {
                #expect($0.headers[.eTag] == "\"1\"")
            }
        }
    }
}
