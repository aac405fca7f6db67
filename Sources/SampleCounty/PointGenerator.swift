import CSV
import Foundation
import GeoKit
import GridCore
import Localization

/// Households, cameras and incidents of the sample county, written as CSV.
/// Positions follow the county's settlements; addresses name the village
/// the point falls in, found with the project's own assignment engine.
public struct PointGenerator {
    public static let defaultHouseholdCount = 216_000
    /// 2020 census population of 沅江市.
    public static let censusPopulation = 567_159
    public static let cameraCount = 4_600
    public static let incidentCount = 3_200
    /// The incidents cover the year before this day (fixed, so the data are stable).
    public static let periodEnd = "2026-11-01"

    let county: CountyGenerator
    let householdCount: Int
    let assigner: GridAssigner
    /// For the single points (cameras, incidents) that are addressed one by one.
    let locator: GridLocator
    let gridInfo: [(village: String, town: String)]

    public init(county: CountyGenerator, grids: GeoJSONDocument, householdCount: Int) throws {
        self.county = county
        self.householdCount = householdCount
        let geos = try GEOSContext()
        var shapes: [GridShape] = []
        var info: [String: (String, String)] = [:]
        for feature in grids.features {
            guard let code = feature.properties["code"]?.text else { throw GeoError(tr("\(grids.source): feature \(feature.index + 1) has no code")) }
            shapes.append(GridShape(code: code, wkb: try Geometry(geoJSON: feature.geometryJSON, context: geos).wkb()))
            info[code] = (feature.properties["village_name"]?.text ?? "", feature.properties["town_name"]?.text ?? "")
        }
        assigner = try GridAssigner(shapes: shapes)
        locator = try assigner.makeLocator()
        gridInfo = assigner.codes.map { info[$0]! }
    }

    /// Writes households.csv, cameras.csv, incidents.csv (WGS84) and
    /// incidents_gcj02.csv (reports from the WeChat mini program, GCJ-02).
    public func write(to directory: String) throws -> String {
        var random = SeededRandom(seed: county.seed &+ 2)
        let households = try writeHouseholds(to: directory + "/households.csv", random: &random)
        let cameras = try writeCameras(to: directory + "/cameras.csv", random: &random)
        let incidents = try writeIncidents(households: households, directory: directory, random: &random)
        let residents = households.reduce(0) { $0 + $1.members }
        return tr("wrote \(households.count) households (\(residents) residents), \(cameras) cameras and \(incidents) incidents to \(directory)").rendered
    }

    struct Household {
        let position: LonLat
        let members: Int
    }

    static func openWriter(_ path: String, header: [String]) throws -> CSVWriter {
        guard let stream = OutputStream(toFileAtPath: path, append: false) else { throw GeoError(tr("\(path): cannot open for writing")) }
        let writer = try CSVWriter(stream: stream)
        try writer.write(row: header)
        return writer
    }

    func villageAndTown(_ p: LonLat) throws -> (village: String, town: String, grid: Int32) {
        let a = try locator.locate(lon: p.lon, lat: p.lat)
        guard a.grid >= 0 else { return ("", "", -1) }
        return (gridInfo[Int(a.grid)].village, gridInfo[Int(a.grid)].town, a.grid)
    }

