import GridCore

/// Plausible, synthetic Chinese names for places and people. Nothing here
/// names a real person; town names are 沅江市's real towns and sub-districts.
enum Names {
    /// 沅江市's 3 sub-districts (街道) and 10 towns (镇).
    static let subdistricts = ["琼湖街道", "胭脂湖街道", "庆云山街道"]
    static let towns = ["南大膳镇", "黄茅洲镇", "草尾镇", "阳罗洲镇", "四季红镇", "泗湖山镇", "南嘴镇", "新湾镇", "茶盘洲镇", "共华镇"]

    static let placeFirst = Array("东西南北新安永兴太平和丰乐福寿长青白沙石湖塘桥港洲垸堤")
    static let placeSecond = Array("华安兴丰盛和平山林湾洲湖港桥庙阳光明民合星荷莲竹")
    static let surnames = Array("李王张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文")
    static let givenCharacters = Array("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强玉兰海燕春林小红德福文斌金凤")

    static func personName(_ random: inout SeededRandom) -> String {
        var name = String(random.pick(surnames))
        name.append(random.pick(givenCharacters))
        if random.chance(0.7) { name.append(random.pick(givenCharacters)) }
        return name
    }

    static func mobilePhone(_ random: inout SeededRandom) -> String {
        let prefixes = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159", "173", "177", "180", "181", "182", "186", "187", "188", "189", "199"]
        var phone = random.pick(prefixes)
        for _ in 0..<8 { phone.append(String(random.int(0...9))) }
        return phone
    }

    /// An 18-digit resident ID number with a valid ISO 7064 MOD 11-2 check character.
    static func residentID(region: String, year: Int, month: Int, day: Int, sequence: Int) -> String {
        let body = region + String(format: "%04d%02d%02d%03d", year, month, day, sequence % 1000)
        return body + String(idCheckCharacter(body))
    }

    static func idCheckCharacter(_ body: String) -> Character {
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(body.compactMap(\.wholeNumberValue), weights).reduce(0) { $0 + $1.0 * $1.1 }
        return Array("10X98765432")[sum % 11]
    }
}

import Foundation
import GridCore
