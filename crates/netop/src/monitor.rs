//! The interactive monitor: a capture thread and a screen loop.
//!
//! The capture thread owns the backend and the engine and runs the same
//! loop as a snapshot; at each refresh it builds a [`LiveReport`] and
//! offers it to the screen through a one-slot channel without waiting
//! (a screen that is behind simply gets the next one). The screen loop
//! owns the [`AppState`]: it waits for a key, a mouse event, a resize or a
//! report, applies it with [`tui::update`] and redraws. So capture never
//! waits for drawing, and drawing never waits for capture.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use crossterm::event::{self, Event as TermEvent};
use netop_core::engine::LiveReport;
use netop_core::Engine;

use crate::failure::Failure;
use crate::platform;
use crate::terminal::TerminalGuard;
use netop::tui::{self, AppState, Effect, Event, OwnerMode, Settings, SortColumn};
use netop_cli::Args;
use netop_lib::collect::{self, Tick};

/// How long the screen loop waits for input before looking for a report.
const POLL: Duration = Duration::from_millis(50);

pub fn run(
    args: &Args,
    file: &crate::settings::Settings,
    stop: Arc<AtomicBool>,
) -> Result<(), Failure> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(Failure::NotATerminal);
    }
    let interval = Duration::from_secs_f64(args.interval);
    let (reports_tx, reports) = mpsc::sync_channel::<Arc<LiveReport>>(1);
    let (opened_tx, opened) = mpsc::sync_channel::<Result<Option<OwnerMode>, Failure>>(1);
    let capture_args = args.clone();
    let capture_stop = Arc::clone(&stop);
    let capture = thread::Builder::new()
        .name("netop-capture".into())
        .spawn(move || {
            capture_thread(
                &capture_args,
                interval,
                &capture_stop,
                &opened_tx,
                &reports_tx,
            )
        })
        .context("cannot start the capture thread")?;
    // Errors opening the capture (privileges, interface) print as in a
    // snapshot, before the screen changes.
    let owners = match opened.recv() {
        Ok(Ok(owners)) => owners,
        Ok(Err(failure)) => {
            let _ = capture.join();
            return Err(failure);
        }
        Err(_) => {
            return Err(join_failure(capture)
                .unwrap_or_else(|| Failure::Runtime(anyhow::anyhow!("the capture thread ended"))))
        }
    };
    let settings = Settings {
        sort: sort_column(args.sort),
        filter: args.filter.clone(),
        interval,
        color: !args.no_color && std::env::var_os("NO_COLOR").is_none(),
        dns: !args.no_dns,
        utc_offset: chrono::Local::now().offset().local_minus_utc(),
        interface: args.interface.clone(),
        containers: args.containers,
        owners,
        theme: args.power.theme.clone().unwrap_or_default(),
        pins: tui::state::Pins {
            processes: file.extras.pins.processes.iter().cloned().collect(),
            remotes: file.extras.pins.remotes.iter().cloned().collect(),
        },
        alerts: tui::state::Alerts {
            rate: args.power.alert,
            processes: file.extras.alert_processes.clone(),
            bell: file.extras.bell,
        },
        exclude: args.power.exclude.clone(),
        services: Arc::new(tui::services::Services::load()),
        columns: shown_columns(file.extras.columns.as_deref()),
    };
    // Before the screen thread is confined: the file thread keeps what it
    // needs to write the config file (only one that exists) and exports.
    let export_dir = match &file.extras.export_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the working directory")?,
    };
    let files = crate::files::spawn(file.path.clone(), export_dir)
        .context("cannot start the file thread")?;
    let saver = Some(&files);
    let held = platform::confine(platform::Role::Screen);
    tracing::debug!(%held, "screen thread confined");
    // --resolve: its thread inherits the screen's confinement (it reads
    // no file, it sends UDP queries).
    let reverse = if args.power.resolve {
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let server = args
            .power
            .resolve_server
            .or_else(|| crate::reverse::nameserver(&conf))
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 53)));
        Some(crate::reverse::spawn(server).context("cannot start the reverse-DNS thread")?)
    } else {
        None
    };
    let screen_result = screen_loop(settings, &reports, saver, reverse.as_ref(), &stop);
    stop.store(true, Ordering::Relaxed);
    // The terminal is already restored here: errors print on a sane screen.
    let capture_failure = join_failure(capture);
    screen_result?;
    match capture_failure {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// The capture thread's result, as a failure if it had one.
fn join_failure(handle: thread::JoinHandle<Result<(), Failure>>) -> Option<Failure> {
    match handle.join() {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(failure),
        Err(_) => Some(Failure::Runtime(anyhow::anyhow!(
            "the capture thread panicked"
        ))),
    }
}

fn capture_thread(
    args: &Args,
    interval: Duration,
    stop: &AtomicBool,
    opened: &SyncSender<Result<Option<OwnerMode>, Failure>>,
    reports: &SyncSender<Arc<LiveReport>>,
) -> Result<(), Failure> {
    let mut backend = match platform::open(args) {
        Ok(backend) => backend,
        Err(failure) => {
            let _ = opened.send(Err(failure));
            return Ok(());
        }
    };
    let mut writer = match crate::pcapng::start(args, &mut backend) {
        Ok(w) => w,
        Err(failure) => {
            let _ = opened.send(Err(failure));
            return Ok(());
        }
    };
    let held = platform::confine(platform::Role::Capture);
    tracing::debug!(%held, "capture thread confined");
    let _ = opened.send(Ok(backend.owners.clone()));
    let mut engine = Engine::new(crate::engine_config(args, false));
    // Rates are averaged over the refresh interval (whole seconds).
    let window = interval.as_secs_f64().ceil().max(1.0) as u32;
    let mut send = |engine: &mut Engine, health: &collect::Health| {
        if let Some(w) = writer.as_mut() {
            if let Err(e) = w.flush(engine) {
                // The monitor goes on; the file stops growing.
                tracing::warn!(error = %e, "cannot write the pcapng file");
                writer = None;
            }
        }
        let mut report = engine.live_report(last_complete_second(), window);
        report.capture_gone = health.capture.gone.clone();
        report.lost_events = health.lost_events;
        // Full: the screen has not taken the previous one yet; it gets
        // the next. Disconnected: the screen is gone and stop is set.
        let _ = reports.try_send(Arc::new(report));
    };
    collect::run(
        &mut backend,
        &mut engine,
        None,
        stop,
        Some(Tick {
            every: interval,
            run: &mut send,
        }),
    )?;
    Ok(())
}

/// The last whole second of wall-clock time, in the frame timestamps' clock.
fn last_complete_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(1)
}

