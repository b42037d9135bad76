//! Demo: Unix domain sockets: socketpair to a child, an echo server on a path, peer credentials,
//! passing a descriptor, datagrams, the abstract namespace.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;

use ipc::uds::{abstract_ns, cred, datagram, fdpass, stream};

use super::fifo::redact;
use crate::cli::child_command;

/// Every Unix-socket idea, each between real processes or at least real sockets.
pub fn run() -> anyhow::Result<()> {
    println!("== Unix domain sockets: socket(AF_UNIX) ==");
    socketpair_child()?;
    let dir = std::env::temp_dir().join(super::unique("uds"));
    std::fs::create_dir(&dir)?;
    let result = on_paths(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    abstract_name()
}

fn socketpair_child() -> anyhow::Result<()> {
    println!(
        "socketpair(2): one socket is the child's stdin AND stdout (two-way on one descriptor)"
    );
    let (ours, theirs) = UnixStream::pair()?;
    let mut cmd = child_command(&["upper"])?;
    let theirs = std::os::fd::OwnedFd::from(theirs);
    cmd.stdin(Stdio::from(theirs.try_clone()?))
        .stdout(Stdio::from(theirs));
    let mut child = cmd.spawn()?;
    drop(cmd);
    let peer = cred::peer(&ours)?;
    let me = rustix::process::geteuid().as_raw();
    println!(
        "  SO_PEERCRED: the peer runs as our own uid: {}",
        peer.uid == me
    );
    writeln!(&ours, "over a socketpair")?;
    let mut reply = String::new();
    BufReader::new(&ours).read_line(&mut reply)?;
    println!("  child -> parent: {}", reply.trim_end());
    ours.shutdown(std::net::Shutdown::Write)?;
    child.wait()?;
    Ok(())
}

fn on_paths(dir: &std::path::Path) -> anyhow::Result<()> {
    let path = dir.join("echo.sock");
    echo_server(&path)?;
    pass_descriptor(dir)?;
    datagrams(dir)?;
    let listener = std::os::unix::net::UnixListener::bind(&path)?;
    drop(listener);
    match stream::listen(&path) {
        Err(err) => println!(
            "a socket file left by a dead server: {}",
            redact(&err.to_string(), &path)
        ),
        Ok(_) => println!("a socket file left by a dead server: unexpectedly reused"),
    }
    Ok(())
}

fn echo_server(path: &std::path::Path) -> anyhow::Result<()> {
    let path_text = path.to_string_lossy();
    let mut server = crate::cli::self_command(&["uds-echo-server", &path_text])?
        .stdout(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut first)?;
    println!("echo server process: {}", redact(first.trim_end(), path));
    let mut client = stream::connect(path)?;
    client.write_all(b"echo me")?;
    client.shutdown(std::net::Shutdown::Write)?;
    let mut echoed = String::new();
    client.read_to_string(&mut echoed)?;
    println!("  client sent \"echo me\", half-closed, got back \"{echoed}\"");
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&server),
        rustix::process::Signal::TERM,
    )?;
    let status = server.wait()?;
    println!(
        "  SIGTERM: server stopped ({status}), socket file removed: {}",
        !path.exists()
    );
    Ok(())
}

fn pass_descriptor(dir: &std::path::Path) -> anyhow::Result<()> {
    println!("SCM_RIGHTS: sending an open file descriptor");
    let file_path = dir.join("secret.txt");
    std::fs::write(&file_path, "contents of a file the receiver never opened\n")?;
    let (a, b) = UnixStream::pair()?;
    fdpass::send_fd(&a, std::fs::File::open(&file_path)?, b"here")?;
    let (fd, note) = fdpass::recv_fd(&b)?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text)?;
    println!(
        "  received note {:?} and a descriptor; reading it: {}",
        String::from_utf8_lossy(&note),
        text.trim_end()
    );
    Ok(())
}

fn datagrams(dir: &std::path::Path) -> anyhow::Result<()> {
    println!("SOCK_DGRAM: boundaries kept, a short buffer reported (MSG_TRUNC)");
    let server = datagram::bind(&dir.join("dgram.sock"))?;
    let client = std::os::unix::net::UnixDatagram::unbound()?;
    client.connect(dir.join("dgram.sock"))?;
    for message in [&b"one"[..], b"two", b"a longer message"] {
        datagram::send(&client, message)?;
    }
    let mut buf = [0u8; 8];
    for _ in 0..3 {
        let got = datagram::recv(&server, &mut buf)?;
        let text = String::from_utf8_lossy(&buf[..got.len]);
        println!(
            "  received {text:?} ({} of {} bytes, truncated: {})",
            got.len,
            got.message_len,
            got.is_truncated()
        );
    }
    Ok(())
}

fn abstract_name() -> anyhow::Result<()> {
    let name = super::unique("abstract");
    let listener = abstract_ns::listen(&name)?;
    let client = abstract_ns::connect(&name)?;
    let (served, _) = listener.accept()?;
    let peer = cred::peer(&served)?;
    drop(client);
    let ours = peer.uid == rustix::process::geteuid().as_raw();
    println!(
        "abstract namespace (@name): no file, no permission bits: check the peer (our uid: {ours})"
    );
    Ok(())
}
