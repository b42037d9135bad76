//! The shared-memory ring between real processes: several producers and consumers, 0600 names,
//! refused segments, a stale name, a killed producer, a stopped consumer, a Python reader, a
//! Java reader (`tests/java/RingReader.java`), and the batch calls against a process that uses
//! the one-message calls.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use common::{ipc, run, stderr, stdout, unique};
use ipc::shm::{self, FullPolicy, Geometry, WaitError, WaitMode};

/// Removes the segment when the test ends, pass or fail.
struct Segment(String);

impl Segment {
    fn create(what: &str, capacity: u32, slot_bytes: u32) -> Self {
        let name = unique(what);
        let out = run(&[
            "shm-create",
            &name,
            "--capacity",
            &capacity.to_string(),
            "--slot-bytes",
            &slot_bytes.to_string(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        Segment(name)
    }
    fn path(&self) -> String {
        format!("/dev/shm/{}", self.0)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

#[test]
fn producers_and_consumers_in_separate_processes_share_every_message_once() {
    let seg = Segment::create("mpmc", 8, 32);
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            ipc(&["shm-read", &seg.0, "--timeout-ms", "2000"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let messages: Vec<String> = (0..200).map(|i| format!("p{p}-{i}")).collect();
            let mut args = vec!["shm-write".to_string(), seg.0.clone()];
            args.extend(messages);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ipc(&args).spawn().unwrap()
        })
        .collect();
    for mut p in producers {
        assert!(p.wait().unwrap().success());
    }
    let mut all = Vec::new();
    for c in consumers {
        let out = c.wait_with_output().unwrap();
        all.extend(stdout(&out).lines().map(str::to_string));
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 600);
    assert_eq!(distinct.len(), 600);
}

#[test]
fn a_segment_is_created_mode_0600_and_a_second_create_reports_it_stale() {
    let seg = Segment::create("mode", 4, 16);
    let mode = std::fs::metadata(seg.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = run(&["shm-create", &seg.0]);
    assert_eq!(again.status.code(), Some(1));
    let line = stderr(&again);
    assert!(
        line.contains(&format!("hint: remove it with `rm /dev/shm/{}`", seg.0)),
        "{line}"
    );
    assert!(run(&["shm-unlink", &seg.0]).status.success());
    assert!(!std::path::Path::new(&seg.path()).exists());
}

#[test]
fn a_segment_readable_by_others_is_refused() {
    let seg = Segment::create("public", 4, 16);
    std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = shm::open(&seg.0).unwrap_err();
    assert!(err.to_string().contains("is not private"), "{err}");
}

#[test]
fn hostile_segments_are_refused_by_the_reader_process() {
    let name = unique("hostile");
    let seg = Segment(name.clone());
    let write = |bytes: &[u8]| {
        std::fs::write(seg.path(), bytes).unwrap();
        std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        stderr(&run(&[
            "shm-read",
            &name,
            "--count",
            "1",
            "--timeout-ms",
            "10",
        ]))
    };
    assert!(write(&[0u8; 100]).contains("smaller than the 256-byte header"));
    let mut header = vec![0u8; 256 + 4 * (8 + 16)];
    assert!(write(&header).contains("wrong magic"));
    header[0..4].copy_from_slice(b"IPCR");
    header[4..8].copy_from_slice(&1u32.to_le_bytes());
    header[8..12].copy_from_slice(&4u32.to_le_bytes());
    header[12..16].copy_from_slice(&4096u32.to_le_bytes());
    assert!(write(&header).contains("header says"), "a lying slot size");
    header[12..16].copy_from_slice(&16u32.to_le_bytes());
    header[64..68].copy_from_slice(&100u32.to_le_bytes());
    assert!(write(&header).contains("counters out of range"));
}

#[test]
fn a_producer_killed_mid_write_never_yields_a_half_written_message() {
    // 1 MiB slots: a producer spends most of its time copying, so a kill lands mid-write.
    let geometry = Geometry::new(4, 1024 * 1024).unwrap();
    let name = unique("killed");
    let _seg = Segment(name.clone());
    let ring = shm::create(&name, geometry).unwrap();
    for round in 0..3 {
        // Three 1 MiB lines on stdin (too long for arguments), each one message.
        let line = format!("{}\n", format!("{round}").repeat(1024 * 1024));
        let mut producer = ipc(&["shm-write", &name, "--policy", "overwrite"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = producer.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            for _ in 0..3 {
                if stdin.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(15 * (round + 1)));
        let _ = producer.kill();
        producer.wait().unwrap();
        feeder.join().unwrap();
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            match shm::wait::pop(&ring, &mut buf, Duration::from_millis(20), WaitMode::Block) {
                Ok(len) => {
                    let byte = buf[0];
                    assert!(
                        buf[..len].iter().all(|&b| b == byte),
                        "a whole message only"
                    );
                    assert_eq!(len, 1024 * 1024);
                }
                Err(WaitError::Timeout(_)) => break,
                Err(other) => panic!("{other}"),
            }
        }
        if !ring.is_empty() {
            // The killed producer's claimed slot stalls the ring: the documented consequence.
            break;
        }
    }
}

#[test]
fn a_stopped_consumer_makes_a_blocking_producer_time_out() {
    let seg = Segment::create("stopped", 2, 16);
    let fill = run(&["shm-write", &seg.0, "a", "b"]);
    assert!(fill.status.success());
    let blocked = run(&[
        "shm-write",
        &seg.0,
        "--policy",
        "block",
        "--timeout-ms",
        "100",
        "c",
    ]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(
        stderr(&blocked).contains("timed out after 100ms"),
        "{}",
        stderr(&blocked)
    );
    let failed = run(&["shm-write", &seg.0, "--policy", "fail", "c"]);
    assert!(
        stderr(&failed).contains("would block"),
        "{}",
        stderr(&failed)
    );
    let out = run(&["shm-read", &seg.0, "--count", "2"]);
    assert_eq!(stdout(&out), "a\nb\n");
}

#[test]
fn a_spinning_reader_in_another_process_gets_the_messages() {
    let seg = Segment::create("spin", 4, 16);
    let reader = ipc(&[
        "shm-read",
        &seg.0,
        "--count",
        "3",
        "--spin",
        "--timeout-ms",
        "5000",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    assert!(
        run(&["shm-write", &seg.0, "--spin", "x", "y", "z"])
            .status
            .success()
    );
    let out = reader.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "x\ny\nz\n");
}

#[test]
fn python_attaches_with_multiprocessing_shared_memory_from_the_protocol_alone() {
    support::skip_unless!(support::require::command(
        "python3",
        "apt-get install python3"
    ));
    let seg = three_messages_waiting("python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ring_reader.py");
    let out = std::process::Command::new("python3")
        .args([script, &seg.0])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nfrom rust\n3\ndrained 3\n");
    the_reader_freed_every_slot(&seg);
}

/// A ring of 4 x 32 bytes holding "hello", "from rust" and "3".
fn three_messages_waiting(what: &str) -> Segment {
    let seg = Segment::create(what, 4, 32);
    assert!(
        run(&["shm-write", &seg.0, "hello", "from rust", "3"])
            .status
            .success()
    );
    seg
}

/// After another language's reader: Rust sees the ring empty, and a full ring's worth (4) fits.
fn the_reader_freed_every_slot(seg: &Segment) {
    let empty = run(&["shm-read", &seg.0, "--timeout-ms", "10"]);
    assert_eq!(stdout(&empty), "");
    assert!(
        run(&["shm-write", &seg.0, "--policy", "fail", "1", "2", "3", "4"])
            .status
            .success()
    );
}

#[test]
fn batches_pushed_here_reach_a_reader_process_whole_and_in_order() {
    let seg = Segment::create("batch-out", 8, 16);
    let reader = ipc(&["shm-read", &seg.0, "--count", "500", "--timeout-ms", "5000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ring = shm::open(&seg.0).unwrap();
    let messages: Vec<String> = (0..500).map(|i| format!("batch-{i}")).collect();
    let mut sent = 0;
    while sent < messages.len() {
        let end = (sent + 6).min(messages.len());
        let batch: Vec<&[u8]> = messages[sent..end].iter().map(|m| m.as_bytes()).collect();
        let policy = FullPolicy::Block(Duration::from_secs(5));
        sent += shm::wait::push_batch(&ring, &batch, policy, WaitMode::Block)
            .unwrap()
            .pushed;
    }
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), messages.join("\n") + "\n");
}

#[test]
fn a_writer_process_messages_are_drained_here_in_batches_in_order() {
    let seg = Segment::create("batch-in", 8, 16);
    let ring = shm::open(&seg.0).unwrap();
    let messages: Vec<String> = (0..300).map(|i| format!("w-{i}")).collect();
    let mut args = vec!["shm-write", &seg.0, "--timeout-ms", "5000"];
    args.extend(messages.iter().map(String::as_str));
    let mut writer = ipc(&args).spawn().unwrap();
    let mut got = Vec::new();
    let mut scratch = [0u8; 16];
    while got.len() < messages.len() {
        let each = |m: Result<&[u8], _>| got.push(String::from_utf8(m.unwrap().to_vec()).unwrap());
        let timeout = Duration::from_secs(5);
        shm::wait::pop_batch(&ring, 8, &mut scratch, timeout, WaitMode::Block, each).unwrap();
    }
    assert!(writer.wait().unwrap().success());
    assert_eq!(got, messages);
}

#[test]
fn the_bench_measures_the_batch_variant_and_names_its_ratio_to_the_pipe() {
    let out = run(&[
        "bench",
        "--duration-s",
        "0.01",
        "--pingpong-count",
        "100",
        "--only",
        "pipe,shm,shm-batch",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last = text.lines().last().unwrap_or_default();
    for key in [
        "shm_batch_64B_msgs_per_s=",
        "shm_batch_64KiB_MB_per_s=",
        "shm_batch_64B_pingpong_p50_us=",
        "shm_batch_vs_pipe_64B_msgs_ratio=",
        "shm_batch_vs_shm_64B_msgs_ratio=",
    ] {
        assert!(last.contains(key), "{key} missing from {last:?}");
    }
}

/// `java RingReader.java NAME COUNT` (source-launch mode) on `name`.
fn java_reader(name: &str, count: &str) -> std::process::Output {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/RingReader.java");
    std::process::Command::new("java")
        .args([source, name, count])
        .output()
        .unwrap()
}

#[test]
fn java_attaches_with_filechannel_map_and_consumes_by_compare_and_swap() {
    support::skip_unless!(support::require::command(
        "java",
        "apt-get install openjdk-17-jdk-headless"
    ));
    let seg = three_messages_waiting("java");
    let out = java_reader(&seg.0, "3");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nfrom rust\n3\nread 3\n");
    the_reader_freed_every_slot(&seg);
}

#[test]
fn java_refuses_a_segment_with_a_wrong_magic() {
    support::skip_unless!(support::require::command(
        "java",
        "apt-get install openjdk-17-jdk-headless"
    ));
    let seg = Segment(unique("java-magic"));
    let mut bytes = vec![0u8; 256 + 4 * (8 + 16)];
    bytes[0..4].copy_from_slice(b"XXXX");
    std::fs::write(seg.path(), &bytes).unwrap();
    std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = java_reader(&seg.0, "1");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrong magic 0x58585858"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "nothing read from a refused segment");
}

#[test]
fn java_refuses_a_segment_open_to_others() {
    support::skip_unless!(support::require::command(
        "java",
        "apt-get install openjdk-17-jdk-headless"
    ));
    let seg = three_messages_waiting("java-public");
    std::fs::set_permissions(seg.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = java_reader(&seg.0, "1");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not private"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing read from a refused segment");
}
