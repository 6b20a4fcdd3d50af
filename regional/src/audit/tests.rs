//! Tests of the audit log against a real redb file.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sm3::{Digest, Sm3};

use super::codec;
use super::store::{ENTRIES, HEADS};
use super::test_support::{Rng, sample_entry};
use super::*;

pub(super) fn new_db(dir: &tempfile::TempDir) -> Database {
    let db = Database::create(dir.path().join("kefu.redb")).expect("create db");
    let txn = db.begin_write().expect("begin");
    ensure_tables(&txn).expect("tables");
    txn.commit().expect("commit");
    db
}

fn verify_now(db: &Database, tenant: &str, cp: Option<&Checkpoint>) -> VerifyReport {
    verify(&db.begin_read().expect("read"), tenant, cp).expect("verify")
}

#[test]
fn round_trip_across_tenants_with_independent_chains() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_db(&dir);
    let mut rng = Rng(1);
    let names = ["bank-a", "insurer-b", "shop-c"];
    let mut written: Vec<AuditEntry> = Vec::new();
    // Interleave tenants over several transactions.
    for _ in 0..5 {
        let txn = db.begin_write().expect("begin");
        for i in 0..30 {
            let e = sample_entry(&mut rng, names[i % 3]);
            append(&txn, &e).expect("append");
            written.push(e);
        }
        txn.commit().expect("commit");
    }
    let read = db.begin_read().expect("read");
    assert_eq!(
        tenants(&read).expect("tenants"),
        ["bank-a", "insurer-b", "shop-c"]
    );
    for t in names {
        let report = verify(&read, t, None).expect("verify");
        assert!(report.ok, "{report:?}");
        assert_eq!(report.entries, 50);
        let got = entries(&read, t, 0, 1000).expect("entries");
        let want: Vec<&AuditEntry> = written.iter().filter(|e| e.tenant == t).collect();
        assert_eq!(got.iter().map(|s| &s.entry).collect::<Vec<_>>(), want);
        assert!(got.iter().enumerate().all(|(i, s)| s.index == i as u64));
        assert_eq!(got[0].prev_hash, genesis_hash(t));
        assert!(got.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert_eq!(report.head_hash, got[49].hash);
        let cp = checkpoint(&read, t, 5).expect("checkpoint");
        assert_eq!((cp.count, cp.head_hash), (50, got[49].hash));
        // Paging.
        let page = entries(&read, t, 48, 10).expect("page");
        assert_eq!(page.iter().map(|s| s.index).collect::<Vec<_>>(), [48, 49]);
    }
    drop(read);

    // Appending to one tenant leaves another's checkpoint valid; corrupting one
    // tenant's chain leaves the others verifying.
    let cp_a = checkpoint(&db.begin_read().expect("read"), "bank-a", 6).expect("cp");
    let txn = db.begin_write().expect("begin");
    append(&txn, &sample_entry(&mut rng, "shop-c")).expect("append");
    {
        let mut t = txn.open_table(ENTRIES).expect("table");
        let bytes = t
            .get(("shop-c", 7))
            .expect("get")
            .expect("present")
            .value()
            .to_vec();
        let mut rec = codec::decode_record(&bytes).expect("decode").entry;
        rec.object = "conversation:forged".into();
        let forged = codec::encode_record(&[0; 32], &[0; 32], &codec::canonical(&rec));
        t.insert(("shop-c", 7), forged.as_slice()).expect("insert");
    }
    txn.commit().expect("commit");
    assert!(verify_now(&db, "bank-a", Some(&cp_a)).ok);
    assert!(verify_now(&db, "insurer-b", None).ok);
    let c = verify_now(&db, "shop-c", None);
    assert_eq!(
        (c.ok, c.first_bad, c.entries),
        (false, Some(6), 51),
        "{c:?}"
    );
}

