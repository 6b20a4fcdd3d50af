//! Cross-language MessagePack interop: kefu's session records and wire frames
//! are read by Python's reference `msgpack` package (msgpack-python, installed
//! by `scripts/setup.sh`) and by `rmp_serde`, and Python-written frames are
//! read by kefu.
//!
//! Python decodes each encoding to JSON, which these tests check field by
//! field, and re-packs the decoded object; since msgpack-python keeps map
//! order and packs integers and strings minimally, the re-pack must be
//! byte-identical to kefu's encoding. A missing Python `msgpack` module is a
//! test failure, not a skip.

use std::io::Write;
use std::process::{Command, Stdio};

use kefu_core::session::{
    Citation, ConversationState, MAX_WINDOW_TURNS, Role, Session, Source, Turn,
};
use kefu_core::wire::{
    Cacheability, EdgeReport, Frame, HandoffState, Health, ReportedTurn, TurnRequest, TurnResponse,
    WIRE_VERSION,
};
use kefu_core::{ConversationId, KbVersion, Locale, TenantId, VisitorId};
use serde_json::{Value, json};

const T0: u64 = 1_717_200_000_000;

/// Decodes `bytes` with msgpack-python; returns the JSON it decoded to and
/// its re-packing of that object.
const PY_DECODE: &str = r#"
import sys, json
import msgpack
data = sys.stdin.buffer.read()
obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
print(json.dumps({"value": obj, "repacked": msgpack.packb(obj, use_bin_type=True).hex()}, ensure_ascii=False))
"#;

