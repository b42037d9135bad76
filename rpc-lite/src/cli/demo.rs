//! `rpc-lite demo`: a TCP and a UDP server in this process, and a tour of what a call
//! can do: a result, introspection, an application error, a deadline expiring, a
//! version mismatch, callers of other representations, and 100 non-idempotent calls
//! through a lossy, duplicating UDP path, each executed exactly once.

use std::sync::Arc;
use std::time::Duration;

use super::demo_service::{DemoService, demo};
use anyhow::Context;
use framing::{Long, Profile};
use proxy::udp::{FaultProxy, Faults, ProxyConfig};
use rpc_lite::registry::ServerStats;
use rpc_lite::tcp_transport::{self, TcpServerConfig};
use rpc_lite::udp_transport::{self, UdpChannel, UdpServerConfig};
use rpc_lite::{CallError, Channel, Registry, Transport};

/// Calls sent through the lossy path.
const LOSSY_CALLS: u64 = 100;

pub async fn run() -> anyhow::Result<()> {
    let service = Arc::new(DemoService::default());
    let registry = Registry::new().with(demo::Server::from_arc(service.clone()));
    let stats = registry.stats().clone();
    let loopback = "127.0.0.1:0".parse()?;
    let tcp = tcp_transport::spawn(loopback, registry.clone(), TcpServerConfig::default()).await?;
    let udp = udp_transport::spawn(loopback, registry, UdpServerConfig::default()).await?;
    println!(
        "demo service (program {:#x} v1) over TCP on {} and UDP on {}",
        demo::PROGRAM,
        tcp.addr(),
        udp.addr()
    );

    let client =
        demo::Client::new(Channel::connect(&tcp.addr().to_string(), Transport::Tcp).await?);
    tcp_tour(&client, &stats).await?;
    let udp_client =
        demo::Client::new(Channel::connect(&udp.addr().to_string(), Transport::Udp).await?);
    println!("\n== UDP ==");
    println!(
        "add(20, 22) = {}",
        udp_client.add(Long(20), Long(22)).await?.0
    );
    lossy_tour(udp.addr(), &service, &stats).await?;
    tcp.shutdown().await;
    udp.shutdown().await;
    println!("\nservers stopped; demo done");
    Ok(())
}

async fn tcp_tour(client: &demo::Client, stats: &ServerStats) -> anyhow::Result<()> {
    println!("\n== TCP ==");
    let d = client.describe().await?;
    println!("introspection (procedure 0): {} v{}", d.name, d.version);
    for p in &d.procedures {
        println!("  {:>2}  {}", p.number, p.signature);
    }
    println!("add(2, 3) = {}", client.add(Long(2), Long(3)).await?.0);
    for profile in [Profile::BE32, Profile::LE64] {
        // The stub's raw call shows what the typed one hides: the reply's own label.
        let stub = client.stub().clone().with_profile(profile);
        let args = framing::to_bytes(&(Long(-7), Long(10)), profile)?;
        let (args_len, reply) = (args.len(), stub.call_raw(demo::procedure::add, args).await?);
        let sum: Long = framing::from_bytes(reply.body.clone(), reply.header.profile)?;
        println!(
            "add(-7, 10) as a {profile} caller = {}: arguments {args_len} bytes, reply labelled {}, body {}",
            sum.0,
            reply.header.profile,
            framing::hexdump::hex_bytes(&reply.body),
        );
    }
    match client
        .with_profile(Profile::BE32)
        .add(Long(i32::MAX.into()), Long(1))
        .await
    {
        Err(e) => println!("add(2147483647, 1) as a be32 caller -> {e}"),
        Ok(v) => println!("add(2147483647, 1) as a be32 caller = {}", v.0),
    }
    match client.divide(1, 0).await {
        Err(CallError::App(e)) => {
            println!("divide(1, 0) -> application error, typed: {e:?} (\"{e}\")")
        }
        other => println!("divide(1, 0) -> unexpected {other:?}"),
    }
    client.put("lang".into(), "rust".into()).await?;
    println!(
        "put(lang, rust); get(lang) = {:?}",
        client.get("lang".into()).await?
    );
    let impatient = client.with_timeout(Duration::from_millis(100));
    match impatient.sleep(1000).await {
        Err(e) => println!("sleep(1000) with a 100 ms deadline -> {e}"),
        Ok(_) => println!("sleep(1000) finished?"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!(
        "  server side: {} call(s) dropped at their deadline",
        ServerStats::get(&stats.expired)
    );
    let v2 = demo::Client::from_stub(client.stub().clone().with_version(2));
    if let Err(e) = v2.add(Long(1), Long(1)).await {
        println!("add on version 2 -> {e}");
    }
    Ok(())
}

async fn lossy_tour(
    server: std::net::SocketAddr,
    service: &DemoService,
    stats: &ServerStats,
) -> anyhow::Result<()> {
    let mut config = ProxyConfig::new("127.0.0.1:0".parse()?, server);
    config.faults = Faults {
        loss: 0.2,
        duplicate: 0.1,
        seed: 1,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config)
        .await
        .context("cannot start the udp proxy")?;
    println!(
        "through the udp proxy on {} (20% loss, 10% duplication, seed 1):",
        proxy.local_addr()
    );
    let channel = UdpChannel::connect(&proxy.local_addr().to_string()).await?;
    let client =
        demo::Client::new(Channel::Udp(channel.clone())).with_timeout(Duration::from_secs(20));
    let before = (service.counter(), service.incr_executions());
    let calls: Vec<_> = (0..LOSSY_CALLS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.incr(1).await })
        })
        .collect();
    let mut completed = 0;
    for call in calls {
        completed += u64::from(matches!(call.await, Ok(Ok(_))));
    }
    let f = proxy.stats();
    println!("  {completed}/{LOSSY_CALLS} incr(1) calls completed");
    println!(
        "  proxy: {} datagrams dropped, {} duplicated",
        f.dropped, f.duplicated
    );
    println!("  client: {} retransmissions", channel.retransmissions());
    let replayed =
        ServerStats::get(&stats.cache_hits) + ServerStats::get(&stats.duplicates_running);
    println!(
        "  server: {replayed} duplicate calls answered from the reply cache or ignored while running"
    );
    println!(
        "  counter went {} -> {}; incr executed {} times: each call exactly once",
        before.0,
        service.counter(),
        service.incr_executions() - before.1
    );
    proxy.shutdown().await;
    Ok(())
}
