//! [`Monitor`]: the engine on a capture thread of its own, running the
//! binary's loop (`collect::run`) with a refresh [`Tick`] that publishes
//! figures into the shared state (`state.rs`). Every method takes `&self`
//! and the monitor is `Send + Sync`: share it between threads in an `Arc`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use netop_core::{Backend, BackendOptions, Engine, EngineConfig, InterfaceInfo, OpenError};

use crate::collect::{self, Health, Tick};
use crate::state::{self, Phase, Shared};
use crate::{platform, Error, Interface, Options, Proto, Report, Traffic};

/// Opens the backend on the capture thread.
type Opener = Box<dyn FnOnce(&BackendOptions) -> Result<Backend, OpenError> + Send>;

/// How long an exited process the engine no longer needs is kept (its
/// figures stay in the monitor while it is watched).
const FORGET_EXITED_AFTER: Duration = Duration::from_secs(60);
/// Reports a subscriber may fall behind by before it misses some.
const SUBSCRIBER_BACKLOG: usize = 16;

/// Counts chosen processes' traffic per interface, finds the process
/// behind a port, and reports every interval.
///
/// Built from [`Options`], started with [`Monitor::start`] (which needs
/// the capture privileges: root, or `cap_net_raw,cap_net_admin` on Linux)
/// and stopped with [`Monitor::stop`] or when dropped. The capture runs on
/// a thread of its own.
///
/// ```no_run
/// use std::time::Duration;
/// use netop_lib::{Monitor, Options};
///
/// let monitor = Monitor::new(Options::new())?;
/// let pid = std::process::id();
/// monitor.watch(pid)?;
/// monitor.start()?;
/// std::thread::sleep(Duration::from_secs(2));
/// for t in monitor.traffic(pid)? {
///     println!("{}: {} B in, {} B out", t.interface, t.rx_bytes, t.tx_bytes);
/// }
/// # Ok::<(), netop_lib::Error>(())
/// ```
pub struct Monitor {
    options: Options,
    shared: Arc<Shared>,
    opener: Mutex<Option<Opener>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("options", &self.options)
            .field("phase", &self.shared.lock().phase)
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// A monitor over this OS's live capture. Checks the options; opens
    /// nothing until [`Monitor::start`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use netop_lib::{Error, Monitor, Options};
    ///
    /// let too_fast = Options::new().interval(Duration::from_millis(1));
    /// assert!(matches!(Monitor::new(too_fast), Err(Error::InvalidOption(_))));
    /// ```
    pub fn new(options: Options) -> Result<Self, Error> {
        Self::with_backend(options, platform::open)
    }

    /// A monitor over a backend of the caller's making, opened on the
    /// capture thread: a recorded capture, or the core's fakes
    /// (`netop_core::testing`) in tests that need no privileges.
    ///
    /// ```
    /// use netop_core::testing::{ReplayCapture, StaticResolver};
    /// use netop_core::{Backend, HostInterfaces, InterfaceInfo, ResolveError};
    /// use netop_lib::{Monitor, Options};
    ///
    /// #[derive(Debug)]
    /// struct Lo;
    /// impl HostInterfaces for Lo {
    ///     fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, ResolveError> {
    ///         Ok(vec![InterfaceInfo { index: 1, name: "lo".into(), ..Default::default() }])
    ///     }
    /// }
    ///
    /// let monitor = Monitor::with_backend(Options::new(), |_| {
    ///     Ok(Backend {
    ///         capture: Box::new(ReplayCapture::new(Vec::new())),
    ///         resolver: Box::new(StaticResolver::new(Vec::new())),
    ///         interfaces: Box::new(Lo),
    ///         sockets: None,
    ///         owners: None,
    ///     })
    /// })?;
    /// monitor.start()?;
    /// monitor.wait(); // a replay ends by itself
    /// assert!(monitor.report().is_some());
    /// # Ok::<(), netop_lib::Error>(())
    /// ```
    pub fn with_backend<F>(options: Options, open: F) -> Result<Self, Error>
    where
        F: FnOnce(&BackendOptions) -> Result<Backend, OpenError> + Send + 'static,
    {
        options.validate()?;
        Ok(Monitor {
            options,
            shared: Arc::new(Shared::new(Some(Box::new(platform::parent_of)))),
            opener: Mutex::new(Some(Box::new(open))),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        })
    }

