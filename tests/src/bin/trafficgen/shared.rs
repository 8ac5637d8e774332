//! `udp-shared`: datagrams from an unconnected UDP socket that shares its
//! port with other processes' sockets (SO_REUSEPORT), so the port and the
//! local address do not tell whose a datagram is: only the socket does
//! (issue 17: owners by socket cookie).
//!
//! Each run binds `0.0.0.0:P` with SO_REUSEPORT, waits `--delay-ms` (at
//! least 1, the default) after
//! `go` (so two runs start one after the other), then sends `--count`
//! datagrams of `--size` bytes to `--to` with `sendto`, one per
//! `--interval-ms`, and says `done ... datagrams=N pid=PID`.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::time::Duration;

use anyhow::{bail, Context};
use nix::sys::socket::{
    bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
};

use crate::args::{Args, MAX_COUNT};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Largest payload: one frame each on a veth.
const MAX_SIZE: u64 = 1472;
/// Longest pause between datagrams, and before the first.
const MAX_WAIT_MS: u64 = 10_000;

/// `udp-shared --to A:P --bind-port P --count N --size B --interval-ms I [--delay-ms D]`
pub fn udp_shared(args: &Args) -> anyhow::Result<()> {
    let to = match args.addr("to")? {
        SocketAddr::V4(to) => to,
        SocketAddr::V6(to) => bail!("--to {to}: udp-shared sends IPv4 only"),
    };
    let port = args.port("bind-port")?;
    let count = args.bounded("count", MAX_COUNT, None)?;
    let size = args.bounded("size", MAX_SIZE, None)? as usize;
    let interval = args.bounded("interval-ms", MAX_WAIT_MS, None)?;
    let delay = args.bounded("delay-ms", MAX_WAIT_MS, Some(1))?;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket")?;
    setsockopt(&fd, sockopt::ReusePort, &true).context("SO_REUSEPORT")?;
    let local = SockaddrIn::from(SocketAddrV4::new([0, 0, 0, 0].into(), port));
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &local)
        .with_context(|| format!("bind 0.0.0.0:{port}"))?;
    // SAFETY: the descriptor was just made by socket(2) and is owned here
    // only; UdpSocket takes it over.
    let socket = unsafe { UdpSocket::from_raw_fd(fd.into_raw_fd()) };
    ready_then_wait_for_go()?;
    let total = Duration::from_millis(delay + interval * count);
    arm_watchdog(total + Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(delay));
    let payload = vec![0x5au8; size];
    let mut sent = 0u64;
    for _ in 0..count {
        socket.send_to(&payload, to).context("sendto")?;
        sent += 1;
        std::thread::sleep(Duration::from_millis(interval));
    }
    say(&format!(
        "done sent={} recv=0 datagrams={sent} pid={}",
        sent * size as u64,
        std::process::id()
    ));
    Ok(())
}