#[test]
fn aborted_append_leaves_no_entry_and_chain_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_db(&dir);
    let business: TableDefinition<'_, &str, u64> = TableDefinition::new("tenants");
    let mut rng = Rng(2);
    let txn = db.begin_write().expect("begin");
    let first = append(&txn, &sample_entry(&mut rng, "bank-a")).expect("append");
    txn.commit().expect("commit");

    for abort_explicitly in [true, false] {
        let txn = db.begin_write().expect("begin");
        txn.open_table(business)
            .expect("t")
            .insert("bank-a", 1)
            .expect("insert");
        let e = append(&txn, &sample_entry(&mut rng, "bank-a")).expect("append");
        assert_eq!(e.index, 1);
        if abort_explicitly {
            txn.abort().expect("abort");
        } else {
            drop(txn); // dropping an uncommitted transaction rolls it back too
        }
        let read = db.begin_read().expect("read");
        assert_eq!(
            entries(&read, "bank-a", 0, 10).expect("entries"),
            std::slice::from_ref(&first)
        );
        assert!(
            read.open_table(business).is_err(),
            "the business change rolled back too"
        );
        let report = verify(&read, "bank-a", None).expect("verify");
        assert!(report.ok && report.entries == 1, "{report:?}");
        assert_eq!(checkpoint(&read, "bank-a", 0).expect("cp").count, 1);
    }
    // The next committed append continues the chain at index 1.
    let txn = db.begin_write().expect("begin");
    let e = append(&txn, &sample_entry(&mut rng, "bank-a")).expect("append");
    txn.commit().expect("commit");
    assert_eq!((e.index, e.prev_hash), (1, first.hash));
    assert!(verify_now(&db, "bank-a", None).ok);
}

#[test]
fn new_database_reads_as_empty_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::create(dir.path().join("bare.redb")).expect("create");
    let read = db.begin_read().expect("read");
    assert!(tenants(&read).expect("tenants").is_empty());
    assert!(entries(&read, "x", 0, 10).expect("entries").is_empty());
    let r = verify(&read, "x", None).expect("verify");
    assert!(r.ok && r.entries == 0 && r.head_hash == genesis_hash("x"));
    let cp = checkpoint(&read, "x", 9).expect("cp");
    assert_eq!((cp.count, cp.head_hash), (0, genesis_hash("x")));
    assert!(verify(&read, "x", Some(&cp)).expect("verify").ok);
    let other = Checkpoint {
        tenant: "y".into(),
        ..cp
    };
    assert!(matches!(
        verify(&read, "x", Some(&other)),
        Err(Error::CheckpointTenant { .. })
    ));
}

/// The hash is built here by hand from the construction documented in
/// `codec.rs`, independently of `codec::canonical` and `codec::chain_hash`.
#[test]
fn hash_follows_documented_construction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_db(&dir);
    let e = AuditEntry {
        actor: "operator".into(),
        tenant: "银行".into(),
        action: "tenant.create".into(),
        object: "tenant:银行".into(),
        at_ms: 0x0102_0304_0506_0708,
        source: "127.0.0.1".into(),
        outcome: Outcome::Denied,
    };
    let txn = db.begin_write().expect("begin");
    let s0 = append(&txn, &e).expect("append");
    let s1 = append(&txn, &e).expect("append");
    txn.commit().expect("commit");

    let sm3 = |parts: &[&[u8]]| -> [u8; 32] {
        let mut h = Sm3::new();
        parts.iter().for_each(|p| h.update(p));
        h.finalize().into()
    };
    let lp = |s: &str| [&(s.len() as u32).to_be_bytes()[..], s.as_bytes()].concat();
    let genesis = sm3(&[b"kefu-audit-genesis", "银行".as_bytes()]);
    let mut canonical = [
        lp("operator"),
        lp("银行"),
        lp("tenant.create"),
        lp("tenant:银行"),
    ]
    .concat();
    canonical.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    canonical.extend_from_slice(&lp("127.0.0.1"));
    canonical.push(1); // denied
    let h0 = sm3(&[
        b"kefu-audit-v1",
        &lp("银行"),
        &0u64.to_be_bytes(),
        &genesis,
        &canonical,
    ]);
    let h1 = sm3(&[
        b"kefu-audit-v1",
        &lp("银行"),
        &1u64.to_be_bytes(),
        &h0,
        &canonical,
    ]);
    assert_eq!(
        (s0.prev_hash, s0.hash, s1.prev_hash, s1.hash),
        (genesis, h0, h0, h1)
    );
}

#[test]
fn append_rejects_bad_entries_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_db(&dir);
    let mut rng = Rng(3);
    let txn = db.begin_write().expect("begin");
    let empty = AuditEntry {
        tenant: String::new(),
        ..sample_entry(&mut rng, "t")
    };
    assert!(matches!(append(&txn, &empty), Err(Error::InvalidEntry(_))));
    let long = AuditEntry {
        object: "x".repeat(MAX_FIELD_BYTES + 1),
        ..sample_entry(&mut rng, "t")
    };
    assert!(matches!(append(&txn, &long), Err(Error::InvalidEntry(_))));
    let kept = append(&txn, &sample_entry(&mut rng, "t")).expect("append");
    // An attacker rolls the heads table back; append must refuse, not overwrite.
    txn.open_table(HEADS)
        .expect("heads")
        .remove("t")
        .expect("remove");
    assert!(matches!(
        append(&txn, &sample_entry(&mut rng, "t")),
        Err(Error::Corrupt(_))
    ));
    txn.commit().expect("commit");
    let read = db.begin_read().expect("read");
    assert_eq!(entries(&read, "t", 0, 10).expect("entries"), [kept]);
    assert_eq!(
        tenants(&read).expect("tenants"),
        ["t"],
        "entries alone still name the tenant"
    );
    let r = verify(&read, "t", None).expect("verify");
    assert_eq!((r.ok, r.first_bad), (false, Some(0)), "{r:?}");
    assert!(
        r.problem
            .as_deref()
            .is_some_and(|p| p.starts_with("head disagrees"))
    );
}

