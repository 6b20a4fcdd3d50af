//! Conversations and their messages, sealed under the tenant's data key.
//!
//! Every function here takes the tenant as the first key component; they are
//! reached from outside only through [`super::TenantStore`], whose tenant
//! comes from an authenticated API key.

use redb::{ReadTransaction, ReadableTable};
use serde::{Deserialize, Serialize};

use super::keys::{self, KeyRing};
use super::records::{
    self, Citation, ConversationMeta, ConversationState, Role, RouteEvent, Source, Turn, kind,
};
use super::{WriteCtx, tables, tenants};
use crate::crypto::{self, Key};
use crate::{Error, Result};
use kefu_core::{ConversationId, VisitorId};

/// Longest client message id, in bytes (kefu-core's bound).
pub const MAX_CLIENT_MSG_ID: usize = kefu_core::session::MAX_CLIENT_MSG_ID_BYTES;
/// Most citations on one message (kefu-core's bound).
pub const MAX_CITATIONS: usize = kefu_core::session::MAX_CITATIONS;
/// Longest citation field, in characters: 4 bytes each at most, so within
/// kefu-core's 1024-byte field bound whatever the script.
pub const MAX_CITATION_FIELD_CHARS: usize = kefu_core::session::MAX_CITATION_FIELD_BYTES / 4;
/// Longest message text, in characters: within kefu-core's byte bound for any script.
pub const MAX_TEXT_CHARS: usize = kefu_core::session::MAX_TURN_TEXT_BYTES / 4;

/// A message to append.
#[derive(Debug, Clone, Deserialize)]
pub struct AppendInput {
    /// Author.
    pub role: Role,
    /// The text.
    pub text: String,
    /// Where an answer came from (`None` for visitor messages).
    pub source: Option<Source>,
    /// Cited passages.
    pub citations: Vec<Citation>,
    /// The client's id; a repeat returns the first append's seq.
    pub client_msg_id: Option<String>,
    /// If set, the append fails with a conflict unless it would get this seq.
    pub expected_seq: Option<u64>,
}

/// The result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// The message's seq.
    pub seq: u64,
    /// True if this client message id was already stored (nothing new written).
    pub duplicate: bool,
    /// When it was stored.
    pub at_ms: u64,
}

/// A conversation's id with its meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// Meta.
    pub meta: ConversationMeta,
}

fn new_conversation_id() -> Result<ConversationId> {
    // 96 random bits; server-chosen so an id never carries client content.
    Ok(ConversationId::new(format!(
        "c_{}",
        crate::rng::hex_token(12)
    ))?)
}

fn current_version(ctx: &WriteCtx<'_>, tenant: &str) -> Result<u32> {
    Ok(tenants::get_in(ctx, tenant)?
        .ok_or(Error::NotFound)?
        .data_key_version)
}

fn idempotency_tag(index_key: &Key, client_msg_id: &str) -> [u8; 32] {
    crypto::hmac_sm3(index_key.expose(), client_msg_id.as_bytes())
}

fn read_meta<T>(
    t: &T,
    ring: &mut dyn FnMut(u32) -> Result<Key>,
    tenant: &str,
    conv: &str,
) -> Result<Option<ConversationMeta>>
where
    T: ReadableTable<(&'static str, &'static str), &'static [u8]>,
{
    match t.get((tenant, conv))? {
        None => Ok(None),
        Some(g) => records::open_json(ring, tenant, conv, 0, kind::META, g.value()).map(Some),
    }
}

fn read_turns<T>(
    t: &T,
    ring: &mut dyn FnMut(u32) -> Result<Key>,
    tenant: &str,
    conv: &str,
    since: u64,
    limit: usize,
) -> Result<Vec<Turn>>
where
    T: ReadableTable<(&'static str, &'static str, u64), &'static [u8]>,
{
    let mut out = Vec::new();
    let Some(from) = since.checked_add(1) else {
        return Ok(out);
    };
    for row in t.range((tenant, conv, from)..=(tenant, conv, u64::MAX))? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = row?;
        let seq = k.value().2;
        out.push(records::open_json(
            ring,
            tenant,
            conv,
            seq,
            kind::TURN,
            v.value(),
        )?);
    }
    Ok(out)
}

