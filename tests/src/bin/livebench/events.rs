//! Phase "event source": what the eBPF event source costs and what it
//! saves, on two workloads from the root namespace into the test host:
//!
//! - churn: `trafficgen short-conns` (N connections of 1,000 bytes each,
//!   one after the other, a new socket every few packets), where polling
//!   pays an exact sock_diag lookup and a `/proc` owner search per new
//!   connection and the events answer from the cache;
//! - blast: the max-rate UDP blast of one socket (every packet a send),
//!   where the programs run per packet in the sender and save nothing.
//!
//! Each runs with no monitor, netop (events), netop `--no-events`, and, on
//! churn, nethogs and bandwhich, each alone. netop's CPU comes from
//! `/proc/PID/stat`; the eBPF programs run in the senders' and receivers'
//! context, so their time is read separately from the kernel's own
//! statistics (`kernel.bpf_stats_enabled`, `run_time_ns` and `run_cnt` in
//! the fdinfo of netop's program fds), and added to netop's for the
//! comparison.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use netop_e2e::child::{Done, Proc};
use netop_e2e::{Counts, Netns, NetopOptions};

use crate::monitor::{self, CpuTime, Kind, Running, Tool};
use crate::report::{per_packet, thousands};

/// After the monitor captures: its first socket scan.
const SETTLE: Duration = Duration::from_secs(1);
/// Window end after the workload's `done`.
const TAIL: Duration = Duration::from_millis(500);
const SINK_PORT: u16 = 5002;
const CHURN_PORT_BASE: u16 = 41_000;

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Churn { conns: u64 },
    Blast { seconds: u64 },
}

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::Churn { conns } => {
                format!("churn ({} short TCP connections)", thousands(conns))
            }
            Workload::Blast { seconds } => format!("blast (one UDP socket, {seconds} s unpaced)"),
        }
    }
}

/// One monitor on one workload.
#[derive(Debug, Clone)]
pub struct EventsRun {
    pub workload: Workload,
    pub label: String,
    pub cpu: Option<CpuTime>,
    /// Time and runs of netop's eBPF programs over the window.
    pub bpf: Option<(Duration, u64)>,
    pub window: Counts,
    /// Connections or datagrams per second the workload reached.
    pub rate: f64,
    pub error: Option<String>,
}

/// A run's label and its monitor with netop's extra flags (`None`: no
/// monitor).
type Config<'t> = (String, Option<(&'t Tool, Vec<String>)>);

/// Runs every configuration on both workloads.
pub fn run(
    host: &Netns,
    trafficgen: &Path,
    tools: &[Tool],
    conns: u64,
    seconds: u64,
) -> anyhow::Result<Vec<EventsRun>> {
    let stats = BpfStats::enable();
    let mut runs = Vec::new();
    for workload in [Workload::Churn { conns }, Workload::Blast { seconds }] {
        let mut configs: Vec<Config> = vec![
            ("no capture".into(), None),
            ("netop (events)".into(), Some((&tools[0], vec![]))),
            (
                "netop --no-events".into(),
                Some((&tools[0], vec!["--no-events".to_string()])),
            ),
        ];
        if matches!(workload, Workload::Churn { .. }) {
            for peer in tools
                .iter()
                .filter(|t| t.kind != Kind::Netop && t.bin.is_ok())
            {
                configs.push((peer.kind.name().to_string(), Some((peer, vec![]))));
            }
        }
        for (label, monitor) in configs {
            eprintln!("livebench: event source, {}: {label}", workload.name());
            runs.push(one(host, trafficgen, workload, &label, monitor)?);
        }
    }
    drop(stats);
    Ok(runs)
}

fn one(
    host: &Netns,
    trafficgen: &Path,
    workload: Workload,
    label: &str,
    monitor: Option<(&Tool, Vec<String>)>,
) -> anyhow::Result<EventsRun> {
    let iface = host.host_if.as_str();
    let (mut client, _server) = start_workload(host, trafficgen, workload)?;
    let mut running = None;
    let mut error = None;
    if let Some((tool, extra)) = monitor {
        let options = NetopOptions {
            duration_secs: 300,
            interface: Some(iface.to_owned()),
            bpf_buffer: None,
            extra,
        };
        let args = monitor::command_line(tool.kind, iface, &options);
        match Running::start(tool, &args).and_then(|mut r| r.wait_capturing().map(|()| r)) {
            Ok(r) => running = Some(r),
            Err(e) => error = Some(format!("{e:#}").lines().next().unwrap_or("").to_owned()),
        }
    }
    std::thread::sleep(SETTLE);
    let start = Counts::of_interface(iface)?;
    let cpu_start = running.as_ref().map(Running::cpu).transpose()?;
    let bpf_start = running.as_ref().and_then(|r| bpf_time(r.pid()));
    let opened = Instant::now();
    client.send_line("go")?;
    let line = client.expect_line("done", Duration::from_secs(120))?;
    let done = Done::parse(&line)?;
    std::thread::sleep(TAIL);
    let cpu_end = running.as_ref().map(Running::cpu).transpose()?;
    let bpf_end = running.as_ref().and_then(|r| bpf_time(r.pid()));
    let window = Counts::of_interface(iface)?.since(&start);
    let _wall = opened.elapsed();
    client.wait_exit(Duration::from_secs(10))?;
    if let Some(r) = running {
        if let Err(e) = r.stop(None) {
            error = Some(format!("{e:#}").lines().next().unwrap_or("").to_owned());
        }
    }
    let rate = match workload {
        Workload::Churn { .. } => {
            done.get("conns") as f64 * 1000.0 / done.get("elapsed_ms").max(1) as f64
        }
        Workload::Blast { .. } => {
            done.get("datagrams") as f64 * 1e6 / done.get("elapsed_us").max(1) as f64
        }
    };
    let bpf = match (bpf_start, bpf_end) {
        (Some((t0, n0)), Some((t1, n1))) => Some((t1.saturating_sub(t0), n1.saturating_sub(n0))),
        _ => None,
    };
    Ok(EventsRun {
        workload,
        label: label.to_owned(),
        cpu: cpu_start.zip(cpu_end).map(|(a, b)| b.since(&a)),
        bpf,
        window,
        rate,
        error,
    })
}

