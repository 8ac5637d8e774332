//! One measured scenario: trafficgen servers inside a test host, clients in
//! the root namespace, the truth capture around them and netop over them.
//!
//! Order of a run: kernel counters, truth capture, netop (until its capture
//! is open), `go` to every client, all `done`, the veth quiet, truth stopped,
//! kernel counters again, netop's snapshot. The workload must end inside
//! netop's window; a run where it doesn't is a harness error, not a result.

use std::ffi::OsStr;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::child::{Done, Proc};
use crate::compare::{compare, Expectation, Report, Tolerance};
use crate::counters::{self, Counts};
use crate::netns::Netns;
use crate::netop::{NetopOptions, NetopRun, UsageRow};
use crate::truth::{Transport, Truth, TruthCapture};

/// Longest any workload may take from `go` to the last `done`.
const WORKLOAD_LIMIT: Duration = Duration::from_secs(40);
/// Quiet time on the veth that marks the end of a workload's packets.
const QUIET: Duration = Duration::from_millis(150);
/// How long before netop's window closes the workload must have finished.
const WINDOW_MARGIN: Duration = Duration::from_millis(500);
/// How long netop may take past its window to print and exit.
const NETOP_GRACE: Duration = Duration::from_secs(10);
/// Unattributed traffic allowed, as a share of all bytes netop reported.
pub const MAX_UNKNOWN_PERCENT: f64 = 0.5;

#[derive(Debug)]
struct Client {
    label: String,
    transport: Transport,
    ports: Vec<u16>,
    tolerance: Tolerance,
    proc: Proc,
}

/// A workload being set up on one test host.
#[derive(Debug)]
pub struct Scenario<'a> {
    host: &'a Netns,
    trafficgen: PathBuf,
    servers: Vec<Proc>,
    clients: Vec<Client>,
    /// Where clients run: the root namespace, or this other test host.
    client_ns: Option<&'a Netns>,
    /// The interface the truth and the kernel counters are read on, when
    /// not the test host's veth.
    watch: Option<Watch>,
}

/// A root-side interface to take the truth on, and the address whose ports
/// the clients use there.
#[derive(Debug, Clone)]
pub struct Watch {
    pub iface: String,
    /// The clients' address as the packets on `iface` carry it.
    pub local_ip: std::net::Ipv4Addr,
    /// The MAC of `iface` itself (its frames are the kernel's tx).
    pub iface_mac: String,
}

impl<'a> Scenario<'a> {
    /// `trafficgen` is the workload binary (`env!("CARGO_BIN_EXE_trafficgen")`).
    pub fn new(host: &'a Netns, trafficgen: impl Into<PathBuf>) -> Self {
        Self {
            host,
            trafficgen: trafficgen.into(),
            servers: Vec::new(),
            clients: Vec::new(),
            client_ns: None,
            watch: None,
        }
    }

    /// Clients run inside `ns` instead of the root namespace (a container's
    /// process; its traffic is routed through the host).
    pub fn clients_in(mut self, ns: &'a Netns) -> Self {
        self.client_ns = Some(ns);
        self
    }

    /// Takes the truth and the kernel counters on another interface.
    pub fn watch(mut self, watch: Watch) -> Self {
        self.watch = Some(watch);
        self
    }

    /// Starts `trafficgen ARGS` inside the test host and waits for `ready`.
    pub fn server<S: AsRef<OsStr>>(
        &mut self,
        label: &str,
        args: impl IntoIterator<Item = S>,
    ) -> anyhow::Result<()> {
        let mut cmd = self.host.command(&self.trafficgen);
        cmd.args(args);
        let mut proc = Proc::spawn(label, cmd)?;
        proc.expect_line("ready", Duration::from_secs(10))?;
        self.servers.push(proc);
        Ok(())
    }

    /// Starts `trafficgen ARGS` in the root namespace and waits for `ready`.
    /// Its truth is the traffic on local `ports`; it starts on `go`.
    pub fn client<S: AsRef<OsStr>>(
        &mut self,
        label: &str,
        transport: Transport,
        ports: impl IntoIterator<Item = u16>,
        tolerance: Tolerance,
        args: impl IntoIterator<Item = S>,
    ) -> anyhow::Result<()> {
        let mut cmd = match self.client_ns {
            Some(ns) => ns.command(&self.trafficgen),
            None => std::process::Command::new(&self.trafficgen),
        };
        cmd.args(args);
        let mut proc = Proc::spawn(label, cmd)?;
        proc.expect_line("ready", Duration::from_secs(10))?;
        self.clients.push(Client {
            label: label.to_owned(),
            transport,
            ports: ports.into_iter().collect(),
            tolerance,
            proc,
        });
        Ok(())
    }

