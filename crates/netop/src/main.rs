//! The `netop` binary: parse arguments, open the backend for this OS, run a
//! snapshot, print it. Library crates do the work; this crate decides what
//! the user sees, including every error line and exit code.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use netop_core::{Engine, EngineConfig};

mod failure;
mod files;
mod history_query;
mod losses;
mod monitor;
mod output;
mod pcapng;
mod platform;
mod probe;
mod replay;
mod reverse;
mod serve;
mod settings;
mod setup;
mod stream;
mod terminal;

use failure::Failure;
use netop_cli::Args;
use netop_lib::collect::{self, Ending};

fn main() -> ExitCode {
    platform::tune_allocator();
    let mut args = Args::parse_env();
    if let Some(shell) = args.completions {
        // Before anything else: completions need no privileges. A closed
        // pipe is not an error here either.
        return match netop_cli::write_completions(shell, &mut io::stdout().lock()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                let _ = writeln!(io::stderr(), "error: cannot write completions: {e}");
                ExitCode::from(1)
            }
            _ => ExitCode::SUCCESS,
        };
    }
    if let Some(netop_cli::Command::Setup(setup)) = &args.command {
        init_tracing(false);
        return match setup::run(setup) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => fail(&failure),
        };
    }
    // The monitor draws on stderr's terminal; a snapshot, the stream, serve
    // and history write their warnings there.
    init_tracing(
        args.duration.is_none()
            && args.command.is_none()
            && args.format != netop_cli::Format::Ndjson,
    );
    let settings = match settings::load(&mut args) {
        Ok(s) => s,
        Err(failure) => return fail(&failure),
    };
    if let Err(failure) = platform::check_filter(&args) {
        return fail(&failure);
    }
    match run(&args, &settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

/// Prints the failure's one line and gives its exit code.
fn fail(failure: &Failure) -> ExitCode {
    // Best effort: stderr may be closed too. An alert is no error: the
    // table is printed, the exit code says it.
    if !matches!(failure, Failure::Alert) {
        let _ = writeln!(io::stderr(), "error: {failure}");
    }
    ExitCode::from(failure.exit_code())
}

/// Diagnostics go to stderr, filtered by RUST_LOG (default: warnings; in
/// the monitor none unless RUST_LOG asks, since stderr is the screen).
fn init_tracing(monitor: bool) {
    let default = if monitor && io::stderr().is_terminal() {
        "off"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .without_time()
        .init();
}

/// The engine's settings from the command line. The snapshot filters in
/// the engine (its totals count only matching traffic); the monitor
/// filters rows on screen and can change the filter at any time.
fn engine_config(args: &Args, snapshot: bool) -> EngineConfig {
    EngineConfig {
        filter: if snapshot { args.filter.clone() } else { None },
        dns: (!args.no_dns).then(netop_core::dns::DnsConfig::default),
        // A monitor runs for weeks: processes that exited leave it. A
        // snapshot lists every process that moved bytes in its period.
        forget_exited_after: (!snapshot)
            .then(|| std::time::Duration::from_secs(args.forget_exited_after)),
        // A snapshot shows no sockets: lookup answers need not be kept.
        keep_answers: !snapshot,
        // Nor any flow's seconds: its totals are what it prints.
        flow_history: !snapshot,
        ..EngineConfig::default()
    }
}

fn run(args: &Args, settings: &settings::Settings) -> Result<(), Failure> {
    if args.diagnostics {
        let mut out = io::stdout().lock();
        for line in platform::diagnostics(args) {
            let _ = writeln!(out, "{line}");
        }
        return Ok(());
    }
    if let Some(netop_cli::Command::History(history)) = &args.command {
        return history_query::run(history);
    }
    let stop = Arc::new(AtomicBool::new(false));
    // A hangup (the terminal closed, an ssh session dropped) ends a run
    // as SIGTERM does: a snapshot prints what it collected, `serve` writes
    // its minute in progress, rather than dying with it. Not the monitor:
    // its terminal is gone, and crossterm's reader spins on the hung-up
    // terminal's end of file instead of returning, so it keeps the
    // default (the process ends; there is no screen left to restore).
    let monitor = !matches!(args.command, Some(netop_cli::Command::Serve(_)))
        && args.format != netop_cli::Format::Ndjson
        && args.duration.is_none();
    let mut signals = vec![signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
    if !monitor {
        signals.push(signal_hook::consts::SIGHUP);
    }
    for signal in signals {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot handle signals: {e}")))?;
    }
    if let Some(netop_cli::Command::Serve(serve)) = &args.command {
        return serve::run(args, serve, stop);
    }
    if args.format == netop_cli::Format::Ndjson {
        return stream::run(args, &stop);
    }
    let Some(seconds) = args.duration else {
        return monitor::run(args, settings, stop);
    };
    let mut backend = platform::open(args)?;
    // Created before confinement (which drops CAP_DAC_OVERRIDE).
    let mut writer = pcapng::start(args, &mut backend)?;
    let held = platform::confine(platform::Role::Capture);
    tracing::debug!(%held, "confined");
    // Asked for by name, a fallback is news; by default it is a fact of
    // the host (`--diagnostics`, the status bar).
    if let (netop_core::Counting::Fallback { reason }, netop_cli::CaptureChoice::Kernel) =
        (backend.capture.counting(), args.capture)
    {
        let _ = writeln!(
            io::stderr(),
            "netop: kernel counting unavailable ({reason}); counting packets with libpcap"
        );
    }
    if let Some(note) = platform::owners_note(backend.owners.as_ref()) {
        let _ = writeln!(io::stderr(), "{note}");
    }
    let mut engine = Engine::new(engine_config(args, true));
    let writing = writer.is_some();
    let mut write_failed: Option<std::io::Error> = None;
    let mut write_now = |engine: &mut Engine, _: &collect::Health| {
        if let (Some(w), None) = (writer.as_mut(), &write_failed) {
            write_failed = w.flush(engine).err();
        }
    };
    let ending = collect::run(
        &mut backend,
        &mut engine,
        Some(Duration::from_secs_f64(seconds)),
        &stop,
        // With --write, the refresh also writes the frames recorded since.
        writing.then(|| collect::Tick {
            every: Duration::from_secs(1),
            run: &mut write_now,
        }),
    )?;
    if let Some(w) = writer.as_mut() {
        if write_failed.is_none() {
            write_failed = w.flush(&engine).err();
        }
        if let Some(e) = write_failed {
            return Err(Failure::Runtime(anyhow::anyhow!(
                "cannot write the pcapng file: {e}"
            )));
        }
    }
    let mut report = engine.report();
    // --exclude hides processes by name (the unknown row stays).
    let excluded: Vec<String> = args
        .power
        .exclude
        .iter()
        .map(|p| p.to_lowercase())
        .collect();
    if !excluded.is_empty() {
        report.processes.retain(|p| {
            p.pid.is_none() || !excluded.iter().any(|x| p.name.to_lowercase().contains(x))
        });
    }
    log_interface_totals(&report);
    log_owner_sources(engine.stats());
    let mut stderr = io::stderr();
    if let Ending::Interrupted { elapsed } = ending {
        let _ = writeln!(
            stderr,
            "netop: interrupted after {:.1} s; showing what was collected",
            elapsed.as_secs_f64()
        );
    }
    let health = collect::Health::of(backend.capture.as_ref(), backend.resolver.as_ref());
    for line in losses::snapshot_notes(&health, report.capture, engine.stats()) {
        let _ = writeln!(stderr, "{line}");
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.dns_log {
        let resolvers = engine.dns().map(|d| d.resolver_stats()).unwrap_or_default();
        output::dns_log::write_dns_log(args.format, &dns_log(&engine, args), &resolvers, &mut out)
    } else {
        let options = output::TableOptions {
            containers: args.containers,
        };
        output::write_table(args.format, options, &report.processes, &mut out)
    };
    // The rate over what was collected: a snapshot ended early by Ctrl-C
    // is averaged over its own length.
    let collected = match ending {
        Ending::Interrupted { elapsed } => elapsed.as_secs_f64(),
        _ => seconds,
    };
    let crossed =
        !args.dns_log && settings::alert_crossed(args, settings, &report.processes, collected);
    match written {
        Ok(()) if crossed => Err(Failure::Alert),
        Ok(()) => Ok(()),
        // A reader that stopped early (`| head -1`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write output: {e}"
        ))),
    }
}

/// Each interface's totals, as the monitor's Interface view counts them
/// (every frame seen there, whatever it was credited to), on stderr under
/// `RUST_LOG=netop::interfaces=info`: the snapshot's table is per process,
/// and this is how to compare interfaces with the kernel's counters.
fn log_interface_totals(report: &netop_core::EngineReport) {
    for i in &report.interfaces {
        let c = &i.counters;
        tracing::info!(
            target: "netop::interfaces",
            index = i.index,
            name = %i.name,
            rx_bytes = c.rx_bytes,
            tx_bytes = c.tx_bytes,
            rx_packets = c.rx_packets,
            tx_packets = c.tx_packets,
            "interface totals"
        );
    }
}

/// Where the snapshot's owners came from, on stderr under
/// `RUST_LOG=netop::owners=info`: how many flows a socket cookie (kernel
/// counting, `--capture kernel`) gave their owner, beside the tuple
/// searches, so a test can tell which path answered.
fn log_owner_sources(stats: netop_core::engine::EngineStats) {
    tracing::info!(
        target: "netop::owners",
        cookie_owners = stats.cookie_owners,
        lookups = stats.lookups,
        lookup_hits = stats.lookup_hits,
        handovers = stats.handovers,
        "owner sources"
    );
}

/// The snapshot's query log, oldest first, filtered like the process table
/// (query name, process, response or resolver containing the pattern).
fn dns_log<'a>(engine: &'a Engine, args: &Args) -> Vec<&'a netop_core::dns::QueryRecord> {
    let pattern = args.filter.as_ref().map(|f| f.to_lowercase());
    let excluded: Vec<String> = args
        .power
        .exclude
        .iter()
        .map(|p| p.to_lowercase())
        .collect();
    engine
        .dns()
        .map(|dns| {
            dns.log()
                .filter(|r| pattern.as_deref().is_none_or(|p| r.matches(p)))
                .filter(|r| {
                    !excluded
                        .iter()
                        .any(|x| r.process.to_lowercase().contains(x))
                })
                .collect()
        })
        .unwrap_or_default()
}
