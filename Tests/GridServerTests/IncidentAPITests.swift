import Foundation
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// The incident workflow over HTTP: roles, versions (ETag / If-Match),
/// lifecycle errors and the listings. A fixture of its own: the incidents
/// these tests add would change the counts other suites check.
@Suite struct IncidentAPITests {
    static let own: Result<ServerFixture, Error> = Result { try ServerFixture() }
    let fixture: ServerFixture

    init() throws { fixture = try Self.own.get() }

    func headers(_ role: Role, ifMatch: String? = nil) -> HTTPFields {
        var headers = fixture.headers(role)
        if let ifMatch { headers[.ifMatch] = ifMatch }
        return headers
    }

    /// Reports at a point inside `grid`; returns the new id.
    func report(_ client: some TestClientProtocol, in grid: String) async throws -> String {
        let p = fixture.inside[grid]!
        let body = "{\"lon\":\(p.lon),\"lat\":\(p.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\",\"reporter\":\"孙八\"}"
        return try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: body)) {
            #expect($0.status == .created)
            return try #require((try json($0) as? [String: Any])?["id"] as? String)
        }
    }

    func act(_ client: some TestClientProtocol, _ id: String, _ role: Role, _ body: String, ifMatch: String? = nil,
             expect status: HTTPResponse.Status, _ check: @escaping @Sendable ([String: Any]) throws -> Void = { _ in }) async throws {
        try await client.execute(uri: "/v1/incidents/\(id)/actions", method: .post, headers: headers(role, ifMatch: ifMatch),
                                 body: ByteBuffer(string: body)) { response in
            #expect(response.status == status, "\(body): \(String(buffer: response.body))")
            try check(try json(response) as? [String: Any] ?? [:])
        }
    }

    @Test func aWorkerTakesAnIncidentThroughItsLifecycle() async throws {
        try await fixture.app().test(.router) { client in
            let id = try await report(client, in: ServerFixture.workerGrid)
            try await client.execute(uri: "/v1/incidents/\(id)", method: .get, headers: fixture.headers(.viewer)) { response in
                #expect(response.status == .ok && response.headers[.eTag] == "\"1\"")
                let incident = try #require(try json(response) as? [String: Any])
                #expect(incident["reporter"] == nil, "hidden from a viewer")
                #expect((incident["history"] as? [[String: Any]])?.first?["action"] as? String == "report")
                #expect(incident["grid"] as? String == ServerFixture.workerGrid && incident["status"] as? String == "reported")
            }
            try await act(client, id, .gridWorker, "{\"action\":\"accept\"}", expect: .preconditionRequired)
            try await act(client, id, .viewer, "{\"action\":\"accept\",\"version\":1}", expect: .forbidden)
            try await act(client, id, .gridWorker, "{\"action\":\"close\",\"version\":1,\"satisfaction\":5}", expect: .forbidden)
            try await act(client, id, .gridWorker, "{\"action\":\"fly\",\"version\":1}", expect: .badRequest)
            try await act(client, id, .gridWorker, "{\"action\":\"accept\"}", ifMatch: "\"1\"", expect: .ok) {
                #expect($0["status"] as? String == "accepted" && $0["version"] as? Int == 2 && $0["reporter"] as? String == "孙八")
            }
            // A second worker with the same stale version: refused, nothing changed.
            try await act(client, id, .dispatcher, "{\"action\":\"escalate\",\"version\":1}", expect: .conflict) {
                #expect(($0["detail"] as? String)?.contains("you have version 1, it is now 2") == true)
            }
            try await act(client, id, .gridWorker, "{\"action\":\"start\",\"version\":2}", expect: .ok)
            try await act(client, id, .dispatcher, "{\"action\":\"close\",\"version\":3,\"satisfaction\":5}", expect: .conflict) {
                #expect(($0["detail"] as? String)?.hasPrefix("cannot close an incident that is in_progress") == true)
            }
            try await act(client, id, .gridWorker, "{\"action\":\"resolve\",\"version\":3}", expect: .unprocessableContent)
            try await act(client, id, .gridWorker, "{\"action\":\"mediate\",\"version\":3,\"result\":\"settled\",\"note\":\"当面调解\"}", expect: .ok) {
                #expect($0["status"] as? String == "resolved")
            }
            try await act(client, id, .dispatcher, "{\"action\":\"close\",\"version\":4,\"satisfaction\":5}", expect: .ok) {
                #expect($0["status"] as? String == "closed" && $0["satisfaction"] as? Int == 5)
                // The people in the history are masked like the reporter for a dispatcher.
                #expect(($0["history"] as? [[String: Any]])?.map { $0["actor"] as? String ?? "" }
                    == ["孙*", "t***************", "t***************", "t***************", "t**************"])
            }
            try await client.execute(uri: "/v1/incidents/R9999999", method: .get, headers: fixture.headers(.viewer)) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func workersActOnlyInTheirGridsAndDispatchersReroute() async throws {
        try await fixture.app().test(.router) { client in
            let id = try await report(client, in: ServerFixture.otherGrid)
            try await act(client, id, .gridWorker, "{\"action\":\"accept\",\"version\":1}", expect: .forbidden)
            try await act(client, id, .dispatcher, "{\"action\":\"return\",\"version\":1,\"note\":\"非本单位\"}", expect: .ok)
            try await act(client, id, .dispatcher, "{\"action\":\"reroute\",\"version\":2,\"note\":\"转网格\",\"grid\":\"\(ServerFixture.workerGrid)\"}",
                          expect: .ok) {
                #expect($0["grid"] as? String == ServerFixture.workerGrid && $0["status"] as? String == "reported")
            }
            try await act(client, id, .gridWorker, "{\"action\":\"accept\",\"version\":3}", expect: .ok)
            try await act(client, id, .dispatcher, "{\"action\":\"reroute\",\"version\":4,\"note\":\"x\",\"level\":\"province\"}", expect: .badRequest)
        }
    }

    /// `紧急` used to be stored and routed to the village with 72 h; a made-up category went to 综治中心.
    @Test func reportsAndRecategorizeUseTheConfiguredWords() async throws {
        try await fixture.app().test(.router) { client in
            let p = fixture.inside[ServerFixture.workerGrid]!
            for (field, body) in [("severity", "\"category\":\"噪音扰民\",\"channel\":\"12345\",\"severity\":\"紧急\""),
                                  ("category", "\"category\":\"噪音\",\"channel\":\"12345\""),
                                  ("channel", "\"category\":\"噪音扰民\",\"channel\":\"微信\"")] {
                try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher),
                                         body: ByteBuffer(string: "{\"lon\":\(p.lon),\"lat\":\(p.lat),\(body)}")) { response in
                    #expect(response.status == .unprocessableContent, "\(field)")
                    let problem = try #require(try json(response) as? [String: Any])
                    #expect((problem["detail"] as? String)?.hasPrefix("\(field): ") == true && (problem["detail"] as? String)?.contains("is not one of") == true)
                }
            }
            let id = try await report(client, in: ServerFixture.workerGrid)
            try await act(client, id, .dispatcher, "{\"action\":\"recategorize\",\"version\":1,\"category\":\"噪音\"}", expect: .unprocessableContent) {
                #expect(($0["detail"] as? String)?.contains("is not one of 矛盾纠纷") == true)
            }
        }
    }

    @Test func listingsStatisticsAndNotifications() async throws {
        try await fixture.app().test(.router) { client in
            let id = try await report(client, in: ServerFixture.workerGrid)
            try await act(client, id, .dispatcher, "{\"action\":\"escalate\",\"version\":1,\"note\":\"群体性\"}", expect: .ok)
            try await client.execute(uri: "/v1/incidents?grid=\(ServerFixture.workerGrid)&status=escalated&limit=1000",
                                     method: .get, headers: fixture.headers(.viewer)) { response in
                #expect(response.status == .ok)
                let page = try #require(try json(response) as? [String: Any])
                let items = try #require(page["items"] as? [[String: Any]])
                #expect(items.contains { $0["id"] as? String == id })
                #expect(items.allSatisfy { $0["grid"] as? String == ServerFixture.workerGrid && $0["status"] as? String == "escalated" })
            }
            try await client.execute(uri: "/v1/incidents?limit=1", method: .get, headers: fixture.headers(.viewer)) { response in
                let page = try #require(try json(response) as? [String: Any])
                #expect((page["items"] as? [Any])?.count == 1 && page["next_offset"] as? Int == 1)
            }
            for bad in ["status=lost", "overdue=maybe", "since=yesterday", "limit=0"] {
                try await client.execute(uri: "/v1/incidents?\(bad)", method: .get, headers: fixture.headers(.viewer)) {
                    #expect($0.status == .badRequest, "\(bad)")
                }
            }
            // A mistyped area is an error naming it, not an empty page.
            for (parameter, value) in [("grid", "nowhere"), ("village", "nowhere"), ("town", "nowhere")] {
                for path in parameter == "grid" ? ["/v1/incidents"] : ["/v1/incidents", "/v1/grids"] {
                    try await client.execute(uri: "\(path)?\(parameter)=\(value)", method: .get, headers: fixture.headers(.viewer)) { response in
                        #expect(response.status == .badRequest, "\(path)?\(parameter)")
                        let problem = try #require(try json(response) as? [String: Any])
                        #expect(problem["detail"] as? String == "\(parameter): no \(parameter) \"\(value)\" in the active generation", "\(path)")
                    }
                }
            }
            // So is a category or channel outside the configuration's vocabulary.
            for (parameter, value) in [("category", "nothing"), ("channel", "pigeon")] {
                try await client.execute(uri: "/v1/incidents?\(parameter)=\(value)", method: .get, headers: fixture.headers(.viewer)) { response in
                    #expect(response.status == .badRequest, "\(parameter)")
                    let problem = try #require(try json(response) as? [String: Any])
                    #expect((problem["detail"] as? String)?.hasPrefix("\(parameter): \"\(value)\" is not one of") == true, "\(problem)")
                }
            }
            try await client.execute(uri: "/v1/stats/incidents?by=grid", method: .get, headers: fixture.headers(.viewer)) { response in
                let rows = try #require(try json(response) as? [[String: Any]])
                let mine = try #require(rows.first { $0["key"] as? String == ServerFixture.workerGrid })
                #expect((mine["received"] as? Int ?? 0) >= 2 && mine["name"] as? String != nil)
            }
            try await client.execute(uri: "/v1/stats/incidents?by=planet", method: .get, headers: fixture.headers(.viewer)) {
                #expect($0.status == .badRequest)
            }
            // The reason is a code with its fields, and words in the reader's language.
            for language in ["en", "zh-CN"] {
                var headers = fixture.headers(.dispatcher)
                headers[.acceptLanguage] = language
                try await client.execute(uri: "/v1/notifications?limit=1000", method: .get, headers: headers) { response in
                    let notes = try #require(try json(response) as? [[String: Any]])
                    let escalated = try #require(notes.first { $0["incident_id"] as? String == id && $0["reason"] as? String == "escalated" })
                    let from = try #require((escalated["detail"] as? [String: String])?["from_unit"])
                    #expect(!from.isEmpty && escalated["reason_text"] as? String == (language == "en" ? "escalated from \(from)" : "由 \(from) 上报"))
                }
            }
        }
    }

    /// The hotline's ticket and the time it happened at intake: shown everywhere
    /// the incident is, and a resent ticket refused with the incident it already is.
    @Test func ticketsAndOccurrenceTimesAtIntakeAndTheMonthlyTrend() async throws {
        try await fixture.app().test(.router) { client in
            let p = fixture.inside[ServerFixture.workerGrid]!
            let body = "{\"lon\":\(p.lon),\"lat\":\(p.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\",\"external_id\":\"API-77\","
                + "\"occurred_at\":\"2026-11-20 22:30\"}"
            let id = try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: body)) {
                #expect($0.status == .created)
                return try #require((try json($0) as? [String: Any])?["id"] as? String)
            }
            try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.gridWorker), body: ByteBuffer(string: body)) {
                #expect($0.status == .conflict)
                let problem = try #require(try json($0) as? [String: Any])
                #expect(problem["detail"] as? String == "external_id: ticket \"API-77\" of channel 12345 is already incident \(id)")
            }
            for (field, bad) in [("occurred_at", "\"occurred_at\":\"yesterday\""), ("occurred_at", "\"occurred_at\":\"2999-01-01\"")] {
                let body = "{\"lon\":\(p.lon),\"lat\":\(p.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\",\(bad)}"
                try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: body)) {
                    #expect($0.status == .badRequest || $0.status == .unprocessableContent, "\(bad)")
                    let detail = try #require((try json($0) as? [String: Any])?["detail"] as? String)
                    #expect(detail.hasPrefix("\(field): "), "\(bad): \(detail)")
                }
            }
            try await client.execute(uri: "/v1/incidents/\(id)", method: .get, headers: fixture.headers(.viewer)) {
                let incident = try #require(try json($0) as? [String: Any])
                #expect(incident["external_id"] as? String == "API-77" && incident["occurred_at"] as? String == "2026-11-20T22:30:00+08:00")
            }
            try await client.execute(uri: "/v1/incidents?channel=12345&limit=1000", method: .get, headers: fixture.headers(.viewer)) {
                let items = try #require((try json($0) as? [String: Any])?["items"] as? [[String: Any]])
                #expect(items.first { $0["id"] as? String == id }?["external_id"] as? String == "API-77")
            }
            try await client.execute(uri: "/collections/incidents/items/\(id)", method: .get, headers: fixture.headers(.viewer)) {
                let properties = try #require((try json($0) as? [String: Any])?["properties"] as? [String: Any])
                #expect(properties["external_id"] as? String == "API-77" && properties["occurred_at"] as? String != nil)
            }
            // The trend: this month has the report; an empty month in the period is zeros.
            let month = String(TimePolicy.standard.day(Date()).prefix(7))
            try await client.execute(uri: "/v1/stats/incidents?by=month&since=2026-01-01&category=噪音扰民", method: .get, headers: fixture.headers(.viewer)) {
                #expect($0.status == .ok)
                let months = try #require(try json($0) as? [[String: Any]])
                #expect(months.first?["month"] as? String == "2026-01" && months.first?["received"] as? Int == 0)
                #expect((months.first { $0["month"] as? String == month }?["received"] as? Int ?? 0) >= 1)
            }
            try await client.execute(uri: "/v1/stats/incidents?by=town&category=噪音扰民", method: .get, headers: fixture.headers(.viewer)) {
                #expect($0.status == .badRequest)
            }
        }
    }
}