    /// Each client's label and pid (started, waiting for `go`): a test
    /// that measures them itself, as the library's does, watches them now.
    pub fn client_pids(&self) -> Vec<(String, u32)> {
        self.clients
            .iter()
            .map(|c| (c.label.clone(), c.proc.pid()))
            .collect()
    }

    /// Runs the workload under the truth capture, and under netop if given.
    pub fn run(self, netop: Option<NetopOptions>) -> anyhow::Result<Outcome> {
        self.run_logging(netop, None)
    }

    /// [`Scenario::run`] with netop's `RUST_LOG` set to `log` (its lines
    /// are in [`Outcome::netop_stderr`]).
    pub fn run_logging(
        mut self,
        netop: Option<NetopOptions>,
        log: Option<&str>,
    ) -> anyhow::Result<Outcome> {
        let watch = self.watch.clone().unwrap_or_else(|| Watch {
            iface: self.host.host_if.clone(),
            local_ip: self.host.host_addr,
            iface_mac: self.host.host_mac.clone(),
        });
        let iface = watch.iface.as_str();
        let before = Counts::of_interface(iface)?;
        let capture = TruthCapture::start(iface, watch.local_ip, &watch.iface_mac)?;
        let mut netop = netop
            .map(|options| NetopRun::start_logging(options, log))
            .transpose()?;
        if let Some(run) = netop.as_mut() {
            run.wait_capturing(Duration::from_secs(10))?;
        }

        let go = Instant::now();
        for client in &mut self.clients {
            client.proc.send_line("go")?;
        }
        let deadline = go + WORKLOAD_LIMIT;
        let mut done = Vec::new();
        for proc in self
            .clients
            .iter_mut()
            .map(|c| &mut c.proc)
            .chain(&mut self.servers)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = proc.expect_line("done", left)?;
            let status = proc.wait_exit(Duration::from_secs(5))?;
            if !status.success() {
                bail!("{} failed ({status}):\n{}", proc.name(), proc.describe());
            }
            done.push((proc.name().to_owned(), Done::parse(&line)?));
        }
        let finished = Instant::now();
        counters::wait_quiet(iface, QUIET, Duration::from_secs(5))?;
        let truth = capture.stop()?;
        let kernel = Counts::of_interface(iface)?.since(&before);

        let mut netop_stderr = String::new();
        let rows = match netop {
            Some(run) => {
                if finished + WINDOW_MARGIN > run.window_end() {
                    bail!(
                        "harness timing: the workload ended {:?} after `go`, too close to the end of netop's window; lengthen --duration or shorten the workload",
                        finished - go
                    );
                }
                let (rows, stderr) = run.finish_with_stderr(NETOP_GRACE)?;
                netop_stderr = stderr;
                Some(rows)
            }
            None => None,
        };
        let expectations = self
            .clients
            .iter()
            .map(|c| Expectation {
                label: c.label.clone(),
                pid: c.proc.pid(),
                truth: truth.ports(c.transport, c.ports.iter().copied()),
                tolerance: c.tolerance,
            })
            .collect();
        Ok(Outcome {
            host_if: iface.to_owned(),
            truth,
            kernel,
            expectations,
            done,
            workload_time: finished - go,
            rows,
            netop_stderr,
        })
    }
}

/// What one run measured.
#[derive(Debug)]
pub struct Outcome {
    pub host_if: String,
    pub truth: Truth,
    /// The kernel's counters of the root-side veth over the truth window.
    pub kernel: Counts,
    /// Each client's truth, PID and tolerance.
    pub expectations: Vec<Expectation>,
    /// The `done` line of every client and server, by label.
    pub done: Vec<(String, Done)>,
    pub workload_time: Duration,
    /// netop's snapshot, if netop ran.
    pub rows: Option<Vec<UsageRow>>,
    /// What netop wrote on stderr (empty if it did not run).
    pub netop_stderr: String,
}

