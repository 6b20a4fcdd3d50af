//! The test harness: an opened service over a temp dir, and a client that
//! calls its router in-process.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use kefu_regional::config::{Config, Sources};
use kefu_regional::server::App;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub const OPERATOR: &str = "operator-token-for-tests-0123";
pub const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5";

/// Every log line any test in this process wrote (the canary test greps it).
pub fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| Mutex::new(Vec::new()));
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .try_init();
    });
    logs
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured_logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Harness {
    pub dir: TempDir,
    pub app: Option<App>,
    pub router: axum::Router,
    toml: String,
    env: Vec<(String, String)>,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Harness {
    /// A service with generous limits, an operator token and a master key.
    pub async fn new() -> Harness {
        Harness::with_config("[limits]\nfailed_auth_per_minute = 100000\n", &[]).await
    }

    /// A service with this TOML config and extra environment.
    pub async fn with_config(toml: &str, env: &[(&str, &str)]) -> Harness {
        captured_logs();
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let app = open(&dir, toml, &env).await;
        let router = app.router();
        Harness {
            dir,
            app: Some(app),
            router,
            toml: toml.to_owned(),
            env,
        }
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Shuts the service down (writer flushed, database closed) and opens it again.
    pub async fn restart(&mut self) {
        self.stop().await;
        let app = open(&self.dir, &self.toml, &self.env).await;
        self.router = app.router();
        self.app = Some(app);
    }

    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        // The router holds the old state (and the database) until replaced.
        self.router = axum::Router::new();
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            b = b.header("authorization", format!("Bearer {a}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    /// Creates a tenant through the operator API; returns its API key.
    pub async fn tenant(&self, id: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/admin/v1/tenants",
                Some(OPERATOR),
                Some(serde_json::json!({"id": id, "name": format!("Tenant {id}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["api_key"].as_str().unwrap().to_owned()
    }

    /// Creates a conversation; returns its id.
    pub async fn conversation(&self, key: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/v1/conversations",
                Some(key),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// A conversation's full transcript (`GET /v1/conversations/{id}`):
    /// the conversation, its messages, routing events and contact.
    pub async fn transcript(&self, key: &str, conv: &str) -> serde_json::Value {
        let t = self
            .call(
                Method::GET,
                &format!("/v1/conversations/{conv}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
        t.body
    }

    /// The texts of a conversation's messages, in order.
    /// Uploads each (route, body) with `key` (`/v1/kb/faqs`,
    /// `/v1/kb/documents`), publishes, and returns the publish report.
    pub async fn publish_kb(&self, key: &str, uploads: &[(&str, Value)]) -> Value {
        for (path, body) in uploads {
            let r = self
                .call(Method::POST, path, Some(key), Some(body.clone()))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        }
        let r = self
            .call(Method::POST, "/v1/kb/publish", Some(key), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }

    /// Deletes a tenant as the operator.
    pub async fn delete_tenant(&self, id: &str) -> Resp {
        self.call(
            Method::DELETE,
            &format!("/admin/v1/tenants/{id}"),
            Some(OPERATOR),
            None,
        )
        .await
    }

    pub async fn texts(&self, key: &str, conv: &str) -> Vec<String> {
        self.transcript(key, conv).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Appends a visitor message; returns the response.
    pub async fn say(
        &self,
        key: &str,
        conv: &str,
        text: &str,
        client_msg_id: Option<&str>,
    ) -> Resp {
        let mut body = serde_json::json!({"role": "visitor", "text": text});
        if let Some(id) = client_msg_id {
            body["client_msg_id"] = id.into();
        }
        self.call(
            Method::POST,
            &format!("/v1/conversations/{conv}/messages"),
            Some(key),
            Some(body),
        )
        .await
    }
}

pub fn config_for(dir: &TempDir, toml: &str, env: &[(String, String)]) -> Config {
    let cfg_path = dir.path().join("kefu.toml");
    std::fs::write(&cfg_path, toml).unwrap();
    let mut vars: Vec<(String, String)> = vec![
        ("KEFU_CONFIG".into(), cfg_path.to_str().unwrap().into()),
        (
            "KEFU_DATA_DIR".into(),
            dir.path().join("data").to_str().unwrap().into(),
        ),
        ("KEFU_MASTER_KEY".into(), MASTER_KEY.into()),
        ("KEFU_OPERATOR_TOKEN".into(), OPERATOR.into()),
    ];
    for (k, v) in env {
        vars.retain(|(k2, _)| k2 != k);
        if !v.is_empty() {
            vars.push((k.clone(), v.clone()));
        }
    }
    Config::load(&Sources {
        env: vars.into_iter().collect(),
        cli: Default::default(),
    })
    .unwrap()
}

async fn open(dir: &TempDir, toml: &str, env: &[(String, String)]) -> App {
    App::open(Arc::new(config_for(dir, toml, env)))
        .await
        .unwrap()
}

/// Waits (up to 30 s) until `done` holds; fails naming `what` otherwise.
/// For work the service does in the background (at start, say).
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
