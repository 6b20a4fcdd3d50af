//! The tamper test: an attacker with write access to the redb file rewrites
//! audit records through redb itself, knowing the (unkeyed) hash construction.
//! Every kind of tampering must be reported by `verify` against a checkpoint
//! taken before it, at or before the position tampered with.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, Table, WriteTransaction};

use super::codec::{self, genesis_hash};
use super::store::{ENTRIES, HEADS};
use super::test_support::{Rng, sample_entry};
use super::*;

const TENANT: &str = "bank-a";
const BYSTANDER: &str = "insurer-b";
const N: u64 = 10_000;
const TRIALS: u64 = 200;
const CONTROLS: u64 = 10;

type Entries<'t> = Table<'t, (&'static str, u64), &'static [u8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Change one field of an entry, keep its stored hash.
    ModifyKeepHash,
    /// Change one field and store the recomputed hash of that entry.
    ModifyRehash,
    /// Remove one entry.
    Delete,
    /// Insert a correctly hashed forged entry, shifting the rest up, heads fixed.
    InsertForged,
    /// Swap the records of two entries.
    Swap,
    /// Cut the tail and set the heads table to match.
    Truncate,
    /// Change an entry and recompute every hash after it, heads fixed.
    Rewrite,
}

const KINDS: [Kind; 7] = [
    Kind::ModifyKeepHash,
    Kind::ModifyRehash,
    Kind::Delete,
    Kind::InsertForged,
    Kind::Swap,
    Kind::Truncate,
    Kind::Rewrite,
];

/// Where `verify` must point: exactly at the tampered index, or at most at it.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Exactly(u64),
    AtMost(u64),
}

fn raw(t: &Entries<'_>, i: u64) -> Vec<u8> {
    t.get((TENANT, i))
        .expect("get")
        .expect("present")
        .value()
        .to_vec()
}

fn put(t: &mut Entries<'_>, i: u64, bytes: &[u8]) {
    t.insert((TENANT, i), bytes).expect("insert");
}

fn hash_before(t: &Entries<'_>, i: u64) -> [u8; 32] {
    match i.checked_sub(1) {
        Some(p) => codec::decode_record(&raw(t, p)).expect("decode").hash,
        None => genesis_hash(TENANT),
    }
}

/// Changes one field of `e` so that it differs.
fn mutate(rng: &mut Rng, e: &mut AuditEntry) {
    match rng.below(7) {
        0 => e.actor.push('!'),
        1 => e.action = format!("{}.x", e.action),
        2 => e.object.push('0'),
        3 => e.source.push('1'),
        4 => e.at_ms ^= 1 << rng.below(40),
        5 => {
            e.outcome = match e.outcome {
                Outcome::Ok => Outcome::Denied,
                Outcome::Denied => Outcome::Failed,
                Outcome::Failed => Outcome::Ok,
            }
        }
        _ => e.tenant.push('x'),
    }
}

/// Applies one tampering of `kind` at a random position; returns where
/// `verify` must report it.
fn tamper(txn: &WriteTransaction, kind: Kind, rng: &mut Rng) -> Expect {
    let mut t = txn.open_table(ENTRIES).expect("entries");
    let mut heads = txn.open_table(HEADS).expect("heads");
    let i = rng.below(N);
    match kind {
        Kind::ModifyKeepHash | Kind::ModifyRehash => {
            let bytes = raw(&t, i);
            let rec = codec::decode_record(&bytes).expect("decode");
            let mut e = rec.entry.clone();
            mutate(rng, &mut e);
            let canonical = codec::canonical(&e);
            let hash = if kind == Kind::ModifyRehash {
                codec::chain_hash(TENANT, i, &rec.prev_hash, &canonical)
            } else {
                rec.hash
            };
            put(
                &mut t,
                i,
                &codec::encode_record(&rec.prev_hash, &hash, &canonical),
            );
            // A rehashed last entry is consistent until the checkpoint's hash
            // (reported as a rewrite, index 0) or the head disagrees.
            if kind == Kind::ModifyRehash && i == N - 1 {
                Expect::AtMost(i)
            } else {
                Expect::Exactly(i)
            }
        }
        Kind::Delete => {
            t.remove((TENANT, i)).expect("remove");
            Expect::Exactly(i)
        }
        Kind::InsertForged => {
            let last_hash = hash_before(&t, N);
            for j in (i..N).rev() {
                let bytes = raw(&t, j);
                put(&mut t, j + 1, &bytes);
            }
            let prev = hash_before(&t, i);
            let canonical = codec::canonical(&sample_entry(rng, TENANT));
            let hash = codec::chain_hash(TENANT, i, &prev, &canonical);
            put(&mut t, i, &codec::encode_record(&prev, &hash, &canonical));
            heads
                .insert(TENANT, codec::encode_head(N + 1, &last_hash).as_slice())
                .expect("h");
            Expect::Exactly(i)
        }
        Kind::Swap => {
            let j = (i + 1 + rng.below(N - 1)) % N; // any index but i
            let (a, b) = (raw(&t, i), raw(&t, j));
            put(&mut t, i, &b);
            put(&mut t, j, &a);
            Expect::AtMost(i.min(j))
        }
        Kind::Truncate => {
            let head = hash_before(&t, i);
            for j in i..N {
                t.remove((TENANT, j)).expect("remove");
            }
            heads
                .insert(TENANT, codec::encode_head(i, &head).as_slice())
                .expect("h");
            Expect::Exactly(i)
        }
        Kind::Rewrite => {
            let mut prev = hash_before(&t, i);
            for j in i..N {
                let mut e = codec::decode_record(&raw(&t, j)).expect("decode").entry;
                if j == i {
                    // Keep the tenant: a consistent rewrite is the point here.
                    e.object = format!("{}-rewritten", e.object);
                }
                let canonical = codec::canonical(&e);
                let hash = codec::chain_hash(TENANT, j, &prev, &canonical);
                put(&mut t, j, &codec::encode_record(&prev, &hash, &canonical));
                prev = hash;
            }
            heads
                .insert(TENANT, codec::encode_head(N, &prev).as_slice())
                .expect("h");
            Expect::AtMost(i)
        }
    }
}

