//! Phase "idle": 500 loopback TCP connections held open by this process
//! (1,000 sockets), no traffic of ours, and `netop --duration N` on `any`.
//! Its CPU is measured from one second after its start (startup excluded)
//! to one second before its window ends (the final output excluded).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::Counts;

use crate::monitor::{CpuTime, Running, Seen, Tool};
use netop_e2e::NetopOptions;

/// Loopback connections; both ends stay open, so twice as many sockets.
pub const CONNECTIONS: usize = 500;
/// Startup excluded from the measurement.
pub const STARTUP: Duration = Duration::from_secs(1);
/// End of the window, before netop's own deadline.
pub const BEFORE_END: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct IdleResult {
    pub sockets: usize,
    pub duration_secs: u64,
    pub window: Duration,
    pub cpu: CpuTime,
    /// What netop counted over its whole run: other traffic on the machine.
    pub seen: Counts,
    /// Processes started on the machine during the window (other activity).
    pub forks: u64,
}

impl IdleResult {
    pub fn percent(&self) -> f64 {
        self.cpu.percent_of(self.window)
    }
}

pub fn run(netop: &Tool, duration_secs: u64) -> anyhow::Result<IdleResult> {
    eprintln!(
        "livebench: idle, {CONNECTIONS} loopback connections, netop on any for {duration_secs} s"
    );
    let sockets = open_connections(CONNECTIONS)?;
    let setup = NetopOptions {
        duration_secs,
        interface: None,
        bpf_buffer: None,
        extra: Vec::new(),
    };
    let spawned = Instant::now();
    let mut running = Running::start(netop, &setup.args())?;
    running.wait_capturing()?;
    std::thread::sleep(STARTUP.saturating_sub(spawned.elapsed()));
    let cpu_start = running.cpu()?;
    let forks_start = forks()?;
    let opened = Instant::now();
    let close = spawned + Duration::from_secs(duration_secs) - BEFORE_END;
    if close <= opened {
        bail!("netop took until {:?} to start capturing", opened - spawned);
    }
    std::thread::sleep(close - opened);
    let cpu_end = running.cpu()?;
    let window = opened.elapsed();
    let forks = forks()?.saturating_sub(forks_start);
    if !running.is_running() {
        bail!(
            "netop exited before the idle window ended:\n{}",
            running.describe()
        );
    }
    // Let the snapshot end by itself, as `--duration` says.
    running.wait_exit(BEFORE_END + Duration::from_secs(5));
    let Seen::Netop { totals, .. } = running.stop(None)? else {
        bail!("netop's result is not netop's");
    };
    let held = sockets.len();
    drop(sockets);
    Ok(IdleResult {
        sockets: held,
        duration_secs,
        window,
        cpu: cpu_end.since(&cpu_start),
        seen: totals,
        forks,
    })
}

/// Processes created since boot (`processes` in /proc/stat).
fn forks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    stat.lines()
        .find_map(|line| line.strip_prefix("processes ")?.trim().parse().ok())
        .context("no `processes` line in /proc/stat")
}

/// `n` loopback connections, both ends kept: `2 * n` sockets (plus the
/// listener, closed on return).
fn open_connections(n: usize) -> anyhow::Result<Vec<TcpStream>> {
    raise_fd_limit(4 * n as u64)?;
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .context("listening on loopback")?;
    let addr = listener.local_addr()?;
    let mut sockets = Vec::with_capacity(2 * n);
    for i in 0..n {
        let client = TcpStream::connect(addr).with_context(|| format!("connection {i}"))?;
        let (server, _) = listener
            .accept()
            .with_context(|| format!("accepting {i}"))?;
        sockets.extend([client, server]);
    }
    Ok(sockets)
}

/// Raises the soft limit on open files to `want` (at most the hard limit):
/// the usual soft limit of 1024 is too close to 1,000 sockets.
fn raise_fd_limit(want: u64) -> anyhow::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).context("setrlimit")?;
    }
    Ok(())
}
