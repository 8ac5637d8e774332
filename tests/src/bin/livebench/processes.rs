//! Scenario "processes" (issue 10): the monitor's memory after a wave of
//! short-lived processes. A monitor left open on a busy host sees
//! processes come and go for weeks; once they have exited and aged out it
//! must be back where it started (the target: flat within 5 MB).
//!
//! netop's monitor runs in a tmux pane on the root-side veth (its default
//! 60 s before an exited, idle process is forgotten, or `--forget-after S`
//! through the hidden `--forget-exited-after`). `trafficgen proc-wave`
//! runs N short-lived children from the root namespace (100,000 by
//! default, a few at a time), each one TCP upload to a sink in the test
//! host. Memory is read from `/proc/PID/status` (see `memory.rs`): at the
//! start, highest during the wave, at its end, and once the wave has aged
//! out: the test host has no TIME_WAIT socket left (the monitor lists
//! those too), no row of the wave with bytes is on screen, and then the
//! lowest heap reading over 15 s (netop hands freed heap back
//! periodically). Reported, never asserted.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::child::{Done, Proc};
use netop_e2e::Netns;

use crate::memory::{self, Memory};
use crate::monitor::Tool;
use crate::report::thousands;
use netop_e2e::Tmux;

const SINK_PORT: u16 = 5005;
const SESSION: &str = "bench-procs";
/// After the monitor shows its first screen: its first socket scans.
const SETTLE: Duration = Duration::from_secs(2);
/// The kernel keeps TIME_WAIT sockets 60 s.
const TIME_WAIT_LIMIT: Duration = Duration::from_secs(120);
/// Beyond the forgetting delay, for the rows to leave the screen.
const FORGET_MARGIN: Duration = Duration::from_secs(60);
/// The window whose lowest heap reading is the aged-out figure.
const LOWEST_OVER: Duration = Duration::from_secs(15);
/// netop's own forgetting delay when none is given.
const DEFAULT_FORGET: u64 = 60;

#[derive(Debug, Clone)]
pub struct ProcessesRun {
    pub count: u64,
    pub parallel: u64,
    pub forget_after: Option<u64>,
    pub failed: u64,
    pub wave: Duration,
    pub start: Memory,
    /// The highest of each figure sampled once a second during the wave.
    pub during: Memory,
    pub after_wave: Memory,
    /// The aged-out reading and how long after the wave it was taken.
    pub aged: Memory,
    pub aged_after: Duration,
    /// Why the aged-out reading may not be one (rows still on screen).
    pub note: Option<String>,
}

