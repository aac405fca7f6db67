import GridApplication
import Foundation
import GeoKit
import GRDB
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Boundary planning over HTTP: a planner drafts, edits, checks, previews,
/// activates and rolls back; other roles are refused; bad edits change nothing.
@Suite struct PlanningAPITests {
    @Test func aPlannerRedrawsGridsOverHTTP() async throws {
        let path = Fixtures.temporaryPath("planning-api.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        var tokens: [Role: String] = [:]
        for role in Role.allCases {
            let token = Tokens.generate()
            _ = try store.createToken(name: role.rawValue, role: role, grids: role == .gridWorker ? ["430981-001-017-002"] : [], hash: Tokens.hash(token))
            tokens[role] = token
        }
        let service = try GridService(store: store)
        let headers = tokens.mapValues { token -> HTTPFields in [.authorization: "Bearer \(token)", .contentType: "application/json"] }
        try await buildApplication(service: service, host: "127.0.0.1", port: 0).test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, as role: Role = .planner,
                      expect status: HTTPResponse.Status) async throws -> Any? {
                try await client.execute(uri: uri, method: method, headers: headers[role]!, body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == status, "\(role.rawValue) \(method) \(uri): \(String(buffer: response.body))")
                    return response.body.readableBytes > 0 ? try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) : nil
                }
            }
            for role in [Role.dispatcher, .gridWorker, .viewer] {
                _ = try await call(.get, "/v1/plans", as: role, expect: .forbidden)
                _ = try await call(.post, "/v1/plans", #"{"name": "x"}"#, as: role, expect: .forbidden)
                _ = try await call(.post, "/v1/plans/rollback", as: role, expect: .forbidden)
            }
            let draft = try #require(try await call(.post, "/v1/plans", #"{"name": "2027年网格调整", "from": "active"}"#, expect: .created) as? [String: Any])
            // A source generation that is not there is the body's fault (schemathesis found an undocumented 404).
            let missing = try #require(try await call(.post, "/v1/plans", #"{"name": "x", "from": "99"}"#, expect: .unprocessableContent) as? [String: Any])
            #expect(missing["detail"] as? String == "from: no generation 99")
            let id = try #require(draft["id"] as? Int)
            #expect(draft["status"] as? String == "draft" && draft["grids"] as? Int == 271)
            // A cut that crosses the grid from edge to edge (as the GridStore planning tests use).
            let split = #"{"op": "split", "grid": "430981-001-017-002", "line": "LINESTRING(112.357361 28.836, 112.357361 28.850)"}"#
            let edited = try #require(try await call(.post, "/v1/plans/\(id)/edits", split, expect: .ok) as? [String: Any])
            let edit = try #require((edited["edits"] as? [[String: Any]])?.first)
            // The two pieces get the village's next codes; neighbours sharing the cut's nodes are re-tiled too.
            let pieces = ["430981-001-017-005", "430981-001-017-006"]
            #expect(edit["removed"] as? [String] == ["430981-001-017-002"], "\(edited)")
            #expect(Set(pieces).isSubset(of: Set(edit["changed"] as? [String] ?? [])), "\(edited)")
            // A cut that misses the grid, an unknown op, a path instead of a shape: refused, nothing changed.
            let misses = #"{"op": "split", "grid": "430981-001-017-001", "line": "LINESTRING(100 20, 100.1 20)"}"#
            _ = try await call(.post, "/v1/plans/\(id)/edits", misses, expect: .unprocessableContent)
            _ = try await call(.post, "/v1/plans/\(id)/edits", #"{"op": "explode", "grid": "x"}"#, expect: .unprocessableContent)
            _ = try await call(.post, "/v1/plans/\(id)/edits", #"{"op": "reshape", "grid": "430981-001-017-001", "polygon": "/etc/passwd"}"#,
                               expect: .unprocessableContent)
            #expect((try await call(.get, "/v1/plans/\(id)", expect: .ok) as? [String: Any])?["grids"] as? Int == 272)
            let problems = try #require(try await call(.get, "/v1/plans/\(id)/problems", expect: .ok) as? [[String: Any]])
            #expect(!problems.contains { $0["severity"] as? String == "error" }, "\(problems)")
            let impact = try #require(try await call(.get, "/v1/plans/\(id)/impact", expect: .ok) as? [String: Any])
            #expect((impact["grids"] as? [Any])?.isEmpty == false)
            // The impact is what the store computes for the same draft.
            let expected = try store.impact(of: Int64(id))
            #expect((impact["grids"] as? [Any])?.count == expected.impact.grids.count)
            let activated = try #require(try await call(.post, "/v1/plans/\(id)/activate", expect: .ok) as? [String: Any])
            #expect(activated["generation"] as? Int == id && activated["retired"] as? Int == 1)
            // The server locates with the new generation at once.
            let located = try #require(try await call(.get, "/v1/locate?lon=112.356&lat=28.8425", as: .viewer, expect: .ok) as? [String: Any])
            #expect(pieces.contains(located["grid"] as? String ?? ""), "\(located)")
            _ = try await call(.delete, "/v1/plans/\(id)", expect: .unprocessableContent) // active, not a draft
            let rolledBack = try #require(try await call(.post, "/v1/plans/rollback", expect: .ok) as? [String: Any])
            #expect(rolledBack["generation"] as? Int == 1)
            #expect(try store.activeGeneration() == 1)
            _ = try await call(.get, "/v1/plans/999", expect: .notFound)
            _ = try await call(.get, "/v1/plans/abc/impact", expect: .notFound)
            let other = try #require(try await call(.post, "/v1/plans", #"{"name": "作废"}"#, as: .admin, expect: .created) as? [String: Any])
            _ = try await call(.delete, "/v1/plans/\(other["id"] as? Int ?? -1)", as: .admin, expect: .noContent)
            #expect(try store.generations().count == 2)
        }
    }

    /// Another process (`wangge plan activate`) activates a generation; before
    /// the server's next refresh, a report through the API is still stored,
    /// assigned and routed under the new generation.
    @Test func aReportBetweenActivationAndTheServersRefreshLandsInTheNewGeneration() async throws {
        let path = Fixtures.temporaryPath("report-refresh.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        let token = Tokens.generate()
        _ = try store.createToken(name: "调度员", role: .dispatcher, grids: [], hash: Tokens.hash(token))
        let service = try GridService(store: store)
        #expect(try service.active().generation == 1)
        // The other process: its own connection to the same file.
        let other = try GridStore(path: path)
        let draft = try other.createDraft(name: "调整")
        let line = try Geometry(wkt: "LINESTRING(112.357361 28.836, 112.357361 28.850)", context: try GEOSContext()).wkb()
        _ = try other.editDraft(draft, thresholds: PlanThresholds()) { [try $0.applied(try $0.split("430981-001-017-002", along: line))] }
        _ = try other.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        #expect(try service.active().generation == 1, "the server has not refreshed yet")
        try await buildApplication(service: service, host: "127.0.0.1", port: 0).test(.router) { client in
            let body = #"{"lon": 112.356, "lat": 28.8425, "category": "矛盾纠纷", "channel": "12345"}"#
            try await client.execute(uri: "/v1/incidents", method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                let grid = (answer["routing"] as? [String: Any])?["grid"] as? String
                #expect(["430981-001-017-005", "430981-001-017-006"].contains(grid ?? ""), "routed to \(grid ?? "nothing")")
                let id = try #require(answer["id"] as? String)
                let generations = try store.database.pool.read { db in
                    try Int64.fetchAll(db, sql: "SELECT generation_id FROM assignments WHERE layer = 'incident' AND feature_id = ?", arguments: [id])
                }
                #expect(generations == [draft])
            }
        }
    }
}
