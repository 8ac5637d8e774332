//! `udp-blast`: small UDP datagrams as fast as one thread can send them, for
//! the live-capture benchmark (`livebench`). Bounded by time and by count.
//!
//! The socket is unconnected (`sendmmsg` with a destination per message), so
//! ICMP port-unreachable answers from a namespace where nothing listens are
//! not reported back as send errors. It must only be aimed at a test host.

use std::io::IoSlice;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrIn};

use crate::args::{Args, MAX_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Largest number of datagrams one run may send (a bound, not a target: at a
/// million packets a second, `MAX_SECONDS` stays under it).
const MAX_DATAGRAMS: u64 = 200_000_000;
/// Largest payload: small datagrams are the point.
const MAX_SIZE: u64 = 1472;
/// Datagrams per `sendmmsg` call.
const BATCH: usize = 64;

pub fn udp_blast(args: &Args) -> anyhow::Result<()> {
    let to = match args.addr("to")? {
        SocketAddr::V4(to) => to,
        SocketAddr::V6(to) => bail!("--to {to}: udp-blast sends IPv4 only"),
    };
    let port = args.port("bind-port")?;
    let size = args.bounded("size", MAX_SIZE, Some(18))? as usize;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    let count = args.bounded("count", MAX_DATAGRAMS, Some(MAX_DATAGRAMS))?;
    let socket = UdpSocket::bind(SocketAddrV4::new([0, 0, 0, 0].into(), port))
        .with_context(|| format!("bind local port {port}"))?;
    let payload = vec![0x5au8; size];
    let iov = [IoSlice::new(&payload)];
    let slices = vec![iov; BATCH];
    let addrs = vec![Some(SockaddrIn::from(to)); BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    ready_then_wait_for_go()?;
    let limit = Duration::from_secs(seconds);
    arm_watchdog(limit + Duration::from_secs(5));
    let start = Instant::now();
    let (mut sent, mut full) = (0u64, 0u64);
    while sent < count && start.elapsed() < limit {
        let batch = BATCH.min((count - sent) as usize);
        let result = sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            &slices[..batch],
            &addrs[..batch],
            [],
            MsgFlags::empty(),
        );
        match result {
            Ok(results) => sent += results.count() as u64,
            // A full device queue: try again, the deadline still bounds us.
            Err(Errno::ENOBUFS | Errno::EAGAIN | Errno::EINTR) => full += 1,
            Err(e) => return Err(e).context("sendmmsg"),
        }
    }
    let elapsed = start.elapsed();
    say(&format!(
        "done sent={} datagrams={sent} full={full} elapsed_us={}",
        sent * size as u64,
        elapsed.as_micros()
    ));
    Ok(())
}