/// Builds the base log: `N` entries for `TENANT`, 100 for a bystander tenant,
/// interleaved, and returns their checkpoints.
fn build_base(path: &Path, rng: &mut Rng) -> (Checkpoint, Checkpoint) {
    let db = Database::create(path).expect("create");
    let txn = db.begin_write().expect("begin");
    ensure_tables(&txn).expect("tables");
    for i in 0..N {
        append(&txn, &sample_entry(rng, TENANT)).expect("append");
        if i % 100 == 0 {
            append(&txn, &sample_entry(rng, BYSTANDER)).expect("append");
        }
    }
    txn.commit().expect("commit");
    let read = db.begin_read().expect("read");
    let cp = checkpoint(&read, TENANT, 1).expect("cp");
    let cp_b = checkpoint(&read, BYSTANDER, 1).expect("cp");
    assert_eq!(cp.count, N);
    let report = verify(&read, TENANT, Some(&cp)).expect("verify");
    assert!(
        report.ok && report.entries == N,
        "untampered base must verify: {report:?}"
    );
    (cp, cp_b)
}

#[test]
fn every_tampering_is_detected_at_or_before_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base.redb");
    let mut rng = Rng(0x6b65_6675_2d61_7564); // "kefu-aud"
    let (cp, cp_b) = build_base(&base, &mut rng);
    let trial_path = dir.path().join("trial.redb");

    // Controls: legitimate appends after the checkpoint, and rewriting a record
    // with its own bytes, must verify. (A verify that always fails would pass
    // the detection count below.)
    for _ in 0..CONTROLS {
        std::fs::copy(&base, &trial_path).expect("copy");
        let db = Database::open(&trial_path).expect("open");
        let txn = db.begin_write().expect("begin");
        {
            let mut t = txn.open_table(ENTRIES).expect("entries");
            let i = rng.below(N);
            let same = raw(&t, i);
            put(&mut t, i, &same);
        }
        append(&txn, &sample_entry(&mut rng, TENANT)).expect("append");
        txn.commit().expect("commit");
        let r = verify(&db.begin_read().expect("read"), TENANT, Some(&cp)).expect("verify");
        assert!(r.ok && r.entries == N + 1, "control must verify: {r:?}");
    }

    let mut tally: BTreeMap<Kind, (u64, u64, u64)> = BTreeMap::new(); // trials, detected, exact
    for trial in 0..TRIALS {
        let kind = KINDS[(trial % KINDS.len() as u64) as usize];
        std::fs::copy(&base, &trial_path).expect("copy");
        let db = Database::open(&trial_path).expect("open");
        let txn = db.begin_write().expect("begin");
        let expect = tamper(&txn, kind, &mut rng);
        txn.commit().expect("commit");
        let read = db.begin_read().expect("read");
        let r = verify(&read, TENANT, Some(&cp)).expect("verify");
        let bystander = verify(&read, BYSTANDER, Some(&cp_b)).expect("verify");
        assert!(
            bystander.ok,
            "other tenants' chains are independent: {bystander:?}"
        );

        let row = tally.entry(kind).or_default();
        row.0 += 1;
        assert!(
            !r.ok,
            "trial {trial}: {kind:?} {expect:?} went undetected: {r:?}"
        );
        row.1 += 1;
        let bad = r.first_bad.expect("a failed report names an index");
        match expect {
            Expect::Exactly(i) => assert_eq!(bad, i, "trial {trial}: {kind:?}: {r:?}"),
            Expect::AtMost(i) => assert!(bad <= i, "trial {trial}: {kind:?} at {i}: {r:?}"),
        }
        if matches!(expect, Expect::Exactly(i) | Expect::AtMost(i) if i == bad) {
            row.2 += 1;
        }
    }

    println!("tampering kind    trials  detected  first_bad == position");
    for (kind, (trials, detected, exact)) in &tally {
        println!(
            "{:<16}  {trials:>6}  {detected:>8}  {exact:>8}",
            format!("{kind:?}")
        );
    }
    let (trials, detected) = tally.values().fold((0, 0), |(t, d), r| (t + r.0, d + r.1));
    println!(
        "total             {trials:>6}  {detected:>8}  ({CONTROLS} clean controls verified ok)"
    );
    assert_eq!((trials, detected), (TRIALS, TRIALS));
    assert_eq!(tally.len(), KINDS.len(), "every kind was tried");
}
