//! `cargo xtask soak [--minutes N] [--wrap CMD] [--serve] [--bin-dir DIR]
//! [-- NETOP ARGS]` (root; not part of `test`): the monitor in a real
//! terminal (tmux) for N minutes (default 10) under steady churn, watched
//! from outside. `--wrap` runs netop under a profiler (`--wrap "heaptrack
//! -o FILE"`). `--serve` watches `netop serve` instead, scraped every
//! cycle (`soak/serve.rs`); its bar is absolute: within 5 MB of the first
//! minute's RSS. `--bin-dir` takes `netop` and `trafficgen` from DIR (a
//! build kept aside) instead of building this tree's release.
//!
//! Churn, every 10 s, all inside a test host made for the run (namespace
//! `netop-t-soak`, 10.231.39.0/24): 10 short-lived processes with one TCP
//! upload each, 10 short-lived DNS clients, a UDP client of 50 datagrams;
//! and every 30 s the test host's veth is deleted and made again a second
//! later (an interface that flaps: under `any` it goes and comes, under
//! `-- --interface netop-t-soakh` netop re-opens its capture). The first
//! cycle also asks 6,000 DNS questions at once: netop's DNS query log is a
//! ring of 10,000 records, bounded by design, which the churn's 60 queries
//! a minute would take almost three hours to fill; filled in the first
//! minute, its memory is in the baseline and growth after it is netop's.
//!
//! Every 10 s it records netop's RSS (and the share of it that is the
//! capture's packet ring, a kernel buffer mapped into netop: it is
//! resident from the start and constant, so growth is netop's own),
//! open file descriptors and CPU. It fails when RSS or the descriptor
//! count at the end is more than 5 % above the first minute's, or when
//! the terminal is not restored after `q`. Everything it made is removed
//! on the way out, failure or not.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

mod serve;

const NS: &str = "netop-t-soak";
const HOST_IF: &str = "netop-t-soakh";
const NS_IF: &str = "netop-t-soakn";
const HOST_ADDR: &str = "10.231.39.1";
const NS_ADDR: &str = "10.231.39.2";
const SESSION: &str = "netop-t-soak";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Allowed growth after the first minute.
const MAX_GROWTH: f64 = 0.05;
/// DNS questions asked in the first cycle: with their echoes, more records
/// than netop's query log keeps (`DnsConfig::log_capacity`, 10,000).
const BURST_QUESTIONS: u32 = 6_000;
const BURST_PORT: u16 = 41_999;

