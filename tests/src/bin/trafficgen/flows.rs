//! `udp-flows`: many UDP flows of one datagram each, for livebench's churn
//! and held scenarios (issue 10): what netop's memory peaks at while flows
//! come and go, and whether each one is still credited to this process.
//!
//! Each flow is a fresh socket on a kernel-chosen port sending one
//! datagram, paced at `--rate` flows a second. Without `--hold-seconds`
//! each socket is closed right after its datagram (churn: the owner must
//! be found while the socket lives); with it every socket stays open until
//! that long after the last one (held flows), then all close at exit.
//! `done` is said when the last datagram is out, before the hold.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::args::{Args, MAX_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Largest number of flows (sockets) one run makes.
const MAX_FLOWS: u64 = 100_000;
/// Largest pace, flows a second.
const MAX_RATE: u64 = 100_000;
const MAX_SIZE: u64 = 1472;

/// `udp-flows --to A:P --count N --rate R [--size B] [--hold-seconds H]`
pub fn udp_flows(args: &Args) -> anyhow::Result<()> {
    let to: SocketAddr = args.addr("to")?;
    let count = args.bounded("count", MAX_FLOWS, None)?;
    let rate = args.bounded("rate", MAX_RATE, None)?;
    let size = args.bounded("size", MAX_SIZE, Some(64))? as usize;
    let hold = args
        .optional("hold-seconds", MAX_SECONDS)?
        .map(Duration::from_secs);
    if hold.is_some() {
        raise_fd_limit(count + 64)?;
    }
    let local: SocketAddr = match to {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let payload = vec![0x5au8; size];
    ready_then_wait_for_go()?;
    let pace = Duration::from_secs_f64(1.0 / rate as f64);
    arm_watchdog(pace * count as u32 + hold.unwrap_or_default() + Duration::from_secs(10));
    let start = Instant::now();
    let mut held = Vec::with_capacity(if hold.is_some() { count as usize } else { 0 });
    for i in 0..count {
        let due = start + pace * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let socket = UdpSocket::bind(local).with_context(|| format!("socket {i}"))?;
        socket
            .send_to(&payload, to)
            .with_context(|| format!("datagram {i}"))?;
        if hold.is_some() {
            held.push(socket);
        }
    }
    say(&format!(
        "done flows={count} sent={} elapsed_us={}",
        count * size as u64,
        start.elapsed().as_micros()
    ));
    if let Some(hold) = hold {
        std::thread::sleep(hold);
    }
    drop(held);
    Ok(())
}

/// Raises the limit on open files to `want`: the soft limit, and the hard
/// one too when it is lower (root may; the benchmarks run as root).
pub fn raise_fd_limit(want: u64) -> anyhow::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard.max(want)).with_context(|| {
            format!("raising the open-file limit to {want} (soft {soft}, hard {hard})")
        })?;
    }
    Ok(())
}
