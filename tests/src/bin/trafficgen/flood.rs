//! `flood`: new flows as fast as one thread makes them, for livebench's
//! flood scenario (issue 10). Every flow is one netop has never seen, so
//! each one costs it an owner search; the scenario checks that capture
//! keeps up and that an established stream beside it is still credited.
//!
//! - `--kind udp`: 18-byte datagrams from a pool of unconnected sockets,
//!   each to a random port (nearly every datagram a new flow), sent with
//!   `sendmmsg` in batches. The peer answers with ICMP, rate-limited.
//! - `--kind syn`: a fresh non-blocking TCP socket per SYN: `connect`
//!   sends the SYN and the socket is closed at once, as a port scan's
//!   sockets are gone before anyone looks them up. The peer answers RST.
//!
//! Destination ports are drawn from 1024..=65535 minus `--skip` (the ports
//! where the target has a listener, given by the caller), so no service
//! there is reached. Bounded by `--seconds` and `--count`; it must only be
//! aimed at a test host.

use std::io::IoSlice;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::sys::socket::{
    self, sendmmsg, AddressFamily, MsgFlags, MultiHeaders, SockFlag, SockType, SockaddrIn,
};

use crate::args::{Args, MAX_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Largest number of flows one run may make (a bound, not a target).
const MAX_FLOWS: u64 = 100_000_000;
/// Unconnected UDP sockets the datagrams rotate over: with 64,512 ports
/// each, 16 million source and destination pairs.
const UDP_SOCKETS: usize = 256;
/// Datagrams per `sendmmsg` call.
const BATCH: usize = 64;
const PAYLOAD: [u8; 18] = [0x5a; 18];

/// One kind of flood: (flows made, sends refused for a moment) until a
/// count or a time limit.
type Sender = fn(Ipv4Addr, &Ports, u64, Duration) -> anyhow::Result<(u64, u64)>;

/// `flood --to ADDR --kind udp|syn --seconds S [--count N] [--skip P,P...]`
pub fn flood(args: &Args) -> anyhow::Result<()> {
    let raw = args.text("to")?;
    let to: Ipv4Addr = raw
        .parse()
        .with_context(|| format!("--to {raw:?} is not an IPv4 address"))?;
    let kind = args.text("kind")?;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    let count = args.bounded("count", MAX_FLOWS, Some(MAX_FLOWS))?;
    let ports = Ports::new(args.text("skip").unwrap_or(""))?;
    let limit = Duration::from_secs(seconds);
    let run: Sender = match kind {
        "udp" => udp,
        "syn" => syn,
        other => bail!("--kind {other:?}: use udp or syn"),
    };
    ready_then_wait_for_go()?;
    arm_watchdog(limit + Duration::from_secs(5));
    let start = Instant::now();
    let (flows, full) = run(to, &ports, count, limit)?;
    say(&format!(
        "done flows={flows} full={full} elapsed_us={}",
        start.elapsed().as_micros()
    ));
    Ok(())
}

/// Datagrams to random ports until `count` or `limit`: (sent, full queue).
fn udp(to: Ipv4Addr, ports: &Ports, count: u64, limit: Duration) -> anyhow::Result<(u64, u64)> {
    let sockets = (0..UDP_SOCKETS)
        .map(|_| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)))
        .collect::<Result<Vec<_>, _>>()
        .context("binding the flood's UDP sockets")?;
    let iov = [IoSlice::new(&PAYLOAD)];
    let slices = vec![iov; BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut addrs: Vec<Option<SockaddrIn>> = Vec::with_capacity(BATCH);
    let mut rng = Rng::seeded();
    let start = Instant::now();
    let (mut sent, mut full) = (0u64, 0u64);
    for socket in sockets.iter().cycle() {
        if sent >= count || start.elapsed() >= limit {
            break;
        }
        let batch = BATCH.min((count - sent) as usize);
        addrs.clear();
        addrs.extend((0..batch).map(|_| Some(SocketAddrV4::new(to, ports.pick(&mut rng)).into())));
        let result = sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            &slices[..batch],
            &addrs,
            [],
            MsgFlags::empty(),
        );
        match result {
            Ok(results) => sent += results.count() as u64,
            Err(Errno::ENOBUFS | Errno::EAGAIN | Errno::EINTR) => full += 1,
            Err(e) => return Err(e).context("sendmmsg"),
        }
    }
    Ok((sent, full))
}

/// SYNs to random ports, a fresh socket each: (sent, refused locally).
fn syn(to: Ipv4Addr, ports: &Ports, count: u64, limit: Duration) -> anyhow::Result<(u64, u64)> {
    let mut rng = Rng::seeded();
    let start = Instant::now();
    let (mut sent, mut full) = (0u64, 0u64);
    while sent < count && start.elapsed() < limit {
        let fd = socket::socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("socket")?;
        let addr = SockaddrIn::from(SocketAddrV4::new(to, ports.pick(&mut rng)));
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) | Err(Errno::EINPROGRESS) => sent += 1,
            // No local port free for a moment, or a full queue.
            Err(Errno::EADDRNOTAVAIL | Errno::EAGAIN | Errno::ENOBUFS | Errno::EINTR) => full += 1,
            Err(e) => return Err(e).context("connect"),
        }
    }
    Ok((sent, full))
}

/// The destination ports: 1024..=65535 without the skipped ones.
struct Ports(Vec<u16>);

impl Ports {
    fn new(skip: &str) -> anyhow::Result<Self> {
        let skip = skip
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<u16>().with_context(|| format!("--skip: {p:?}")))
            .collect::<anyhow::Result<Vec<u16>>>()?;
        Ok(Self(
            (1024..=u16::MAX).filter(|p| !skip.contains(p)).collect(),
        ))
    }

    fn pick(&self, rng: &mut Rng) -> u16 {
        self.0[(rng.next() % self.0.len() as u64) as usize]
    }
}

/// xorshift64: spread, not secrecy.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(nanos | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{Ports, Rng};

    #[test]
    fn ports_skip_the_listeners_and_picks_stay_among_them() {
        let ports = Ports::new("1024,8080,").expect("valid list");
        assert_eq!(ports.0.len(), 65_535 - 1024 - 1);
        assert!(!ports.0.contains(&8080) && !ports.0.contains(&1024));
        let mut rng = Rng::seeded();
        assert!((0..1000).all(|_| ports.0.contains(&ports.pick(&mut rng))));
        assert!(Ports::new("http").is_err());
    }
}
