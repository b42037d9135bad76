//! Unix domain sockets: the echo server as a process (with socat where it exists), its bounds,
//! stale paths, modes, credentials, descriptor passing, datagrams, the abstract namespace.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{TempDir, ipc, mode, run, stderr, unique};
use ipc::uds::{abstract_ns, cred, datagram, fdpass, stream};

/// Starts `ipc uds-echo-server PATH EXTRA...` and waits for its `listening on` line.
fn server(path: &Path, extra: &[&str]) -> Child {
    let path_text = path.to_string_lossy().to_string();
    let mut args = vec!["uds-echo-server", path_text.as_str()];
    args.extend(extra);
    let mut child = ipc(&args).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, format!("listening on {}\n", path.display()));
    child
}

fn stop(mut child: Child) {
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(child.wait().unwrap().success(), "SIGTERM is a clean stop");
}

fn echo_once(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut client = stream::connect(path).unwrap();
    client.write_all(bytes).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    back
}

#[test]
fn the_echo_server_echoes_and_its_socket_is_mode_0600() {
    let dir = TempDir::new("uds");
    let path = dir.join("echo.sock");
    let child = server(&path, &[]);
    assert_eq!(mode(&path), 0o600);
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    assert_eq!(
        echo_once(&path, &big),
        big,
        "half-close: everything owed comes back"
    );
    stop(child);
    assert!(!path.exists(), "the server removes its socket file");
}

#[test]
fn socat_talks_to_the_echo_server() {
    support::skip_unless!(support::require::command("socat", "apt-get install socat"));
    let dir = TempDir::new("uds");
    let path = dir.join("echo.sock");
    let child = server(&path, &[]);
    let mut socat = std::process::Command::new("socat")
        .args(["-", &format!("UNIX-CONNECT:{}", path.display())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    socat
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello socat\n")
        .unwrap();
    let out = socat.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello socat\n");
    stop(child);
}

#[test]
fn the_ipc_client_echoes_stdin() {
    let dir = TempDir::new("uds");
    let path = dir.join("echo.sock");
    let child = server(&path, &[]);
    let mut client = ipc(&["uds-client", &path.to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line one\nline two\n");
    stop(child);
}

#[test]
fn connections_beyond_the_limit_are_closed_and_the_first_keeps_working() {
    let dir = TempDir::new("uds");
    let path = dir.join("echo.sock");
    let child = server(&path, &["--max-conns", "1"]);
    let mut first = stream::connect(&path).unwrap();
    first.write_all(b"a").unwrap();
    let mut one = [0u8; 1];
    first.read_exact(&mut one).unwrap();
    let mut second = stream::connect(&path).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        second.read(&mut [0u8; 8]).unwrap(),
        0,
        "over the limit: closed at once"
    );
    first.write_all(b"b").unwrap();
    first.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"b");
    drop(first);
    stop(child);
}

#[test]
fn an_idle_peer_is_disconnected() {
    let dir = TempDir::new("uds");
    let path = dir.join("echo.sock");
    let child = server(&path, &["--idle-timeout-ms", "200"]);
    let mut idle = stream::connect(&path).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(idle.read(&mut [0u8; 8]).unwrap(), 0);
    stop(child);
}

#[test]
fn a_stale_socket_file_is_reported_a_live_one_is_in_use() {
    let dir = TempDir::new("uds");
    let path = dir.join("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let out = run(&["uds-echo-server", &path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("hint: remove it with `rm {}`", path.display())),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(&path).unwrap();
    let _live = stream::listen(&path).unwrap();
    let err = stream::listen(&path).unwrap_err();
    assert!(
        err.to_string().contains("a server is running there"),
        "{err}"
    );
}

#[test]
fn a_path_longer_than_sun_path_is_refused() {
    let long = std::path::PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
    assert!(matches!(
        stream::listen(&long),
        Err(ipc::IpcError::TooLarge { max: 107, .. })
    ));
}

#[test]
fn peer_credentials_name_the_connecting_process() {
    let (a, b) = UnixStream::pair().unwrap();
    let peer = cred::peer(&a).unwrap();
    assert_eq!(peer.pid as u32, std::process::id());
    assert_eq!(peer.uid, rustix::process::geteuid().as_raw());
    drop(b);
}

#[test]
fn a_descriptor_crosses_to_another_socket() {
    let dir = TempDir::new("uds");
    let file = dir.join("f.txt");
    std::fs::write(&file, "passed").unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    fdpass::send_fd(&a, std::fs::File::open(&file).unwrap(), b"note").unwrap();
    let (fd, note) = fdpass::recv_fd(&b).unwrap();
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).unwrap();
    assert_eq!((note.as_slice(), text.as_str()), (&b"note"[..], "passed"));
}

#[test]
fn two_descriptors_in_one_message_are_refused_and_closed() {
    use std::io::IoSlice;
    use std::mem::MaybeUninit;
    use std::os::fd::AsFd;
    let (a, b) = UnixStream::pair().unwrap();
    let (f1, f2) = (
        std::fs::File::open("/dev/null").unwrap(),
        std::fs::File::open("/dev/null").unwrap(),
    );
    let fds = [f1.as_fd(), f2.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        &a,
        &[IoSlice::new(b"x")],
        &mut control,
        rustix::net::SendFlags::empty(),
    )
    .unwrap();
    let err = fdpass::recv_fd(&b).unwrap_err();
    assert!(err.to_string().contains("more descriptors"), "{err}");
}

#[test]
fn a_message_without_a_descriptor_is_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(b"plain").unwrap();
    assert!(
        fdpass::recv_fd(&b)
            .unwrap_err()
            .to_string()
            .contains("no descriptor")
    );
}

#[test]
fn datagrams_keep_boundaries_and_report_truncation() {
    let dir = TempDir::new("uds");
    let path = dir.join("d.sock");
    let server = datagram::bind(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let client = UnixDatagram::unbound().unwrap();
    client.connect(&path).unwrap();
    datagram::send(&client, b"abc").unwrap();
    datagram::send(&client, b"0123456789").unwrap();
    let mut buf = [0u8; 4];
    let first = datagram::recv(&server, &mut buf).unwrap();
    assert_eq!((first.len, first.is_truncated()), (3, false));
    let second = datagram::recv(&server, &mut buf).unwrap();
    assert_eq!(
        (second.len, second.message_len, second.is_truncated()),
        (4, 10, true)
    );
}

#[test]
fn a_datagram_above_the_bound_is_refused_before_sending() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    let big = vec![0u8; datagram::MAX_DATAGRAM_BYTES + 1];
    assert!(matches!(
        datagram::send(&a, &big),
        Err(ipc::IpcError::TooLarge { .. })
    ));
    datagram::send(&a, &big[..datagram::MAX_DATAGRAM_BYTES]).unwrap();
}

#[test]
fn a_stale_datagram_path_is_reported() {
    let dir = TempDir::new("uds");
    let path = dir.join("d.sock");
    drop(datagram::bind(&path).unwrap());
    assert!(matches!(
        datagram::bind(&path),
        Err(ipc::IpcError::Stale { .. })
    ));
}

#[test]
fn the_abstract_namespace_leaves_no_file() {
    let name = unique("abstract");
    let listener = abstract_ns::listen(&name).unwrap();
    let _client = abstract_ns::connect(&name).unwrap();
    let (served, _) = listener.accept().unwrap();
    assert_eq!(cred::peer(&served).unwrap().pid as u32, std::process::id());
    drop(listener);
    assert!(
        abstract_ns::connect(&name).is_err(),
        "the name went with its socket"
    );
}
