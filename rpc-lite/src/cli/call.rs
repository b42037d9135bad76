//! `rpc-lite call ADDR PROCEDURE ARGS...` and `rpc-lite list ADDR`: the stub from the
//! command line.

use std::time::Duration;

use super::demo_service::{DemoError, demo};
use anyhow::{Context, bail};
use clap::Args;
use framing::{Long, Profile};
use rpc_lite::{CallError, Channel, Transport};
use support::cli::{HostPort, UsageError, usage};

/// The demo's procedures and their arguments, in words (for `--help` and for errors).
const PROCEDURES: [(&str, &str); 8] = [
    ("add", "A B (two integers)"),
    ("divide", "A B (two integers)"),
    ("get", "KEY"),
    ("put", "KEY VALUE"),
    ("delete", "KEY"),
    ("echo", "TEXT"),
    ("sleep", "MS (milliseconds, at most 60000)"),
    ("incr", "[BY] (a count, 1 if left out)"),
];

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Server address, host:port.
    #[arg(value_parser = support::cli::host_port)]
    addr: HostPort,
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
    #[arg(value_parser = support::cli::host_port)]
    addr: HostPort,
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
    async fn client(&self, addr: &HostPort) -> anyhow::Result<demo::Client> {
        let channel = Channel::connect(&addr.to_string(), self.transport)
            .await
            .with_context(|| format!("cannot reach {addr}"))?;
        Ok(demo::Client::new(channel)
            .with_timeout(Duration::from_millis(self.timeout_ms))
            .with_profile(self.profile))
    }
}

pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    // The arguments are checked before anything is sent: a mistake there is a usage
    // error (exit 2) that names the procedure and what it takes.
    let request = parse(&args.procedure, &args.args)?;
    let client = args.options.client(&args.addr).await?;
    let line = call(&client, request)
        .await
        .with_context(|| format!("{} failed", args.procedure))?;
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

/// One call of the demo service, its arguments parsed.
#[derive(Debug)]
pub enum Request {
    Add(i64, i64),
    Divide(i64, i64),
    Get(String),
    Put(String, String),
    Delete(String),
    Echo(String),
    Sleep(u32),
    Incr(u64),
}

/// Parses `procedure` and its arguments; a mistake names the procedure and what it takes.
pub fn parse(procedure: &str, args: &[String]) -> Result<Request, UsageError> {
    let Some(&(_, takes)) = PROCEDURES.iter().find(|(name, _)| *name == procedure) else {
        let known: Vec<String> = PROCEDURES.iter().map(|(n, a)| format!("{n} {a}")).collect();
        return Err(usage(format!(
            "the demo service has no procedure {procedure:?}; it has: {}",
            known.join(", ")
        )));
    };
    let wrong = |why: String| usage(format!("{procedure} takes {takes}; {why}"));
    let count = || {
        let n = args.len();
        wrong(format!("got {n} argument{}", if n == 1 { "" } else { "s" }))
    };
    let int = |what: &str, text: &str| {
        text.parse::<i64>()
            .map_err(|_| wrong(format!("{what} must be an integer, got {text:?}")))
    };
    Ok(match (procedure, args) {
        ("add", [a, b]) => Request::Add(int("A", a)?, int("B", b)?),
        ("divide", [a, b]) => Request::Divide(int("A", a)?, int("B", b)?),
        ("get", [k]) => Request::Get(k.clone()),
        ("put", [k, v]) => Request::Put(k.clone(), v.clone()),
        ("delete", [k]) => Request::Delete(k.clone()),
        ("echo", [text]) => Request::Echo(text.clone()),
        ("sleep", [ms]) => Request::Sleep(ms.parse().map_err(|_| {
            wrong(format!(
                "MS must be a whole number of milliseconds, got {ms:?}"
            ))
        })?),
        ("incr", []) => Request::Incr(1),
        ("incr", [by]) => Request::Incr(by.parse().map_err(|_| {
            wrong(format!(
                "BY must be a whole number of at least 0, got {by:?}"
            ))
        })?),
        _ => return Err(count()),
    })
}

/// Makes the call and renders the result as one line.
pub async fn call(client: &demo::Client, request: Request) -> anyhow::Result<String> {
    match request {
        Request::Add(a, b) => show(client.add(Long(a), Long(b)).await, |v| v.0.to_string()),
        Request::Divide(a, b) => show(client.divide(a, b).await, |v| v.to_string()),
        Request::Get(k) => show(client.get(k).await, |v| {
            v.unwrap_or_else(|| "(none)".into())
        }),
        Request::Put(k, v) => show(client.put(k, v).await, |old| {
            old.map_or("(new)".into(), |o| format!("(was {o})"))
        }),
        Request::Delete(k) => show(client.delete(k).await, |v| v.to_string()),
        Request::Echo(text) => show(client.echo(text.into()).await, |v| {
            String::from_utf8_lossy(&v).into_owned()
        }),
        Request::Sleep(ms) => show(client.sleep(ms).await, |v| format!("slept {v} ms")),
        Request::Incr(by) => show(client.incr(by).await, |v| v.to_string()),
    }
}

/// Renders a result, or turns the error into one line (application errors included).
fn show<T>(
    result: Result<T, CallError<DemoError>>,
    render: impl FnOnce(T) -> String,
) -> anyhow::Result<String> {
    match result {
        Ok(value) => Ok(render(value)),
        Err(CallError::App(err)) => bail!("the server says: {err}"),
        Err(CallError::Rpc(err)) => Err(err.into()),
    }
}
