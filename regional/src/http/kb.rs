//! Tenant knowledge-base routes (`/v1/kb...`): draft entries, publishing,
//! and a search that shows what retrieval finds, with scores.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonBatch, PathId, Query, Tenant};
use crate::kb::PublishReport;
use crate::store::kb::KbEntry;

type Result<T> = std::result::Result<T, ApiError>;

/// Most entries in one upload.
pub const MAX_BATCH: usize = 1000;
/// Longest FAQ question or alternate, characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest FAQ answer, characters.
pub const MAX_ANSWER_CHARS: usize = 4000;
/// Longest document text, characters.
pub const MAX_DOCUMENT_CHARS: usize = 200_000;
/// Body limit of the upload routes, bytes.
pub const MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024;

/// A curated FAQ entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaqIn {
    /// Stable id (letters, digits, `._-`); generated when absent. An
    /// existing id is replaced.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: Option<String>,
    /// The question as customers ask it.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub question: String,
    /// The answer, returned verbatim on a strong match.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub answer: String,
    /// Other phrasings of the question (at most 20, each at most 500
    /// characters; blank ones are dropped).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub alternates: Vec<String>,
}

/// A document (Markdown or plain text).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// Stable id; generated when absent. An existing id is replaced.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: Option<String>,
    /// Title.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub title: String,
    /// Body: headings and paragraphs guide chunking.
    #[schema(min_length = 1, max_length = 200000, pattern = "\\S")]
    pub text: String,
    /// Where visitors can read it (http or https).
    #[schema(max_length = 2048, pattern = "^https?://")]
    pub url: Option<String>,
}

/// One document or several.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DocumentsIn {
    /// One.
    One(DocumentIn),
    /// Several.
    Many(Vec<DocumentIn>),
}

/// What an upload stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// The entries' ids, in upload order.
    pub ids: Vec<String>,
    /// How many replaced an entry with the same id.
    pub replaced: usize,
}

/// The knowledge base at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbView {
    /// The served version (0: never published).
    pub kb_version: u64,
    /// Draft FAQ entries.
    pub faqs: usize,
    /// Draft documents.
    pub documents: usize,
    /// `"lexical"` or the embedding model of the served version; `null`
    /// before the first publish.
    pub retrieval: Option<String>,
}

/// Search parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// The question.
    #[param(min_length = 1, max_length = 500, pattern = "\\S")]
    pub q: String,
    /// How many hits (1..=50, default 5).
    #[param(minimum = 1, maximum = 50)]
    pub k: Option<usize>,
}

/// A rank and score in one ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankView {
    /// 1-based rank.
    pub rank: usize,
    /// The ranking's score.
    pub score: f32,
}

/// One retrieved chunk.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitView {
    /// Chunk id (`<entry>#<n>`).
    pub chunk_id: String,
    /// Entry id.
    pub entry_id: String,
    /// `faq` or `document`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// The start of the chunk.
    pub snippet: String,
    /// Fused score.
    pub score: f32,
    /// Share of the query's IDF mass the chunk holds (0..1).
    pub coverage: f32,
    /// BM25 rank.
    pub lexical: Option<RankView>,
    /// Vector rank.
    pub vector: Option<RankView>,
}

/// What retrieval found and what the answer step would do with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    /// The version searched.
    pub kb_version: u64,
    /// `faq`, `passages` or `nothing_relevant`.
    pub judgement: String,
    /// Hits, best first.
    pub hits: Vec<HitView>,
}

fn check_id(id: Option<String>, prefix: &str) -> Result<String> {
    match id {
        None => Ok(format!("{prefix}_{}", crate::rng::hex_token(8))),
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            Ok(id)
        }
        Some(_) => Err(ApiError::BadRequest(
            "id: 1-64 characters of letters, digits, '.', '_' or '-'".into(),
        )),
    }
}

