//! Store-level properties that the HTTP tests cannot reach: records are bound
//! to their row, and a deleted tenant's records stay unreadable.

use super::conversations::{self, AppendInput};
use super::records::Role;
use super::{Store, tables, tenants};
use crate::Error;
use crate::crypto::Key;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), Some(Key::from_bytes([7; 16]))).unwrap();
    (dir, s)
}

fn say(text: &str) -> AppendInput {
    AppendInput {
        role: Role::Visitor,
        text: text.into(),
        source: None,
        citations: vec![],
        client_msg_id: None,
        expected_seq: None,
    }
}

fn setup(s: &Store, tenant: &str) -> String {
    s.write_now(|ctx| {
        tenants::create(ctx, tenant, "T")?;
        let c = conversations::create(ctx, tenant, None)?;
        conversations::append(ctx, tenant, c.id.as_str(), say("first"), 100)?;
        conversations::append(ctx, tenant, c.id.as_str(), say("second"), 100)?;
        Ok(c.id.as_str().to_owned())
    })
    .unwrap()
}

fn raw(s: &Store, key: (&str, &str, u64)) -> Vec<u8> {
    let txn = s.read().unwrap();
    let t = txn.open_table(tables::MESSAGES).unwrap();
    t.get(key).unwrap().unwrap().value().to_vec()
}

fn put(s: &Store, key: (&str, &str, u64), v: &[u8]) {
    s.write_now(|ctx| {
        ctx.txn.open_table(tables::MESSAGES)?.insert(key, v)?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_record_moved_to_another_row_does_not_open() {
    let (_d, s) = store();
    let c = setup(&s, "acme");
    let second = raw(&s, ("acme", &c, 2));
    put(&s, ("acme", &c, 1), &second);
    let err =
        conversations::messages_since(&s.read().unwrap(), s.master().unwrap(), "acme", &c, 0, 10)
            .unwrap_err();
    assert!(
        matches!(err, Error::Core(kefu_core::Error::Unseal)),
        "{err:?}"
    );
}

#[test]
fn a_record_copied_into_another_tenant_does_not_open() {
    let (_d, s) = store();
    let a = setup(&s, "acme");
    let b = setup(&s, "bravo");
    let theirs = raw(&s, ("acme", &a, 1));
    put(&s, ("bravo", &b, 1), &theirs);
    let err =
        conversations::messages_since(&s.read().unwrap(), s.master().unwrap(), "bravo", &b, 0, 10)
            .unwrap_err();
    assert!(
        matches!(err, Error::Core(kefu_core::Error::Unseal)),
        "{err:?}"
    );
}

#[test]
fn a_deleted_tenants_records_stay_unreadable_under_a_new_tenant_of_the_same_id() {
    let (_d, s) = store();
    let c = setup(&s, "acme");
    let old = raw(&s, ("acme", &c, 1));
    s.write_now(|ctx| tenants::delete(ctx, "acme")).unwrap();
    // The row is still there until the batches remove it (kept here).
    // Same id again, and the old sealed row smuggled back in.
    s.write_now(|ctx| {
        ctx.txn.open_table(tenants::DELETING)?.remove("acme")?;
        Ok(())
    })
    .unwrap();
    let c2 = setup(&s, "acme");
    put(&s, ("acme", &c2, 1), &old);
    let err =
        conversations::messages_since(&s.read().unwrap(), s.master().unwrap(), "acme", &c2, 0, 10)
            .unwrap_err();
    assert!(
        matches!(err, Error::Core(kefu_core::Error::Unseal)),
        "{err:?}"
    );
}

#[test]
fn a_failed_change_in_a_write_leaves_nothing_behind() {
    let (_d, s) = store();
    let c = setup(&s, "acme");
    let r = s.write_now(|ctx| {
        conversations::append(ctx, "acme", &c, say("third"), 100)?;
        conversations::append(ctx, "acme", "c_nope", say("x"), 100)
    });
    assert!(matches!(r, Err(Error::NotFound)));
    let (_, turns) =
        conversations::messages_since(&s.read().unwrap(), s.master().unwrap(), "acme", &c, 0, 10)
            .unwrap();
    assert_eq!(
        turns.len(),
        2,
        "the aborted transaction's first append survived"
    );
}

#[test]
fn a_deleted_tenants_id_is_taken_again_only_after_its_rows_are_gone() {
    let (_d, s) = store();
    let c = setup(&s, "acme");
    s.write_now(|ctx| {
        for _ in 0..4 {
            conversations::create(ctx, "acme", None)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(s.write_now(|ctx| tenants::delete(ctx, "acme")).unwrap(), 2);
    // Keys gone at once: the rows left cannot be read.
    assert!(
        conversations::messages_since(&s.read().unwrap(), s.master().unwrap(), "acme", &c, 0, 10)
            .is_err()
    );
    let again = s.write_now(|ctx| tenants::create(ctx, "acme", "T"));
    assert!(
        matches!(&again, Err(Error::Conflict(m)) if m.contains("being deleted")),
        "{:?}",
        again.map(|_| ())
    );
    assert_eq!(tenants::deleting(&s.read().unwrap()).unwrap(), ["acme"]);
    // Two conversations per batch: 5 conversations take three batches, and
    // the fourth finds none and clears the rest.
    let mut steps = Vec::new();
    loop {
        let (c, m, done) = s
            .write_now(|ctx| tenants::remove_rows(ctx, "acme", 2))
            .unwrap();
        steps.push((c, m));
        if done {
            break;
        }
    }
    let convs: Vec<u64> = steps.iter().map(|s| s.0).collect();
    assert_eq!(convs, [2, 2, 1, 0]);
    assert_eq!(steps.iter().map(|s| s.1).sum::<u64>(), 2);
    assert!(tenants::deleting(&s.read().unwrap()).unwrap().is_empty());
    let txn = s.read().unwrap();
    let msgs = txn.open_table(tables::MESSAGES).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&msgs).unwrap(), 0);
    drop((msgs, txn));
    setup(&s, "acme");
}

#[test]
fn a_backup_refuses_a_table_it_does_not_know_and_leaves_nothing() {
    let (d, s) = store();
    setup(&s, "acme");
    let out = d.path().join("backups");
    let ok = super::backup::write(&s, &out, &d.path().join("none.jsonl")).unwrap();
    assert!(ok.tables > 10 && ok.rows > 3, "{ok:?}");
    s.write_now(|ctx| {
        let stray: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("stray");
        ctx.txn.open_table(stray)?.insert("x", 1)?;
        Ok(())
    })
    .unwrap();
    let err = super::backup::write(&s, &out, &d.path().join("none.jsonl")).unwrap_err();
    assert!(err.to_string().contains("stray"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the first backup: {left:?}");
}