fn screen_loop(
    settings: Settings,
    reports: &Receiver<Arc<LiveReport>>,
    saver: Option<&crate::files::Files>,
    reverse: Option<&crate::reverse::Reverse>,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let mut asked = Asked::default();
    let (guard, mut screen) = TerminalGuard::enter().context("cannot set up the terminal")?;
    let size = screen.size().context("cannot read the terminal size")?;
    let mut state = AppState::new(settings, (size.width, size.height));
    let mut dirty = true;
    let result = loop {
        if dirty {
            if let Err(e) = screen.draw(|frame| tui::render(&state, frame)) {
                break Err(Failure::Runtime(anyhow::anyhow!("cannot draw: {e}")));
            }
            dirty = false;
        }
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        match input(&mut state, saver, POLL) {
            Ok(Input::Quit) => break Ok(()),
            Ok(Input::Changed) => dirty = true,
            Ok(Input::Nothing) => {}
            Err(e) => {
                break Err(Failure::Runtime(anyhow::anyhow!(
                    "cannot read the terminal: {e}"
                )))
            }
        }
        if let Some(reverse) = reverse {
            let names: Vec<_> = reverse.answers.try_iter().collect();
            if !names.is_empty() {
                tui::update(&mut state, Event::Names(names));
                dirty = true;
            }
        }
        if let Some(line) = saver.and_then(|s| s.results.try_recv().ok()) {
            state.message = Some(line);
            dirty = true;
        }
        match reports.try_recv() {
            Ok(report) => {
                if let Some(reverse) = reverse {
                    asked.ask(reverse, &report);
                }
                let effects = tui::update(&mut state, Event::Report(report));
                perform(&state, &effects, saver);
                dirty = true;
            }
            Err(TryRecvError::Empty) => {}
            // The capture thread ended (an error): leave and report it.
            Err(TryRecvError::Disconnected) => break Ok(()),
        }
    };
    drop(guard);
    result
}