fn check_text(field: &str, s: &str, max: usize) -> Result<String> {
    // Blank as the schema's `\S` means it (ECMAScript whitespace).
    let t = s.trim_matches(crate::store::records::is_blank);
    if t.is_empty() {
        return Err(ApiError::BadRequest(format!("{field}: must not be blank")));
    }
    if t.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(t.to_owned())
}

fn faq_entry(i: usize, f: FaqIn) -> Result<(String, KbEntry)> {
    let at = |e: ApiError| match e {
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("entry {i}: {m}")),
        ApiError::PayloadTooLarge(m) => ApiError::PayloadTooLarge(format!("entry {i}: {m}")),
        e => e,
    };
    let id = check_id(f.id, "faq").map_err(at)?;
    let question = check_text("question", &f.question, MAX_QUESTION_CHARS).map_err(at)?;
    let answer = check_text("answer", &f.answer, MAX_ANSWER_CHARS).map_err(at)?;
    if f.alternates.len() > 20 {
        return Err(at(ApiError::BadRequest("alternates: at most 20".into())));
    }
    let alternates = f
        .alternates
        .iter()
        .filter(|a| !a.chars().all(crate::store::records::is_blank))
        .map(|a| check_text("alternates", a, MAX_QUESTION_CHARS))
        .collect::<Result<Vec<_>>>()
        .map_err(at)?;
    Ok((
        id,
        KbEntry::Faq {
            question,
            answer,
            alternates,
        },
    ))
}

fn document_entry(i: usize, d: DocumentIn) -> Result<(String, KbEntry)> {
    let at = |e: ApiError| match e {
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("document {i}: {m}")),
        ApiError::PayloadTooLarge(m) => ApiError::PayloadTooLarge(format!("document {i}: {m}")),
        e => e,
    };
    let id = check_id(d.id, "doc").map_err(at)?;
    let title = check_text("title", &d.title, MAX_QUESTION_CHARS).map_err(at)?;
    let text = check_text("text", &d.text, MAX_DOCUMENT_CHARS).map_err(at)?;
    let url = match d.url {
        None => None,
        Some(u)
            if (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= 2048
                && !u.chars().any(char::is_whitespace) =>
        {
            Some(u)
        }
        Some(_) => {
            return Err(at(ApiError::BadRequest(
                "url: an http(s) URL without spaces, at most 2048 bytes".into(),
            )));
        }
    };
    Ok((id, KbEntry::Document { title, text, url }))
}

fn batch<T>(items: &[T]) -> Result<()> {
    if items.is_empty() {
        return Err(ApiError::BadRequest("no entries".into()));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {MAX_BATCH} entries per upload"
        )));
    }
    Ok(())
}

const AUTH: &str = "Missing or invalid API key";

/// FAQ entries as JSON (an array or one object) or as CSV
/// (`Content-Type: text/csv`, UTF-8 with or without a BOM, a header row
/// naming `question`, `answer` and optionally `id` and `alternates`, the
/// alternates separated by `|`).
#[derive(Debug)]
pub struct FaqUpload(pub Vec<FaqIn>);

impl axum::extract::FromRequest<super::AppState> for FaqUpload {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &super::AppState) -> Result<Self> {
        let csv = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"));
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
        if !csv && !json {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json or text/csv".into(),
            ));
        }
        if !csv {
            let JsonBatch(v) = JsonBatch::<Vec<FaqIn>>::from_request(req, state).await?;
            return Ok(FaqUpload(v));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(format!(
                        "the upload exceeds {MAX_UPLOAD_BYTES} bytes"
                    ))
                } else {
                    ApiError::BadRequest("could not read the request body".into())
                }
            })?;
        parse_csv(&bytes).map(FaqUpload)
    }
}