/// `cargo xtask soak [--minutes N] [-- NETOP ARGS]`.
pub fn run(rest: &[String]) -> Result<()> {
    let (ours, netop_args) = match rest.iter().position(|a| a == "--") {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let mut minutes: u64 = 10;
    let mut wrap = String::new();
    let mut service = false;
    let mut bin_dir = None;
    let mut flags = ours.iter();
    while let Some(flag) = flags.next() {
        if flag == "--serve" {
            service = true;
            continue;
        }
        match (flag.as_str(), flags.next()) {
            ("--minutes", Some(n)) => minutes = n.parse().context("--minutes takes a number")?,
            ("--wrap", Some(cmd)) => wrap = cmd.clone(),
            ("--bin-dir", Some(dir)) => bin_dir = Some(PathBuf::from(dir)),
            _ => bail!(
                "usage: cargo xtask soak [--minutes N] [--wrap CMD] [--serve] [--bin-dir DIR] [-- NETOP ARGS]"
            ),
        }
    }
    if service && !wrap.is_empty() {
        bail!("--wrap is for the monitor; profile `netop serve` by hand");
    }
    if minutes < 2 {
        bail!("--minutes must be at least 2: growth is measured after the first minute");
    }
    if !super::is_root() {
        bail!("the soak test needs root (namespaces, capture): run it with sudo");
    }
    super::deps(super::PACKAGES)?;
    let bin = match bin_dir {
        Some(dir) => dir,
        None => {
            super::run(super::cargo().args([
                "build",
                "--release",
                "-p",
                "netop",
                "-p",
                "netop-e2e",
                "--bin",
                "netop",
                "--bin",
                "trafficgen",
            ]))?;
            release_dir()
        }
    };
    let netop = bin.join("netop");
    let trafficgen = bin.join("trafficgen");
    let _guard = Guard;
    cleanup();
    make_host()?;

    let mut served = None;
    let pid = if service {
        let started = serve::Service::start(&netop, netop_args)?;
        let pid = started.pid();
        served = Some(started);
        pid
    } else {
        let shell = format!(
            "{wrap} {} {}; echo EXIT=$?; sleep 600",
            netop.display(),
            netop_args.join(" ")
        );
        super::run(
            Command::new("tmux")
                .args(["new-session", "-d", "-s", SESSION, "-x", "160", "-y", "45"])
                .arg(shell)
                .env("TERM", "xterm-256color"),
        )?;
        netop_pid()?
    };
    let ticks = clock_ticks();
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_cpu = cpu_ticks(pid)?;
    let mut cycle = 0u64;
    println!("| t (s) | RSS (KiB) | of it, packet ring (KiB) | fds | CPU (%) |");
    println!("|---:|---:|---:|---:|---:|");
    while Instant::now() < end {
        let cycle_start = Instant::now();
        churn(&trafficgen, cycle)?;
        if cycle % 3 == 2 {
            flap();
        }
        cycle += 1;
        if let Some(service) = served.as_mut() {
            service.visit()?;
        }
        std::thread::sleep(SAMPLE_EVERY.saturating_sub(cycle_start.elapsed()));
        let cpu = cpu_ticks(pid)?;
        let sample = Sample {
            at: start.elapsed().as_secs(),
            rss_kib: rss_kib(pid)?,
            ring_kib: ring_kib(pid),
            fds: fd_count(pid)?,
            cpu_percent: (cpu - last_cpu) as f64 / ticks / SAMPLE_EVERY.as_secs_f64() * 100.0,
        };
        last_cpu = cpu;
        println!(
            "| {} | {} | {} | {} | {:.1} |",
            sample.at, sample.rss_kib, sample.ring_kib, sample.fds, sample.cpu_percent
        );
        samples.push(sample);
    }

    let (ended, verdict) = match served {
        Some(service) => (service.stop(&netop), judge_serve(&samples)),
        None => {
            super::run(Command::new("tmux").args(["send-keys", "-t", SESSION, "-l", "q"]))?;
            (
                wait_exit_and_check_terminal().map(|()| "terminal restored".to_string()),
                judge(&samples),
            )
        }
    };
    println!();
    match &verdict {
        Ok(summary) => println!("soak passed: {summary}"),
        Err(e) => println!("soak FAILED: {e}"),
    }
    println!("{}", ended?);
    verdict.map(|_| ())
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: u64,
    rss_kib: u64,
    ring_kib: u64,
    fds: u64,
    cpu_percent: f64,
}

/// Growth of the last sample over the first minute's.
fn judge(samples: &[Sample]) -> Result<String> {
    let base = samples
        .iter()
        .find(|s| s.at >= 60)
        .context("no sample after the first minute")?;
    let last = samples.last().context("no samples")?;
    let peak_rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let cpu_mean = samples.iter().map(|s| s.cpu_percent).sum::<f64>() / samples.len().max(1) as f64;
    let growth = |a: u64, b: u64| (b as f64 - a as f64) / (a.max(1) as f64);
    let (rss, fds) = (
        growth(base.rss_kib, last.rss_kib),
        growth(base.fds, last.fds),
    );
    let summary = format!(
        "RSS {} KiB at {} s -> {} KiB at {} s ({:+.1} %, peak {peak_rss} KiB, packet ring {} KiB of it); fds {} -> {} ({:+.1} %); mean CPU {cpu_mean:.1} %",
        base.rss_kib,
        base.at,
        last.rss_kib,
        last.at,
        rss * 100.0,
        last.ring_kib,
        base.fds,
        last.fds,
        fds * 100.0
    );
    if rss > MAX_GROWTH || fds > MAX_GROWTH {
        bail!("grew more than 5 % after the first minute: {summary}");
    }
    Ok(summary)
}

/// `netop serve`'s bar: every sample after the first minute within 5 MB
/// of the first minute's RSS (descriptors within 5 %, as the monitor's).
fn judge_serve(samples: &[Sample]) -> Result<String> {
    let base = samples
        .iter()
        .find(|s| s.at >= 60)
        .context("no sample after the first minute")?;
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= base.at).collect();
    let last = after.last().context("no samples")?;
    let high = after.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let low = after.iter().map(|s| s.rss_kib).min().unwrap_or(0);
    let fds_high = after.iter().map(|s| s.fds).max().unwrap_or(0);
    let cpu_mean = samples.iter().map(|s| s.cpu_percent).sum::<f64>() / samples.len().max(1) as f64;
    let summary = format!(
        "RSS {} KiB at {} s -> {} KiB at {} s ({:+} KiB), between {low} and {high} KiB after the first minute (packet ring {} KiB of it); fds {} -> {} (at most {fds_high}); mean CPU {cpu_mean:.2} %",
        base.rss_kib,
        base.at,
        last.rss_kib,
        last.at,
        last.rss_kib as i64 - base.rss_kib as i64,
        last.ring_kib,
        base.fds,
        last.fds,
    );
    if high.saturating_sub(base.rss_kib) > serve::MAX_GROWTH_KIB {
        bail!("RSS rose more than 5 MB above the first minute's: {summary}");
    }
    if fds_high as f64 > base.fds as f64 * (1.0 + MAX_GROWTH) {
        bail!("descriptors grew more than 5 %: {summary}");
    }
    Ok(summary)
}

