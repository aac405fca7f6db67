import Foundation
import Testing
import TestSupport
import GeoKit
import GridCore
import GridMap
import GridStore
@testable import wangge
import GridApplication

/// The sample county with seeded random households and cameras, drawn at
/// fixed sizes and compared line by line with Tests/Fixtures/golden.
/// WANGGE_UPDATE_GOLDEN=1 rewrites the files (review the diff before committing).
@Suite(.serialized) struct MapGoldenTests {
    static let data: Result<MapData, Error> = Result {
        let path = Fixtures.temporaryPath("golden.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        var random = SeededRandom(seed: 4_309_81)
        let envelope = Envelope(minX: 112.24, minY: 28.70, maxX: 112.95, maxY: 29.19)
        var households = "id,lon,lat,members\n", cameras = "id,lon,lat,type,status\n"
        for i in 0..<4_000 {
            let p = random.point(in: envelope)
            households += "H\(i),\(p.lon),\(p.lat),\(i % 4 + 1)\n"
        }
        for i in 0..<400 {
            let p = random.point(in: envelope)
            cameras += "C\(i),\(p.lon),\(p.lat),雪亮,online\n"
        }
        let h = Fixtures.temporaryPath("h.csv"), c = Fixtures.temporaryPath("c.csv")
        defer { for f in [h, c] { try? FileManager.default.removeItem(atPath: f) } }
        try households.write(toFile: h, atomically: true, encoding: .utf8)
        try cameras.write(toFile: c, atomically: true, encoding: .utf8)
        _ = try store.importPoints(.households, path: h)
        _ = try store.importPoints(.cameras, path: c)
        return try MapData(service: try GridService(store: store), layers: [.cameras])
    }

    func render(_ focus: MapFocus, width: Int, height: Int, color: ColorMode, labels: LabelStyle, layers: Set<MapPoint.Layer>) throws -> [String] {
        let data = try Self.data.get()
        var options = MapOptions(width: width, height: height, color: color, labels: labels, layers: layers, date: "2026-11-21")
        var bounds = data.focusBounds(focus)
        if case .grid(let code) = focus {
            options.highlight = code
            let margin = max(bounds.width, bounds.height) * 0.25
            bounds = MapBounds(minX: bounds.minX - margin, minY: bounds.minY - margin, maxX: bounds.maxX + margin, maxY: bounds.maxY + margin)
        }
        return MapRenderer.render(try data.scene(metric: .households, focus: focus), viewport: .fitting(bounds, options: options), options: options)
    }

    func compare(_ lines: [String], golden name: String) throws {
        let path = Fixtures.path("Tests/Fixtures/golden/\(name).txt")
        let text = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["WANGGE_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count + 1 == expectedLines.count, "\(name): line count")
        for (i, (got, want)) in zip(lines, expectedLines).enumerated() where got != String(want) {
            Issue.record("\(name): line \(i + 1) differs\n got: \(got)\nwant: \(want)")
            break
        }
    }

    @Test func countyPlainAndTruecolor() throws {
        let plain = try render(.county, width: 100, height: 40, color: .none, labels: .codes, layers: [])
        try compare(plain, golden: "county-100x40-plain")
        try compare(try render(.county, width: 100, height: 40, color: .truecolor, labels: .codes, layers: []), golden: "county-100x40-truecolor")
        for line in plain { #expect(displayWidth(line) == 100) }
    }

    @Test func townWithNamesAndCameras() throws {
        let plain = try render(.town("胭脂湖街道"), width: 90, height: 34, color: .none, labels: .names, layers: [.cameras])
        try compare(plain, golden: "town-002-90x34-plain")
        try compare(try render(.town("430981-002"), width: 90, height: 34, color: .ansi256, labels: .names, layers: [.cameras]),
                    golden: "town-002-90x34-ansi256")
        #expect(plain[0].hasPrefix("胭脂湖街道 430981-002"))
        for line in plain { #expect(displayWidth(line) == 90) }
    }

    @Test func oneGridHighlighted() throws {
        let code = "430981-005-004-002"
        let plain = try render(.grid(code), width: 70, height: 24, color: .none, labels: .names, layers: [.cameras])
        try compare(plain, golden: "grid-\(code)-70x24-plain")
        try compare(try render(.grid(code), width: 70, height: 24, color: .truecolor, labels: .names, layers: [.cameras]),
                    golden: "grid-\(code)-70x24-truecolor")
        #expect(plain[0].contains(code))
    }
}