pub fn run(
    host: &Netns,
    trafficgen: &Path,
    netop: &Tool,
    count: u64,
    parallel: u64,
    forget_after: Option<u64>,
) -> anyhow::Result<ProcessesRun> {
    eprintln!(
        "livebench: processes, {} short-lived processes under the monitor",
        thousands(count)
    );
    let bin = netop
        .bin
        .as_ref()
        .map_err(|why| anyhow::anyhow!("netop: {why}"))?;
    let to = format!("{}:{SINK_PORT}", host.ns_addr);
    let mut sink = Proc::spawn("trafficgen sink", {
        let mut c = host.command(trafficgen);
        c.args(["sink", "--listen", &to, "--seconds", "3600"])
            .args(["--conns", &count.to_string()]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut command = format!("NO_COLOR=1 {} --interface {}", bin.display(), host.host_if);
    if let Some(secs) = forget_after {
        let _ = write!(command, " --forget-exited-after {secs}");
    }
    let tmux = Tmux::start(SESSION, &command, (120, 32))?;
    tmux.wait_within("the Process view", Duration::from_secs(30), |s| {
        s.contains("PID") && s.contains("RX Rate")
    })?;
    let pid = tmux.command_pid()?;
    std::thread::sleep(SETTLE);
    let start = Memory::of(pid)?;

    let mut launcher = Proc::spawn("trafficgen proc-wave", {
        let mut c = Command::new(trafficgen);
        c.args(["proc-wave", "--to", &to, "--count", &count.to_string()])
            .args(["--parallel", &parallel.to_string()]);
        c
    })?;
    launcher.expect_line("ready", Duration::from_secs(10))?;
    let began = Instant::now();
    launcher.send_line("go")?;
    let limit = Duration::from_secs(60) + Duration::from_millis(20) * count as u32;
    let mut during = start;
    let line = loop {
        match launcher.expect_line("done", Duration::from_secs(1)) {
            Ok(line) => break line,
            Err(e) if launcher.try_exit()?.is_some() || began.elapsed() > limit => return Err(e),
            Err(_) => during = during.max(Memory::of(pid).context("netop during the wave")?),
        }
    };
    let wave = began.elapsed();
    let done = Done::parse(&line)?;
    let after_wave = Memory::of(pid)?;
    during = during.max(after_wave);
    let ended = Instant::now();
    eprintln!(
        "livebench: wave done in {:.0} s; waiting for it to age out",
        wave.as_secs_f64()
    );

    wait_no_time_wait(host)?;
    let forget = Duration::from_secs(forget_after.unwrap_or(DEFAULT_FORGET));
    let sink_pid = sink.pid().to_string();
    let note = tmux
        .wait_within("the wave's rows to go", forget + FORGET_MARGIN, |s| {
            !s.lines().any(|l| {
                l.contains("trafficgen") && !l.trim_start().starts_with(&sink_pid) && has_bytes(l)
            })
        })
        .err()
        .map(|_| "rows of the wave still on screen".to_owned());
    let mut aged = Memory::of(pid)?;
    let lowest = Instant::now();
    while lowest.elapsed() < LOWEST_OVER {
        std::thread::sleep(Duration::from_millis(500));
        let now = Memory::of(pid)?;
        if now.anon_kib < aged.anon_kib {
            aged = now;
        }
    }
    let aged_after = ended.elapsed();
    let _ = tmux.keys(&["q"]);
    let _ = tmux.wait_within("netop to exit", Duration::from_secs(10), |s| {
        s.contains("EXIT=")
    });
    Ok(ProcessesRun {
        count: done.get("procs"),
        parallel,
        forget_after,
        failed: done.get("failed"),
        wave,
        start,
        during,
        after_wave,
        aged,
        aged_after,
        note,
    })
}

/// A Process view row with non-zero totals (its last four words are
/// `RX-number unit TX-number unit`).
fn has_bytes(row: &str) -> bool {
    let words: Vec<&str> = row.split_whitespace().collect();
    let n = words.len();
    n >= 4 && (words[n - 4] != "0" || words[n - 2] != "0")
}

/// Waits until the test host has no TIME_WAIT sockets.
fn wait_no_time_wait(host: &Netns) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let out = host
            .command("ss")
            .args(["-Htan", "state", "time-wait"])
            .output()
            .context("running ss")?;
        if !out.stdout.contains(&b'\n') {
            return Ok(());
        }
        if start.elapsed() > TIME_WAIT_LIMIT {
            bail!("TIME_WAIT sockets still there after {TIME_WAIT_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn markdown(run: &anyhow::Result<ProcessesRun>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "#### Monitor memory after short-lived processes (issue 10)\n"
    );
    let r = match run {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "Failed: {e:#}\n");
            return out;
        }
    };
    let forget = r.forget_after.map_or_else(
        || format!("its default {DEFAULT_FORGET} s"),
        |s| format!("`--forget-exited-after {s}`"),
    );
    let _ = writeln!(
        out,
        "The monitor (tmux, 120x32) on the root-side veth, forgetting exited processes after \
         {forget}; `trafficgen proc-wave` ran {} processes ({} at a time, {} failed) in {:.1} s \
         ({:.0} a second), each one TCP upload of 2,000 bytes into the test host. \"aged out\": \
         {:.0} s after the wave, once no TIME_WAIT socket was left and no row of the wave with \
         bytes was on screen{}; the lowest heap reading over {} s. The issue's target: flat \
         within 5 MB of the start.\n",
        thousands(r.count),
        r.parallel,
        thousands(r.failed),
        r.wave.as_secs_f64(),
        r.count as f64 / r.wave.as_secs_f64().max(1e-9),
        r.aged_after.as_secs_f64(),
        r.note
            .as_ref()
            .map_or_else(String::new, |n| format!(" (not reached: {n})")),
        LOWEST_OVER.as_secs()
    );
    let _ = writeln!(
        out,
        "| | RSS (VmRSS) | heap + stacks (RssAnon) | peak RSS so far (VmHWM) |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
    for (stage, m) in [
        ("start", r.start),
        ("highest during the wave", r.during),
        ("end of the wave", r.after_wave),
        ("aged out", r.aged),
    ] {
        let _ = writeln!(
            out,
            "| {stage} | {} | {} | {} |",
            memory::mib(m.rss_kib),
            memory::mib(m.anon_kib),
            memory::mib(m.peak_kib)
        );
    }
    let _ = writeln!(
        out,
        "| growth, aged out - start | {} | {} | |\n",
        memory::growth(r.start.rss_kib, r.aged.rss_kib),
        memory::growth(r.start.anon_kib, r.aged.anon_kib)
    );
    out
}
