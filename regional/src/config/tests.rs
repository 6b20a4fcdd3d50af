use super::*;

fn sources(env: &[(&str, &str)]) -> Sources {
    Sources {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cli: CliOverrides::default(),
    }
}

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn defaults_apply_without_file_or_env() {
    let c = Config::load(&sources(&[])).unwrap();
    assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert!(c.master_key.is_none() && c.operator_token.is_none() && !c.dev);
}

#[test]
fn env_overrides_file_and_cli_overrides_env() {
    let raw = Config::parse_file(
        Path::new("k.toml"),
        "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n",
    )
    .unwrap();
    let mut s = sources(&[("KEFU_LISTEN", "0.0.0.0:9001")]);
    let c = Config::validate(raw, "k.toml", &s).unwrap();
    assert_eq!(c.listen.port(), 9001);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    s.cli.listen = Some("127.0.0.1:9002".into());
    let raw = Config::parse_file(Path::new("k.toml"), "listen = \"127.0.0.1:9000\"\n").unwrap();
    assert_eq!(
        Config::validate(raw, "k.toml", &s).unwrap().listen.port(),
        9002
    );
}

#[test]
fn bad_listen_names_its_source() {
    let e = Config::load(&sources(&[("KEFU_LISTEN", "localhost")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_LISTEN (environment)");
    assert!(e.message.contains("`localhost`"), "{e}");
    let raw = Config::parse_file(Path::new("k.toml"), "listen = \"nope\"\n").unwrap();
    let e = Config::validate(raw, "k.toml", &sources(&[])).unwrap_err();
    assert_eq!(e.origin, "listen in k.toml");
}

#[test]
fn unknown_fields_and_inline_secrets_are_rejected() {
    let e = Config::parse_file(Path::new("k.toml"), "lisen = \"x\"\n").unwrap_err();
    assert!(e.message.contains("lisen"), "{e}");
    let e = Config::parse_file(Path::new("k.toml"), "[limits]\nmax_body = 1\n").unwrap_err();
    assert!(e.message.contains("max_body"), "{e}");
    let e =
        Config::parse_file(Path::new("k.toml"), &format!("master_key = \"{KEY}\"\n")).unwrap_err();
    assert!(e.message.contains("KEFU_MASTER_KEY"), "{e}");
    assert!(
        !e.to_string().contains(KEY),
        "the secret leaked into the error"
    );
}

#[test]
fn master_key_errors_never_echo_the_key() {
    let bad = "0123456789abcdef0123456789abcdeZ";
    let e = Config::load(&sources(&[("KEFU_MASTER_KEY", bad)])).unwrap_err();
    assert_eq!(e.origin, "KEFU_MASTER_KEY (environment)");
    assert!(
        !e.to_string().contains(bad) && !e.to_string().contains("0123456789"),
        "{e}"
    );
    let e = Config::load(&sources(&[("KEFU_MASTER_KEY", "abcd")])).unwrap_err();
    assert!(
        e.message.contains("32 hex digits") && e.message.contains("got 4"),
        "{e}"
    );
    let e = Config::load(&sources(&[("KEFU_MASTER_KEY", &"0".repeat(32))])).unwrap_err();
    assert!(e.message.contains("all zeros"), "{e}");
    let e = Config::load(&sources(&[
        ("KEFU_MASTER_KEY", KEY),
        ("KEFU_MASTER_KEY_FILE", "/x"),
    ]))
    .unwrap_err();
    assert!(e.message.contains("only one"), "{e}");
}

#[test]
fn master_key_file_and_debug_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mk");
    std::fs::write(&p, format!("{KEY}\n")).unwrap();
    let c = Config::load(&sources(&[
        ("KEFU_MASTER_KEY_FILE", p.to_str().unwrap()),
        ("KEFU_OPERATOR_TOKEN", "operator-token-0123456789"),
    ]))
    .unwrap();
    assert_eq!(hex::encode(c.master_key.as_ref().unwrap().expose()), KEY);
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains(KEY) && !dbg.contains("operator-token-0123456789"),
        "{dbg}"
    );
    let e = Config::load(&sources(&[("KEFU_MASTER_KEY_FILE", "/nonexistent/mk")])).unwrap_err();
    assert!(
        e.origin.contains("KEFU_MASTER_KEY_FILE") && e.message.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn short_operator_token_is_rejected() {
    let e = Config::load(&sources(&[("KEFU_OPERATOR_TOKEN", "short")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_OPERATOR_TOKEN (environment)");
    assert!(!e.to_string().contains("short"));
}

#[test]
fn no_master_key_refuses_unless_dev_and_dev_key_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let c = Config::load(&sources(&[("KEFU_DATA_DIR", d.to_str().unwrap())])).unwrap();
    assert!(c.master_key_or_dev().is_err());
    let c = Config::load(&sources(&[
        ("KEFU_DATA_DIR", d.to_str().unwrap()),
        ("KEFU_DEV", "1"),
    ]))
    .unwrap();
    let (k1, dev) = c.master_key_or_dev().unwrap();
    assert!(dev);
    let (k2, _) = c.master_key_or_dev().unwrap();
    assert_eq!(
        k1.expose(),
        k2.expose(),
        "the dev key must survive restarts"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join(DEV_MASTER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let e = Config::load(&sources(&[("KEFU_DEV", "maybe")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_DEV (environment)");
}

#[test]
fn out_of_range_limits_name_the_field() {
    let raw = Config::parse_file(Path::new("k.toml"), "[commit]\nmax_batch = 0\n").unwrap();
    let e = Config::validate(raw, "k.toml", &sources(&[])).unwrap_err();
    assert_eq!(e.origin, "commit.max_batch in k.toml");
}

#[test]
fn the_public_listener_is_on_by_default_can_be_moved_or_turned_off() {
    let c = Config::load(&sources(&[])).unwrap();
    assert_eq!(
        c.public_listen.map(|a| a.to_string()).as_deref(),
        Some(DEFAULT_PUBLIC_LISTEN)
    );
    let c = Config::load(&sources(&[("KEFU_PUBLIC_LISTEN", "off")])).unwrap();
    assert_eq!(c.public_listen, None);
    let raw =
        Config::parse_file(Path::new("k.toml"), "public_listen = \"0.0.0.0:9443\"\n").unwrap();
    let c = Config::validate(raw, "k.toml", &sources(&[])).unwrap();
    assert_eq!(c.public_listen.map(|a| a.port()), Some(9443));
    let e = Config::load(&sources(&[("KEFU_PUBLIC_LISTEN", DEFAULT_LISTEN)])).unwrap_err();
    assert_eq!(e.origin, "KEFU_PUBLIC_LISTEN (environment)");
    let e = Config::load(&sources(&[("KEFU_PUBLIC_LISTEN", "widgets")])).unwrap_err();
    assert!(e.message.contains("off"), "{}", e.message);
}

#[test]
fn the_reader_is_off_by_default_and_the_file_or_env_turns_it_on() {
    let c = Config::load(&sources(&[])).unwrap();
    assert!(!c.llm.reader);
    let file = "[llm]\nreader = true\nreader_timeout_ms = 1500\n";
    let raw = Config::parse_file(Path::new("k.toml"), file).unwrap();
    let c = Config::validate(raw, "k.toml", &sources(&[])).unwrap();
    assert!(c.llm.reader);
    assert_eq!(c.llm.reader_timeout, Duration::from_millis(1500));
    let c = Config::load(&sources(&[("KEFU_LLM_READER", "1")])).unwrap();
    assert!(c.llm.reader);
    // The environment wins over the file, both ways.
    let raw = Config::parse_file(Path::new("k.toml"), file).unwrap();
    let c = Config::validate(raw, "k.toml", &sources(&[("KEFU_LLM_READER", "0")])).unwrap();
    assert!(!c.llm.reader);
    let e = Config::load(&sources(&[("KEFU_LLM_READER", "sometimes")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_LLM_READER (environment)");
    let raw = Config::parse_file(Path::new("k.toml"), "[llm]\nreader_timeout_ms = 0\n").unwrap();
    let e = Config::validate(raw, "k.toml", &sources(&[])).unwrap_err();
    assert_eq!(e.origin, "llm.reader_timeout_ms in k.toml");
}

#[test]
fn an_embeddings_server_takes_a_key_file_and_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (key, ca) = (dir.path().join("key"), dir.path().join("ca.pem"));
    std::fs::write(&key, "sk-embed-test\n").unwrap();
    std::fs::write(&ca, "not a certificate").unwrap();
    let (k, c) = (key.to_str().unwrap(), ca.to_str().unwrap());
    let env = [
        ("KEFU_EMBEDDER_URL", "https://embed.example.internal"),
        ("KEFU_EMBEDDER_MODEL", "bge-m3"),
        ("KEFU_EMBEDDER_API_KEY_FILE", k),
        ("KEFU_EMBEDDER_CA_FILE", c),
    ];
    let cfg = Config::load(&sources(&env)).unwrap();
    match &cfg.embedder {
        EmbedderConfig::Remote {
            api_key, ca_pem, ..
        } => {
            assert_eq!(api_key.as_ref().map(Secret::expose), Some("sk-embed-test"));
            assert_eq!(ca_pem.as_deref(), Some(&b"not a certificate"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{cfg:?}").contains("sk-embed-test"),
        "the key reached Debug"
    );
    // A CA file that holds no certificate stops the start with its reason.
    let e = crate::kb::load_embedder(&cfg.embedder).unwrap_err();
    assert!(e.to_string().contains("CA certificates"), "{e}");
    // A file that is not there names the setting.
    let env = [
        ("KEFU_EMBEDDER_URL", "https://embed.example.internal"),
        ("KEFU_EMBEDDER_MODEL", "bge-m3"),
        ("KEFU_EMBEDDER_CA_FILE", "/nonexistent/ca.pem"),
    ];
    let e = Config::load(&sources(&env)).unwrap_err();
    assert!(e.origin.contains("KEFU_EMBEDDER_CA_FILE"), "{}", e.origin);
}

#[test]
fn operator_token_and_edge_key_come_from_the_environment_or_a_file_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("op");
    std::fs::write(&tok, "operator-token-from-a-file\n").unwrap();
    let edge = dir.path().join("edge");
    std::fs::write(&edge, "e".repeat(kefu_core::wire::MIN_KEY_LEN)).unwrap();
    // Named by the config file.
    let text = format!(
        "operator_token_file = {:?}\nedge_key_file = {:?}\n",
        tok.display().to_string(),
        edge.display().to_string()
    );
    let raw = Config::parse_file(Path::new("k.toml"), &text).unwrap();
    let c = Config::validate(raw, "k.toml", &sources(&[])).unwrap();
    assert_eq!(
        c.operator_token.as_ref().unwrap().expose(),
        "operator-token-from-a-file"
    );
    assert_eq!(
        c.edge_key.as_ref().unwrap().expose().len(),
        kefu_core::wire::MIN_KEY_LEN
    );
    // The environment wins over the file's fields.
    let raw = Config::parse_file(Path::new("k.toml"), &text).unwrap();
    let c = Config::validate(
        raw,
        "k.toml",
        &sources(&[("KEFU_OPERATOR_TOKEN", "operator-token-from-env")]),
    )
    .unwrap();
    assert_eq!(
        c.operator_token.unwrap().expose(),
        "operator-token-from-env"
    );
    // Both the value and a file in the environment: refused, naming both.
    let e = Config::load(&sources(&[
        ("KEFU_EDGE_KEY", &"k".repeat(40)),
        ("KEFU_EDGE_KEY_FILE", edge.to_str().unwrap()),
    ]))
    .unwrap_err();
    assert_eq!(
        e.origin,
        "KEFU_EDGE_KEY and KEFU_EDGE_KEY_FILE (environment)"
    );
    // Too short: the error names where it came from, not the key.
    let e = Config::load(&sources(&[("KEFU_EDGE_KEY", "short-key")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_EDGE_KEY (environment)");
    assert!(!e.to_string().contains("short-key"), "{e}");
    let e = Config::load(&sources(&[("KEFU_OPERATOR_TOKEN_FILE", "/nonexistent/op")])).unwrap_err();
    assert_eq!(e.origin, "KEFU_OPERATOR_TOKEN_FILE (environment)");
    assert!(e.message.contains("cannot read /nonexistent/op"), "{e}");
    let raw = Config::parse_file(
        Path::new("k.toml"),
        "operator_token_file = \"/nonexistent/op\"\n",
    )
    .unwrap();
    let e = Config::validate(raw, "k.toml", &sources(&[])).unwrap_err();
    assert_eq!(e.origin, "operator_token_file in k.toml");
}
