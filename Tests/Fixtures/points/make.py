#!/usr/bin/env python3
"""Writes the household lists of this folder as a county centre's staff have them:
Chinese column names, saved by Excel on Chinese Windows as "CSV（逗号分隔）" (GBK,
CRLF, no byte order mark) and as "CSV UTF-8（逗号分隔）" (UTF-8 with a BOM). The
two files hold the same records; Python's own codecs write them (not the iconv
that wangge reads GBK with), so a test comparing both imports checks the decoding."""
rows = [
    ["户编号", "经度", "纬度", "地址", "户主", "联系电话", "身份证号", "人口数", "标签"],
    ["HH001", "112.3551", "28.8421", "琼湖街道 五一东路 12号", "刘建国", "13807371234", "430981197001011234", "3", "低保;独居老人"],
    ["HH002", "112.4102", "28.8803", "南大膳镇 新华村 三组", "周桂英", "", "", "5", ""],
    ["HH003", "112.2987", "28.7702", "草尾镇 “乐园”小区, 8栋", "罗志强", "0737-2221234", "", "2", "退役军人"],
    ["HH004", "112.6013", "29.0544", "茶盘洲镇 东红村", "邓淑珍", "", "", "4", "留守儿童|残疾"],
]
def line(fields):
    return ",".join('"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\r\n') else f for f in fields)
text = "\r\n".join(line(r) for r in rows) + "\r\n"
open("households_gbk.csv", "wb").write(text.encode("gbk"))
open("households_utf8_bom.csv", "wb").write(b"\xef\xbb\xbf" + text.encode("utf-8"))
