//! `udp-spread`: a steady packet rate spread over many concurrent UDP
//! flows, for livebench's `spread` phase (issue 17: "100,000 packets/s
//! over 20,000 concurrent flows: no drops, RSS under 30 MB").
//!
//! `--flows` sockets, each bound to a port the kernel chooses, are opened
//! before `ready` and held until the process exits, so every flow has a
//! live owner the whole run. After `go` one thread sends `--size`-byte
//! datagrams to `--to` from each flow in turn (round robin), paced to
//! `--rate` datagrams a second in all: every tick (1 ms) it sends the
//! datagrams due by then and sleeps to the next tick, so one thread
//! reaches 100,000 a second without a syscall per sleep per datagram.
//! Sending stops when `rate × seconds` datagrams are out or `--seconds`
//! have passed, whichever comes first: a sender held back (by a monitor
//! on the same host) sends fewer, and `done` says how many it sent in how
//! long, so the rate it reached is known. A full device queue (`ENOBUFS`)
//! is counted as `full` and the datagram tried again 100 µs later.
//!
//! The sockets stay open `--hold-seconds` after `done` (default 0), so a
//! monitor stopped just after the last datagram still finds their owner.
//!
//! `--ports K` (default 1) makes the same number of flows from a K-th of
//! the sockets, each sending to K ports (`--to`'s port and the K - 1
//! after it): for a process whose open-file limit is below the flow
//! count and cannot be raised (no CAP_SYS_RESOURCE). A flow is still one
//! (local port, remote port) pair with one owner.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::args::{Args, MAX_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};
use crate::flows::raise_fd_limit;

/// Largest number of concurrent flows (sockets). The kernel's default
/// ephemeral range holds 28,232 ports; a wider range allows more.
const MAX_FLOWS: u64 = 60_000;
/// Most destination ports per socket.
const MAX_PORTS: u64 = 16;
/// Largest pace, datagrams a second in all.
const MAX_RATE: u64 = 1_000_000;
/// Largest payload that fits a 1500-byte MTU over IPv4.
const MAX_SIZE: u64 = 1472;
/// Default payload: 18 bytes make a 60-byte Ethernet frame, the minimum
/// (the same datagrams as `udp-blast` and livebench's max rate).
const DEFAULT_SIZE: u64 = 18;
/// Pacing ticks a second: a batch of `rate / TICKS` datagrams each.
const TICKS: u64 = 1000;
/// Sleep after a full device queue before trying again.
const BACKOFF: Duration = Duration::from_micros(100);

/// What one run sends, checked before any socket is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub to: SocketAddr,
    pub flows: u64,
    /// Destination ports per socket; `sockets × ports ≥ flows`.
    pub ports: u64,
    pub sockets: u64,
    pub size: usize,
    pub seconds: u64,
    pub hold: Duration,
    pub pacer: Pacer,
}

impl Plan {
    pub fn from_args(args: &Args) -> anyhow::Result<Self> {
        let to = args.addr("to")?;
        let flows = args.bounded("flows", MAX_FLOWS, None)?;
        let ports = args.bounded("ports", MAX_PORTS, Some(1))?;
        if u64::from(to.port()) + ports - 1 > u64::from(u16::MAX) {
            bail!("--to {to} --ports {ports}: the ports run past 65535");
        }
        let rate = args.bounded("rate", MAX_RATE, None)?;
        let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
        let size = args.bounded("size", MAX_SIZE, Some(DEFAULT_SIZE))? as usize;
        let hold = args
            .optional("hold-seconds", MAX_SECONDS)?
            .map_or(Duration::ZERO, Duration::from_secs);
        Ok(Self {
            to,
            flows,
            ports,
            sockets: flows.div_ceil(ports),
            size,
            seconds,
            hold,
            pacer: Pacer::new(rate, seconds),
        })
    }

    /// Flow `i`'s socket (an index) and destination: socket `i mod
    /// sockets`, port `--to + i / sockets`, a distinct pair for each `i`
    /// below `flows`.
    pub fn flow(&self, i: u64) -> (usize, SocketAddr) {
        let mut to = self.to;
        // `from_args` checked that `to.port() + ports - 1` fits.
        to.set_port(self.to.port() + (i / self.sockets) as u16);
        ((i % self.sockets) as usize, to)
    }
}