fn release_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map_or_else(|| PathBuf::from("target"), |root| root.join("target"))
        },
        PathBuf::from,
    );
    target.join("release")
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn make_host() -> Result<()> {
    ip(&["netns", "add", NS])?;
    make_link()
}

fn make_link() -> Result<()> {
    ip(&[
        "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS,
    ])?;
    ip(&["addr", "add", &format!("{HOST_ADDR}/24"), "dev", HOST_IF])?;
    ip(&["link", "set", HOST_IF, "up"])?;
    let ns = |args: &[&str]| {
        let mut all = vec!["netns", "exec", NS, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    };
    ns(&["addr", "add", &format!("{NS_ADDR}/24"), "dev", NS_IF])?;
    ns(&["link", "set", NS_IF, "up"])?;
    ns(&["link", "set", "lo", "up"])
}

/// Removes whatever a run (this one or a killed one) left.
fn cleanup() {
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", SESSION])
        .output();
    let _ = Command::new("ip")
        .args(["netns", "pids", NS])
        .output()
        .map(|o| {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        });
    let _ = Command::new("ip").args(["link", "del", HOST_IF]).output();
    let _ = Command::new("ip").args(["netns", "del", NS]).output();
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        cleanup();
    }
}

/// One cycle's traffic; every process is bounded and exits by itself.
fn churn(trafficgen: &std::path::Path, cycle: u64) -> Result<()> {
    let tg = trafficgen.display();
    let tcp = format!("{NS_ADDR}:5001");
    let dns = format!("{NS_ADDR}:53");
    // Servers in the test host, for this cycle only.
    spawn(&format!(
        "ip netns exec {NS} {tg} sink --listen {tcp} --seconds 9 --conns 10"
    ))?;
    spawn(&format!(
        "ip netns exec {NS} {tg} udp-echo-server --listen {dns} --seconds 9"
    ))?;
    std::thread::sleep(Duration::from_millis(300));
    if cycle == 0 {
        // Fill netop's DNS query log (10,000 records, bounded by design)
        // in the first minute, so growth after it is not the log filling:
        // each question is logged, and so is its echo (a query from the
        // server's port 53), 12,000 records in all.
        spawn(&format!(
            "{tg} dns-burst --to {dns} --bind-port {BURST_PORT} --count {BURST_QUESTIONS}"
        ))?;
    }
    // Clients wait for `go` on stdin; a different port base per cycle
    // keeps a late straggler of the last cycle out of the way.
    let base = 42_000 + (cycle % 10) * 100;
    spawn(&format!(
        "echo go | {tg} short-procs --kind tcp --to {tcp} --count 10 --bind-port-base {base} --bytes 20000"
    ))?;
    spawn(&format!(
        "echo go | {tg} short-procs --kind dns --to {dns} --count 10 --bind-port-base {}",
        base + 50
    ))?;
    spawn(&format!(
        "echo go | {tg} udp-client --to {dns} --bind-port {} --count 50 --size 200 --interval-ms 20",
        base + 99
    ))
}

