/// Simplified Chinese, in the words county centres use (网格, 网格员, 户, 常住人口,
/// 事件, 受理, 办结, 超期, 督办, 上报, 流转). Keys are the English templates;
/// `{n}` is the n-th value, and may move to where Chinese puts it.
let chinese: [String: String] = [
    "{1}: {2}": "{1}：{2}",
]
