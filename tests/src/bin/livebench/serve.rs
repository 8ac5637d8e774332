//! Phase "serve" (issue 12): `netop serve`'s own bars, measured on the
//! live service.
//!
//! `netop serve` runs on the root-side veth of the bench host, its history
//! in a scratch directory, listening on a loopback port.
//!
//! 1. Idle: nothing on the veth and no client; its CPU over a window that
//!    starts two seconds after it answered `/healthz` (the bar:
//!    under 1 % of a core).
//! 2. 1,000 live processes: `trafficgen held-procs` forks N children, each
//!    with its own name (`held-NNNN`) sending one datagram a second into
//!    the test host. Once a whole minute has passed with all of them, the
//!    test times 100 GETs of `/metrics` in the text format and 20 in
//!    OpenMetrics (the bar: under 10 ms), and reads how long each minute's
//!    history write took from serve's own debug line (`history minute
//!    written`, the bar: under 50 ms) and checks `netop history` lists the
//!    processes. Its CPU and memory with them running are reported too.
//!
//! Figures are reported, never asserted; on a machine shared with other
//! work they are upper bounds.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::child::Proc;
use netop_e2e::scratch::ScratchDir;
use netop_e2e::service::{free_port, get};
use netop_e2e::Netns;

use crate::memory::{self, Memory};
use crate::monitor::{cpu_time, CpuTime, Tool};
use crate::report::thousands;

const SINK_PORT: u16 = 5006;
/// Settling after `/healthz` answered, before the idle window.
const SETTLE: Duration = Duration::from_secs(2);
const TEXT_GETS: usize = 100;
const OPENMETRICS_GETS: usize = 20;
const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";
/// serve's debug line after each history write.
const WRITTEN: &str = "history minute written";

#[derive(Debug, Clone)]
pub struct ServeRun {
    pub idle_window: Duration,
    pub idle_cpu: CpuTime,
    pub processes: u64,
    /// Processes `netop history` listed for the last minutes.
    pub in_history: usize,
    pub text: Vec<Duration>,
    pub text_bytes: usize,
    pub openmetrics: Vec<Duration>,
    /// (rows, milliseconds) of each history write while they ran.
    pub writes: Vec<(u64, f64)>,
    pub busy_window: Duration,
    pub busy_cpu: CpuTime,
    pub idle_memory: Memory,
    pub busy_memory: Memory,
}

/// `netop serve` started for the phase.
struct Service {
    proc: Proc,
    addr: SocketAddr,
}

