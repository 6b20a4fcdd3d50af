//! `kefu-fake-openai [--addr 127.0.0.1:PORT] [--ttft-ms N] [--token-ms N]
//! [--latency-ms N] [--fail-every N] [--error-status S] [--stall-after N]
//! [--tokens N] [--reply TEXT | --echo]`: the fake as a process, for the load kit
//! and manual runs.

use std::time::Duration;

use kefu_fake_openai::{FakeOpenAi, Script};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut script = Script::default();
    let mut addr = "127.0.0.1:0".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--addr" => addr = val()?,
            "--ttft-ms" => script.ttft = Duration::from_millis(val()?.parse()?),
            "--token-ms" => script.token_gap = Duration::from_millis(val()?.parse()?),
            "--latency-ms" => script.latency = Duration::from_millis(val()?.parse()?),
            "--fail-every" => script.fail_every = val()?.parse()?,
            "--error-status" => script.error_status = val()?.parse()?,
            "--stall-after" => script.stall_after = Some(val()?.parse()?),
            "--tokens" => script.total_tokens = Some(val()?.parse()?),
            "--reply" => script.reply = Some(val()?),
            "--echo" => script.reply = None,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let fake = FakeOpenAi::serve(listener, script)?;
    println!("{}", fake.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
