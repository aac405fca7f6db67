import Foundation
import GeoKit
import GridApplication
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Servers share one database and follow the configuration stored in it: a push through
/// another process reaches a running server's answers with no restart (PostGIS: NOTIFY,
/// applied by its change listener; SpatiaLite: its 5-second check); a clear gives the file's rules back.
@Suite(.serialized) struct StoredConfigurationTests {
    /// A store and another process's on the same database.
    static func stores(postgis: Bool) throws -> (any Repositories, any Repositories) {
        if postgis {
            let url = try PostgresTestCluster.freshDatabase()
            return (try PostGISStore(url: url), try PostGISStore(url: url))
        }
        let path = Fixtures.temporaryPath("stored-configuration.sqlite")
        return (try GridStore(path: path), try GridStore(path: path))
    }

    @Test(arguments: [true, false]) func aServedAnswerFollowsAConfigurationPushedElsewhere(postgis: Bool) async throws {
        let (store, other) = try Self.stores(postgis: postgis)
        _ = try store.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: nil, dispatch: DispatchRules(),
                                  thresholds: PlanThresholds(), force: false, progress: nil)
        let shape = try #require(try store.gridShapes(generation: nil).first)
        let inside = try Geometry(wkb: shape.wkb, context: try GEOSContext()).pointOnSurface().pointCoordinates
        let csv = Fixtures.temporaryPath("h.csv"), yaml = Fixtures.temporaryPath("pushed.yaml")
        defer { for file in [csv, yaml] { try? FileManager.default.removeItem(atPath: file) } }
        try "id,lon,lat,head,phone\nP1,\(inside.x),\(inside.y),张三,13912345678\n".write(toFile: csv, atomically: true, encoding: .utf8)
        _ = try store.importPoints(.households, path: csv, crs: .wgs84, encoding: nil, dispatch: DispatchRules(), columnNames: PointColumnNames(),
                                   progress: nil)
        let token = Tokens.generate()
        _ = try store.createToken(name: "调度员", role: .dispatcher, grids: [], villages: [], towns: [], expiresAt: nil, hash: Tokens.hash(token))
        try "privacy:\n  dispatcher:\n    fields:\n      phone: full\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        // Another server's process on the same database, on another host.
        let elsewhere = try GridService(store: other)

        // PostGIS's change listener runs without a socket; SpatiaLite's periodic check only once the server listens.
        try await buildApplication(service: try GridService(store: store), host: "127.0.0.1", port: 0).test(postgis ? .router : .live) { client in
            func phone() async throws -> String? {
                try await client.execute(uri: "/v1/households/P1", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    #expect(response.status == .ok)
                    return (try json(response) as? [String: Any])?["phone"] as? String
                }
            }
            /// The phone as shown once it is `expected`, else after 15 s.
            func phone(becoming expected: String) async throws -> String? {
                var shown = try await phone()
                for _ in 0..<150 where shown != expected {
                    try await Task.sleep(for: .milliseconds(100))
                    shown = try await phone()
                }
                return shown
            }
            #expect(try await phone() == "139****5678")
            _ = try elsewhere.pushConfiguration(explicitPath: yaml)
            #expect(try await phone(becoming: "13912345678") == "13912345678")
            _ = try elsewhere.clearConfiguration()
            #expect(try await phone(becoming: "139****5678") == "139****5678")
        }
    }
}
