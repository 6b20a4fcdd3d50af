//! The redb tables and what their keys and values are.
//!
//! Every table that holds tenant data is keyed by the tenant id first, so a
//! tenant's rows are one contiguous range (listing, purging, crypto-shred).
//! Values that hold conversation content are SM4-GCM sealed records whose
//! header carries the data-key version ([`crate::crypto::sealed_key_version`]).

use redb::TableDefinition;

/// Service-level facts: the format version and the master-key check record.
pub const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

/// tenant id -> tenant record (JSON: name, API-key hash, widget key, settings,
/// created, current data-key version). Holds no conversation content.
pub const TENANTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("tenants");

/// SM3(API key) -> tenant id. The key itself is never stored.
pub const API_KEYS: TableDefinition<'_, &[u8], &str> = TableDefinition::new("api_keys");

/// Public widget key -> tenant id.
pub const WIDGET_KEYS: TableDefinition<'_, &str, &str> = TableDefinition::new("widget_keys");

/// (tenant, version) -> data key wrapped by the master key. Version 0 is the
/// tenant's index key (HMAC key for the idempotency index; never rotated);
/// versions 1.. are data keys. Deleting these rows is the crypto-shred.
pub const DATA_KEYS: TableDefinition<'_, (&str, u32), &[u8]> = TableDefinition::new("data_keys");

/// (tenant, conversation) -> sealed conversation meta (visitor, state,
/// next seq, created/updated times).
pub const CONVERSATIONS: TableDefinition<'_, (&str, &str), &[u8]> =
    TableDefinition::new("conversations");

/// (tenant, conversation, seq) -> sealed turn (role, text, source, citations,
/// client message id, time).
pub const MESSAGES: TableDefinition<'_, (&str, &str, u64), &[u8]> =
    TableDefinition::new("messages");

/// (tenant, conversation, HMAC-SM3(index key, client message id)) -> seq.
/// The client message id appears only inside the sealed turn.
pub const IDEMPOTENCY: TableDefinition<'_, (&str, &str, &[u8]), u64> =
    TableDefinition::new("idempotency");

/// Opens (creating if needed) every table, so readers never meet a missing one.
pub fn ensure(txn: &redb::WriteTransaction) -> crate::Result<()> {
    txn.open_table(META)?;
    txn.open_table(TENANTS)?;
    txn.open_table(API_KEYS)?;
    txn.open_table(WIDGET_KEYS)?;
    txn.open_table(DATA_KEYS)?;
    txn.open_table(CONVERSATIONS)?;
    txn.open_table(MESSAGES)?;
    txn.open_table(IDEMPOTENCY)?;
    txn.open_table(super::kb::KB_ENTRIES)?;
    txn.open_table(super::kb::KB_VERSIONS)?;
    txn.open_table(super::handoff::AGENTS)?;
    txn.open_table(super::handoff::HANDOFFS)?;
    txn.open_table(super::handoff::CANNED)?;
    txn.open_table(super::handoff::SETTINGS)?;
    txn.open_table(super::agent_sessions::AGENT_SESSIONS)?;
    txn.open_table(super::erase::ERASED)?;
    txn.open_table(super::erase::SUCCESSORS)?;
    txn.open_table(super::erase::ERASED_AT)?;
    txn.open_table(super::tenants::DELETING)?;
    txn.open_table(super::visitors::INDEX)?;
    txn.open_table(super::visitors::READY)?;
    txn.open_table(super::first_turns::FIRST_TURNS)?;
    Ok(())
}

/// Removes every row of `tenant` from a table keyed by (tenant, id)
/// (tenant deletion). Returns how many.
pub fn remove_tenant_rows<V: redb::Value + 'static>(
    ctx: &super::WriteCtx<'_>,
    def: TableDefinition<'_, (&'static str, &'static str), V>,
    tenant: &str,
) -> crate::Result<usize> {
    use redb::ReadableTable;
    let mut t = ctx.txn.open_table(def)?;
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for row in t.range((tenant, "")..)? {
            let (k, _) = row?;
            let (kt, id) = k.value();
            if kt != tenant {
                break;
            }
            v.push(id.to_owned());
        }
        v
    };
    for id in &ids {
        t.remove((tenant, id.as_str()))?;
    }
    Ok(ids.len())
}
