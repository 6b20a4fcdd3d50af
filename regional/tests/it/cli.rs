//! The binary's command line: refusing to start without a master key,
//! naming bad config values, and the data-dir lock.

use std::process::Command;

use crate::common::{Harness, MASTER_KEY};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kefu-regional"));
    c.env_clear();
    c
}

/// Runs `kefu-regional args` on the data dir `data` with the master key;
/// asserts it succeeded and returns its JSON output.
fn offline(data: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = bin()
        .args(args)
        .env("KEFU_DATA_DIR", data)
        .env("KEFU_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn serve_refuses_to_start_without_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["serve"])
        .env("KEFU_DATA_DIR", dir.path())
        .env("KEFU_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without a master key") && err.contains("KEFU_MASTER_KEY"),
        "{err}"
    );
}

#[test]
fn bad_config_values_are_named_and_secrets_not_printed() {
    let out = bin()
        .args(["serve"])
        .env("KEFU_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEFU_LISTEN (environment)"));
    let bad_key = "0123456789abcdef0123456789abcdeX";
    let out = bin()
        .args(["serve"])
        .env("KEFU_MASTER_KEY", bad_key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("KEFU_MASTER_KEY (environment)") && !err.contains("0123456789abcdef"),
        "{err}"
    );
}

#[test]
fn tenant_commands_work_offline_and_report_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = ["tenant", "create", "--id", "acme", "--name", "Acme"];
    let v = offline(&data, &create);
    assert!(v["api_key"].as_str().unwrap().starts_with("kefu_sk_"));
    let v = offline(&data, &["keys", "rotate", "--tenant", "acme"]);
    assert_eq!(v["data_key_version"], 2);
    let v = offline(&data, &["tenant", "list"]);
    assert_eq!(v[0]["id"], "acme");
    assert_eq!(v[0]["data_key_version"], 2);
    // Deleted offline, whole: the id is free again at once.
    let v = offline(&data, &["tenant", "delete", "--id", "acme", "--yes"]);
    assert_eq!(
        v,
        serde_json::json!({"conversations": 0, "messages": 0, "keys_destroyed": 3})
    );
    offline(&data, &create);
}

#[tokio::test]
async fn offline_commands_fail_clearly_while_the_service_runs() {
    let h = Harness::new().await;
    let out = bin()
        .args(["tenant", "list"])
        .env("KEFU_DATA_DIR", h.data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another kefu-regional process"),
        "{err}"
    );
}

#[test]
fn audit_verify_exits_nonzero_on_a_tampered_chain() {
    use redb::{ReadableTable, TableDefinition};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .env("KEFU_DATA_DIR", &data)
            .env("KEFU_MASTER_KEY", MASTER_KEY)
            .output()
            .unwrap()
    };
    assert!(
        run(&["tenant", "create", "--id", "acme", "--name", "Acme"])
            .status
            .success()
    );
    assert!(
        run(&["keys", "rotate", "--tenant", "acme"])
            .status
            .success()
    );
    let ok = run(&["audit", "verify", "--tenant", "acme"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        (line["ok"].as_bool(), line["entries"].as_u64()),
        (Some(true), Some(2))
    );

    const ENTRIES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("audit_entries");
    let store = kefu_regional::store::Store::open(&data, None).unwrap();
    store
        .write_now(|ctx| {
            let mut t = ctx.txn.open_table(ENTRIES)?;
            let mut v = t.get(("acme", 0))?.unwrap().value().to_vec();
            v[10] ^= 0x20;
            t.insert(("acme", 0), v.as_slice())?;
            Ok(())
        })
        .unwrap();
    drop(store);
    let bad = run(&["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let line: serde_json::Value =
        serde_json::from_slice(bad.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (
            line["tenant"].as_str(),
            line["ok"].as_bool(),
            line["first_bad"].as_u64()
        ),
        (Some("acme"), Some(false), Some(0))
    );
}

#[test]
fn an_offline_backup_is_a_data_dir_the_commands_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    offline(
        &data,
        &["tenant", "create", "--id", "acme", "--name", "Acme"],
    );
    let backups = dir.path().join("backups");
    let v = offline(&data, &["backup", "--out", backups.to_str().unwrap()]);
    let path = std::path::PathBuf::from(v["path"].as_str().unwrap());
    assert!(path.starts_with(&backups), "{v}");
    let v = offline(&path, &["tenant", "list"]);
    assert_eq!(v[0]["id"], "acme", "{v}");
}
