//! `netop serve`: the capture running for months, its counts kept in the
//! history database and served over HTTP (`/metrics`, the dashboard).
//!
//! Start-up, in this order: check the flags (a non-loopback `--listen`
//! needs `--token-file` or `--insecure`), read the token, open the backend
//! (capture, event source, netlink), create the history database, bind
//! the listener; then switch to the service user and confine the threads:
//! the capture thread (this one) keeps the five capabilities of
//! `confine.rs`, the history writer and the HTTP threads keep none and
//! are Landlocked to the history's directory. Nothing is opened with
//! privileges after that.
//!
//! Then the shared capture loop (`collect::run`) runs with a one-second
//! [`Tick`]: the engine's change ([`Deltas`]) goes into the [`Ledger`];
//! each completed minute goes to the history writer thread through a
//! channel, so the capture never waits for the disk. Ctrl-C, SIGTERM or
//! a hangup (SIGHUP) end the loop: the minute in progress is written, the
//! writer finishes, and `serve` exits 0. A `kill -9` loses at most that minute.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use netop_cli::{Args, ServeArgs};
use netop_core::Engine;
use netop_history::{History, Minute, Retention};

use crate::failure::Failure;
use crate::platform;
use netop::deltas::Deltas;
use netop_lib::collect::{self, Tick};

pub mod http;
pub mod routes;

use netop::service::ledger::Ledger;
use netop::service::metrics;
use routes::Shared;

/// How often the ledger takes the engine's change (and streams send).
const TICK: Duration = Duration::from_secs(1);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token in `path`: its first line, trimmed; never empty.
fn read_token(path: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Runtime(anyhow::anyhow!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        return Err(Failure::Usage(format!(
            "the token file {} is empty: put a long random token on its first line",
            path.display()
        )));
    }
    Ok(token)
}

/// The flags `serve` refuses together.
fn check(serve: &ServeArgs) -> Result<(), Failure> {
    if !serve.listen.ip().is_loopback() && serve.token_file.is_none() && !serve.insecure {
        return Err(Failure::Usage(format!(
            "--listen {} is reachable from other hosts: add --token-file FILE (clients send \
             Authorization: Bearer TOKEN), or --insecure to serve without one",
            serve.listen
        )));
    }
    Ok(())
}

/// The files the service user must own: the history's directory, the
/// database and SQLite's side files.
fn history_files(path: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        files.push(dir.to_path_buf());
    }
    files.push(path.to_path_buf());
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        files.push(PathBuf::from(p));
    }
    files
}