fn put_meta(
    ctx: &WriteCtx<'_>,
    key: &Key,
    version: u32,
    tenant: &str,
    conv: &str,
    meta: &ConversationMeta,
) -> Result<()> {
    let sealed = records::seal_json(key, version, tenant, conv, 0, kind::META, meta)?;
    ctx.txn
        .open_table(tables::CONVERSATIONS)?
        .insert((tenant, conv), sealed.as_slice())?;
    Ok(())
}

/// Creates a conversation with a caller-chosen id (the edge opens
/// conversations itself while the regional service is away). Creating an id
/// that exists returns the stored one unchanged.
pub fn create_with_id(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    id: &ConversationId,
    visitor: Option<&VisitorId>,
) -> Result<Conversation> {
    let version = current_version(ctx, tenant)?;
    let master = ctx.master()?;
    let key = {
        let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
        let mut get = |v: u32| ring.get(v);
        let existing = read_meta(
            &ctx.txn.open_table(tables::CONVERSATIONS)?,
            &mut get,
            tenant,
            id.as_str(),
        )?;
        if let Some(meta) = existing {
            return Ok(Conversation {
                id: id.clone(),
                meta,
            });
        }
        get(version)?
    };
    let meta = ConversationMeta::new(visitor.map(|v| v.as_str().to_owned()), ctx.now_ms);
    put_meta(ctx, &key, version, tenant, id.as_str(), &meta)?;
    if let Some(v) = visitor {
        super::visitors::add(ctx, tenant, v.as_str(), id.as_str())?;
    }
    Ok(Conversation {
        id: id.clone(),
        meta,
    })
}

/// One message by seq, inside a write.
pub fn turn_at(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, seq: u64) -> Result<Option<Turn>> {
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let t = ctx.txn.open_table(tables::MESSAGES)?;
    let Some(g) = t.get((tenant, conv, seq))? else {
        return Ok(None);
    };
    records::open_json(&mut get, tenant, conv, seq, kind::TURN, g.value()).map(Some)
}

