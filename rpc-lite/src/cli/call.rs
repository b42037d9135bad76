//! `rpc-lite call ADDR PROCEDURE ARGS...` and `rpc-lite list ADDR`: the stub from the
//! command line.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use framing::{Long, Profile};
use rpc_lite::demo_service::{DemoError, demo};
use rpc_lite::{CallError, Channel, Transport};

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Server address, host:port.
    addr: String,
    /// add A B | divide A B | get KEY | put KEY VALUE | delete KEY | echo TEXT | sleep MS | incr [BY]
    procedure: String,
    /// The procedure's arguments.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    #[command(flatten)]
    options: ClientOptions,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Server address, host:port.
    addr: String,
    #[command(flatten)]
    options: ClientOptions,
}

#[derive(Args, Debug)]
pub struct ClientOptions {
    /// Transport to call over.
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    transport: Transport,
    /// How long to wait for the reply; sent to the server as the call's deadline.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Data representation to write the call in: be32, le32, be64, le64, network, native.
    #[arg(long, default_value = "native")]
    profile: Profile,
}

impl ClientOptions {
    async fn client(&self, addr: &str) -> anyhow::Result<demo::Client> {
        let channel = Channel::connect(addr, self.transport)
            .await
            .with_context(|| format!("cannot reach {addr}"))?;
        Ok(demo::Client::new(channel)
            .with_timeout(Duration::from_millis(self.timeout_ms))
            .with_profile(self.profile))
    }
}

pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    let client = args.options.client(&args.addr).await?;
    let line = call(&client, &args.procedure, &args.args).await?;
    println!("{line}");
    Ok(())
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.options.client(&args.addr).await?;
    let description = client.describe().await.context("introspection failed")?;
    println!(
        "{} (program {:#x}, version {})",
        description.name, description.program, description.version
    );
    for procedure in description.procedures {
        println!("  {:>3}  {}", procedure.number, procedure.signature);
    }
    Ok(())
}

/// Parses the arguments of `procedure`, calls it, and renders the result as one line.
pub async fn call(
    client: &demo::Client,
    procedure: &str,
    args: &[String],
) -> anyhow::Result<String> {
    match (procedure, args) {
        ("add", [a, b]) => show(client.add(Long(int(a)?), Long(int(b)?)).await, |v| {
            v.0.to_string()
        }),
        ("divide", [a, b]) => show(client.divide(int(a)?, int(b)?).await, |v| v.to_string()),
        ("get", [k]) => show(client.get(k.clone()).await, |v| {
            v.unwrap_or_else(|| "(none)".into())
        }),
        ("put", [k, v]) => show(client.put(k.clone(), v.clone()).await, |old| {
            old.map_or("(new)".into(), |o| format!("(was {o})"))
        }),
        ("delete", [k]) => show(client.delete(k.clone()).await, |v| v.to_string()),
        ("echo", [text]) => show(client.echo(text.clone().into()).await, |v| {
            String::from_utf8_lossy(&v).into_owned()
        }),
        ("sleep", [ms]) => show(
            client
                .sleep(ms.parse().context("sleep takes milliseconds")?)
                .await,
            |v| format!("slept {v} ms"),
        ),
        ("incr", []) => show(client.incr(1).await, |v| v.to_string()),
        ("incr", [by]) => show(
            client.incr(by.parse().context("incr takes a count")?).await,
            |v| v.to_string(),
        ),
        _ => bail!(
            "unknown procedure or wrong arguments: {procedure} {args:?}; try add A B, divide A B, get KEY, put KEY VALUE, delete KEY, echo TEXT, sleep MS, incr [BY]"
        ),
    }
}

fn int(text: &str) -> anyhow::Result<i64> {
    text.parse()
        .with_context(|| format!("{text:?} is not an integer"))
}

/// Renders a result, or turns the error into one line (application errors included).
fn show<T>(
    result: Result<T, CallError<DemoError>>,
    render: impl FnOnce(T) -> String,
) -> anyhow::Result<String> {
    match result {
        Ok(value) => Ok(render(value)),
        Err(CallError::App(err)) => bail!("the procedure failed: {err}"),
        Err(CallError::Rpc(err)) => bail!("{err}"),
    }
}
