//! When a reply reached the client's socket, by the kernel's clock, so that a latency can
//! leave out the time the reply then waited for the client itself.
//!
//! A load generator's sender task reads its replies when its worker thread gets to it. With
//! several senders on few threads, a sender whose replies keep arriving keeps its thread (up
//! to tokio's cooperative budget of 128 reads) while the other senders' replies wait, already
//! delivered, in their sockets; a thread the scheduler takes off the CPU leaves its replies
//! waiting too. Counted from the send to the read, that wait is charged to the server, and
//! the faster the server the more often a sender finds its next reply already there. The
//! kernel stamps every datagram as it is queued on the socket (`SO_TIMESTAMPNS`, socket(7);
//! read back with `recvmsg(2)` as an `SCM_TIMESTAMPNS` control message, CLOCK_REALTIME):
//! counted from the send to that stamp, a round trip is the server's and the network's only.
//! The kernel turns arrival stamping on a moment after the first socket asks for it (until
//! then it stamps a datagram when it is read, which errs on the late side); the warm-up
//! before the measured window covers that.
//!
//! The stamps are not free: once any socket asks, the kernel stamps every packet, and each
//! read carries a control message. `perf stat -e task-clock` on `loadgen udp-echo` (4
//! senders against the batched echo) gave 5% to 7% more CPU per datagram, enough on two
//! CPUs shared with the server to lengthen every server's read latencies; so `udp-echo`
//! asks for them only with `--arrival`.

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt::ReceiveTimestampns, ControlMessageOwned, MsgFlags,
};
use nix::sys::time::TimeSpec;
use nix::time::{clock_gettime, ClockId};
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Asks the kernel to stamp each datagram queued on `sock` with its arrival time.
pub fn enable(sock: &UdpSocket) -> io::Result<()> {
    setsockopt(sock, ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// A control-message buffer that holds one arrival stamp.
pub fn buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// Now, on the clock the kernel stamps arrivals with (CLOCK_REALTIME), in ns since 1970.
pub fn now_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_REALTIME).map_or(0, ns_since_epoch)
}

fn ns_since_epoch(ts: TimeSpec) -> u64 {
    Duration::from(ts).as_nanos() as u64
}

/// Receives one datagram from the connected `sock` into `buf`: its length and, when the
/// kernel stamped it, its arrival time (ns since 1970, as [`now_ns`]).
pub async fn recv(
    sock: &UdpSocket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> io::Result<(usize, Option<u64>)> {
    sock.async_io(Interest::READABLE, || {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut *cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let stamp = msg.cmsgs().ok().and_then(|mut cmsgs| {
            cmsgs.find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(ts) => Some(ns_since_epoch(ts)),
                _ => None,
            })
        });
        Ok((msg.bytes, stamp))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On loopback the datagram is queued on the receiver during the `send` itself, so its
    /// stamp lies between the clock read before and after that call, however late the
    /// receiver reads it. The kernel turns arrival stamping on a little after the first
    /// socket asks (until then it stamps at the read), so the test tries for up to a second.
    #[tokio::test]
    async fn the_stamp_is_the_arrival_not_the_read() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.connect(rx.local_addr().unwrap()).await.unwrap();
        rx.connect(tx.local_addr().unwrap()).await.unwrap();
        enable(&rx).unwrap();
        let (mut buf, mut cmsg) = (vec![0u8; 64], buffer());
        let mut late_by_ns = Vec::new();
        for _ in 0..100 {
            let before = now_ns();
            tx.send(b"stamp me").await.unwrap();
            let after = now_ns();
            tokio::time::sleep(Duration::from_millis(10)).await; // read late on purpose
            let (n, stamp) = recv(&rx, &mut buf, &mut cmsg).await.unwrap();
            assert_eq!(&buf[..n], b"stamp me");
            let stamp = stamp.expect("SO_TIMESTAMPNS gives every datagram a stamp");
            assert!(before <= stamp, "{before} <= {stamp}");
            if stamp <= after {
                return; // stamped on arrival, not 10 ms later at the read
            }
            late_by_ns.push(stamp - after);
        }
        panic!("no datagram was stamped on arrival; ns after the send: {late_by_ns:?}");
    }

    #[tokio::test]
    async fn without_the_option_there_is_no_stamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.send_to(b"x", rx.local_addr().unwrap()).await.unwrap();
        let (mut buf, mut cmsg) = (vec![0u8; 8], buffer());
        assert_eq!(recv(&rx, &mut buf, &mut cmsg).await.unwrap(), (1, None));
    }
}