impl Outcome {
    /// Truth, kernel counters and the processes' own counts, side by side.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "workload took {:?}", self.workload_time);
        let _ = writeln!(s, "kernel {}: {}", self.host_if, self.kernel);
        let _ = writeln!(s, "truth all frames:   {}", self.truth.frames);
        let _ = writeln!(s, "truth all ports:    {}", self.truth.all_ports());
        for exp in &self.expectations {
            let _ = writeln!(
                s,
                "truth {:<12} pid {:>7}: {}",
                exp.label, exp.pid, exp.truth
            );
        }
        for (label, done) in &self.done {
            let _ = writeln!(
                s,
                "app   {label:<12} sent {} B recv {} B",
                done.get("sent"),
                done.get("recv")
            );
        }
        s
    }

    /// The capture must be complete and agree with the kernel's counters to
    /// within `max_packets` small packets per direction, and every client's
    /// truth must hold at least the bytes the client itself moved.
    pub fn check_truth(&self, max_packets: u64) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if self.truth.dropped > 0 {
            problems.push(format!("tcpdump dropped {} packets", self.truth.dropped));
        }
        let (k, t) = (&self.kernel, &self.truth.frames);
        let pairs = [
            ("rx packets", k.rx_packets, t.rx_packets, max_packets),
            ("tx packets", k.tx_packets, t.tx_packets, max_packets),
            ("rx bytes", k.rx_bytes, t.rx_bytes, max_packets * 100),
            ("tx bytes", k.tx_bytes, t.tx_bytes, max_packets * 100),
        ];
        for (what, kernel, truth, slack) in pairs {
            if kernel.abs_diff(truth) > slack {
                problems.push(format!(
                    "{what}: kernel {kernel} vs capture {truth} (slack {slack})"
                ));
            }
        }
        let ports = self.truth.all_ports();
        if ports.total_bytes().abs_diff(t.total_bytes()) > max_packets * 100 {
            problems.push(format!(
                "frames outside the workload: all {t} vs ports {ports}"
            ));
        }
        for exp in &self.expectations {
            let Some((_, done)) = self.done.iter().find(|(label, _)| *label == exp.label) else {
                continue;
            };
            if exp.truth.tx_bytes < done.get("sent") || exp.truth.rx_bytes < done.get("recv") {
                problems.push(format!(
                    "{}: truth {} is less than what it moved (sent {} recv {})",
                    exp.label,
                    exp.truth,
                    done.get("sent"),
                    done.get("recv")
                ));
            }
        }
        if !problems.is_empty() {
            bail!(
                "truth check failed:\n{}\n{}",
                problems.join("\n"),
                self.summary()
            );
        }
        Ok(())
    }

    /// netop's rows together against the kernel's counters of the watched
    /// interface (within `max_percent` of the bytes), and its unknown row
    /// under `max_unknown_percent` of them.
    pub fn check_totals(&self, max_percent: f64, max_unknown_percent: f64) -> anyhow::Result<()> {
        let rows = self.rows.as_ref().context("netop did not run")?;
        let sum: u64 = rows.iter().map(|r| r.rx_bytes + r.tx_bytes).sum();
        let unknown: u64 = rows
            .iter()
            .filter(|r| r.pid.is_none())
            .map(|r| r.rx_bytes + r.tx_bytes)
            .sum();
        let kernel = self.kernel.total_bytes();
        let off = 100.0 * sum.abs_diff(kernel) as f64 / kernel.max(1) as f64;
        let unknown_pct = 100.0 * unknown as f64 / kernel.max(1) as f64;
        println!(
            "totals: netop {sum} B, kernel {kernel} B ({off:.3} % apart); unknown {unknown} B ({unknown_pct:.3} %)"
        );
        if off > max_percent {
            bail!("netop's rows add up to {sum} B, the kernel counted {kernel} B on {}: {off:.3} % apart (allowed {max_percent} %)", self.host_if);
        }
        if unknown_pct > max_unknown_percent {
            bail!("unknown is {unknown_pct:.3} % of the bytes (allowed {max_unknown_percent} %): {rows:?}");
        }
        Ok(())
    }

    /// netop's attribution compared with the truth.
    pub fn report(&self) -> anyhow::Result<Report> {
        let rows = self.rows.as_ref().context("netop did not run")?;
        Ok(compare(&self.expectations, rows, MAX_UNKNOWN_PERCENT))
    }

    /// Checks the truth, then netop; prints the tables either way and fails
    /// with them.
    pub fn verify(&self) -> anyhow::Result<()> {
        self.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
    }

    /// [`Outcome::verify`] with another limit on unattributed traffic, in
    /// percent of all bytes netop reported.
    pub fn verify_with_unknown_limit(&self, max_unknown_percent: f64) -> anyhow::Result<()> {
        self.check_truth(4)?;
        let rows = self.rows.as_ref().context("netop did not run")?;
        let report = compare(&self.expectations, rows, max_unknown_percent);
        println!("{}{report}", self.summary());
        if !report.is_ok() {
            bail!("netop's attribution is off:\n{}{report}", self.summary());
        }
        Ok(())
    }
}