    /// Replaces how a process's parent is found, for
    /// [`Monitor::traffic_with_children`] (default: the OS's process
    /// table; tests give a fixed tree). Call before [`Monitor::start`].
    ///
    /// ```
    /// use netop_lib::{Monitor, Options};
    ///
    /// let monitor = Monitor::new(Options::new())?
    ///     .with_parents(|pid| (pid > 100).then_some(100));
    /// # Ok::<(), netop_lib::Error>(())
    /// ```
    pub fn with_parents(
        mut self,
        parent_of: impl Fn(u32) -> Option<u32> + Send + Sync + 'static,
    ) -> Self {
        self.shared = Arc::new(Shared::new(Some(Box::new(parent_of))));
        self
    }

    /// The options it was built with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Opens the capture and starts counting on the capture thread;
    /// returns once the first socket table is read, so the port queries
    /// answer at once. Fails with [`Error::PermissionDenied`] (and the fix)
    /// without the capture privileges, [`Error::NoSuchInterface`] or
    /// [`Error::NoSuchAddress`] for a bad choice, [`Error::AlreadyStarted`]
    /// the second time.
    pub fn start(&self) -> Result<(), Error> {
        let open = self
            .opener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or(Error::AlreadyStarted)?;
        let (ready, started) = mpsc::channel();
        let options = self.options.clone();
        let (shared, stop) = (Arc::clone(&self.shared), Arc::clone(&self.stop));
        let thread = std::thread::Builder::new()
            .name("netop-capture".to_string())
            .spawn(move || capture(open, &options, &shared, &stop, ready))
            .map_err(|e| Error::Backend(format!("cannot start the capture thread: {e}")))?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        match started.recv() {
            Ok(result) => result,
            Err(_) => {
                self.join();
                Err(Error::Backend(
                    "the capture thread ended at start-up".to_string(),
                ))
            }
        }
    }

