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
    // Same id again, and the old sealed row smuggled back in.
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
