//! netop on all interfaces and on each interface of a path at once, over
//! one workload: the check that a packet crossing several interfaces of
//! the host is credited once (issue 18).
//!
//! [`Everywhere::start`] starts one netop on `any` and one per interface
//! (each logging its per-interface totals, `RUST_LOG=netop::interfaces=info`)
//! and reads the interfaces' kernel counters. After the workload,
//! [`Everywhere::quiet`] waits for the interfaces to fall silent; then the
//! caller stops its truth captures, and [`Everywhere::check`] compares every
//! run: each expected PID within its tolerance (so no byte counted twice),
//! each interface's totals equal to its kernel counters, and on a single
//! interface all rows together equal to that interface's counters.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::compare::{compare, Expectation, Report};
use crate::counters::{wait_quiet, Counts};
use crate::netop::{interface_totals, NetopOptions, NetopRun, UsageRow};

const LOG: &str = "netop::interfaces=info";
const MAX_UNKNOWN_PERCENT: f64 = 0.5;
/// netop's sums against the kernel's counters of an interface (a bridge
/// device's rx counter leaves out the Ethernet header: 14 B a frame).
const MAX_TOTAL_PERCENT: f64 = 0.5;

/// The netop runs, and the kernel's counters before them.
#[derive(Debug)]
pub struct Everywhere {
    path: Vec<String>,
    before: Vec<Counts>,
    runs: Vec<(Option<String>, NetopRun)>,
    finished: Option<Instant>,
}

impl Everywhere {
    /// netop on `any`, then on each interface of `path`, each for `seconds`.
    pub fn start(path: &[String], seconds: u64) -> anyhow::Result<Self> {
        Self::start_with(path, seconds, false)
    }

    /// [`Everywhere::start`] with every netop blind to the test hosts'
    /// sockets ([`NetopRun::start_blind`]): a router's netop, for which
    /// they are other machines.
    pub fn start_blind(path: &[String], seconds: u64) -> anyhow::Result<Self> {
        Self::start_with(path, seconds, true)
    }

    fn start_with(path: &[String], seconds: u64, blind: bool) -> anyhow::Result<Self> {
        let before = path
            .iter()
            .map(|i| Counts::of_interface(i))
            .collect::<anyhow::Result<_>>()?;
        let mut runs = Vec::new();
        for iface in std::iter::once(None).chain(path.iter().cloned().map(Some)) {
            let options = NetopOptions {
                duration_secs: seconds,
                interface: iface.clone(),
                bpf_buffer: None,
                extra: Vec::new(),
            };
            let mut netop = if blind {
                NetopRun::start_blind(options, Some(LOG))?
            } else {
                NetopRun::start_logging(options, Some(LOG))?
            };
            netop.wait_capturing(Duration::from_secs(10))?;
            runs.push((iface, netop));
        }
        Ok(Everywhere {
            path: path.to_vec(),
            before,
            runs,
            finished: None,
        })
    }

    /// Marks the workload's end and waits until the path is silent.
    pub fn quiet(&mut self) -> anyhow::Result<()> {
        self.finished = Some(Instant::now());
        for iface in &self.path {
            wait_quiet(iface, Duration::from_millis(150), Duration::from_secs(5))?;
        }
        Ok(())
    }

    /// Ends every run and checks it; `expected(None)` is what the `any`
    /// run must show, `expected(Some(iface))` a single interface's.
    pub fn check(self, expected: impl Fn(Option<&str>) -> Vec<Expectation>) -> anyhow::Result<()> {
        self.check_with(|iface, _, rows| compare(&expected(iface), rows, MAX_UNKNOWN_PERCENT))
    }

    /// [`Everywhere::check`] with the attribution judged by `judge` (the
    /// interface name or `None` for `any`, netop's JSON, its rows); the
    /// interface totals are checked the same way.
    pub fn check_with(
        self,
        judge: impl Fn(Option<&str>, &serde_json::Value, &[UsageRow]) -> Report,
    ) -> anyhow::Result<()> {
        let kernel: Vec<Counts> = self
            .path
            .iter()
            .zip(&self.before)
            .map(|(i, b)| Counts::of_interface(i).map(|now| now.since(b)))
            .collect::<anyhow::Result<_>>()?;
        let finished = self.finished.context("quiet() was not called")?;
        let mut failures = Vec::new();
        for (iface, netop) in self.runs {
            if finished > netop.window_end() {
                bail!("harness timing: the workload ended after netop's window; run netop longer");
            }
            let name = iface.clone().unwrap_or_else(|| "any".to_string());
            let (json, stderr) = netop
                .finish_json_with_stderr(Duration::from_secs(10))
                .with_context(|| format!("netop on {name}"))?;
            let rows = UsageRow::from_json(&json)?;
            // A short capture (the kernel's drops) says so on stderr.
            for line in stderr.lines().filter(|l| l.contains("dropped")) {
                println!("netop on {name}: {line}");
            }
            let report = judge(iface.as_deref(), &json, &rows);
            println!("netop on {name}:\n{report}");
            if !report.is_ok() {
                failures.push(format!("netop on {name}: attribution is off:\n{report}"));
            }
            let logged = interface_totals(&stderr)?;
            for (path_if, kernel) in self.path.iter().zip(&kernel) {
                if iface.as_ref().is_some_and(|i| i != path_if) {
                    continue;
                }
                let seen = logged
                    .iter()
                    .find(|(n, _)| n == path_if)
                    .map_or_else(Counts::default, |(_, c)| *c);
                let off = percent_apart(seen.total_bytes(), kernel.total_bytes());
                println!("  {path_if}: netop {seen} / kernel {kernel} ({off:.3} % apart)");
                if off > MAX_TOTAL_PERCENT {
                    failures.push(format!(
                        "netop on {name}: interface {path_if} {seen} vs kernel {kernel} ({off:.3} % apart)"
                    ));
                }
                if iface.is_some() {
                    // One interface: processes plus unknown are its counters.
                    let sum: u64 = rows.iter().map(|r| r.rx_bytes + r.tx_bytes).sum();
                    let off = percent_apart(sum, kernel.total_bytes());
                    println!(
                        "  rows {sum} B vs kernel {} B ({off:.3} % apart)",
                        kernel.total_bytes()
                    );
                    if off > MAX_TOTAL_PERCENT {
                        failures.push(format!(
                            "netop on {name}: rows add up to {sum} B, the kernel counted {kernel} ({off:.3} % apart)"
                        ));
                    }
                }
            }
        }
        if !failures.is_empty() {
            bail!("{}", failures.join("\n"));
        }
        Ok(())
    }
}

fn percent_apart(a: u64, b: u64) -> f64 {
    100.0 * a.abs_diff(b) as f64 / b.max(1) as f64
}