    func writeHouseholds(to path: String, random: inout SeededRandom) throws -> [Household] {
        var positions: [LonLat] = []
        var kinds: [CountyGenerator.Settlement.Kind] = []
        positions.reserveCapacity(householdCount)
        for _ in 0..<householdCount {
            let (p, settlement) = try county.householdPosition(&random)
            positions.append(p)
            kinds.append(county.settlements[settlement].kind)
        }
        var members = positions.map { _ in random.weighted([(1, 0.22), (2, 0.32), (3, 0.23), (4, 0.13), (5, 0.07), (6, 0.03)]) }
        // Make the residents add up to the census figure (scaled to the household count).
        let target = Int((Double(householdCount) * Double(Self.censusPopulation) / Double(Self.defaultHouseholdCount)).rounded())
        var total = members.reduce(0, +)
        while total != target {
            let i = random.int(0...(members.count - 1))
            if total < target, members[i] < 8 { members[i] += 1; total += 1 }
            else if total > target, members[i] > 1 { members[i] -= 1; total -= 1 }
        }
        let assignments = try assigner.assign(positions)
        let writer = try Self.openWriter(path, header: ["id", "lon", "lat", "address", "head", "phone", "id_number", "members", "tags"])
        var houseNumbers: [Int32: Int] = [:]
        for (i, p) in positions.enumerated() {
            let grid = assignments[i].grid
            let (village, town) = grid >= 0 ? gridInfo[Int(grid)] : ("", "")
            houseNumbers[grid, default: 0] += 1
            let urban = kinds[i] == .countySeat || kinds[i] == .townSeat
            let address = urban
                ? "沅江市\(town)\(village)\(Names.placeFirst[Int(grid) % Names.placeFirst.count])\(Names.placeSecond[(i / 7) % Names.placeSecond.count])\(["路", "街", "巷"][i % 3])\(houseNumbers[grid]! % 300 + 1)号"
                : "沅江市\(town)\(village)\(houseNumbers[grid]! % 12 + 1)组\(houseNumbers[grid]! % 90 + 1)号"
            var tags: [String] = []
            let n = members[i]
            if n == 1 && random.chance(0.25) { tags.append("独居老人") }
            if n == 2 && random.chance(0.12) { tags.append("空巢老人") }
            if random.chance(0.03) { tags.append("低保") }
            if random.chance(0.025) { tags.append("残疾") }
            if random.chance(urban ? 0.09 : 0.03) { tags.append("流动人口") }
            if random.chance(0.005) { tags.append("重点人员") }
            if n >= 3 && !urban && random.chance(0.05) { tags.append("留守儿童") }
            if random.chance(0.03) { tags.append("退役军人") }
            let elderly = tags.contains("独居老人") || tags.contains("空巢老人")
            let year = elderly ? random.int(1935...1958) : random.int(1945...2002)
            let id = Names.residentID(region: CountyGenerator.countyCode, year: year, month: random.int(1...12), day: random.int(1...28), sequence: random.int(0...999))
            try writer.write(row: [
                String(format: "H%06d", i + 1), String(format: "%.7f", p.lon), String(format: "%.7f", p.lat),
                address, Names.personName(&random), Names.mobilePhone(&random), id, String(n), tags.joined(separator: ";"),
            ])
        }
        writer.stream.close()
        return zip(positions, members).map { Household(position: $0, members: $1) }
    }

    func writeCameras(to path: String, random: inout SeededRandom) throws -> Int {
        let writer = try Self.openWriter(path, header: ["id", "lon", "lat", "type", "name", "heading_deg", "fov_deg", "range_m", "status"])
        // Type, how many, typical field of view and range.
        let plan: [(type: String, count: Int, fov: Double, range: Double)] = [
            ("天网", 1_150, 90, 120), ("雪亮", 2_200, 60, 80), ("慧眼", 600, 360, 30), ("学校", 220, 90, 60),
            ("医院", 140, 90, 60), ("防汛", 160, 60, 200), ("交通", 130, 45, 150),
        ]
        let seats = county.settlements.filter { $0.kind == .countySeat || $0.kind == .townSeat }
        let villages = county.settlements.filter { $0.kind == .village || $0.kind == .hamlet }
        let boundary = try county.county.boundary().geometry(at: 0).coordinates()
        var number = 0
        for item in plan {
            var made = 0
            while made < item.count {
                let p: LonLat
                switch item.type {
                case "天网", "医院":
                    let s = random.chance(0.55) ? seats[0] : random.pick(seats)
                    p = CountyGenerator.offset(s.center, east: random.normal() * s.spreadMeters, north: random.normal() * s.spreadMeters)
                case "雪亮", "学校":
                    // Village entrances: on a ring around the village centre.
                    let s = random.pick(villages)
                    let angle = random.uniform(0...(2 * .pi)), r = random.uniform(200...500)
                    p = CountyGenerator.offset(s.center, east: r * cos(angle), north: r * sin(angle))
                case "慧眼":
                    p = try county.householdPosition(&random).0
                case "防汛":
                    // Dikes along the county's water boundary, a little inside it.
                    let v = boundary[random.int(0...(boundary.count - 1))]
                    p = CountyGenerator.offset(LonLat(v.x, v.y), east: random.normal() * 150, north: random.normal() * 150)
                default:
                    // Roads between town seats.
                    let a = random.pick(seats), b = random.pick(seats)
                    let t = random.unit()
                    p = LonLat(a.center.lon + t * (b.center.lon - a.center.lon), a.center.lat + t * (b.center.lat - a.center.lat))
                }
                guard try county.inside(p) else { continue }
                made += 1
                number += 1
                let place = try villageAndTown(p)
                let fov = item.fov >= 360 && random.chance(0.6) ? 360 : min(item.fov, 120)
                try writer.write(row: [
                    String(format: "CAM%05d", number), String(format: "%.7f", p.lon), String(format: "%.7f", p.lat),
                    item.type, "\(place.village)\(item.type)\(String(format: "%03d", made))",
                    String(random.int(0...359)), String(Int(fov)),
                    String(Int((item.range * random.uniform(0.7...1.3)).rounded())),
                    random.chance(0.06) ? "offline" : "online",
                ])
            }
        }
        writer.stream.close()
        return number
    }