fn spawn(command: &str) -> Result<()> {
    Command::new("sh")
        .args(["-c", command])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {command}"))?;
    Ok(())
}

/// Deletes the test host's veth pair and makes it again a second later,
/// as a container restart does: under `any` an interface goes and comes,
/// under `--interface netop-t-soakh` netop re-opens its capture.
fn flap() {
    let result = ip(&["link", "del", HOST_IF]).and_then(|()| {
        std::thread::sleep(Duration::from_secs(1));
        make_link()
    });
    if let Err(e) = result {
        eprintln!("xtask: flapping {HOST_IF}: {e}");
    }
}

fn tmux(args: &[&str]) -> Result<String> {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .context("running tmux")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn netop_pid() -> Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let shell = tmux(&["display-message", "-p", "-t", SESSION, "#{pane_pid}"])?;
        if let Some(pid) = shell.parse().ok().and_then(netop_below) {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            bail!("netop did not start in tmux");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The netop process below `root` (the pane's shell; under `--wrap`, the
/// wrapper's child).
fn netop_below(root: u32) -> Option<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let ppid = tail
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid, comm == "netop"));
        }
    }
    let mut below = vec![root];
    while let Some(parent) = below.pop() {
        for &(pid, ppid, is_netop) in &parents {
            if ppid == parent {
                if is_netop {
                    return Some(pid);
                }
                below.push(pid);
            }
        }
    }
    None
}

fn wait_exit_and_check_terminal() -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", SESSION])?;
        if screen.contains("EXIT=0") {
            break;
        }
        if Instant::now() > deadline {
            bail!("netop did not exit with 0 after `q`:\n{screen}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (flag, want) in [
        ("alternate_on", "0"),
        ("cursor_flag", "1"),
        ("mouse_any_flag", "0"),
    ] {
        let got = tmux(&[
            "display-message",
            "-p",
            "-t",
            SESSION,
            &format!("#{{{flag}}}"),
        ])?;
        if got != want {
            bail!("terminal not restored: {flag} is {got}, expected {want}");
        }
    }
    Ok(())
}

fn status_field(pid: u32, name: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("netop (pid {pid}) is gone"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {name} in /proc/{pid}/status"))
}

fn rss_kib(pid: u32) -> Result<u64> {
    status_field(pid, "VmRSS:")
}

/// Resident KiB of the packet ring: the mappings of packet sockets
/// (`socket:[inode]` in smaps).
fn ring_kib(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut in_socket = false;
    let mut total = 0;
    for line in smaps.lines() {
        let header = line
            .split_whitespace()
            .next()
            .is_some_and(|first| first.contains('-') && !first.ends_with(':'));
        if header {
            in_socket = line.ends_with(']') && line.contains("socket:[");
        } else if in_socket {
            if let Some(v) = line.strip_prefix("Rss:") {
                total += v
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

fn fd_count(pid: u32) -> Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

/// utime + stime of the whole process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces: state is 3rd.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat: 11 and 12 after ')'.
    Ok(get(11) + get(12))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
