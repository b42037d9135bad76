//! Demo: the shared-memory ring: two producer and two consumer processes, the three policies
//! when full, refused segments, a stale name.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

use ipc::shm::{self, FullPolicy, Geometry, WaitMode};

use crate::cli::self_command;

/// Slots and payload size of the demo ring.
const CAPACITY: u32 = 4;
const SLOT_BYTES: u32 = 64;

/// Creates a ring, runs processes on it, shows policies and refusals, removes it.
pub fn run() -> anyhow::Result<()> {
    println!("== POSIX shared memory: shm_open + ftruncate + mmap, a bounded MPMC ring ==");
    let name = super::unique("ring");
    let result = show(&name);
    let _ = shm::unlink(&name);
    let _ = std::fs::remove_file(format!("/dev/shm/{name}-bad"));
    result
}

fn show(name: &str) -> anyhow::Result<()> {
    let geometry = Geometry::new(CAPACITY, SLOT_BYTES)?;
    let ring = shm::create(name, geometry)?;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(format!("/dev/shm/{name}"))?.permissions(),
    );
    println!(
        "created a ring: {CAPACITY} slots of {SLOT_BYTES} bytes, {} bytes, mode {:o}",
        geometry.segment_bytes(),
        mode & 0o777
    );
    processes(name)?;
    policies(&ring)?;
    refusals(name)?;
    match shm::create(name, geometry) {
        Err(err) => println!(
            "creating it again: {}",
            err.to_string().replace(name, "NAME")
        ),
        Ok(_) => println!("creating it again: unexpectedly worked"),
    }
    Ok(())
}

/// Two producers and two consumers, each a process, on a ring smaller than the traffic.
fn processes(name: &str) -> anyhow::Result<()> {
    let consumers = [consumer(name, 5)?, consumer(name, 5)?];
    let producers = [producer(name, "a")?, producer(name, "b")?];
    for mut p in producers {
        p.wait()?;
    }
    let mut received: Vec<String> = Vec::new();
    for mut c in consumers {
        let mut out = String::new();
        c.stdout.take().map(|mut s| s.read_to_string(&mut out));
        c.wait()?;
        received.extend(out.lines().map(str::to_string));
    }
    received.sort();
    println!(
        "2 producer processes sent 5 messages each through the 4-slot ring (blocking when full)"
    );
    println!(
        "2 consumer processes took {} messages, each exactly once: {}",
        received.len(),
        received.join(" ")
    );
    Ok(())
}

fn producer(name: &str, id: &str) -> anyhow::Result<Child> {
    let messages: Vec<String> = (1..=5).map(|i| format!("{id}{i}")).collect();
    let mut args = vec!["shm-write", name];
    args.extend(messages.iter().map(String::as_str));
    Ok(self_command(&args)?.spawn()?)
}

fn consumer(name: &str, count: u32) -> anyhow::Result<Child> {
    let count = count.to_string();
    let args = ["shm-read", name, "--count", &count, "--timeout-ms", "5000"];
    Ok(self_command(&args)?.stdout(Stdio::piped()).spawn()?)
}

/// Fill the ring, then try each policy on the fifth message.
fn policies(ring: &shm::SharedRing) -> anyhow::Result<()> {
    for i in 1..=CAPACITY {
        shm::wait::push(
            ring,
            format!("m{i}").as_bytes(),
            FullPolicy::Fail,
            WaitMode::Block,
        )?;
    }
    println!("filled all {CAPACITY} slots; a fifth message under each policy:");
    let fifth = b"m5";
    let fail = shm::wait::push(ring, fifth, FullPolicy::Fail, WaitMode::Block);
    println!(
        "  Fail: {}",
        fail.err().map_or("accepted".into(), |e| e.to_string())
    );
    let block = shm::wait::push(
        ring,
        fifth,
        FullPolicy::Block(Duration::from_millis(50)),
        WaitMode::Block,
    );
    println!(
        "  Block(50 ms), nobody consuming: {}",
        block.err().map_or("accepted".into(), |e| e.to_string())
    );
    let pushed = shm::wait::push(ring, fifth, FullPolicy::OverwriteOldest, WaitMode::Block)?;
    println!(
        "  OverwriteOldest: accepted, {} oldest dropped",
        pushed.dropped
    );
    let mut buf = [0u8; SLOT_BYTES as usize];
    let mut left = Vec::new();
    while let Ok(len) = ring.try_pop(&mut buf) {
        left.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    println!("  the ring now holds: {}", left.join(" "));
    Ok(())
}

/// Segments with a wrong magic and with a lying capacity are refused before any slot is read.
fn refusals(name: &str) -> anyhow::Result<()> {
    let bad = format!("{name}-bad");
    let path = format!("/dev/shm/{bad}");
    let mut header = vec![0u8; 256 + 4 * (8 + 64)];
    std::fs::write(&path, &header)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let err = shm::open(&bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    println!("a segment of zeros: {err}");
    header[0..4].copy_from_slice(b"IPCR");
    header[4..8].copy_from_slice(&1u32.to_le_bytes());
    header[8..12].copy_from_slice(&1024u32.to_le_bytes());
    header[12..16].copy_from_slice(&64u32.to_le_bytes());
    std::fs::write(&path, &header)?;
    let err = shm::open(&bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    println!("a header claiming 1024 slots: {err}");
    Ok(())
}