/// The client (waiting for `go`) and, for churn, its sink in the host.
fn start_workload(
    host: &Netns,
    trafficgen: &Path,
    workload: Workload,
) -> anyhow::Result<(Proc, Option<Proc>)> {
    let mut client = Command::new(trafficgen);
    let server = match workload {
        Workload::Churn { conns } => {
            let to = format!("{}:{SINK_PORT}", host.ns_addr);
            let mut sink = host.command(trafficgen);
            sink.args(["sink", "--listen", &to, "--seconds", "120"])
                .args(["--conns", &conns.to_string()]);
            let mut sink = Proc::spawn("trafficgen sink", sink)?;
            sink.expect_line("ready", Duration::from_secs(10))?;
            client.args(["short-conns", "--to", &to, "--count", &conns.to_string()]);
            client.args(["--bind-port-base", &CHURN_PORT_BASE.to_string()]);
            client.args(["--bytes", "1000", "--hold-ms", "1"]);
            Some(sink)
        }
        Workload::Blast { seconds } => {
            client.args(["udp-blast", "--to", &format!("{}:9", host.ns_addr)]);
            client.args(["--bind-port", "40001", "--size", "18"]);
            client.args(["--seconds", &seconds.to_string()]);
            None
        }
    };
    let mut client = Proc::spawn("trafficgen (event source)", client)?;
    client
        .expect_line("ready", Duration::from_secs(10))
        .context("starting the workload")?;
    Ok((client, server))
}

/// Turns on the kernel's eBPF run-time statistics while it lives.
struct BpfStats {
    before: Option<String>,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    fn enable() -> Self {
        let before = std::fs::read_to_string(BPF_STATS).ok();
        if let Err(e) = std::fs::write(BPF_STATS, "1") {
            eprintln!("livebench: cannot enable {BPF_STATS}: {e}");
        }
        Self { before }
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            let _ = std::fs::write(BPF_STATS, before.trim());
        }
    }
}

/// Total run time and runs of the eBPF programs `pid` holds.
fn bpf_time(pid: u32) -> Option<(Duration, u64)> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let (mut ns, mut count, mut progs) = (0u64, 0u64, 0);
    for fd in fds.flatten() {
        let is_prog = std::fs::read_link(fd.path())
            .is_ok_and(|t| t.to_string_lossy() == "anon_inode:bpf-prog");
        if !is_prog {
            continue;
        }
        let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
        let Ok(text) = std::fs::read_to_string(info) else {
            continue;
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        ns += field("run_time_ns:");
        count += field("run_cnt:");
        progs += 1;
    }
    (progs > 0).then(|| (Duration::from_nanos(ns), count))
}

/// The phase's markdown section.
pub fn markdown(runs: &[EventsRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Event source: cost and savings");
    let mut last = None;
    for r in runs {
        if last != Some(r.workload) {
            let _ = writeln!(out, "\n{}\n", r.workload.name());
            let _ = writeln!(
                out,
                "| monitor | packets | workload rate /s | monitor CPU ms | eBPF ms (runs) | CPU + eBPF ns/packet |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
            last = Some(r.workload);
        }
        let packets = r.window.rx_packets + r.window.tx_packets;
        let cpu = r.cpu.map_or("-".to_owned(), |c| {
            format!("{:.1}", c.total().as_secs_f64() * 1e3)
        });
        let bpf = r.bpf.map_or("-".to_owned(), |(t, n)| {
            format!("{:.1} ({})", t.as_secs_f64() * 1e3, thousands(n))
        });
        let total = r.cpu.map(|c| {
            let bpf = r.bpf.map_or(Duration::ZERO, |(t, _)| t);
            CpuTime {
                user: c.user,
                system: c.system + bpf,
            }
        });
        let per = total.map_or("-".to_owned(), |c| {
            format!("{:.0}", per_packet(c, r.window))
        });
        let label = match &r.error {
            Some(e) => format!("{} ({e})", r.label),
            None => r.label.clone(),
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {cpu} | {bpf} | {per} |",
            thousands(packets),
            thousands(r.rate as u64)
        );
    }
    out
}
