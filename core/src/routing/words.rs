//! The routing lexicons: Chinese and English words with their kind and weight.
//!
//! Written by hand for kefu from ordinary customer-service language; no
//! external list was copied. Weights are points on the 0..=100 emotion /
//! urgency / risk scales (see the module doc of [`super`]). A trailing `~`
//! marks an English stem that also matches longer word forms (`scam~`
//! matches "scams", "scammed", "scammer"). Entries are folded text:
//! lowercase, half-width. `Neutral` entries only shadow a shorter entry
//! inside them (`差不多` is not `差`, `人工智能` is not `人工`).

use super::lexicon::Kind::{self, *};

macro_rules! words {
    ($($p:literal $(= $w:literal)?),* $(,)?) => { &[$(($p, words!(@w $($w)?))),*] };
    (@w) => { 0 };
    (@w $w:literal) => { $w };
}

/// Every table, with the kind its words have. Kept in compact rows on
/// purpose: it is data, and one word per line would make it 1,000 lines.
#[rustfmt::skip]
pub(super) const TABLES: &[(Kind, &[(&str, u8)])] = &[
    // ---- anger and abuse: emotion points; a negation halves them
    (Anger, words![
        "垃圾" = 40, "骗子" = 40, "骗人" = 40, "骗钱" = 40, "骗局" = 40, "骗" = 30,
        "坑人" = 40, "坑钱" = 40, "坑爹" = 40, "坑" = 28, "气死" = 40, "气死我了" = 40,
        "混蛋" = 45, "傻逼" = 50, "傻b" = 50, "煞笔" = 50, "sb" = 45, "妈的" = 40,
        "他妈的" = 45, "tmd" = 40, "操" = 35, "滚" = 35, "有病" = 35, "有毛病" = 35,
        "脑残" = 45, "恶心" = 35, "恶劣" = 35, "流氓" = 40, "黑心" = 40, "无耻" = 40,
        "不要脸" = 45, "废物" = 40, "废话" = 30, "破烂" = 30, "烂" = 25, "差劲" = 35,
        "差" = 28, "忽悠" = 30, "糊弄" = 30, "敷衍" = 30, "欺骗" = 40, "黑店" = 40,
        "离谱" = 30, "过分" = 30, "愤怒" = 40, "生气" = 30, "火大" = 35, "崩溃" = 30,
        "受不了" = 30, "忍无可忍" = 45, "什么玩意" = 35, "搞什么" = 30, "强盗" = 40,
        "霸王条款" = 40, "去死" = 45, "白痴" = 40, "弱智" = 40, "蠢" = 30, "欺负人" = 35,
        "人工智障" = 40, "智障" = 40,
        "scam~" = 40, "ripoff" = 35, "rip off" = 35, "rip-off" = 35, "ripped off" = 40,
        "ridiculous" = 35, "absurd" = 30, "outrageous" = 40, "unacceptable" = 40,
        "disgusting" = 40, "disgraceful" = 40, "disgrace" = 40, "pathetic" = 40,
        "terrible" = 40, "horrible" = 40, "awful" = 40, "worst" = 40, "garbage" = 40,
        "trash" = 35, "rubbish" = 35, "crap" = 35, "crappy" = 35, "shit" = 40, "shitty" = 40,
        "bullshit" = 45, "wtf" = 35, "stupid" = 35, "idiot~" = 40, "dumb" = 30,
        "incompetent" = 40, "useless" = 40, "liar~" = 40, "lying" = 35, "thieves" = 45,
        "thief" = 40, "stealing" = 40, "what a joke" = 40, "a joke" = 35, "hate" = 35,
        "angry" = 35, "furious" = 45, "mad" = 25, "pissed" = 40, "fed up" = 35,
        "sick of" = 35, "sick and tired" = 40, "enough is enough" = 40, "fuck" = 40,
        "f***" = 40, "fuck you" = 50, "screw you" = 45, "shame on you" = 40, "insane" = 30,
        "nonsense" = 30, "clowns" = 40, "cheated" = 40, "cheat~" = 35, "robbed" = 40,
        "robbery" = 40, "unbelievable" = 30, "poor" = 20, "bad" = 15, "damn" = 15,
    ]),
    // ---- frustration, impatience, resignation, sarcasm: emotion points; a negation cancels them
    (Frustration, words![
        "无语" = 35, "烦" = 20, "烦人" = 25, "烦死" = 35, "失望" = 35, "郁闷" = 25,
        "闹心" = 25, "折腾" = 20, "头疼" = 20, "服了" = 35, "醉了" = 30, "呵呵" = 40,
        "无奈" = 20, "心累" = 25, "不满" = 35, "不满意" = 40, "不爽" = 30, "不行" = 18,
        "还是" = 8, "到底" = 12, "究竟" = 10, "半天" = 12, "好几次" = 15, "好几遍" = 15,
        "遍了" = 15, "几遍" = 15, "次了" = 10, "一直" = 8, "总是" = 10, "老是" = 12,
        "没人" = 20, "没用" = 40, "没有用" = 40, "白问" = 30, "答非所问" = 40,
        "听不懂" = 25, "不能用" = 20, "用不了" = 20, "没反应" = 20, "等不及" = 20,
        "等了" = 12, "天了" = 10, "周了" = 10, "个月了" = 12, "小时了" = 10, "还没" = 10,
        "至今" = 10, "到现在" = 10, "慢" = 20, "慢死" = 35, "怎么又" = 15, "又是" = 8,
        "又来" = 12, "一问三不知" = 40, "算了" = 15, "扯" = 20, "扯皮" = 30, "推卸" = 30,
        "踢皮球" = 35, "没完没了" = 35, "绕来绕去" = 30,
        "annoying" = 25, "annoyed" = 25, "frustrated" = 30, "frustrating" = 30,
        "disappointed" = 35, "disappointing" = 30, "dissatisfied" = 40, "unhappy" = 35,
        "upset" = 30, "tired of" = 25, "waste of time" = 35, "wasting my time" = 40,
        "seriously" = 15, "come on" = 20, "ugh" = 20, "argh" = 20, "sigh" = 10,
        "for weeks" = 15, "for days" = 12, "for hours" = 12, "for ages" = 15,
        "been waiting" = 15, "waiting" = 8, "third time" = 20, "fourth time" = 25,
        "many times" = 15, "several times" = 15, "times" = 8, "same question" = 15,
        "same answer" = 20, "over and over" = 25, "again and again" = 25, "again" = 8,
        "still" = 8, "nobody" = 20, "no one" = 20, "no response" = 25, "no reply" = 25,
        "no answer" = 20, "thanks for nothing" = 40, "oh great" = 30, "just great" = 30,
        "yeah right" = 25, "give up" = 20, "gave up" = 20, "makes no sense" = 25,
        "in circles" = 25, "had enough" = 35, "never again" = 30, "you people" = 15,
        "broken" = 15,
    ]),
    // ---- good things: points only when negated ("不满意", "not helpful")
    (Positive, words![
        "满意" = 40, "有用" = 40, "有帮助" = 40, "帮助" = 40, "帮到" = 40, "解决" = 30,
        "好用" = 30, "靠谱" = 35, "专业" = 25, "开心" = 20, "高兴" = 20, "明白" = 10,
        "懂" = 10, "清楚" = 10, "回复" = 20, "理我" = 25, "到账" = 15, "处理" = 15,
        "通知" = 15, "合理" = 30, "公平" = 30, "负责" = 30, "认真" = 25,
        "happy" = 40, "satisfied" = 40, "helpful" = 40, "help" = 40, "helps" = 40,
        "helped" = 40, "useful" = 40, "working" = 18, "work" = 18, "works" = 18,
        "worked" = 18, "resolved" = 30, "solved" = 30, "fixed" = 25, "good" = 15,
        "acceptable" = 40, "fair" = 30, "ok" = 10, "okay" = 10, "clear" = 10,
        "answered" = 25, "reasonable" = 30, "professional" = 25, "arrived" = 15,
        "received" = 15,
    ]),
    // ---- urgency: urgency points; a negation cancels them
    (Urgency, words![
        "急" = 20, "着急" = 20, "紧急" = 30, "加急" = 25, "十万火急" = 45, "火急" = 35,
        "急死" = 40, "急用" = 25, "马上" = 15, "立刻" = 20, "立即" = 20, "立马" = 20,
        "赶紧" = 20, "赶快" = 20, "尽快" = 12, "快点" = 15, "快些" = 15, "现在就" = 15,
        "来不及" = 20, "刻不容缓" = 40, "迫切" = 25,
        "urgent" = 25, "urgently" = 25, "asap" = 20, "immediately" = 25, "right now" = 20,
        "right away" = 20, "now" = 10, "emergency" = 35, "hurry" = 20, "quickly" = 10,
        "quick" = 8, "as soon as possible" = 20, "can't wait" = 20, "cannot wait" = 20,
        "critical" = 25, "at once" = 20, "straight away" = 20, "this minute" = 20,
        "deadline" = 15,
    ]),
    // ---- a complaint (stated: hand off; asked about: offer)
    (Complaint, words![
        "投诉" = 35, "投訴" = 35, "举报" = 40, "维权" = 40, "差评" = 30, "给差评" = 35,
        "客诉" = 30,
        "complain~" = 35, "formal complaint" = 40, "grievance" = 35, "bad review" = 30,
        "1 star" = 30, "one star" = 30, "negative review" = 30,
    ]),
    // ---- legal, regulator, police, media or card-scheme threats: always hand off
    (Threat, words![
        "12315" = 60, "12378" = 60, "消协" = 60, "消费者协会" = 60, "曝光" = 60,
        "报警" = 60, "警察" = 50, "公安" = 50, "律师" = 60, "起诉" = 60, "法院" = 60,
        "告你们" = 55, "打官司" = 60, "媒体" = 50, "记者" = 55, "银保监" = 60,
        "金融监管" = 60, "监管部门" = 60, "市场监管" = 55, "工商局" = 55, "黑猫投诉" = 60,
        "仲裁" = 55,
        "report you" = 55, "reporting you" = 55, "reporting this" = 50, "bbb" = 60,
        "better business bureau" = 60, "lawyer~" = 60, "attorney~" = 60, "sue" = 60,
        "suing" = 60, "lawsuit" = 60, "legal action" = 60, "court" = 50, "police" = 60,
        "chargeback~" = 60, "charge back" = 55, "regulator~" = 55, "ombudsman" = 60,
        "ftc" = 60, "cfpb" = 60, "consumer protection" = 55, "trading standards" = 55,
        "the media" = 45, "social media" = 40, "go public" = 50, "small claims" = 60,
    ]),
    // ---- fraud and account security: risk points
    (Security, words![
        "盗刷" = 60, "被盗" = 55, "盗号" = 55, "被骗" = 50, "诈骗" = 55, "欺诈" = 50,
        "异常交易" = 40, "不是我本人" = 45, "不是本人操作" = 50, "不是我操作" = 50,
        "不是我买的" = 40, "被冒用" = 50, "冒用" = 45, "钓鱼" = 35, "泄露" = 40,
        "fraud~" = 50, "stolen" = 55, "hacked" = 55, "hacker~" = 50, "unauthorized" = 55,
        "unauthorised" = 55, "without permission" = 50, "didn't authorize" = 55,
        "did not authorize" = 55, "used my card" = 45, "phishing" = 40,
        "identity theft" = 60, "compromised" = 45, "lost my card" = 40,
    ]),
    // ---- money at stake: risk points (a calm refund question stays with the AI)
    (Money, words![
        "退款" = 10, "退钱" = 15, "还钱" = 20, "还我钱" = 30, "赔偿" = 25, "赔钱" = 25,
        "补偿" = 20, "退保" = 5, "扣钱" = 15, "扣款" = 12, "多扣" = 25, "重复扣款" = 30,
        "乱扣" = 35, "扣了" = 10, "乱收费" = 35, "多收" = 25, "退费" = 10,
        "refund~" = 10, "money back" = 20, "my money" = 15, "compensation" = 25,
        "compensate" = 25, "charged twice" = 20, "double charged" = 25, "overcharged" = 25,
        "extra charge" = 15, "reimburse~" = 20,
    ]),
    // ---- insisting: risk points
    (Determination, words![
        "要求" = 25, "必须" = 15, "给我个说法" = 35, "讨个说法" = 35, "说法" = 20,
        "交代" = 20, "给个解释" = 25,
        "demand~" = 30, "insist" = 25, "i expect" = 15,
    ]),
    // ---- the next term (within two units) counts 1.5 times
    (Intensifier, words![
        "非常", "太", "特别", "超级", "超", "真", "真的", "真是", "好", "很", "巨", "极其",
        "极", "十分", "简直", "实在", "贼", "这么", "那么", "如此", "完全", "根本", "越来越",
        "最",
        "very", "so", "extremely", "really", "totally", "absolutely", "completely", "utterly",
        "super", "incredibly", "fucking", "f***ing", "freaking", "frigging", "such", "too",
        "truly", "beyond", "most", "terribly", "horribly", "awfully", "highly", "deeply",
    ]),
    // ---- the next term (within two units) counts half
    (Diminisher, words![
        "有点", "有一点", "有些", "稍微", "一点", "略", "一点点", "些许",
        "a bit", "a little", "a little bit", "slightly", "kind of", "kinda", "somewhat",
        "sort of", "a tad", "bit",
    ]),
    // ---- negations that also cancel a request for a human ("不用转人工")
    (Negator, words![
        "不", "别", "不用", "不要", "不需要", "不必", "无需", "不想", "甭", "勿", "不是",
        "并不", "从不", "不打算", "不考虑",
        "not", "no", "never", "don't", "dont", "do not", "doesn't", "doesnt", "does not",
        "didn't", "didnt", "did not", "isn't", "isnt", "is not", "wasn't", "aren't",
        "won't", "wont", "no need", "no thanks", "no thank you", "never mind", "nevermind",
        "without", "no longer",
    ]),
    // ---- negations of a state, not of a wish ("还没转人工", "why can't I talk to a human")
    (SoftNegator, words![
        "没", "没有", "未", "无", "无法", "并没有", "从没", "从来没", "没法", "不能", "不让",
        "不会",
        "can't", "cant", "cannot", "can not", "couldn't", "couldnt", "unable to",
        "haven't", "havent", "hasn't", "hasnt", "have not", "has not", "hardly",
    ]),
    // ---- clause breaks: negation and intensity do not cross them
    (Boundary, words![
        "但是", "但", "可是", "不过", "而是", "然而",
        "but", "however", "though", "although", "instead", "whereas",
    ]),
    // ---- shadows: longer words that contain a shorter entry and mean something else
    (Neutral, words![
        "为什么不", "为啥不", "怎么不", "是不是", "能不能", "可不可以", "要不要", "好不好",
        "行不行", "管不管", "不好意思", "不客气", "不错", "不然", "要不然", "不知道",
        "差不多", "出差", "差价", "差点", "差距", "误差", "时差", "差额", "差旅", "操作",
        "操心", "滚动", "人工智能", "人工费", "人工成本", "人工合成", "麻烦", "没关系",
        "没事", "没问题", "不少", "不同", "不一样", "不仅", "不但", "不管", "不一定", "灿烂",
        "不久", "真正", "慢慢", "慢走", "好的", "好吗", "好像", "最近", "最后", "最好",
        "no problem", "no worries", "not bad", "not sure", "don't know", "dont know",
        "do not know", "don't understand", "don't see", "not a big deal", "no big deal",
        "no rush", "don't worry", "human error", "human resources", "real estate",
        "tell me a joke", "good morning", "good afternoon", "good evening", "so far",
        "too much", "hate to bother", "hate to ask", "not only", "no matter", "poor signal",
    ]),
    // ---- verbs that ask for someone; weight = strength (2 = strong, 1 = weak)
    (Verb, words![
        "转" = 2, "转接" = 2, "接" = 2, "接通" = 2, "找" = 2, "换" = 2, "叫" = 2, "喊" = 2,
        "联系" = 2, "呼叫" = 2, "转给" = 2, "请" = 1, "让" = 1, "要" = 1, "跟" = 1, "和" = 1,
        "与" = 1, "有没有" = 1, "有" = 1, "求" = 1, "来" = 1, "需要" = 1, "想要" = 1,
        "talk" = 2, "speak" = 2, "talking" = 2, "speaking" = 2, "connect" = 2, "transfer" = 2,
        "put me through" = 2, "pass me" = 2, "reach" = 2, "contact" = 2, "route me" = 2,
        "hand me" = 2, "get hold of" = 2, "chat" = 1, "get" = 1, "give" = 1, "want" = 1,
        "need" = 1, "i'd like" = 1, "would like" = 1, "is there" = 1, "are there" = 1,
        "ask for" = 1, "asking for" = 1, "asked for" = 1, "call" = 1, "send me" = 1,
        "bring me" = 1, "find me" = 1, "prefer" = 1,
    ]),
    // ---- someone to ask for; weight = the verb strength they need (1: any verb, 2: a strong one)
    (Noun, words![
        "人工" = 1, "真人" = 1, "活人" = 1, "工作人员" = 1, "服务人员" = 1, "客服" = 2,
        "经理" = 2, "主管" = 2, "领导" = 2, "负责人" = 2, "值班经理" = 2, "客服经理" = 2,
        "专员" = 2,
        "agent" = 1, "agents" = 1, "human" = 1, "humans" = 1, "person" = 1, "someone" = 1,
        "somebody" = 1, "anyone" = 1, "anybody" = 1, "representative" = 1,
        "representatives" = 1, "rep" = 1, "operator" = 1, "staff" = 1, "employee" = 1,
        "advisor" = 1, "adviser" = 1, "consultant" = 1, "manager" = 2, "supervisor" = 2,
        "boss" = 2, "customer service" = 2, "customer support" = 2, "customer care" = 2,
        "support team" = 2, "service desk" = 2, "help desk" = 2,
    ]),
    // ---- an explicit request for a human on its own
    (Request, words![
        "转人工", "轉人工", "人工客服", "人工服务", "人工服務", "人工坐席", "人工座席",
        "接人工", "找人工", "要人工", "换人工", "叫人工", "人工介入", "人工处理", "人工回复",
        "真人客服", "真人服务", "找个人", "找个真人", "来个人", "换个人", "来个真人",
        "找个活人", "转真人", "真人回复", "人工台",
        "human agent", "live agent", "real agent", "real person", "real human", "live person",
        "actual person", "actual human", "human being", "human representative",
        "live representative", "live support", "human support",
        "customer service representative", "customer service agent", "customer support agent",
        "support agent", "service agent", "escalate",
    ]),
    // ---- the machine itself: negated ("不要机器人", "no bots") it is a request for a human
    (AntiBot, words![
        "机器人" = 10, "自动回复" = 10, "智能客服" = 10, "机器" = 10,
        "bot" = 10, "bots" = 10, "robot" = 10, "robots" = 10, "chatbot" = 10, "ai" = 10,
        "automated" = 10, "automatic reply" = 10, "auto reply" = 10, "machine" = 10,
        "canned response" = 20, "canned answer" = 20, "scripted" = 15,
    ]),
    // ---- asking whether kefu is a person: offer one, transparently
    (BotQuestion, words![
        "是真人吗", "是机器人吗", "是不是机器人", "是不是真人", "是人工吗", "是不是人工",
        "是人吗", "是ai吗", "是不是ai", "是真人还是机器人", "是机器人还是真人",
        "是自动回复吗", "真人吗", "机器人吗",
        "are you a bot", "are you a robot", "are you a real person", "are you a person",
        "are you human", "are you a human", "are you real", "are you an ai", "are you ai",
        "are you a machine", "is this a bot", "is this a robot", "is this a real person",
        "is this a human", "is this automated", "is this an ai", "am i talking to a bot",
        "am i talking to a robot", "am i talking to a human", "am i talking to a real person",
        "am i chatting with a bot", "are you a chatbot",
    ]),
];
