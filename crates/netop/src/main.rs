//! The `netop` binary: parse arguments, open the backend for this OS, run a
//! snapshot, print it. Library crates do the work; this crate decides what
//! the user sees, including every error line and exit code.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use netop_core::{Engine, EngineConfig};

mod args;
mod collect;
mod failure;
mod output;
mod platform;
mod replay;

use args::Args;
use collect::Ending;
use failure::Failure;

fn main() -> ExitCode {
    let args = Args::parse_env();
    init_tracing();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Best effort: stderr may be closed too.
            let _ = writeln!(io::stderr(), "error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Diagnostics go to stderr, filtered by RUST_LOG (default: warnings).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .without_time()
        .init();
}

fn run(args: &Args) -> Result<(), Failure> {
    let Some(seconds) = args.duration else {
        return Err(Failure::MonitorUnavailable);
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot handle signals: {e}")))?;
    }
    let mut backend = platform::open(args)?;
    let mut engine = Engine::new(EngineConfig {
        filter: args.filter.clone(),
        ..EngineConfig::default()
    });
    let ending = collect::run(
        &mut backend,
        &mut engine,
        Duration::from_secs_f64(seconds),
        &stop,
    )?;
    let report = engine.report();
    let mut stderr = io::stderr();
    if let Ending::Interrupted { elapsed } = ending {
        let _ = writeln!(
            stderr,
            "netop: interrupted after {:.1} s; showing what was collected",
            elapsed.as_secs_f64()
        );
    }
    let drops = report.capture.dropped + report.capture.if_dropped;
    if drops > 0 {
        let _ = writeln!(
            stderr,
            "netop: the kernel dropped {drops} packets; totals are short (raise --bpf-buffer)"
        );
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.dns_log {
        output::dns_log::write_dns_log(args.format, &dns_log(&engine, args), &mut out)
    } else {
        output::write_table(args.format, &report.processes, &mut out)
    };
    match written {
        Ok(()) => Ok(()),
        // A reader that stopped early (`| head -1`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write output: {e}"
        ))),
    }
}

/// The snapshot's query log, oldest first, filtered like the process table
/// (query name, process, response or resolver containing the pattern).
fn dns_log<'a>(engine: &'a Engine, args: &Args) -> Vec<&'a netop_core::dns::QueryRecord> {
    let pattern = args.filter.as_ref().map(|f| f.to_lowercase());
    engine
        .dns()
        .map(|dns| {
            dns.log()
                .filter(|r| pattern.as_deref().is_none_or(|p| r.matches(p)))
                .collect()
        })
        .unwrap_or_default()
}