#[test]
fn decoding_malformed_records_fails_without_panicking() {
    let mut rng = Rng(4);
    let e = sample_entry(&mut rng, "t");
    let rec = codec::encode_record(&[7; 32], &[9; 32], &codec::canonical(&e));
    assert_eq!(codec::decode_record(&rec).expect("decode").entry, e);
    for len in 0..rec.len() {
        assert!(
            codec::decode_record(&rec[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    let mut longer = rec.clone();
    longer.push(0);
    assert!(codec::decode_record(&longer).is_err());
    for _ in 0..2000 {
        let mut bytes = rec.clone();
        let i = rng.below(bytes.len() as u64) as usize;
        bytes[i] ^= 1 << rng.below(8);
        let _ = codec::decode_record(&bytes); // must return, whatever it says
    }
}

#[test]
fn checkpoint_file_appends_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(CHECKPOINT_FILE_NAME);
    let cp = |t: &str, count: u64| Checkpoint {
        tenant: t.into(),
        count,
        head_hash: [count as u8; 32],
        at_ms: 1000 + count,
    };
    {
        let f = CheckpointFile::open(&path).expect("open");
        assert_eq!(f.latest("a").expect("latest"), None);
        for c in [cp("a", 1), cp("b", 2), cp("a", 3)] {
            f.append(&c).expect("append");
        }
        assert_eq!(f.latest("a").expect("latest"), Some(cp("a", 3)));
    }
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.contains(&format!("\"head_hash\":\"{}\"", "03".repeat(32))),
        "{text}"
    );
    // A crash mid-append leaves a torn last line; reopening cuts it off.
    std::fs::write(&path, format!("{text}{{\"tenant\":\"a\",\"cou")).expect("write");
    let f = CheckpointFile::open(&path).expect("reopen");
    assert_eq!(f.latest("a").expect("latest"), Some(cp("a", 3)));
    assert_eq!(f.latest("b").expect("latest"), Some(cp("b", 2)));
    f.append(&cp("b", 4)).expect("append");
    let all = f.latest_all().expect("all");
    assert_eq!(
        all.values().cloned().collect::<Vec<_>>(),
        [cp("a", 3), cp("b", 4)]
    );
    // A damaged line in the middle is an error, not silently skipped.
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replacen("\"count\"", "\"cnt\"", 1);
    std::fs::write(&path, text).expect("write");
    let f = CheckpointFile::open(&path).expect("reopen");
    assert!(matches!(
        f.latest("a"),
        Err(Error::CheckpointLine { line: 1, .. })
    ));
}

#[test]
fn sanitize_strips_controls_and_caps_length() {
    assert_eq!(sanitize("ok\u{7}\r\n\t\u{1b}[31mred\u{85}"), "ok[31mred");
    assert_eq!(sanitize("a\u{202E}gnp.exe\u{2066}b"), "agnp.exeb");
    let long = "客服".repeat(300);
    let s = sanitize(&long);
    assert_eq!(s.chars().count(), SANITIZE_MAX_CHARS);
    assert!(long.starts_with(&s));
}

#[test]
fn serde_shapes_are_stable() {
    assert_eq!(
        serde_json::to_string(&Outcome::Denied).expect("json"),
        "\"denied\""
    );
    let cp = Checkpoint {
        tenant: "t".into(),
        count: 2,
        head_hash: [0xab; 32],
        at_ms: 3,
    };
    let json = serde_json::to_string(&cp).expect("json");
    assert_eq!(
        json,
        format!(
            r#"{{"tenant":"t","count":2,"head_hash":"{}","at_ms":3}}"#,
            "ab".repeat(32)
        )
    );
    assert_eq!(
        serde_json::from_str::<Checkpoint>(&json).expect("parse"),
        cp
    );
    assert!(serde_json::from_str::<Checkpoint>(&json.replace("abab", "zz")).is_err());
}