/// The pacing arithmetic: how many datagrams are due at a time since the
/// start, and when the next batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    /// Datagrams a second.
    pub rate: u64,
    /// Datagrams in all: `rate × seconds`.
    pub total: u64,
    /// Datagrams a tick, at least one.
    pub batch: u64,
}

impl Pacer {
    pub fn new(rate: u64, seconds: u64) -> Self {
        Self {
            rate,
            total: rate.saturating_mul(seconds),
            batch: (rate / TICKS).max(1),
        }
    }

    /// Datagrams due `elapsed` after the start (at most the total).
    pub fn due(&self, elapsed: Duration) -> u64 {
        let due = u128::from(self.rate) * elapsed.as_nanos() / 1_000_000_000;
        u64::try_from(due).unwrap_or(u64::MAX).min(self.total)
    }

    /// When, after the start, the batch after `sent` datagrams is due:
    /// the first moment `sent + batch` (at most the total) are.
    pub fn next_batch(&self, sent: u64) -> Duration {
        let next = sent.saturating_add(self.batch).min(self.total);
        let nanos = (u128::from(next) * 1_000_000_000).div_ceil(u128::from(self.rate.max(1)));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// `udp-spread --to A:P --flows N --rate R --seconds S [--size B] [--hold-seconds H]`
pub fn udp_spread(args: &Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(args)?;
    raise_fd_limit(plan.sockets + 64)?;
    let local: SocketAddr = match plan.to {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let sockets = (0..plan.sockets)
        .map(|i| UdpSocket::bind(local).with_context(|| format!("socket {i} of {}", plan.sockets)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Each flow's socket and destination, worked out before the clock runs.
    let flows: Vec<(usize, SocketAddr)> = (0..plan.flows).map(|i| plan.flow(i)).collect();
    let payload = vec![0x5au8; plan.size];
    ready_then_wait_for_go()?;
    let limit = Duration::from_secs(plan.seconds);
    arm_watchdog(limit + plan.hold + Duration::from_secs(10));
    let pacer = plan.pacer;
    let start = Instant::now();
    let (mut sent, mut full) = (0u64, 0u64);
    'run: loop {
        let due = pacer.due(start.elapsed());
        // What is due, a batch at a time, watching the clock: a sender
        // far behind still stops at the deadline.
        while sent < due {
            let end = due.min(sent + pacer.batch);
            while sent < end {
                let (socket, to) = flows[(sent % plan.flows) as usize];
                match sockets[socket].send_to(&payload, to) {
                    Ok(_) => sent += 1,
                    Err(e) if queue_full(&e) => {
                        full += 1;
                        std::thread::sleep(BACKOFF);
                        break;
                    }
                    Err(e) => return Err(e).with_context(|| format!("datagram {sent}")),
                }
            }
            if start.elapsed() >= limit {
                break 'run;
            }
        }
        if sent >= pacer.total || start.elapsed() >= limit {
            break;
        }
        std::thread::sleep(pacer.next_batch(sent).saturating_sub(start.elapsed()));
    }
    let elapsed = start.elapsed();
    say(&format!(
        "done sent={} datagrams={sent} planned={} flows={} sockets={} full={full} elapsed_us={} elapsed_ms={}",
        sent * plan.size as u64,
        pacer.total,
        plan.flows,
        plan.sockets,
        elapsed.as_micros(),
        elapsed.as_millis()
    ));
    std::thread::sleep(plan.hold);
    drop(sockets);
    Ok(())
}

/// A send that failed because the device queue or socket buffer is full:
/// worth trying again a moment later.
fn queue_full(e: &std::io::Error) -> bool {
    use nix::errno::Errno;
    e.kind() == std::io::ErrorKind::WouldBlock
        || matches!(e.raw_os_error(), Some(code) if code == Errno::ENOBUFS as i32 || code == Errno::EINTR as i32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::collections::HashSet;

    use super::{Pacer, Plan, MAX_FLOWS, MAX_RATE};
    use crate::args::Args;

    fn plan(argv: &str) -> anyhow::Result<Plan> {
        Plan::from_args(&Args::parse(argv.split_whitespace().map(str::to_owned))?)
    }

    #[test]
    fn pacer_spreads_the_rate_over_ticks() {
        let pacer = Pacer::new(100_000, 10);
        assert_eq!((pacer.total, pacer.batch), (1_000_000, 100));
        assert_eq!(pacer.due(Duration::ZERO), 0);
        assert_eq!(pacer.due(Duration::from_micros(999)), 99);
        assert_eq!(pacer.due(Duration::from_millis(1)), 100);
        assert_eq!(pacer.due(Duration::from_secs(1)), 100_000);
        assert_eq!(pacer.due(Duration::from_secs(60)), 1_000_000);
        assert_eq!(pacer.next_batch(0), Duration::from_millis(1));
        assert_eq!(pacer.next_batch(150), Duration::from_micros(2500));
        // The last batch is due at the end of the run, not after it.
        assert_eq!(pacer.next_batch(999_950), Duration::from_secs(10));
        assert_eq!(pacer.next_batch(1_000_000), Duration::from_secs(10));
    }

    #[test]
    fn pacer_slow_rates_send_one_at_a_time() {
        let pacer = Pacer::new(3, 2);
        assert_eq!((pacer.total, pacer.batch), (6, 1));
        // Rounded up: never before the datagram is due.
        assert_eq!(pacer.next_batch(0), Duration::from_nanos(333_333_334));
        assert_eq!(pacer.due(Duration::from_nanos(333_333_334)), 1);
        assert_eq!(pacer.due(Duration::from_nanos(333_333_333)), 0);
    }

    #[test]
    fn pacer_due_never_passes_its_next_batch() {
        let pacer = Pacer::new(2000, 2);
        let mut sent = 0;
        while sent < pacer.total {
            let at = pacer.next_batch(sent);
            let due = pacer.due(at);
            assert!(due > sent && due - sent <= pacer.batch, "{sent} -> {due}");
            sent = due;
        }
        assert_eq!(sent, 4000);
    }

    #[test]
    fn arguments_are_bounded() {
        let ok = plan("--to 10.0.0.2:5005 --flows 20000 --rate 100000 --seconds 10")
            .expect("a valid plan");
        assert_eq!((ok.flows, ok.size, ok.seconds), (20_000, 18, 10));
        assert_eq!(ok.hold, Duration::ZERO);
        assert_eq!(ok.pacer.total, 1_000_000);
        let held = plan("--to [::1]:9 --flows 1 --rate 1 --seconds 1 --size 1472 --hold-seconds 3")
            .expect("a valid plan");
        assert_eq!((held.size, held.hold), (1472, Duration::from_secs(3)));
        for bad in [
            "--to 10.0.0.2:5005 --flows 0 --rate 1 --seconds 1".to_owned(),
            format!(
                "--to 10.0.0.2:5005 --flows {} --rate 1 --seconds 1",
                MAX_FLOWS + 1
            ),
            format!(
                "--to 10.0.0.2:5005 --flows 1 --rate {} --seconds 1",
                MAX_RATE + 1
            ),
            "--to 10.0.0.2:5005 --flows 1 --rate 1 --seconds 121".to_owned(),
            "--to 10.0.0.2:5005 --flows 1 --rate 1 --seconds 1 --size 1473".to_owned(),
            "--to 10.0.0.2 --flows 1 --rate 1 --seconds 1".to_owned(),
            "--to 10.0.0.2:5005 --rate 1 --seconds 1".to_owned(),
            "--to 10.0.0.2:5005 --flows 1 --rate 1 --seconds 1 --ports 17".to_owned(),
            "--to 10.0.0.2:65535 --flows 1 --rate 1 --seconds 1 --ports 2".to_owned(),
        ] {
            assert!(plan(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn flows_are_distinct_socket_and_port_pairs() {
        let one = plan("--to 10.0.0.2:5005 --flows 5 --rate 1 --seconds 1").expect("a plan");
        assert_eq!((one.sockets, one.ports), (5, 1));
        assert_eq!(one.flow(3), (3, "10.0.0.2:5005".parse().expect("addr")));
        let two =
            plan("--to 10.0.0.2:5005 --flows 5 --rate 1 --seconds 1 --ports 2").expect("a plan");
        assert_eq!(two.sockets, 3);
        let flows: Vec<_> = (0..5).map(|i| two.flow(i)).collect();
        assert_eq!(flows[0], (0, "10.0.0.2:5005".parse().expect("addr")));
        assert_eq!(flows[4], (1, "10.0.0.2:5006".parse().expect("addr")));
        assert_eq!(flows.iter().collect::<HashSet<_>>().len(), 5);
        assert!(flows.iter().all(|(s, _)| *s < 3));
    }
}