pub fn run(args: &Args, serve: &ServeArgs, stop: Arc<AtomicBool>) -> Result<(), Failure> {
    check(serve)?;
    let token = serve.token_file.as_deref().map(read_token).transpose()?;
    let mut backend = platform::open(args)?;
    if let Some(note) = platform::owners_note(backend.owners.as_ref()) {
        let _ = writeln!(io::stderr(), "{note}");
    }
    let owner_mode = match &backend.owners {
        Some(netop_core::OwnerMode::Events) | None => "events".to_string(),
        Some(netop_core::OwnerMode::Polling { .. }) => "polling".to_string(),
        Some(netop_core::OwnerMode::Tracepoint { .. }) => "tracepoint".to_string(),
    };
    let retention = Retention {
        minutes: serve.keep_minutes,
        hours: serve.keep_hours,
    };
    let history = History::create(&serve.history, retention)
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let listener = TcpListener::bind(serve.listen)
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {}: {e}", serve.listen)))?;
    let user = platform::become_user(serve.user.as_deref(), &history_files(&serve.history))?;
    let writable: Vec<PathBuf> = serve
        .history
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| vec![d.to_path_buf()])
        .unwrap_or_default();

    let shared = Arc::new(Shared {
        ledger: Mutex::new(Ledger::new(
            serve.metrics_top as usize,
            args.containers,
            unix_now(),
        )),
        status: Mutex::new(metrics::Status {
            owner_mode,
            kernel_drops: 0,
            lost_events: 0,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }),
        tick: Mutex::new(0),
        ticked: Condvar::new(),
        history: serve.history.clone(),
        containers: args.containers,
        token,
        stop: Arc::clone(&stop),
        streams: AtomicUsize::new(0),
    });

    // The workers first: a thread inherits its parent's Landlock domain,
    // and this thread's (the packet thread's) allows no history file.
    // Each confines itself at once, to what it needs.
    let (minutes, writer) = start_writer(history, writable.clone())?;
    start_http(listener, Arc::clone(&shared), writable)?;
    let held = platform::confine(platform::Role::Capture);
    tracing::info!(%user, %held, listen = %serve.listen, history = %serve.history.display(), "serving");

    let mut engine = Engine::new(crate::engine_config(args, false));
    let mut deltas = Deltas::new();
    let mut tick = |engine: &mut Engine, health: &collect::Health| {
        let report = engine.report();
        let step = deltas.step(&report);
        let now = unix_now();
        let done = {
            let Ok(mut ledger) = shared.ledger.lock() else {
                return;
            };
            let done = ledger.apply(&step, now);
            if let Some(dns) = engine.dns() {
                ledger.observe_dns(dns);
            }
            done
        };
        if let Ok(mut status) = shared.status.lock() {
            status.kernel_drops = report.capture.dropped + report.capture.if_dropped;
            status.lost_events = health.lost_events;
        }
        shared.notify();
        if let Some(minute) = done {
            let _ = minutes.send(minute);
        }
    };
    let ran = collect::run(
        &mut backend,
        &mut engine,
        None,
        &stop,
        Some(Tick {
            every: TICK,
            run: &mut tick,
        }),
    );
    // The last changes, and the minute in progress, on the way out (also
    // after a capture error: what was counted is kept).
    tick(
        &mut engine,
        &collect::Health::of(backend.capture.as_ref(), backend.resolver.as_ref()),
    );
    let last = shared
        .ledger
        .lock()
        .map(|mut l| l.take_minute(unix_now()))
        .unwrap_or_default();
    let _ = minutes.send(last);
    drop(minutes);
    shared.notify();
    let written = writer.join();
    ran?;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Runtime(anyhow::anyhow!("{e}"))),
        Err(_) => Err(Failure::Runtime(anyhow::anyhow!(
            "the history writer panicked"
        ))),
    }
}

/// The history writer's thread: its last write error, if the last failed.
type Writer = std::thread::JoinHandle<Result<(), String>>;

/// The history writer: one transaction per minute received; ends when the
/// channel closes, after writing everything sent. A failed write is
/// logged and retried with the next minute (the lost minute is said).
fn start_writer(
    mut history: History,
    writable: Vec<PathBuf>,
) -> Result<(mpsc::Sender<Minute>, Writer), Failure> {
    let (tx, rx) = mpsc::channel::<Minute>();
    let handle = std::thread::Builder::new()
        .name("netop-history".into())
        .spawn(move || {
            let held = platform::confine_worker(&writable);
            tracing::debug!(%held, "history writer confined");
            let mut last_error = None;
            for minute in rx {
                let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
                let began = std::time::Instant::now();
                if let Err(e) = history.write(&minute, now) {
                    tracing::warn!(error = %e, minute = minute.start, "cannot write the history; this minute is lost");
                    last_error = Some(e.to_string());
                } else {
                    // `RUST_LOG=netop::serve=debug`: the benchmark reads it.
                    let ms = began.elapsed().as_secs_f64() * 1000.0;
                    tracing::debug!(rows = minute.traffic.len(), ms, "history minute written");
                    last_error = None;
                }
            }
            match last_error {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot start the history writer: {e}")))?;
    Ok((tx, handle))
}

/// The HTTP accept thread (it and its connection threads hold no
/// capabilities).
fn start_http(
    listener: TcpListener,
    shared: Arc<Shared>,
    writable: Vec<PathBuf>,
) -> Result<(), Failure> {
    std::thread::Builder::new()
        .name("netop-http".into())
        .spawn(move || {
            let held = platform::confine_worker(&writable);
            tracing::debug!(%held, "HTTP threads confined");
            let handler: Arc<http::Handler> =
                Arc::new(move |request: &http::Request| routes::handle(&shared, request));
            http::serve(listener, handler, http::Limits::default());
        })
        .map(|_| ())
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot start the HTTP server: {e}")))
}
