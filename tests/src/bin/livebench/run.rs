//! The benchmark's command line and its order of runs (see `main.rs`).

use std::iter::Peekable;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use netop_e2e::Netns;

use crate::maxrate::{Bench, RunResult};
use crate::monitor::{Kind, Seen, Tool};
use crate::report::{self, Facts, Report};
use crate::{events, flood, idle, pairs, processes, serve, spread, udpflows};

/// Test host tag and subnet (10.231.40.0/24), apart from the e2e tests'.
const HOST_TAG: &str = "bench";
const HOST_SUBNET: u8 = 40;
/// netop's capture buffers, tried in turn until netop drops nothing.
const BUFFERS: [Option<u32>; 3] = [None, Some(8 << 20), Some(16 << 20)];

const USAGE: &str = "usage: livebench [--only PHASE[,PHASE...]] [--netop PATH] [--seconds S (2..=60, default 8)] [--idle-seconds S (5..=120, default 20)] [--no-idle] [--churn N (100..=20000, default 3000)] [--only-events] [--flood-seconds S (2..=60, default 10)] [--churn-flows N (100..=100000, default 20000)] [--churn-rate R (100..=50000, default 4000)] [--held-flows N (100..=100000, default 10000)] [--processes N (100..=200000, default 100000)] [--parallel P (1..=64, default 4)] [--forget-after S (1..=600, netop's default)] [--serve-processes N (10..=5000, default 1000)] [--serve-idle-seconds S (10..=600, default 60)] [--capture auto|kernel|pcap (issue 10 and serve phases: netop's counting, its default when absent)] [--spread-flows N (100..=28000, default 20000)] [--spread-rate R (100..=1000000, default 100000)] [--spread-seconds S (2..=60, default 10)] [--pairs N (1..=50, default 8)]
phases: maxrate, pairs (issue 17: N alternating blasts with no monitor and with netop --capture kernel), events, idle (issues 2 and 5), flood, churn, held, processes (issue 10), serve (issue 12), spread (issue 17: R packets/s over N held UDP flows, no monitor / netop --capture kernel / --capture pcap); all by default";

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Events,
    MaxRate,
    Pairs,
    Flood,
    Churn,
    Held,
    Processes,
    Serve,
    Spread,
    Idle,
}

impl Phase {
    const ALL: [Phase; 10] = [
        Phase::Events,
        Phase::MaxRate,
        Phase::Pairs,
        Phase::Flood,
        Phase::Churn,
        Phase::Held,
        Phase::Processes,
        Phase::Serve,
        Phase::Spread,
        Phase::Idle,
    ];

    fn named(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "events" => Phase::Events,
            "maxrate" => Phase::MaxRate,
            "pairs" => Phase::Pairs,
            "flood" => Phase::Flood,
            "churn" => Phase::Churn,
            "held" => Phase::Held,
            "processes" => Phase::Processes,
            "serve" => Phase::Serve,
            "spread" => Phase::Spread,
            "idle" => Phase::Idle,
            other => bail!("--only: unknown phase {other:?}\n{USAGE}"),
        })
    }
}

#[derive(Debug)]
struct Options {
    phases: Vec<Phase>,
    netop: Option<PathBuf>,
    seconds: u64,
    idle_seconds: u64,
    churn: u64,
    flood_seconds: u64,
    churn_flows: u64,
    churn_rate: u64,
    held_flows: u64,
    processes: u64,
    parallel: u64,
    forget_after: Option<u64>,
    serve_processes: u64,
    serve_idle_seconds: u64,
    /// `--capture` for the netops of the issue 10 and serve phases
    /// (passed as `NETOP_CAPTURE`); netop's own default when `None`.
    capture: Option<String>,
    /// The spread phase's flows, packets a second and seconds.
    spread: spread::Spread,
    /// Alternating pairs of blasts in the pairs phase.
    pairs: u64,
}

