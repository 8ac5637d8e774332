//! UDP workloads: an echo server and a client that waits for each echo,
//! and a sink that answers nothing (so no ICMP comes back from a closed
//! port to muddle what a benchmark counts).

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::args::{Args, MAX_COUNT, MAX_SECONDS, MAX_SERVE_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Largest datagram payload that fits a 1500-byte MTU over IPv4.
const MAX_SIZE: u64 = 1472;

pub fn echo_server(args: &Args) -> anyhow::Result<()> {
    let listen = args.addr("listen")?;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    let count = args.bounded("count", MAX_COUNT, Some(MAX_COUNT))?;
    let socket = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    arm_watchdog(Duration::from_secs(seconds + 5));
    say("ready");
    let mut buf = [0u8; 2048];
    let (mut echoed, mut bytes) = (0u64, 0u64);
    while echoed < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                socket.send_to(&buf[..n], peer).context("echo")?;
                echoed += 1;
                bytes += n as u64;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("recv"),
        }
    }
    say(&format!(
        "done sent={bytes} recv={bytes} datagrams={echoed}"
    ));
    Ok(())
}

/// `udp-sink --listen A:P --seconds S`: reads datagrams until `S` has
/// passed, then says how many.
pub fn sink(args: &Args) -> anyhow::Result<()> {
    let listen = args.addr("listen")?;
    let seconds = args.bounded("seconds", MAX_SERVE_SECONDS, None)?;
    let socket = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    arm_watchdog(Duration::from_secs(seconds + 5));
    say("ready");
    let mut buf = [0u8; 2048];
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                datagrams += 1;
                bytes += n as u64;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("recv"),
        }
    }
    say(&format!("done sent=0 recv={bytes} datagrams={datagrams}"));
    Ok(())
}

pub fn client(args: &Args) -> anyhow::Result<()> {
    let to: SocketAddr = args.addr("to")?;
    let port = args.port("bind-port")?;
    let count = args.bounded("count", MAX_COUNT, None)?;
    let size = args.bounded("size", MAX_SIZE, None)? as usize;
    let interval = Duration::from_millis(args.bounded("interval-ms", 1000, Some(1))?);
    let timeout = Duration::from_millis(args.bounded("timeout-ms", 5000, Some(1000))?);
    let local = match to {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], port)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], port)),
    };
    let socket = UdpSocket::bind(local).with_context(|| format!("bind {local}"))?;
    socket
        .connect(to)
        .with_context(|| format!("connect {to}"))?;
    socket.set_read_timeout(Some(timeout))?;
    ready_then_wait_for_go()?;
    arm_watchdog((interval + timeout) * count as u32 + Duration::from_secs(5));
    let start = Instant::now();
    let payload = vec![0x5au8; size];
    let mut buf = [0u8; 2048];
    let (mut sent, mut recv, mut lost) = (0u64, 0u64, 0u64);
    for i in 0..count {
        // Paced against the start time, so slow echoes don't stretch the run.
        let due = start + interval * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        socket.send(&payload).context("send")?;
        sent += size as u64;
        match socket.recv(&mut buf) {
            Ok(n) => recv += n as u64,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => lost += 1,
            Err(e) => return Err(e).context("recv"),
        }
    }
    say(&format!(
        "done sent={sent} recv={recv} lost={lost} elapsed_ms={}",
        start.elapsed().as_millis()
    ));
    if lost > 0 {
        bail!("{lost} of {count} echoes never came back");
    }
    Ok(())
}