/// FAQ rows from CSV; every error names its row (1 = the header) and column.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<FaqIn>> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::BadRequest(format!("the CSV is not UTF-8 (byte {})", e.valid_up_to()))
    })?;
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| ApiError::BadRequest(format!("CSV header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    if let Some(bad) = header
        .iter()
        .find(|h| !matches!(h.as_str(), "id" | "question" | "answer" | "alternates"))
    {
        return Err(ApiError::BadRequest(format!(
            "CSV row 1: unknown column `{bad}` (expected id, question, answer, alternates)"
        )));
    }
    let (Some(q), Some(a)) = (col("question"), col("answer")) else {
        return Err(ApiError::BadRequest(
            "CSV row 1: the header needs `question` and `answer` columns".into(),
        ));
    };
    let (id, alt) = (col("id"), col("alternates"));
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| ApiError::BadRequest(format!("CSV row {row}: {e}")))?;
        let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).map(str::trim).unwrap_or("");
        for (name, c) in [("question", Some(q)), ("answer", Some(a))] {
            if field(c).is_empty() {
                return Err(ApiError::BadRequest(format!(
                    "CSV row {row}, column `{name}`: empty"
                )));
            }
        }
        out.push(FaqIn {
            id: Some(field(id)).filter(|s| !s.is_empty()).map(str::to_owned),
            question: field(Some(q)).to_owned(),
            answer: field(Some(a)).to_owned(),
            alternates: field(alt)
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    }
    if out.is_empty() {
        return Err(ApiError::BadRequest(
            "the CSV has no rows after its header".into(),
        ));
    }
    Ok(out)
}

