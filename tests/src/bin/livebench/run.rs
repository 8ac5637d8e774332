//! The benchmark's command line and its order of runs (see `main.rs`).

use std::iter::Peekable;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use netop_e2e::Netns;

use crate::maxrate::{Bench, RunResult};
use crate::monitor::{Kind, Seen, Tool};
use crate::report::{self, Facts, Report};
use crate::{events, idle};

/// Test host tag and subnet (10.231.40.0/24), apart from the e2e tests'.
const HOST_TAG: &str = "bench";
const HOST_SUBNET: u8 = 40;
/// netop's capture buffers, tried in turn until netop drops nothing.
const BUFFERS: [Option<u32>; 3] = [None, Some(8 << 20), Some(16 << 20)];

const USAGE: &str = "usage: livebench [--seconds S (2..=60, default 8)] [--idle-seconds S (5..=120, default 20)] [--no-idle] [--churn N (100..=20000, default 3000)] [--only-events]";

#[derive(Debug)]
struct Options {
    seconds: u64,
    idle_seconds: u64,
    idle: bool,
    churn: u64,
    only_events: bool,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        seconds: 8,
        idle_seconds: 20,
        idle: true,
        churn: 3000,
        only_events: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut number = |range: std::ops::RangeInclusive<u64>| -> anyhow::Result<u64> {
            let value: u64 = argv
                .next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()
                .with_context(|| format!("{arg} needs a number"))?;
            if !range.contains(&value) {
                bail!("{arg} {value} is outside {range:?}");
            }
            Ok(value)
        };
        match arg.as_str() {
            "--seconds" => options.seconds = number(2..=60)?,
            "--idle-seconds" => options.idle_seconds = number(5..=120)?,
            "--no-idle" => options.idle = false,
            "--churn" => options.churn = number(100..=20_000)?,
            "--only-events" => options.only_events = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(options)
}

pub fn run() -> anyhow::Result<()> {
    let options = parse_args()?;
    if !nix::unistd::geteuid().is_root() {
        bail!("livebench needs root (it creates a network namespace and captures packets)");
    }
    let here = std::env::current_exe().context("finding livebench")?;
    let dir = here.parent().context("livebench has no directory")?;
    let trafficgen = dir.join("trafficgen");
    if !trafficgen.is_file() {
        bail!(
            "{} is missing: cargo build --release -p netop-e2e",
            trafficgen.display()
        );
    }
    let netop_bin = netop_e2e::netop::netop_bin()?;
    let tools = [
        Tool::netop(netop_bin.clone()),
        Tool::nethogs(),
        Tool::bandwhich(),
    ];
    let facts = facts(&options, &netop_bin);

    let host = Netns::create(HOST_TAG, HOST_SUBNET)?;
    let bench = Bench {
        host: &host,
        trafficgen: &trafficgen,
        seconds: options.seconds,
    };
    let mut runs: Vec<RunResult> = Vec::new();
    let events = events::run(&host, &trafficgen, &tools, options.churn, options.seconds)?;
    if options.only_events {
        drop(host);
        let report = Report {
            facts,
            tools: &tools,
            runs: &runs,
            netop_alone: None,
            side_by_side: None,
            idle: None,
            events: Some(events),
        };
        print!("{}", report.markdown());
        return Ok(());
    }
    runs.push(bench.run("no capture", &[], None)?);

    // netop alone, raising its buffer until the kernel drops nothing; then
    // the same for all monitors side by side, from the buffer found alone.
    let mut buffers = BUFFERS.iter().copied().peekable();
    let netop_alone = escalate(&mut buffers, |buffer| {
        let label = format!("netop alone, --bpf-buffer {}", buffer_name(buffer));
        bench.run(&label, &[&tools[0]], buffer)
    })?;
    runs.extend(netop_alone);
    let netop_alone = runs.last().map(|r| r.label.clone());
    for peer in tools.iter().filter(|t| t.kind != Kind::Netop) {
        if peer.bin.is_ok() {
            runs.push(bench.run(&format!("{} alone", peer.kind.name()), &[peer], None)?);
        }
    }
    let together: Vec<&Tool> = tools.iter().filter(|t| t.bin.is_ok()).collect();
    let side_by_side = escalate(&mut buffers, |buffer| {
        let label = format!("side by side, netop --bpf-buffer {}", buffer_name(buffer));
        bench.run(&label, &together, buffer)
    })?;
    runs.extend(side_by_side);
    let side_by_side = runs.last().map(|r| r.label.clone());
    drop(host);

    let idle = options
        .idle
        .then(|| idle::run(&tools[0], options.idle_seconds).map_err(|e| format!("{e:#}")));
    let report = Report {
        facts,
        tools: &tools,
        runs: &runs,
        netop_alone: netop_alone.as_deref(),
        side_by_side: side_by_side.as_deref(),
        idle,
        events: Some(events),
    };
    print!("{}", report.markdown());
    Ok(())
}

/// Runs `run` with the current buffer and then with each larger one while
/// netop reports kernel drops; every attempt is kept. The last buffer tried
/// stays current for the next caller.
fn escalate(
    buffers: &mut Peekable<impl Iterator<Item = Option<u32>>>,
    mut run: impl FnMut(Option<u32>) -> anyhow::Result<RunResult>,
) -> anyhow::Result<Vec<RunResult>> {
    let mut runs = Vec::new();
    loop {
        let buffer = buffers.peek().copied().flatten();
        let result = run(buffer)?;
        let drops = match result.netop().map(|m| &m.seen) {
            Some(Seen::Netop { drops, .. }) => *drops,
            _ => bail!("netop did not run: {:?}", result.monitors),
        };
        runs.push(result);
        if drops == 0 {
            return Ok(runs);
        }
        buffers.next();
        if buffers.peek().is_none() {
            eprintln!("livebench: netop dropped {drops} packets with the largest buffer");
            return Ok(runs);
        }
        eprintln!("livebench: netop dropped {drops} packets; raising its buffer");
    }
}

fn buffer_name(buffer: Option<u32>) -> String {
    buffer.map_or("8 MiB (default)".to_owned(), report::mib)
}

fn facts(options: &Options, netop: &std::path::Path) -> Facts {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "?".to_owned());
    let load = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let command = std::env::var("LIVEBENCH_COMMAND").unwrap_or_else(|_| {
        std::env::args()
            .enumerate()
            .map(|(i, a)| if i == 0 { "livebench".to_owned() } else { a })
            .collect::<Vec<_>>()
            .join(" ")
    });
    let version = Tool::netop(netop.to_path_buf()).version;
    Facts {
        command,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        load,
        netop: format!("{version}{}", git_revision()),
        seconds: options.seconds,
    }
}

/// ` (git abc1234)`, with `+changes` for a dirty tree; empty outside git.
fn git_revision() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
            format!(" (git {rev}{})", if dirty { "+changes" } else { "" })
        }
        None => String::new(),
    }
}
