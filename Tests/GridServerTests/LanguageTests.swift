import Foundation
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Localization
import Testing
import TestSupport

/// Problem details in the language the request asks for (Accept-Language),
/// else the server's; the plan's problems in JSON answers too.
@Suite struct LanguageTests {
    let fixture: ServerFixture

    init() throws { fixture = try ServerFixture.shared.get() }

    func problem(_ client: some TestClientProtocol, _ uri: String, language: String?, role: Role? = .dispatcher)
        async throws -> (body: [String: Any], contentLanguage: String?) {
        var headers = role.map { fixture.headers($0) } ?? [:]
        if let language { headers[.acceptLanguage] = language }
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            (try #require(try json(response) as? [String: Any]), response.headers[.contentLanguage])
        }
    }

    @Test func problemsAreInTheLanguageTheRequestAsksFor() async throws {
        try await fixture.app().test(.router) { client in
            let zh = try await problem(client, "/v1/locate?lon=abc&lat=28.8", language: "zh-CN,zh;q=0.9,en;q=0.8")
            #expect(zh.contentLanguage == "zh")
            #expect(zh.body["title"] as? String == "请求错误")
            let detail = try #require(zh.body["detail"] as? String)
            #expect(detail.hasPrefix("lon：") && detail.contains("abc"), "\(detail)")
            #expect((zh.body["invalid-params"] as? [[String: Any]])?.first?["reason"] as? String == detail)

            let en = try await problem(client, "/v1/locate?lon=abc&lat=28.8", language: "en-US,en;q=0.9")
            #expect(en.contentLanguage == "en")
            #expect(en.body["title"] as? String == "Bad Request" && en.body["detail"] as? String == "lon: \"abc\" is not a number")

            // No header: the server's own language (English unless the configuration says otherwise).
            let none = try await problem(client, "/v1/locate?lon=abc&lat=28.8", language: nil)
            #expect(none.contentLanguage == ProcessLanguage.current.rawValue)

            // A language we do not speak, and q=0 for Chinese: not Chinese.
            let french = try await problem(client, "/v1/locate?lon=abc&lat=28.8", language: "fr-FR, zh;q=0")
            #expect(french.body["title"] as? String == "Bad Request")

            // The errors of the store and the domain too, not only the server's own.
            let unknown = try await problem(client, "/v1/grids/NO-SUCH-GRID", language: "zh")
            #expect(unknown.body["title"] as? String == "未找到")
            let text = try #require(unknown.body["detail"] as? String)
            #expect(text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } && text.contains("NO-SUCH-GRID"), "\(text)")

            let unauthenticated = try await problem(client, "/v1/grids", language: "zh", role: nil)
            #expect(unauthenticated.body["title"] as? String == "未认证")
            #expect((unauthenticated.body["detail"] as? String)?.contains("Authorization: Bearer") == true)
        }
    }
}