impl Options {
    fn wants(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        phases: Phase::ALL.to_vec(),
        netop: None,
        seconds: 8,
        idle_seconds: 20,
        churn: 3000,
        flood_seconds: 10,
        churn_flows: 20_000,
        churn_rate: 4000,
        held_flows: 10_000,
        processes: 100_000,
        parallel: 4,
        forget_after: None,
        serve_processes: 1000,
        serve_idle_seconds: 60,
        capture: None,
        spread: spread::Spread {
            flows: 20_000,
            rate: 100_000,
            seconds: 10,
        },
        pairs: 8,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().with_context(|| format!("{arg} needs a value"));
        let mut number = |range: std::ops::RangeInclusive<u64>| -> anyhow::Result<u64> {
            let value: u64 = value()?
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
            "--no-idle" => options.phases.retain(|p| *p != Phase::Idle),
            "--churn" => options.churn = number(100..=20_000)?,
            "--only-events" => options.phases = vec![Phase::Events],
            "--flood-seconds" => options.flood_seconds = number(2..=60)?,
            "--churn-flows" => options.churn_flows = number(100..=100_000)?,
            "--churn-rate" => options.churn_rate = number(100..=50_000)?,
            "--held-flows" => options.held_flows = number(100..=100_000)?,
            "--processes" => options.processes = number(100..=200_000)?,
            "--parallel" => options.parallel = number(1..=64)?,
            "--forget-after" => options.forget_after = Some(number(1..=600)?),
            "--serve-processes" => options.serve_processes = number(10..=5000)?,
            "--serve-idle-seconds" => options.serve_idle_seconds = number(10..=600)?,
            // The kernel's default ephemeral range holds 28,232 ports.
            "--spread-flows" => options.spread.flows = number(100..=28_000)?,
            "--spread-rate" => options.spread.rate = number(100..=1_000_000)?,
            "--spread-seconds" => options.spread.seconds = number(2..=60)?,
            "--pairs" => options.pairs = number(1..=50)?,
            "--capture" => {
                let mode = value()?;
                if !["auto", "kernel", "pcap"].contains(&mode.as_str()) {
                    bail!("--capture {mode}: expected auto, kernel or pcap");
                }
                options.capture = Some(mode);
            }
            "--only" => {
                let wanted = value()?
                    .split(',')
                    .map(Phase::named)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                options.phases = Phase::ALL
                    .into_iter()
                    .filter(|p| wanted.contains(p))
                    .collect();
            }
            "--netop" => {
                let path = PathBuf::from(value()?);
                if !path.is_file() {
                    bail!("--netop {}: no such file", path.display());
                }
                options.netop = Some(path);
            }
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
    // Every netop started below inherits it; the max-rate runs name their
    // mode on the command line, which wins.
    match &options.capture {
        Some(mode) => std::env::set_var("NETOP_CAPTURE", mode),
        None => std::env::remove_var("NETOP_CAPTURE"),
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
    let netop_bin = match &options.netop {
        Some(bin) => bin.clone(),
        None => netop_e2e::netop::netop_bin()?,
    };
    // The peers only take part in the max-rate and event phases.
    let peers = options.wants(Phase::MaxRate) || options.wants(Phase::Events);
    let tools = [
        Tool::netop(netop_bin.clone()),
        if peers {
            Tool::nethogs()
        } else {
            Tool::unused(Kind::Nethogs)
        },
        if peers {
            Tool::bandwhich()
        } else {
            Tool::unused(Kind::Bandwhich)
        },
    ];
    let facts = facts(&options, &netop_bin);

    let host = Netns::create(HOST_TAG, HOST_SUBNET)?;
    let mut report = Report {
        facts,
        tools: &tools,
        runs: &[],
        netop_alone: None,
        side_by_side: None,
        idle: None,
        events: None,
        sections: Vec::new(),
    };
    if options.wants(Phase::Events) {
        report.events = Some(events::run(
            &host,
            &trafficgen,
            &tools,
            options.churn,
            options.seconds,
        )?);
    }
    let mut runs: Vec<RunResult> = Vec::new();
    let (mut netop_alone, mut side_by_side) = (None, None);
    if options.wants(Phase::MaxRate) {
        (netop_alone, side_by_side) = max_rate(&host, &trafficgen, &tools, &options, &mut runs)?;
    }
    let mut sections = Vec::new();
    if options.wants(Phase::Pairs) {
        let bench = Bench {
            host: &host,
            trafficgen: &trafficgen,
            seconds: options.seconds,
        };
        let (pairs, failed) = pairs::run(&bench, &tools[0], options.pairs);
        sections.push(pairs::markdown(options.seconds, &pairs, failed.as_deref()));
    }
    sections.extend(issue10(&host, &trafficgen, &tools[0], &options));
    report.sections = sections;
    drop(host);

    report.runs = &runs;
    report.netop_alone = netop_alone.as_deref();
    report.side_by_side = side_by_side.as_deref();
    report.idle = options
        .wants(Phase::Idle)
        .then(|| idle::run(&tools[0], options.idle_seconds).map_err(|e| format!("{e:#}")));
    print!("{}", report.markdown());
    Ok(())
}

/// The max-rate phase: no capture, netop alone (raising its buffer until
/// it drops nothing), each peer alone, then all side by side from the
/// buffer found alone. Returns the labels of netop's alone and side by
/// side runs.
fn max_rate(
    host: &Netns,
    trafficgen: &std::path::Path,
    tools: &[Tool; 3],
    options: &Options,
    runs: &mut Vec<RunResult>,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let bench = Bench {
        host,
        trafficgen,
        seconds: options.seconds,
    };
    runs.push(bench.run("no capture", &[], None)?);
    let mut buffers = BUFFERS.iter().copied().peekable();
    let netop_alone = escalate(&mut buffers, |buffer| {
        let label = format!(
            "netop alone, --capture pcap --bpf-buffer {}",
            buffer_name(buffer)
        );
        bench.run(&label, &[&tools[0]], buffer)
    })?;
    runs.extend(netop_alone);
    let netop_alone = runs.last().map(|r| r.label.clone());
    // Issue 17: counting in the kernel, only DNS packets copied.
    runs.push(bench.run_with(
        "netop alone, --capture kernel",
        &[&tools[0]],
        None,
        &["--capture", "kernel"],
    )?);
    // What the DNS observatory costs the sender: now a ring buffer the
    // counting program fills with port-53 packets only (it was a packet
    // socket whose kernel filter every packet passed).
    runs.push(bench.run_with(
        "netop alone, --capture kernel --no-dns",
        &[&tools[0]],
        None,
        &["--capture", "kernel", "--no-dns"],
    )?);
    for peer in tools.iter().filter(|t| t.kind != Kind::Netop) {
        if peer.bin.is_ok() {
            runs.push(bench.run(&format!("{} alone", peer.kind.name()), &[peer], None)?);
        }
    }
    let together: Vec<&Tool> = tools.iter().filter(|t| t.bin.is_ok()).collect();
    let side_by_side = escalate(&mut buffers, |buffer| {
        let label = format!(
            "side by side, netop --capture pcap --bpf-buffer {}",
            buffer_name(buffer)
        );
        bench.run(&label, &together, buffer)
    })?;
    runs.extend(side_by_side);
    // The same peers beside netop counting in the kernel.
    if together.len() > 1 {
        runs.push(bench.run_with(
            "side by side, netop --capture kernel",
            &together,
            None,
            &["--capture", "kernel"],
        )?);
    }
    Ok((netop_alone, runs.last().map(|r| r.label.clone())))
}

/// Issue 10's scenarios, issue 12's serve phase and issue 17's spread
/// that were asked for, each a markdown section; a scenario that fails
/// says so in its section and the others still run.
fn issue10(
    host: &Netns,
    trafficgen: &std::path::Path,
    netop: &Tool,
    options: &Options,
) -> Vec<String> {
    let mut sections = Vec::new();
    sections.push(format!(
        "netop's counting in these scenarios: `--capture {}`\n",
        options.capture.as_deref().unwrap_or("auto")
    ));
    if options.wants(Phase::Flood) {
        let runs = flood::run(host, trafficgen, netop, options.flood_seconds);
        sections.push(flood::markdown(options.flood_seconds, &runs));
    }
    let mut flows = Vec::new();
    for (phase, workload, count) in [
        (Phase::Churn, udpflows::Workload::Churn, options.churn_flows),
        (Phase::Held, udpflows::Workload::Held, options.held_flows),
    ] {
        if options.wants(phase) {
            let run = udpflows::run(host, trafficgen, netop, workload, count, options.churn_rate);
            flows.push((workload, run));
        }
    }
    if !flows.is_empty() {
        sections.push(udpflows::markdown(&flows));
    }
    if options.wants(Phase::Processes) {
        let run = processes::run(
            host,
            trafficgen,
            netop,
            options.processes,
            options.parallel,
            options.forget_after,
        );
        sections.push(processes::markdown(&run));
    }
    if options.wants(Phase::Serve) {
        let run = serve::run(
            host,
            trafficgen,
            netop,
            options.serve_processes,
            options.serve_idle_seconds,
        );
        sections.push(serve::markdown(&run));
    }
    if options.wants(Phase::Spread) {
        // Each run names netop's counting mode on its command line.
        let runs = spread::run(host, trafficgen, netop, options.spread);
        sections.push(spread::markdown(options.spread, &runs));
    }
    sections
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
    buffer.map_or("4 MiB (default)".to_owned(), report::mib)
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
    // A binary given with --netop is not this tree's build.
    let revision = match &options.netop {
        Some(bin) => format!(" (`{}`)", bin.display()),
        None => git_revision(),
    };
    Facts {
        command,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        load,
        netop: format!("{version}{revision}"),
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