/// One conversation's meta, inside a write.
pub fn meta_in(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<Option<ConversationMeta>> {
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    read_meta(
        &ctx.txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )
}

/// Creates a conversation.
pub fn create(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    visitor: Option<&VisitorId>,
) -> Result<Conversation> {
    let version = current_version(ctx, tenant)?;
    let key = keys::load(
        &ctx.txn.open_table(tables::DATA_KEYS)?,
        ctx.master()?,
        tenant,
        version,
    )?;
    let id = new_conversation_id()?;
    let meta = ConversationMeta::new(visitor.map(|v| v.as_str().to_owned()), ctx.now_ms);
    put_meta(ctx, &key, version, tenant, id.as_str(), &meta)?;
    if let Some(v) = visitor {
        super::visitors::add(ctx, tenant, v.as_str(), id.as_str())?;
    }
    Ok(Conversation { id, meta })
}

pub(crate) fn validate(input: &AppendInput, max_chars: usize) -> Result<()> {
    let n = input.text.chars().count();
    // Past kefu-core's bound the message is malformed (the API schema says
    // so); past a stricter configured limit it is too large for this service.
    if n > MAX_TEXT_CHARS {
        return Err(Error::Invalid(format!(
            "message text is {n} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    if n > max_chars {
        return Err(Error::TooLarge(format!(
            "message text is {n} characters; the limit is {max_chars}"
        )));
    }
    if input.text.chars().all(records::is_blank) {
        return Err(Error::Invalid("message text is empty".into()));
    }
    if let Some(id) = &input.client_msg_id
        && (id.is_empty()
            || id.len() > MAX_CLIENT_MSG_ID
            || !id.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(Error::Invalid(format!(
            "client_msg_id must be 1..={MAX_CLIENT_MSG_ID} printable ASCII characters"
        )));
    }
    if input.citations.len() > MAX_CITATIONS {
        return Err(Error::Invalid(format!("at most {MAX_CITATIONS} citations")));
    }
    let long = |s: &str| s.chars().count() > MAX_CITATION_FIELD_CHARS;
    if input.citations.iter().any(|c| {
        long(&c.id)
            || long(&c.title)
            || c.url.as_deref().is_some_and(long)
            || c.snippet.as_deref().is_some_and(long)
    }) {
        return Err(Error::Invalid(format!(
            "citation fields must be at most {MAX_CITATION_FIELD_CHARS} characters"
        )));
    }
    if input.expected_seq == Some(0) {
        return Err(Error::Invalid("expected_seq starts at 1".into()));
    }
    Ok(())
}

/// Appends a message. Idempotent by client message id; with `expected_seq`,
/// a conflict unless the message would get exactly that seq.
pub fn append(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    input: AppendInput,
    max_chars: usize,
) -> Result<Appended> {
    validate(&input, max_chars)?;
    let version = current_version(ctx, tenant)?;
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let mut meta = read_meta(
        &ctx.txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    .ok_or(Error::NotFound)?;

    let tag = match &input.client_msg_id {
        Some(id) => {
            let tag = idempotency_tag(&get(keys::INDEX_KEY_VERSION)?, id);
            if let Some(seq) =
                ctx.txn
                    .open_table(tables::IDEMPOTENCY)?
                    .get((tenant, conv, tag.as_slice()))?
            {
                let seq = seq.value();
                let at_ms = ctx
                    .txn
                    .open_table(tables::MESSAGES)?
                    .get((tenant, conv, seq))?
                    .map(|g| {
                        records::open_json::<Turn>(
                            &mut get,
                            tenant,
                            conv,
                            seq,
                            kind::TURN,
                            g.value(),
                        )
                    })
                    .transpose()?
                    .map_or(0, |t| t.at_ms);
                return Ok(Appended {
                    seq,
                    duplicate: true,
                    at_ms,
                });
            }
            Some(tag)
        }
        None => None,
    };
    if meta.state == ConversationState::Closed {
        return Err(Error::Conflict("the conversation is closed".into()));
    }
    let seq = meta.next_seq;
    if let Some(expected) = input.expected_seq
        && expected != seq
    {
        return Err(Error::Conflict(format!(
            "expected_seq {expected} conflicts: the next seq is {seq}"
        )));
    }
    let next = seq
        .checked_add(1)
        .ok_or_else(|| Error::Conflict("conversation is full".into()))?;

    // All checks passed: write.
    let key = get(version)?;
    let turn = Turn {
        seq,
        role: input.role,
        text: input.text,
        source: input.source,
        citations: input.citations,
        client_msg_id: input.client_msg_id,
        at_ms: ctx.now_ms,
    };
    let sealed = records::seal_json(&key, version, tenant, conv, seq, kind::TURN, &turn)?;
    ctx.txn
        .open_table(tables::MESSAGES)?
        .insert((tenant, conv, seq), sealed.as_slice())?;
    if let Some(tag) = tag {
        ctx.txn
            .open_table(tables::IDEMPOTENCY)?
            .insert((tenant, conv, tag.as_slice()), seq)?;
    }
    meta.next_seq = next;
    meta.updated_ms = ctx.now_ms;
    drop(ring);
    put_meta(ctx, &key, version, tenant, conv, &meta)?;
    Ok(Appended {
        seq,
        duplicate: false,
        at_ms: ctx.now_ms,
    })
}

/// Reads, changes and reseals a conversation's meta in one step; `f`
/// returns whether it changed anything (nothing is written otherwise).
pub fn update_meta<R>(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    f: impl FnOnce(&mut ConversationMeta) -> Result<(R, bool)>,
) -> Result<(ConversationMeta, R)> {
    let version = current_version(ctx, tenant)?;
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let mut meta = read_meta(
        &ctx.txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    .ok_or(Error::NotFound)?;
    let (r, changed) = f(&mut meta)?;
    if changed {
        let key = get(version)?;
        drop(ring);
        put_meta(ctx, &key, version, tenant, conv, &meta)?;
    }
    Ok((meta, r))
}

/// Moves a conversation to `state`. Moving to the current state changes
/// nothing; a closed conversation cannot move.
pub fn set_state(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    state: ConversationState,
) -> Result<(ConversationMeta, bool)> {
    let now = ctx.now_ms;
    update_meta(ctx, tenant, conv, |meta| {
        if meta.state == state {
            return Ok((false, false));
        }
        if !records::can_move(meta.state, state) {
            return Err(Error::Conflict("the conversation is closed".into()));
        }
        meta.state = state;
        meta.updated_ms = now;
        Ok((true, true))
    })
}

/// Routing starts afresh from the next message (see
/// [`ConversationMeta::fresh_from_seq`]).
pub fn start_fresh(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<()> {
    update_meta(ctx, tenant, conv, |meta| {
        meta.fresh_from_seq = meta.next_seq;
        Ok(((), true))
    })
    .map(|_| ())
}

/// Records a routing decision or handoff change with the conversation.
/// `seq` 0 means "the latest message".
pub fn note_route(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, mut ev: RouteEvent) -> Result<()> {
    update_meta(ctx, tenant, conv, |meta| {
        if ev.seq == 0 {
            ev.seq = meta.next_seq.saturating_sub(1);
        }
        meta.note(ev);
        Ok(((), true))
    })
    .map(|_| ())
}

/// Keeps the contact a visitor left (a phone number or e-mail).
pub fn set_contact(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, contact: String) -> Result<()> {
    update_meta(ctx, tenant, conv, |meta| {
        let changed = meta.contact.as_deref() != Some(contact.as_str());
        meta.contact = Some(contact);
        Ok(((), changed))
    })
    .map(|_| ())
}

/// The visitor's latest message among the last 20 turns, inside a write.
pub fn last_visitor_text_in(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
) -> Result<Option<String>> {
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let Some(meta) = read_meta(
        &ctx.txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    else {
        return Ok(None);
    };
    let turns = read_turns(
        &ctx.txn.open_table(tables::MESSAGES)?,
        &mut get,
        tenant,
        conv,
        meta.next_seq.saturating_sub(21),
        20,
    )?;
    Ok(turns
        .into_iter()
        .rev()
        .find(|t| t.role == Role::Visitor)
        .map(|t| t.text))
}

/// The full transcript, read inside a write so the read can be audited in
/// the same transaction.
pub fn transcript_in(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    limit: usize,
) -> Result<(ConversationMeta, Vec<Turn>)> {
    let master = ctx.master()?;
    let mut ring = KeyRing::new(ctx.txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let meta = read_meta(
        &ctx.txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    .ok_or(Error::NotFound)?;
    let turns = read_turns(
        &ctx.txn.open_table(tables::MESSAGES)?,
        &mut get,
        tenant,
        conv,
        0,
        limit,
    )?;
    Ok((meta, turns))
}

/// Messages after `since`, from a read snapshot.
pub fn messages_since(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    conv: &str,
    since: u64,
    limit: usize,
) -> Result<(ConversationMeta, Vec<Turn>)> {
    let mut ring = KeyRing::new(txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let meta = read_meta(
        &txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    .ok_or(Error::NotFound)?;
    let turns = read_turns(
        &txn.open_table(tables::MESSAGES)?,
        &mut get,
        tenant,
        conv,
        since,
        limit,
    )?;
    Ok((meta, turns))
}

/// A conversation's meta and its last `n` turns, from a read snapshot;
/// `None` if the tenant has no such conversation.
pub fn window(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    conv: &str,
    n: usize,
) -> Result<Option<(ConversationMeta, Vec<Turn>)>> {
    let mut ring = KeyRing::new(txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let Some(meta) = read_meta(
        &txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    else {
        return Ok(None);
    };
    // Seqs start at 1 and are dense: the last `n` are above next_seq - 1 - n.
    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    let since = meta.next_seq.saturating_sub(n64.saturating_add(1));
    let turns = read_turns(
        &txn.open_table(tables::MESSAGES)?,
        &mut get,
        tenant,
        conv,
        since,
        n,
    )?;
    Ok(Some((meta, turns)))
}

/// One conversation's meta, from a read snapshot.
pub fn get(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    conv: &str,
) -> Result<ConversationMeta> {
    let mut ring = KeyRing::new(txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    read_meta(
        &txn.open_table(tables::CONVERSATIONS)?,
        &mut get,
        tenant,
        conv,
    )?
    .ok_or(Error::NotFound)
}

/// A page of the tenant's conversations, by id, after `after`.
pub fn list(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Conversation>> {
    let mut ring = KeyRing::new(txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let t = txn.open_table(tables::CONVERSATIONS)?;
    let mut out = Vec::new();
    for row in t.range((tenant, after.unwrap_or(""))..)? {
        let (k, v) = row?;
        let (t_id, c_id) = k.value();
        if t_id != tenant || out.len() >= limit {
            break;
        }
        if after == Some(c_id) {
            continue;
        }
        let meta = records::open_json(&mut get, tenant, c_id, 0, kind::META, v.value())?;
        let id = ConversationId::new(c_id).map_err(Error::Core)?;
        out.push(Conversation { id, meta });
    }
    Ok(out)
}

/// The ids of the tenant's first `limit` conversations (by id).
fn first_ids(ctx: &WriteCtx<'_>, tenant: &str, limit: usize) -> Result<Vec<String>> {
    let t = ctx.txn.open_table(tables::CONVERSATIONS)?;
    let mut ids = Vec::new();
    for row in t.range((tenant, "")..)? {
        let (k, _) = row?;
        let (t_id, c_id) = k.value();
        if t_id != tenant || ids.len() >= limit {
            break;
        }
        ids.push(c_id.to_owned());
    }
    Ok(ids)
}

/// Removes one conversation with its messages, index rows and handoff
/// entry, and its row in the visitor index when told whose it is (a deleted
/// tenant's index goes whole: [`super::visitors::remove_tenant`]). Returns
/// the number of messages removed.
pub fn remove(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, visitor: Option<&str>) -> Result<u64> {
    if let Some(v) = visitor {
        super::visitors::remove(ctx, tenant, v, conv)?;
    }
    let mut msgs = ctx.txn.open_table(tables::MESSAGES)?;
    let seqs: Vec<u64> = msgs
        .range((tenant, conv, 0u64)..=(tenant, conv, u64::MAX))?
        .map(|r| r.map(|(k, _)| k.value().2))
        .collect::<Result<_, _>>()?;
    for s in &seqs {
        msgs.remove((tenant, conv, *s))?;
    }
    let mut idx = ctx.txn.open_table(tables::IDEMPOTENCY)?;
    let mut tags: Vec<Vec<u8>> = Vec::new();
    for row in idx.range((tenant, conv, &[][..])..)? {
        let (k, _) = row?;
        let (t, c, tag) = k.value();
        if t != tenant || c != conv {
            break;
        }
        tags.push(tag.to_vec());
    }
    for tag in &tags {
        idx.remove((tenant, conv, tag.as_slice()))?;
    }
    ctx.txn
        .open_table(tables::CONVERSATIONS)?
        .remove((tenant, conv))?;
    // Its place in the queue (if any) goes with it: no agent is shown a
    // conversation that no longer exists.
    ctx.txn
        .open_table(super::handoff::HANDOFFS)?
        .remove((tenant, conv))?;
    Ok(seqs.len() as u64)
}

/// Removes up to `limit` of the tenant's conversations (a deleted
/// tenant's, a batch at a time). Returns (conversations, messages).
pub fn remove_some(ctx: &WriteCtx<'_>, tenant: &str, limit: usize) -> Result<(u64, u64)> {
    let ids = first_ids(ctx, tenant, limit)?;
    let mut messages = 0;
    for id in &ids {
        messages += remove(ctx, tenant, id, None)?;
    }
    Ok((ids.len() as u64, messages))
}

/// The ids of the tenant's conversations whose metadata `pick` chooses
/// (each opened with the tenant's keys). It reads every conversation of the
/// tenant, so it runs in a read transaction, never in the writer, where
/// every other change would wait for it (at 100,000 conversations a scan
/// took 240 ms, and appends waited as long). A caller that changes what it
/// found re-checks each id in its write transaction ([`still_chosen`]).
pub fn ids_where(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    pick: impl Fn(&ConversationMeta) -> bool,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    each_meta(txn, master, tenant, |id, meta| {
        if pick(&meta) {
            out.push(id.to_owned());
        }
    })?;
    Ok(out)
}

/// Calls `f` with every conversation of the tenant and its metadata (a
/// read transaction's scan; see [`ids_where`]).
pub fn each_meta(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    mut f: impl FnMut(&str, ConversationMeta),
) -> Result<()> {
    let mut ring = KeyRing::new(txn.open_table(tables::DATA_KEYS)?, master, tenant);
    let mut get = |v: u32| ring.get(v);
    let t = txn.open_table(tables::CONVERSATIONS)?;
    for row in t.range((tenant, "")..)? {
        let (k, v) = row?;
        let (t_id, c_id) = k.value();
        if t_id != tenant {
            break;
        }
        f(
            c_id,
            records::open_json(&mut get, tenant, c_id, 0, kind::META, v.value())?,
        );
    }
    Ok(())
}

/// Those of `ids` that `pick` still chooses, read in the write transaction
/// that will change or read them (each was found by [`ids_where`] a moment before;
/// one written to since may no longer qualify, one removed since is gone).
pub fn still_chosen(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    ids: &[String],
    pick: impl Fn(&ConversationMeta) -> bool,
) -> Result<Vec<(String, ConversationMeta)>> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(m) = meta_in(ctx, tenant, id)?
            && pick(&m)
        {
            out.push((id.clone(), m));
        }
    }
    Ok(out)
}