fn require_python_msgpack() {
    let out = Command::new("python3")
        .args(["-c", "import msgpack"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "Python's `msgpack` module is missing ({}); run scripts/setup.sh to install it",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run python3 ({e}); run scripts/setup.sh to install it"),
    }
}

fn python(script: &str, stdin: &[u8]) -> String {
    require_python_msgpack();
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 from python3")
}

/// Python's view of `bytes`; asserts its re-pack is byte-identical.
fn python_decode(bytes: &[u8]) -> Value {
    let out: Value = serde_json::from_str(&python(PY_DECODE, bytes)).expect("json from python");
    let repacked = out["repacked"].as_str().expect("repacked hex");
    assert_eq!(repacked, hex(bytes), "msgpack-python re-packs differently");
    out["value"].clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ids() -> (TenantId, ConversationId, VisitorId) {
    (
        TenantId::new("acme-insure").unwrap(),
        ConversationId::new("c-77").unwrap(),
        VisitorId::new("v-9").unwrap(),
    )
}

fn citation() -> Citation {
    Citation {
        id: "kb-claim-3".into(),
        title: "车险理赔流程".into(),
        url: Some("https://help.example.com/claims".into()),
        snippet: Some("报案后48小时内上传材料".into()),
    }
}

#[test]
fn session_reads_in_python_and_rmp_serde() {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    let texts = [
        (Role::Visitor, "我的车被追尾了，怎么理赔？", None),
        (
            Role::Bot,
            "请先拨打报案电话，然后在App上传照片。",
            Some(Source::Kb),
        ),
        (Role::Visitor, "要多久能到账", None),
        (
            Role::Bot,
            "抱歉，我没有找到相关信息。",
            Some(Source::Fallback),
        ),
        (Role::System, "正在为您转接人工客服", None),
    ];
    for (i, (role, text, source)) in texts.iter().enumerate() {
        let mut turn = Turn::new(*role, *text);
        if let Some(src) = source {
            turn = turn.with_source(*src).with_citations(vec![citation()]);
        } else if *role == Role::Visitor {
            turn = turn.with_client_msg_id(format!("m-{i}"));
        }
        s.push_turn(turn, T0 + 1000 * i as u64).unwrap();
    }
    s.set_state(ConversationState::QueuedForHuman, T0 + 9_000);
    let bytes = s.encode().unwrap();

    let py = python_decode(&bytes);
    assert_eq!(py["v"], 1);
    assert_eq!(py["tenant"], "acme-insure");
    assert_eq!(py["state"], "queued_for_human");
    assert_eq!(py["next_seq"], 6, "five turns, numbered from 1");
    assert_eq!(py["fallbacks_in_row"], 1);
    let turns = py["turns"].as_array().unwrap();
    assert_eq!(turns.len(), texts.len());
    for (got, (role, text, source)) in turns.iter().zip(texts) {
        assert_eq!(got["text"], text);
        let role = match role {
            Role::Visitor => "visitor",
            Role::Bot => "bot",
            Role::Agent => "agent",
            Role::System => "system",
        };
        assert_eq!(got["role"], role);
        assert_eq!(got["source"].is_null(), source.is_none());
    }
    assert_eq!(turns[1]["source"], "kb");
    assert_eq!(turns[1]["citations"][0]["title"], "车险理赔流程");
    assert_eq!(turns[0]["client_msg_id"], "m-0");
    assert_eq!(turns[4]["at_ms"], T0 + 4_000);

    let via_rmp: Session = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(via_rmp, s);
    assert_eq!(rmp_serde::to_vec_named(&s).unwrap(), bytes);
    assert!(s.turns().len() <= MAX_WINDOW_TURNS);
}

fn frame_case<F>(frame: &F) -> Value
where
    F: Frame + PartialEq + std::fmt::Debug,
{
    let bytes = frame.encode().unwrap();
    assert_eq!(rmp_serde::to_vec_named(frame).unwrap(), bytes);
    assert_eq!(&rmp_serde::from_slice::<F>(&bytes).unwrap(), frame);
    assert_eq!(&F::decode(&bytes).unwrap(), frame);
    let py = python_decode(&bytes);
    assert_eq!(py["v"], WIRE_VERSION);
    py
}

#[test]
fn turn_request_reads_in_python() {
    let (t, _, v) = ids();
    let py = frame_case(&TurnRequest {
        v: WIRE_VERSION,
        tenant: t,
        conversation: None,
        visitor: v,
        client_msg_id: "m-1".into(),
        text: "保单可以退吗？".into(),
        locale: Locale::Zh,
        edge_seq: None,
        edge_kb: Some(KbVersion(12)),
        at_ms: T0,
    });
    assert_eq!(py["tenant"], "acme-insure");
    assert_eq!(py["text"], "保单可以退吗？");
    assert_eq!(py["locale"], "zh");
    assert_eq!(py["conversation"], Value::Null);
    assert_eq!(py["edge_seq"], Value::Null);
    assert_eq!(py["edge_kb"], 12);
}

#[test]
fn turn_response_reads_in_python() {
    let (_, c, _) = ids();
    let py = frame_case(&TurnResponse {
        v: WIRE_VERSION,
        conversation: c,
        seq: 1,
        answer: "犹豫期内可全额退保。".into(),
        source: Source::Llm,
        citations: vec![citation()],
        cacheable: Some(Cacheability {
            ttl_ms: 600_000,
            kb_version: KbVersion(12),
        }),
        handoff: HandoffState::Offered,
        brownout: 2,
        kb_version: None,
    });
    assert_eq!(py["conversation"], "c-77");
    assert_eq!(py["answer"], "犹豫期内可全额退保。");
    assert_eq!(py["source"], "llm");
    assert_eq!(py["handoff"], "offered");
    assert_eq!(
        py["cacheable"],
        json!({"ttl_ms": 600_000, "kb_version": 12})
    );
    assert_eq!(py["citations"][0]["snippet"], "报案后48小时内上传材料");
    assert_eq!(py["brownout"], 2);
}

#[test]
fn health_reads_in_python() {
    let py = frame_case(&Health {
        v: WIRE_VERSION,
        brownout: 3,
        kb_version: KbVersion(12),
        ready: false,
    });
    assert_eq!(
        py,
        json!({"v": 1, "brownout": 3, "kb_version": 12, "ready": false})
    );
}

#[test]
fn edge_report_reads_in_python() {
    let (t, c, v) = ids();
    let py = frame_case(&EdgeReport {
        v: WIRE_VERSION,
        turns: vec![ReportedTurn {
            tenant: t,
            conversation: c,
            visitor: v,
            client_msg_id: "m-8".into(),
            question: "营业时间？".into(),
            answer: "已收到，稍后回复您。".into(),
            source: Source::Ack,
            citations: vec![],
            kb_version: KbVersion(0),
            at_ms: T0 + 5,
        }],
    });
    let turn = &py["turns"][0];
    assert_eq!(turn["question"], "营业时间？");
    assert_eq!(turn["source"], "ack");
    assert_eq!(turn["client_msg_id"], "m-8");
}

/// A frame written by Python, keys in a different order (`v` last) and an
/// unknown key added, still decodes: kefu finds `v` wherever it is and
/// ignores what it does not know.
#[test]
fn python_written_request_decodes() {
    let script = r#"
import sys, msgpack
sys.stdout.buffer.write(msgpack.packb({
    "text": "我想改绑手机号", "tenant": "acme-insure", "visitor": "v-9",
    "conversation": "c-77", "client_msg_id": "m-2", "locale": "zh",
    "at_ms": 1717200000000, "edge_seq": 3, "from_python": [1, {"x": None}],
    "v": 1,
}, use_bin_type=True).hex().encode())
"#;
    let hex_out = python(script, b"");
    let bytes: Vec<u8> = (0..hex_out.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex_out[i..i + 2], 16).unwrap())
        .collect();
    let r = TurnRequest::decode(&bytes).unwrap();
    assert_eq!(r.text, "我想改绑手机号");
    assert_eq!(r.conversation.as_ref().map(|c| c.as_str()), Some("c-77"));
    assert_eq!(
        (r.edge_seq, r.edge_kb, r.locale),
        (Some(3), None, Locale::Zh)
    );
}
