import GridApplication
import Foundation
import GeoKit
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// `?generation=N` on locate, grids and stats: a retired generation answers as it was.
@Suite struct GenerationQueryTests {
    @Test func queriesOfARetiredGenerationAndOfADraft() async throws {
        let path = Fixtures.temporaryPath("generations.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        let draft = try store.createDraft(name: "调整")
        let line = try Geometry(wkt: "LINESTRING(112.357361 28.836, 112.357361 28.850)", context: try GEOSContext()).wkb()
        _ = try store.editDraft(draft, thresholds: PlanThresholds()) { [try $0.applied(try $0.split("430981-001-017-002", along: line))] }
        let token = Tokens.generate()
        _ = try store.createToken(name: "viewer", role: .viewer, grids: [], hash: Tokens.hash(token))
        let service = try GridService(store: store)
        let headers: HTTPFields = [.authorization: "Bearer \(token)"]
        try await buildApplication(service: service, host: "127.0.0.1", port: 0).test(.router) { client in
            func object(_ uri: String) async throws -> Any {
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.status == .ok, "\(uri): \(String(buffer: response.body))")
                    return try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
                }
            }
            let active = try await object("/v1/locate?lon=112.356&lat=28.8425") as? [String: Any]
            #expect(active?["grid"] as? String == "430981-001-017-002")
            let inDraft = try await object("/v1/locate?lon=112.356&lat=28.8425&generation=\(draft)") as? [String: Any]
            #expect(["430981-001-017-005", "430981-001-017-006"].contains(inDraft?["grid"] as? String ?? ""))
            #expect((try await object("/v1/grids?generation=\(draft)&village=430981-001-017") as? [Any])?.count == 5)
            #expect((try await object("/v1/grids?village=430981-001-017") as? [Any])?.count == 4)
            #expect((try await object("/v1/stats?by=grid&generation=1") as? [Any])?.count == 271)
            try await client.execute(uri: "/v1/grids?generation=99", method: .get, headers: headers) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("no generation 99"))
            }
            try await client.execute(uri: "/v1/stats?generation=abc", method: .get, headers: headers) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("\"name\":\"generation\""))
            }
        }
    }
}