    /// Stops the capture and waits for its thread (at most about 100 ms
    /// plus the last owner searches). The figures stay readable. Returns
    /// the error that had ended the capture, if one did; stopping a
    /// monitor that is not running does nothing.
    pub fn stop(&self) -> Result<(), Error> {
        self.stop.store(true, Ordering::Relaxed);
        self.join();
        match &self.shared.lock().phase {
            Phase::Stopped(Some(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Waits until the capture ends by itself (a replay's end, a capture
    /// failure) or is stopped from another thread.
    pub fn wait(&self) {
        self.join();
    }

    /// Whether the capture is running.
    pub fn is_running(&self) -> bool {
        self.shared.lock().phase == Phase::Running
    }

    fn join(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                self.shared.stopped(Some(Error::Backend(
                    "the capture thread panicked".to_string(),
                )));
            }
        }
    }

    /// Watches `pid`: [`Monitor::traffic`] then counts its bytes from now
    /// (or from the start, if not started yet). Watching a watched pid
    /// changes nothing.
    ///
    /// ```
    /// use netop_lib::{Error, Monitor, Options};
    ///
    /// let monitor = Monitor::new(Options::new())?;
    /// monitor.watch(4242)?;
    /// assert_eq!(monitor.watched(), [4242]);
    /// assert_eq!(monitor.watch(0), Err(Error::InvalidPid));
    /// monitor.unwatch(4242)?;
    /// assert_eq!(monitor.unwatch(4242), Err(Error::NotWatched { pid: 4242 }));
    /// # Ok::<(), netop_lib::Error>(())
    /// ```
    pub fn watch(&self, pid: u32) -> Result<(), Error> {
        if pid == 0 {
            return Err(Error::InvalidPid);
        }
        let mut s = self.shared.lock();
        if !s.watched.contains_key(&pid) {
            let now = s.figures.get(&pid).cloned().unwrap_or_default();
            s.watched.insert(pid, now);
        }
        Ok(())
    }

    /// Stops watching `pid` and forgets its figures.
    pub fn unwatch(&self, pid: u32) -> Result<(), Error> {
        let mut s = self.shared.lock();
        if s.watched.remove(&pid).is_none() {
            return Err(Error::NotWatched { pid });
        }
        s.children.retain(|_, root| *root != pid);
        Ok(())
    }

    /// Stops watching every pid.
    pub fn unwatch_all(&self) {
        let mut s = self.shared.lock();
        s.watched.clear();
        s.children.clear();
    }

    /// The watched pids, ascending.
    pub fn watched(&self) -> Vec<u32> {
        self.shared.lock().watched.keys().copied().collect()
    }

    /// A watched process's bytes and packets per interface since it was
    /// watched (interfaces without packets left out), as of the last
    /// refresh. A process that exited keeps its figures.
    ///
    /// Errors: [`Error::NotWatched`], [`Error::NotStarted`].
    pub fn traffic(&self, pid: u32) -> Result<Vec<Traffic>, Error> {
        let s = self.shared.lock();
        let before = s.watched.get(&pid).ok_or(Error::NotWatched { pid })?;
        if s.phase == Phase::Idle {
            return Err(Error::NotStarted);
        }
        let now = s.figures.get(&pid).map(Vec::as_slice).unwrap_or_default();
        Ok(state::since(now, before))
    }

    /// As [`Monitor::traffic`], plus the traffic of the process's children
    /// (at any depth) that moved bytes while it was watched. A child is
    /// recognised at the first refresh after its traffic, while it still
    /// runs (or its parent is known): a child that lived and exited
    /// between two refreshes is missed.
    pub fn traffic_with_children(&self, pid: u32) -> Result<Vec<Traffic>, Error> {
        let mut total = self.traffic(pid)?;
        let s = self.shared.lock();
        for (child, _) in s.children.iter().filter(|(_, root)| **root == pid) {
            if let Some(figures) = s.figures.get(child) {
                state::add(&mut total, figures);
            }
        }
        Ok(total)
    }

    /// The process owning a socket on local `port` as of the last
    /// refresh: a listening or unconnected socket first, then any.
    /// `None` when no socket has that port, or its owner is not known.
    pub fn pid_by_port(&self, proto: Proto, port: u16) -> Result<Option<u32>, Error> {
        let s = self.shared.lock();
        if s.phase == Phase::Idle {
            return Err(Error::NotStarted);
        }
        let mut candidates: Vec<_> = s
            .ports
            .iter()
            .filter(|p| p.proto == proto && p.port == port)
            .collect();
        candidates.sort_by_key(|p| !p.unconnected);
        Ok(candidates.first().map(|p| p.pid))
    }

    /// The local ports of `pid`'s sockets (any pid, watched or not), as
    /// of the last refresh, sorted.
    pub fn ports_by_pid(&self, pid: u32) -> Result<Vec<(Proto, u16)>, Error> {
        let s = self.shared.lock();
        if s.phase == Phase::Idle {
            return Err(Error::NotStarted);
        }
        let mut ports: Vec<(Proto, u16)> = s
            .ports
            .iter()
            .filter(|p| p.pid == pid)
            .map(|p| (p.proto, p.port))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// The local `proto` ports of the watched processes' sockets, sorted.
    pub fn ports(&self, proto: Proto) -> Result<Vec<u16>, Error> {
        let s = self.shared.lock();
        if s.phase == Phase::Idle {
            return Err(Error::NotStarted);
        }
        let mut ports: Vec<u16> = s
            .ports
            .iter()
            .filter(|p| p.proto == proto && s.watched.contains_key(&p.pid))
            .map(|p| p.port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// The host's interfaces with their addresses (no privileges needed).
    ///
    /// ```
    /// let interfaces = netop_lib::Monitor::interfaces()?;
    /// # #[cfg(target_os = "linux")]
    /// assert!(interfaces.iter().any(|i| i.name == "lo"));
    /// # Ok::<(), netop_lib::Error>(())
    /// ```
    pub fn interfaces() -> Result<Vec<Interface>, Error> {
        let list = platform::host_interfaces()
            .interfaces()
            .map_err(|e| Error::Backend(format!("cannot list interfaces: {e}")))?;
        Ok(list.iter().map(Interface::of).collect())
    }

    /// The last interval's report, if one was made.
    pub fn report(&self) -> Option<Report> {
        self.shared.lock().latest.clone()
    }

    /// Every report from now on, as they are made: the iterator blocks
    /// until the next interval and ends when the capture stops. A reader
    /// more than 16 reports behind misses some (the capture never waits).
    ///
    /// ```no_run
    /// let monitor = netop_lib::Monitor::new(netop_lib::Options::new())?;
    /// monitor.start()?;
    /// for report in monitor.reports().take(3) {
    ///     for p in &report.processes {
    ///         println!("{} {} {} B", p.pid, p.name, p.total_bytes());
    ///     }
    /// }
    /// # Ok::<(), netop_lib::Error>(())
    /// ```
    pub fn reports(&self) -> Reports {
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BACKLOG);
        let mut s = self.shared.lock();
        // A stopped monitor's iterator ends at once (its sender is dropped).
        if !matches!(s.phase, Phase::Stopped(_)) {
            s.subscribers.push(tx);
        }
        Reports { rx }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The reports of a running [`Monitor`], one per interval (see
/// [`Monitor::reports`]).
#[derive(Debug)]
pub struct Reports {
    rx: Receiver<Report>,
}

impl Reports {
    /// The next report, waiting at most `timeout`; `None` on timeout or
    /// once the capture stopped.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Report> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Iterator for Reports {
    type Item = Report;

    fn next(&mut self) -> Option<Report> {
        self.rx.recv().ok()
    }
}

/// The interfaces the figures are kept for: `None` for every one, else
/// the named ones and those holding the chosen addresses.
fn choose(options: &Options, list: &[InterfaceInfo]) -> Result<Option<Vec<u32>>, Error> {
    if options.interfaces().is_empty() && options.addresses().is_empty() {
        return Ok(None);
    }
    let mut chosen = Vec::new();
    for name in options.interfaces() {
        let Some(i) = list.iter().find(|i| &i.name == name) else {
            return Err(Error::NoSuchInterface {
                name: name.clone(),
                available: list.iter().map(|i| i.name.clone()).collect(),
            });
        };
        chosen.push(i.index);
    }
    for address in options.addresses() {
        let address = netop_core::socket::canonical_ip(*address);
        let holders: Vec<u32> = list
            .iter()
            .filter(|i| i.addrs.contains(&address))
            .map(|i| i.index)
            .collect();
        if holders.is_empty() {
            return Err(Error::NoSuchAddress {
                address,
                available: list.iter().flat_map(|i| i.addrs.iter().copied()).collect(),
            });
        }
        chosen.extend(holders);
    }
    chosen.sort_unstable();
    chosen.dedup();
    Ok(Some(chosen))
}

/// The capture thread: opens the backend, says so on `ready` after the
/// first refresh, runs the shared loop until stopped.
fn capture(
    open: Opener,
    options: &Options,
    shared: &Shared,
    stop: &AtomicBool,
    ready: mpsc::Sender<Result<(), Error>>,
) {
    let mut backend = match open(&options.backend()) {
        Ok(backend) => backend,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let list = match backend.interfaces.interfaces() {
        Ok(list) => list,
        Err(e) => {
            let _ = ready.send(Err(Error::Backend(format!("cannot list interfaces: {e}"))));
            return;
        }
    };
    match choose(options, &list) {
        Ok(chosen) => shared.running(chosen),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    }
    let mut engine = Engine::new(EngineConfig {
        dns: options.uses_dns().then(netop_core::dns::DnsConfig::default),
        forget_exited_after: Some(FORGET_EXITED_AFTER),
        ..EngineConfig::default()
    });
    let mut ready = Some(ready);
    let mut refresh = |engine: &mut Engine, _: &Health| {
        shared.update(engine);
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        }
    };
    let ran = collect::run(
        &mut backend,
        &mut engine,
        None,
        stop,
        Some(Tick {
            every: options.every(),
            run: &mut refresh,
        }),
    );
    shared.update(&engine);
    let error = ran.err().map(|e| Error::Backend(format!("{e:#}")));
    if let Some(ready) = ready.take() {
        let _ = ready.send(match &error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        });
    }
    shared.stopped(error);
}