/// The addresses sent to the reverse-DNS thread, forgotten every five
/// minutes so that names are asked again (the thread answers from its
/// cache until their TTL).
#[derive(Default)]
struct Asked {
    sent: std::collections::HashSet<std::net::IpAddr>,
    since: Option<std::time::Instant>,
}

impl Asked {
    fn ask(&mut self, reverse: &crate::reverse::Reverse, report: &LiveReport) {
        let now = std::time::Instant::now();
        if self
            .since
            .is_none_or(|t| now - t > Duration::from_secs(300))
        {
            self.sent.clear();
            self.since = Some(now);
        }
        for c in report.connections.iter().filter(|c| !c.unconnected) {
            let ip = c.key.remote_ip;
            if c.remote_name.is_none()
                && !ip.is_loopback()
                && !ip.is_unspecified()
                && self.sent.insert(ip)
            {
                let _ = reverse.requests.send(ip);
            }
        }
    }
}

/// What terminal input did.
enum Input {
    Nothing,
    Changed,
    Quit,
}

/// Waits up to `wait` for terminal input and applies every event that is
/// ready (a burst of wheel events costs one redraw).
fn input(
    state: &mut AppState,
    saver: Option<&crate::files::Files>,
    wait: Duration,
) -> io::Result<Input> {
    let mut timeout = wait;
    let mut changed = Input::Nothing;
    while event::poll(timeout)? {
        timeout = Duration::ZERO;
        let ev = match event::read()? {
            TermEvent::Key(key) => Event::Key(key),
            TermEvent::Mouse(mouse) => Event::Mouse(mouse),
            TermEvent::Resize(w, h) => Event::Resize(w, h),
            _ => continue,
        };
        let effects = tui::update(state, ev);
        if effects.contains(&Effect::Quit) {
            return Ok(Input::Quit);
        }
        perform(state, &effects, saver);
        changed = Input::Changed;
    }
    Ok(changed)
}

/// Carries out what an update asked for besides quitting.
fn perform(state: &AppState, effects: &[Effect], saver: Option<&crate::files::Files>) {
    for effect in effects {
        match effect {
            Effect::Bell => {
                let mut out = io::stdout();
                let _ = out.write_all(b"\x07").and_then(|()| out.flush());
            }
            // Without a config file nothing is written (the guide's
            // promise); the saver exists only when one does.
            Effect::SavePrefs => {
                if let Some(files) = saver.filter(|f| f.saves_prefs) {
                    let _ = files.jobs.send(crate::files::Job::Prefs(prefs_of(state)));
                }
            }
            Effect::Export(format) => {
                if let (Some(files), Some(export)) = (saver, tui::export::export(state, *format)) {
                    let _ = files.jobs.send(crate::files::Job::Export(export));
                }
            }
            Effect::Quit => {}
        }
    }
}

/// What the config file keeps of the monitor's state.
fn prefs_of(state: &AppState) -> netop::config::save::Prefs {
    let sort = match state.sort {
        SortColumn::Traffic => "traffic",
        SortColumn::Pid => "pid",
        SortColumn::Name => "name",
        SortColumn::Connections => "connections",
        // The Connection view's own column: the file keeps the last
        // Process view column, so leave it as it is.
        SortColumn::Remote => "",
    };
    netop::config::save::Prefs {
        sort: (!sort.is_empty()).then_some(sort),
        theme: Some(tui::theme::PALETTES[state.theme].name.to_string()),
        pinned_processes: state.pins.processes.iter().cloned().collect(),
        pinned_remotes: state.pins.remotes.iter().cloned().collect(),
    }
}

/// The config file's `columns` (all when it says nothing).
fn shown_columns(columns: Option<&[netop::config::Column]>) -> tui::process_view::Shown {
    use netop::config::Column;
    match columns {
        None => tui::process_view::Shown::default(),
        Some(list) => tui::process_view::Shown {
            user: list.contains(&Column::User),
            sockets: list.contains(&Column::Sockets),
            conns: list.contains(&Column::Conns),
            container: list.contains(&Column::Container),
        },
    }
}

/// The command line's sort column as the screen's.
fn sort_column(column: netop_cli::SortColumn) -> SortColumn {
    match column {
        netop_cli::SortColumn::Traffic => SortColumn::Traffic,
        netop_cli::SortColumn::Pid => SortColumn::Pid,
        netop_cli::SortColumn::Name => SortColumn::Name,
        netop_cli::SortColumn::Connections => SortColumn::Connections,
    }
}
