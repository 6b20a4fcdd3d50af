//! `kefu-regional kb import|publish`: a tenant's knowledge base from files,
//! through the tenant API of a running service (so the server's embedder,
//! sealing and audit apply), with a progress bar while the new version
//! builds.
//!
//! Files: `.csv` (FAQs: `question,answer[,id][,alternates]`), `.json` (an
//! array of FAQs, or `{"faqs":[…],"documents":[…]}` like
//! `fixtures/shop/kb.json`), `.md` / `.txt` (one document, titled by its first
//! `# ` heading or the file name). The tenant API key is read from a file,
//! never from the command line (it would show in `ps` and shell history).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{Error, Result};

/// `kb ...`
#[derive(Debug, Subcommand)]
pub enum KbCmd {
    /// Upload FAQs and documents from files (then publish with `--publish`).
    Import(Import),
    /// Publish the draft as a new version, showing progress.
    Publish(Target),
}

/// Where the service is and whose knowledge base.
#[derive(Debug, Args)]
pub struct Target {
    /// The service's tenant API, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "KEFU_API_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A file holding the tenant's API key.
    #[arg(long)]
    pub key_file: PathBuf,
}

/// `kb import`
#[derive(Debug, Args)]
pub struct Import {
    /// The service and tenant.
    #[command(flatten)]
    pub target: Target,
    /// Publish after uploading.
    #[arg(long)]
    pub publish: bool,
    /// `.csv`, `.json`, `.md` or `.txt` files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

struct Api {
    url: String,
    key: String,
    http: reqwest::blocking::Client,
}

impl Api {
    fn new(t: &Target) -> Result<Api> {
        let key = std::fs::read_to_string(&t.key_file)
            .map_err(|e| Error::Invalid(format!("{}: {e}", t.key_file.display())))?
            .trim()
            .to_owned();
        if key.is_empty() {
            return Err(Error::Invalid(format!("{} is empty", t.key_file.display())));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| Error::Invalid(format!("http client: {e}")))?;
        Ok(Api {
            url: t.url.trim_end_matches('/').to_owned(),
            key,
            http,
        })
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder, what: &str) -> Result<(u16, Value)> {
        let resp = req
            .bearer_auth(&self.key)
            .send()
            .map_err(|e| Error::Invalid(format!("{what}: cannot reach the service: {e}")))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().unwrap_or(Value::Null);
        if status >= 400 {
            let msg = body["error"]["message"].as_str().unwrap_or("no details");
            return Err(Error::Invalid(format!("{what}: HTTP {status}: {msg}")));
        }
        Ok((status, body))
    }

    fn post_json(&self, path: &str, body: &Value, what: &str) -> Result<Value> {
        let req = self.http.post(format!("{}{path}", self.url)).json(body);
        self.send(req, what).map(|(_, b)| b)
    }

    fn post_csv(&self, path: &str, body: Vec<u8>, what: &str) -> Result<Value> {
        let req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "text/csv")
            .body(body);
        self.send(req, what).map(|(_, b)| b)
    }

    fn get(&self, path: &str, what: &str) -> Result<Value> {
        let req = self.http.get(format!("{}{path}", self.url));
        self.send(req, what).map(|(_, b)| b)
    }
}

/// Runs a `kb` command; returns the exit code.
pub fn run(cmd: &KbCmd) -> Result<i32> {
    match cmd {
        KbCmd::Import(i) => {
            let api = Api::new(&i.target)?;
            let mut uploaded = Vec::new();
            for f in &i.files {
                uploaded.push(import(&api, f)?);
            }
            let published = if i.publish {
                Some(publish(&api)?)
            } else {
                None
            };
            super::print(&json!({ "uploaded": uploaded, "published": published }));
            Ok(0)
        }
        KbCmd::Publish(t) => {
            let report = publish(&Api::new(t)?)?;
            super::print(&report);
            Ok(0)
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// Uploads one file; returns what the service stored.
fn import(api: &Api, path: &Path) -> Result<Value> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let stored = match ext.as_str() {
        "csv" => vec![api.post_csv("/v1/kb/faqs", read(path)?, &name)?],
        "json" => {
            let v: Value = serde_json::from_slice(&read(path)?)
                .map_err(|e| Error::Invalid(format!("{name}: not JSON: {e}")))?;
            match v {
                Value::Array(_) => vec![api.post_json("/v1/kb/faqs", &v, &name)?],
                Value::Object(ref o) if o.contains_key("faqs") || o.contains_key("documents") => {
                    let mut out = Vec::new();
                    if let Some(f) = o.get("faqs") {
                        out.push(api.post_json("/v1/kb/faqs", f, &name)?);
                    }
                    if let Some(d) = o.get("documents") {
                        out.push(api.post_json("/v1/kb/documents", d, &name)?);
                    }
                    out
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "{name}: expected an array of FAQs or {{\"faqs\": [...], \"documents\": [...]}}"
                    )));
                }
            }
        }
        "md" | "markdown" | "txt" => {
            let text = String::from_utf8(read(path)?)
                .map_err(|_| Error::Invalid(format!("{name}: not UTF-8")))?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("document");
            let title = text
                .lines()
                .find_map(|l| l.strip_prefix("# "))
                .map_or(stem, str::trim)
                .to_owned();
            let id: String = stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .take(64)
                .collect();
            vec![api.post_json(
                "/v1/kb/documents",
                &json!({"id": id, "title": title, "text": text}),
                &name,
            )?]
        }
        _ => {
            return Err(Error::Invalid(format!(
                "{name}: unknown kind of file (expected .csv, .json, .md or .txt)"
            )));
        }
    };
    let ids: usize = stored
        .iter()
        .map(|s| s["ids"].as_array().map_or(0, Vec::len))
        .sum();
    eprintln!("{name}: {ids} entries uploaded");
    Ok(json!({ "file": name, "entries": ids }))
}

/// Starts an async publish and follows its job with a progress bar (drawn
/// only on a terminal); returns the job's report.
fn publish(api: &Api) -> Result<Value> {
    let job = api.post_json("/v1/kb/publish?async=true", &Value::Null, "publish")?;
    let id = job["job_id"]
        .as_str()
        .ok_or_else(|| Error::Invalid("publish: the service returned no job id".into()))?
        .to_owned();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg:<10} [{bar:30}] {pos}/{len} {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    loop {
        let j = api.get(&format!("/v1/kb/jobs/{id}"), "publish job")?;
        bar.set_message(j["phase"].as_str().unwrap_or("").to_owned());
        bar.set_length(j["total"].as_u64().unwrap_or(0));
        bar.set_position(j["done"].as_u64().unwrap_or(0));
        match j["status"].as_str() {
            Some("done") => {
                bar.finish_and_clear();
                let r = j["report"].clone();
                eprintln!(
                    "published version {}: {} entries, {} chunks, retrieval {}, {} ms",
                    r["kb_version"], r["entries"], r["chunks"], r["retrieval"], r["build_ms"]
                );
                return Ok(r);
            }
            Some("failed") => {
                bar.abandon();
                return Err(Error::Invalid(format!(
                    "publish failed: {}",
                    j["error"].as_str().unwrap_or("no details")
                )));
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}