    func writeIncidents(households: [Household], directory: String, random: inout SeededRandom) throws -> Int {
        let header = ["id", "lon", "lat", "category", "channel", "severity", "status", "reported_at", "description", "reporter", "satisfaction",
                      "closed_at"]
        let plain = try Self.openWriter(directory + "/incidents.csv", header: header)
        let wechat = try Self.openWriter(directory + "/incidents_gcj02.csv", header: header)
        let categories: [(String, Double, String)] = [
            ("矛盾纠纷", 0.22, "邻里因宅基地边界发生争执"), ("环境卫生", 0.18, "路边垃圾堆放未及时清运"),
            ("安全隐患", 0.12, "老旧房屋墙体开裂"), ("治安问题", 0.08, "夜间有人聚集滋事"),
            ("道路交通", 0.08, "路面破损影响通行"), ("市政设施", 0.09, "路灯损坏不亮"),
            ("噪音扰民", 0.06, "夜间施工噪音扰民"), ("违章建筑", 0.05, "未经审批搭建棚屋"),
            ("防汛抗旱", 0.04, "堤段出现渗水"), ("劳资纠纷", 0.05, "务工人员工资被拖欠"), ("其他", 0.03, "群众咨询政策"),
        ]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        formatter.dateFormat = "yyyy-MM-dd"
        let end = formatter.date(from: Self.periodEnd)!
        // Built once per file. Not `TimePolicy`: its style cuts some times to a different second than
        // this formatter (ICU), and the sample files stay byte for byte as they were.
        let iso = ISO8601DateFormatter()
        iso.timeZone = TimeZone(identifier: "Asia/Shanghai")
        iso.formatOptions = [.withInternetDateTime]
        for n in 1...Self.incidentCount {
            let household = households[random.int(0...(households.count - 1))]
            let p = CountyGenerator.offset(household.position, east: random.normal() * 40, north: random.normal() * 40)
            let category = random.weighted(categories.map { ($0, $0.1) })
            let channel = random.weighted([("网格员上报", 0.45), ("12345", 0.25), ("码上办", 0.20), ("来访", 0.10)])
            let severity = random.weighted([("简单", 0.62), ("一般", 0.30), ("疑难", 0.08)])
            let daysAgo = random.uniform(0...365)
            let reported = end.addingTimeInterval(-daysAgo * 86_400)
            let status: String
            if daysAgo < 30 {
                status = random.weighted([("reported", 0.2), ("accepted", 0.2), ("in_progress", 0.3), ("resolved", 0.1), ("closed", 0.2)])
            } else {
                status = random.weighted([("closed", 0.93), ("resolved", 0.03), ("in_progress", 0.03), ("escalated", 0.01)])
            }
            let satisfaction = status == "closed" ? String(random.weighted([(5, 0.62), (4, 0.25), (3, 0.08), (2, 0.03), (1, 0.02)])) : ""
            // Simple matters close within days, hard ones within weeks.
            let closingHours: ClosedRange<Double> = switch severity {
            case "简单": 2...96
            case "一般": 12...240
            default: 48...600
            }
            let closedAt = status == "closed" ? iso.string(from: min(end, reported.addingTimeInterval(random.uniform(closingHours) * 3600))) : ""
            let place = try villageAndTown(p)
            // WeChat's reports come in GCJ-02, the others in WGS84.
            let position = channel == "码上办" ? ChineseCoordinates.wgs84ToGCJ02(lon: p.lon, lat: p.lat) : (lon: p.lon, lat: p.lat)
            let fields = [
                "id": String(format: "E%05d", n), "lon": String(format: "%.7f", position.lon), "lat": String(format: "%.7f", position.lat),
                "category": category.0, "channel": channel, "severity": severity, "status": status, "reported_at": iso.string(from: reported),
                "description": "\(place.village)\(category.2)", "reporter": channel == "网格员上报" ? "网格员" : Names.personName(&random),
                "satisfaction": satisfaction, "closed_at": closedAt,
            ]
            try (channel == "码上办" ? wechat : plain).write(row: header.map { fields[$0] ?? "" })
        }
        plain.stream.close()
        wechat.stream.close()
        return Self.incidentCount
    }
}
