//! Phase "max rate": one unpaced `trafficgen udp-blast` from the root
//! namespace into the test host, with no monitor, with each monitor alone and
//! with all of them side by side on the same veth.
//!
//! The measurement window opens just before `go` (every monitor already
//! capturing and settled, so startup is excluded) and closes `TAIL` after the
//! blaster's `done` (so packets still queued for a monitor are paid for).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use netop_e2e::child::{Done, Proc};
use netop_e2e::{Counts, Netns};

use crate::monitor::{self, CpuTime, Kind, Running, Seen, Tool};
use netop_e2e::NetopOptions;

/// Datagram payload: 18 bytes make a 60-byte Ethernet frame, the minimum.
pub const PAYLOAD: u64 = 18;
/// The blaster's fixed source port and the (closed) destination port.
const SOURCE_PORT: u16 = 40_000;
const DEST_PORT: u16 = 9;
/// After every monitor captures: their first socket scans and screen setup.
const SETTLE: Duration = Duration::from_secs(1);
/// Window end after the blaster's `done`.
pub const TAIL: Duration = Duration::from_millis(500);
/// After the window, before the monitors stop: nethogs prints its totals
/// once a second, so its last refresh has seen the whole blast.
const LINGER: Duration = Duration::from_millis(1200);

/// One monitor's figures over one window.
#[derive(Debug, Clone)]
pub struct MonitorResult {
    pub kind: Kind,
    pub cpu: CpuTime,
    /// The kernel's counters over the monitor's whole life (for what it saw).
    pub life: Counts,
    pub seen: Seen,
}

/// One blast.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub label: String,
    /// Packets (both directions) on the root-side veth during the window.
    pub window: Counts,
    pub wall: Duration,
    /// Datagrams sent and the blaster's own send time.
    pub datagrams: u64,
    pub send_time: Duration,
    pub monitors: Vec<Result<MonitorResult, String>>,
}

impl RunResult {
    pub fn rate(&self) -> f64 {
        self.datagrams as f64 / self.send_time.as_secs_f64().max(1e-9)
    }

    pub fn netop(&self) -> Option<&MonitorResult> {
        self.monitors
            .iter()
            .flatten()
            .find(|m| m.kind == Kind::Netop)
    }
}

/// What one blast needs.
#[derive(Debug)]
pub struct Bench<'a> {
    pub host: &'a Netns,
    pub trafficgen: &'a Path,
    pub seconds: u64,
}

impl Bench<'_> {
    /// Runs one blast with `monitors` capturing. A monitor that fails to
    /// start is reported in its row; the blast goes on with the others.
    pub fn run(
        &self,
        label: &str,
        monitors: &[&Tool],
        bpf_buffer: Option<u32>,
    ) -> anyhow::Result<RunResult> {
        self.run_with(label, monitors, bpf_buffer, &["--capture", "pcap"])
    }

    /// [`Bench::run`] (netop with `--capture pcap`) with netop given
    /// `extra` flags instead (`--capture kernel`).
    pub fn run_with(
        &self,
        label: &str,
        monitors: &[&Tool],
        bpf_buffer: Option<u32>,
        extra: &[&str],
    ) -> anyhow::Result<RunResult> {
        eprintln!("livebench: {label}");
        let iface = self.host.host_if.as_str();
        let netop = NetopOptions {
            // A bound only: netop is stopped with SIGINT after the window.
            duration_secs: self.seconds + 60,
            interface: Some(iface.to_owned()),
            bpf_buffer,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        let mut blaster = self.blaster()?;
        let life_start = Counts::of_interface(iface)?;
        let mut running: Vec<Result<Running, String>> = Vec::new();
        for tool in monitors {
            let args = monitor::command_line(tool.kind, iface, &netop);
            let started = Running::start(tool, &args).and_then(|mut r| {
                r.wait_capturing()?;
                Ok(r)
            });
            running.push(started.map_err(|e| {
                let e = format!("{e:#}");
                eprintln!("livebench: {} did not start: {e}", tool.kind.name());
                first_line(&e)
            }));
        }
        std::thread::sleep(SETTLE);

        let start = Counts::of_interface(iface)?;
        let cpu_start = cpu_of(&running)?;
        let opened = Instant::now();
        blaster.send_line("go")?;
        let line = blaster.expect_line("done", Duration::from_secs(self.seconds + 15))?;
        let done = Done::parse(&line)?;
        std::thread::sleep(TAIL);
        let cpu_end = cpu_of(&running)?;
        let end = Counts::of_interface(iface)?;
        let wall = opened.elapsed();
        let drops: Vec<Option<u64>> = running
            .iter()
            .map(|r| r.as_ref().ok().and_then(|r| monitor::socket_drops(r.pid())))
            .collect();
        for slot in running.iter_mut() {
            if let Ok(r) = slot {
                if !r.is_running() {
                    let why = format!("{} exited during the window", r.kind.name());
                    eprintln!("livebench: {why}:\n{}", r.describe());
                    *slot = Err(why);
                }
            }
        }
        blaster.wait_exit(Duration::from_secs(5))?;

        std::thread::sleep(LINGER);
        let mut stopped = Vec::new();
        for (r, drops) in running.into_iter().zip(drops) {
            stopped.push(r.map(|r| (r.kind, r.stop(drops))));
        }
        let life = Counts::of_interface(iface)?.since(&life_start);
        let results = stopped
            .into_iter()
            .zip(cpu_start.iter().zip(&cpu_end))
            .map(|(r, (a, b))| {
                let (kind, seen) = r?;
                let seen = seen.map_err(|e| first_line(&format!("{e:#}")))?;
                Ok(MonitorResult {
                    kind,
                    cpu: b.since(a),
                    life,
                    seen,
                })
            })
            .collect();
        Ok(RunResult {
            label: label.to_owned(),
            window: end.since(&start),
            wall,
            datagrams: done.get("datagrams"),
            send_time: Duration::from_micros(done.get("elapsed_us")),
            monitors: results,
        })
    }

    /// The blaster, started and waiting for `go`.
    fn blaster(&self) -> anyhow::Result<Proc> {
        let mut cmd = Command::new(self.trafficgen);
        cmd.args([
            "udp-blast",
            "--to",
            &format!("{}:{DEST_PORT}", self.host.ns_addr),
            "--bind-port",
            &SOURCE_PORT.to_string(),
            "--size",
            &PAYLOAD.to_string(),
            "--seconds",
            &self.seconds.to_string(),
        ]);
        let mut proc = Proc::spawn("trafficgen udp-blast", cmd)?;
        proc.expect_line("ready", Duration::from_secs(10))
            .context("starting the blaster")?;
        Ok(proc)
    }
}

/// CPU time of each running monitor (zero for those that did not start).
fn cpu_of(running: &[Result<Running, String>]) -> anyhow::Result<Vec<CpuTime>> {
    running
        .iter()
        .map(|r| match r {
            Ok(r) => r.cpu(),
            Err(_) => Ok(CpuTime::default()),
        })
        .collect()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}