/// Add or replace FAQ entries: a JSON array, or CSV (`text/csv`: a header
/// row with `question`, `answer`, optional `id` and `alternates` separated
/// by `|`). Nothing is stored when any entry is invalid.
#[utoipa::path(post, path = "/v1/kb/faqs", tag = "knowledge",
    request_body(content(
        (Vec<FaqIn> = "application/json"),
        (String = "text/csv", example = "id,question,answer,alternates\nrefund,How do I get a refund?,From your orders page.,refund please|money back"),
    )),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Stored in the draft; publish to serve them", body = Stored),
        (status = 400, description = "Malformed JSON/CSV or an invalid entry (its index, or CSV row and column, is named)", body = ErrorBody),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 413, description = "Too many entries, or the upload too large", body = ErrorBody),
        (status = 415, description = "Neither application/json nor text/csv", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_faqs(t: Tenant, FaqUpload(faqs): FaqUpload) -> Result<axum::Json<Stored>> {
    batch(&faqs)?;
    let entries = faqs
        .into_iter()
        .enumerate()
        .map(|(i, f)| faq_entry(i, f))
        .collect::<Result<Vec<_>>>()?;
    let ids = entries.iter().map(|(id, _)| id.clone()).collect();
    let replaced = t.store.kb_put(&t.source.0, entries).await?;
    Ok(axum::Json(Stored { ids, replaced }))
}

/// Replace an existing FAQ entry by id (create entries with `POST /v1/kb/faqs`).
#[utoipa::path(put, path = "/v1/kb/faqs/{faq_id}", tag = "knowledge", request_body = FaqIn,
    params(("faq_id" = String, Path, description = "Entry id")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Stored", body = Stored),
        (status = 400, description = "Invalid entry", body = ErrorBody),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 404, description = "No such FAQ entry", body = ErrorBody),
                (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_faq(
    t: Tenant,
    PathId(id): PathId,
    Json(mut f): Json<FaqIn>,
) -> Result<axum::Json<Stored>> {
    if f.id.as_ref().is_some_and(|b| *b != id) {
        return Err(ApiError::BadRequest(
            "id: the body's id must match the path's (or be left out)".into(),
        ));
    }
    f.id = Some(id);
    let (id, entry) = faq_entry(0, f).map_err(|e| match e {
        // An id that cannot exist is a missing entry, like any other.
        ApiError::BadRequest(m) if m.contains("id:") => ApiError::NotFound,
        e => e,
    })?;
    t.store.kb_replace(&t.source.0, id.clone(), entry).await?;
    Ok(axum::Json(Stored {
        ids: vec![id],
        replaced: 1,
    }))
}

/// Delete a FAQ entry from the draft.
#[utoipa::path(delete, path = "/v1/kb/faqs/{faq_id}", tag = "knowledge",
    params(("faq_id" = String, Path, description = "Entry id")),
    security(("tenant_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 404, description = "No such FAQ entry", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_faq(t: Tenant, PathId(id): PathId) -> Result<StatusCode> {
    t.store.kb_delete(&t.source.0, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add or replace documents (one object or an array).
#[utoipa::path(post, path = "/v1/kb/documents", tag = "knowledge", request_body = DocumentsIn,
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Stored in the draft", body = Stored),
        (status = 400, description = "Malformed JSON or an invalid document", body = ErrorBody),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 413, description = "Too many documents, or the upload too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_documents(
    t: Tenant,
    JsonBatch(d): JsonBatch<DocumentsIn>,
) -> Result<axum::Json<Stored>> {
    let docs = match d {
        DocumentsIn::One(d) => vec![d],
        DocumentsIn::Many(v) => v,
    };
    batch(&docs)?;
    let entries = docs
        .into_iter()
        .enumerate()
        .map(|(i, d)| document_entry(i, d))
        .collect::<Result<Vec<_>>>()?;
    let ids = entries.iter().map(|(id, _)| id.clone()).collect();
    let replaced = t.store.kb_put(&t.source.0, entries).await?;
    Ok(axum::Json(Stored { ids, replaced }))
}

/// Delete a document from the draft.
#[utoipa::path(delete, path = "/v1/kb/documents/{document_id}", tag = "knowledge",
    params(("document_id" = String, Path, description = "Document id")),
    security(("tenant_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_document(t: Tenant, PathId(id): PathId) -> Result<StatusCode> {
    t.store.kb_delete(&t.source.0, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The knowledge base's served version and draft counts.
#[utoipa::path(get, path = "/v1/kb", tag = "knowledge",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Overview", body = KbView),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn overview(t: Tenant) -> Result<axum::Json<KbView>> {
    let entries = t.store.kb_list().await?;
    let faqs = entries
        .iter()
        .filter(|(_, e)| matches!(e, KbEntry::Faq { .. }))
        .count();
    let current = t.store.kb_current().await?;
    Ok(axum::Json(KbView {
        kb_version: current.as_ref().map_or(0, |p| p.version),
        faqs,
        documents: entries.len() - faqs,
        retrieval: current.map(|p| p.index.embedder_model().unwrap_or("lexical").to_owned()),
    }))
}

/// How to publish.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PublishParams {
    /// `true`: answer 202 with the job at once and build in the background
    /// (poll `GET /v1/kb/jobs/{job_id}`); otherwise answer when published.
    #[serde(default, rename = "async")]
    pub run_async: Option<bool>,
}

/// Publish the draft as a new immutable version and serve it. Synchronous
/// by default; `?async=true` answers 202 with a job to poll.
#[utoipa::path(post, path = "/v1/kb/publish", tag = "knowledge", params(PublishParams),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Published", body = PublishReport),
        (status = 202, description = "Publishing: poll the job", body = crate::kb::PublishJob),
        (status = 400, description = "Nothing to publish", body = ErrorBody),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 409, description = "A publish is already running", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn publish(
    t: Tenant,
    Query(p): Query<PublishParams>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    if p.run_async != Some(true) {
        return Ok(axum::Json(t.store.kb_publish(&t.source.0).await?).into_response());
    }
    let job = t.store.kb_publish_start()?;
    let (store, source, id) = (t.store.clone(), t.source.0.clone(), job.job_id.clone());
    tokio::spawn(async move {
        if let Err(e) = store.kb_publish_run(&source, &id).await {
            tracing::warn!(error = %e, job = %id, "knowledge-base publish failed");
        }
    });
    let location = format!("/v1/kb/jobs/{}", job.job_id);
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        axum::Json(job),
    )
        .into_response())
}

/// The tenant's recent publish jobs, newest first.
#[utoipa::path(get, path = "/v1/kb/jobs", tag = "knowledge",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Jobs", body = Vec<crate::kb::PublishJob>),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn jobs(t: Tenant) -> axum::Json<Vec<crate::kb::PublishJob>> {
    axum::Json(t.store.knowledge().jobs(t.store.tenant().as_str()))
}

/// One publish job: phase and progress while it runs, the report or the
/// error after.
#[utoipa::path(get, path = "/v1/kb/jobs/{job_id}", tag = "knowledge",
    params(("job_id" = String, Path, description = "From POST /v1/kb/publish?async=true")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The job", body = crate::kb::PublishJob),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 404, description = "No such job (or no longer kept)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn job(t: Tenant, PathId(id): PathId) -> Result<axum::Json<crate::kb::PublishJob>> {
    t.store
        .knowledge()
        .job(t.store.tenant().as_str(), &id)
        .map(axum::Json)
        .ok_or(ApiError::NotFound)
}

/// What retrieval finds for a question, with scores (for tuning content).
#[utoipa::path(get, path = "/v1/kb/search", tag = "knowledge", params(SearchParams),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Hits and the answer step's judgement", body = SearchView),
        (status = 400, description = "Missing or invalid query", body = ErrorBody),
        (status = 401, description = AUTH, body = ErrorBody),
        (status = 404, description = "No knowledge base published yet", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn search(t: Tenant, Query(p): Query<SearchParams>) -> Result<axum::Json<SearchView>> {
    let q = check_text("q", &p.q, MAX_QUESTION_CHARS)?;
    let k = p.k.unwrap_or(5);
    if !(1..=50).contains(&k) {
        return Err(ApiError::BadRequest("k must be 1..=50".into()));
    }
    let published = t.store.kb_current().await?.ok_or(ApiError::NotFound)?;
    let knowledge = t.store.knowledge().clone();
    let view = tokio::task::spawn_blocking(move || {
        let idx = &published.index;
        let opts = kefu_kb::SearchOptions {
            k,
            ..Default::default()
        };
        let qv = knowledge.query_vector(idx, &q);
        let hits = idx.search(&q, qv.as_deref(), &opts);
        let judgement = match kefu_kb::judge(idx, &q, &hits, &kefu_kb::AnswerPolicy::default()) {
            kefu_kb::Judgement::Faq { .. } => "faq",
            kefu_kb::Judgement::Passages { .. } => "passages",
            kefu_kb::Judgement::NothingRelevant => "nothing_relevant",
        };
        let hits = hits
            .iter()
            .filter_map(|h| {
                let c = idx.chunks().get(h.chunk)?;
                Some(HitView {
                    chunk_id: c.id.clone(),
                    entry_id: c.entry_id.clone(),
                    kind: match c.kind {
                        kefu_kb::EntryKind::Faq => "faq".into(),
                        kefu_kb::EntryKind::Document => "document".into(),
                    },
                    title: c.title.clone(),
                    snippet: c.text.chars().take(160).collect(),
                    score: h.score,
                    coverage: kefu_kb::coverage(idx, &q, h.chunk),
                    lexical: h.lexical.map(|r| RankView {
                        rank: r.rank,
                        score: r.score,
                    }),
                    vector: h.vector.map(|r| RankView {
                        rank: r.rank,
                        score: r.score,
                    }),
                })
            })
            .collect();
        SearchView {
            kb_version: published.version,
            judgement: judgement.into(),
            hits,
        }
    })
    .await
    .map_err(|_| ApiError::from(crate::Error::ShuttingDown))?;
    Ok(axum::Json(view))
}