fn start(bin: &Path, host: &Netns, db: &Path) -> anyhow::Result<Service> {
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--interface", &host.host_if, "--listen"])
        .arg(addr.to_string())
        .arg("--history")
        .arg(db)
        .env("RUST_LOG", "warn,netop::serve=debug");
    let mut proc = Proc::spawn("netop serve", cmd)?;
    proc.wait_capturing(Duration::from_secs(20))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(get(addr, "/healthz", &[]), Ok((200, _))) {
        if Instant::now() > deadline {
            bail!("netop serve never answered /healthz:\n{}", proc.describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Service { proc, addr })
}

/// Times `count` GETs of `/metrics` with `headers`; also the body's size.
fn time_gets(
    addr: SocketAddr,
    count: usize,
    headers: &[(&str, &str)],
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(count);
    let mut size = 0;
    for _ in 0..count {
        let asked = Instant::now();
        let (status, body) = get(addr, "/metrics", headers)?;
        times.push(asked.elapsed());
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        size = body.len();
        std::thread::sleep(Duration::from_millis(50));
    }
    times.sort();
    Ok((times, size))
}

/// `(rows, ms)` of every history write serve has logged so far.
fn writes(stderr: &str) -> Vec<(u64, f64)> {
    let field = |line: &str, name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    };
    stderr
        .lines()
        .filter(|l| l.contains(WRITTEN))
        .filter_map(|l| Some((field(l, "rows")? as u64, field(l, "ms")?)))
        .collect()
}

pub fn run(
    host: &Netns,
    trafficgen: &Path,
    netop: &Tool,
    processes: u64,
    idle_seconds: u64,
) -> anyhow::Result<ServeRun> {
    eprintln!(
        "livebench: serve, idle for {idle_seconds} s, then {} live processes",
        thousands(processes)
    );
    let bin = netop
        .bin
        .as_ref()
        .map_err(|why| anyhow::anyhow!("netop: {why}"))?;
    let scratch = ScratchDir::new("bench-serve")?;
    let db = scratch.path().join("history/netop.db");
    let mut service = start(bin, host, &db)?;
    let pid = service.proc.pid();

    std::thread::sleep(SETTLE);
    let before = cpu_time(pid)?;
    let idle_start = Instant::now();
    std::thread::sleep(Duration::from_secs(idle_seconds));
    let idle_cpu = cpu_time(pid)?.since(&before);
    let idle_window = idle_start.elapsed();
    let idle_memory = Memory::of(pid)?;

    let to = format!("{}:{SINK_PORT}", host.ns_addr);
    let seconds = 240u64;
    let mut sink = Proc::spawn("trafficgen udp-sink", {
        let mut c = host.command(trafficgen);
        c.args(["udp-sink", "--listen", &to, "--seconds", "300"]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut held = Proc::spawn("trafficgen held-procs", {
        let mut c = Command::new(trafficgen);
        c.args(["held-procs", "--to", &to, "--count", &processes.to_string()])
            .args(["--seconds", &seconds.to_string(), "--interval-ms", "1000"]);
        c
    })?;
    held.expect_line("ready", Duration::from_secs(10))?;
    held.send_line("go")?;
    held.expect_line("running", Duration::from_secs(60))?;
    // Every process found and one whole minute with all of them written:
    // wait past the second minute boundary from now.
    let now = unix_now();
    let boundary = now - now % 60 + 120;
    while unix_now() < boundary + 3 {
        std::thread::sleep(Duration::from_millis(500));
        if held.try_exit()?.is_some() {
            bail!("held-procs ended early:\n{}", held.describe());
        }
    }
    let busy_before = cpu_time(pid)?;
    let busy_start = Instant::now();
    let (text, text_bytes) = time_gets(service.addr, TEXT_GETS, &[])?;
    let (openmetrics, _) = time_gets(service.addr, OPENMETRICS_GETS, &[("Accept", OPENMETRICS)])?;
    std::thread::sleep(Duration::from_secs(10));
    let busy_cpu = cpu_time(pid)?.since(&busy_before);
    let busy_window = busy_start.elapsed();
    let busy_memory = Memory::of(pid)?;

    let out = Command::new(bin)
        .args(["history", "--since", "3m", "--format", "tsv", "--history"])
        .arg(&db)
        .output()
        .context("netop history")?;
    let listed = String::from_utf8_lossy(&out.stdout);
    let in_history = listed.lines().filter(|l| l.starts_with("held-")).count();

    service.proc.signal(nix::sys::signal::Signal::SIGTERM)?;
    let status = service.proc.wait_exit(Duration::from_secs(20))?;
    if !status.success() {
        bail!(
            "netop serve exited with {status}:\n{}",
            service.proc.describe()
        );
    }
    let writes = writes(&service.proc.stderr());
    drop(held);
    drop(sink);
    Ok(ServeRun {
        idle_window,
        idle_cpu,
        processes,
        in_history,
        text,
        text_bytes,
        openmetrics,
        writes,
        busy_window,
        busy_cpu,
        idle_memory,
        busy_memory,
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The value at fraction `q` of sorted `times`.
fn quantile(times: &[Duration], q: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let i = ((times.len() - 1) as f64 * q).round() as usize;
    times[i.min(times.len() - 1)]
}

pub fn markdown(run: &anyhow::Result<ServeRun>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#### `netop serve` (issue 12)\n");
    let r = match run {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "Failed: {e:#}\n");
            return out;
        }
    };
    let _ = writeln!(
        out,
        "`netop serve` on the root-side veth (history in a scratch directory). Idle: no \
         traffic, no client, {:.0} s. Then `trafficgen held-procs`: {} live processes, each \
         its own name, one 64-byte datagram a second each; measured after a whole minute \
         with all of them (`netop history` listed {} of them for the last 3 minutes). \
         `/metrics` over HTTP/1.0 on loopback, connection set-up included, the default \
         `--metrics-top 50` ({} bytes of text).\n",
        r.idle_window.as_secs_f64(),
        thousands(r.processes),
        thousands(r.in_history as u64),
        thousands(r.text_bytes as u64),
    );
    let _ = writeln!(out, "| what | figure | bar |");
    let _ = writeln!(out, "| --- | --- | --- |");
    let _ = writeln!(
        out,
        "| idle CPU | {:.2} % of a core ({:.0} ms in {:.0} s) | < 1 % |",
        r.idle_cpu.percent_of(r.idle_window),
        r.idle_cpu.total().as_secs_f64() * 1000.0,
        r.idle_window.as_secs_f64()
    );
    for (name, times) in [
        ("`/metrics`, text", &r.text),
        ("`/metrics`, OpenMetrics", &r.openmetrics),
    ] {
        let _ = writeln!(
            out,
            "| {name}, {} GETs | median {}, p90 {}, max {} | < 10 ms |",
            times.len(),
            ms(quantile(times, 0.5)),
            ms(quantile(times, 0.9)),
            ms(quantile(times, 1.0)),
        );
    }
    let busy: Vec<&(u64, f64)> = r
        .writes
        .iter()
        .filter(|(rows, _)| *rows >= r.processes)
        .collect();
    let list = |w: &[&(u64, f64)]| {
        w.iter()
            .map(|(rows, ms)| format!("{ms:.1} ms ({} rows)", thousands(*rows)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "| history write, a minute with every process | {} | < 50 ms |",
        if busy.is_empty() {
            "none logged".to_string()
        } else {
            list(&busy)
        }
    );
    let _ = writeln!(
        out,
        "| CPU with the processes (and the GETs) | {:.1} % of a core over {:.0} s | |",
        r.busy_cpu.percent_of(r.busy_window),
        r.busy_window.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| RSS idle / with the processes | {} / {} | |\n",
        memory::mib(r.idle_memory.rss_kib),
        memory::mib(r.busy_memory.rss_kib)
    );
    let all: Vec<&(u64, f64)> = r.writes.iter().collect();
    let _ = writeln!(out, "Every history write of the run: {}.\n", list(&all));
    out
}

#[cfg(test)]
mod tests {
    use super::writes;

    #[test]
    fn history_writes_are_read_from_serve_s_log() {
        let log =
            "2026-12-02T08:00:00Z DEBUG netop::serve: history minute written rows=1004 ms=12.5\n\
                   2026-12-02T08:01:00Z  WARN netop::serve: something else\n\
                   2026-12-02T08:02:00Z DEBUG netop::serve: history minute written rows=3 ms=0.8\n";
        assert_eq!(writes(log), vec![(1004, 12.5), (3, 0.8)]);
    }
}
