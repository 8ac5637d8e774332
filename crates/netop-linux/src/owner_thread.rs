//! The owner search on a thread of its own, so the thread that captures
//! and parses packets can be Landlocked.
//!
//! Landlock denies a confined thread ptrace-mode access to every process
//! outside its domain, and reading another process's `/proc/PID/fd` or
//! `/proc/PID/ns/net` (and entering its network namespace) is such an
//! access. The thread that parses whatever arrives on the wire is the one
//! worth confining, and it must not lose the owners of other processes'
//! sockets: so every system call of the owner search (sock_diag dumps and
//! lookups, conntrack, `/proc` scans, process exits, the namespace
//! openers) runs on this thread, which drops capabilities but is not
//! Landlocked.
//!
//! [`OwnerThread`] is the [`SocketResolver`] the capture thread holds: a
//! proxy that sends each call to the thread and waits for its answer, so
//! the engine's loop is unchanged (figures of a round trip:
//! `examples/sockdiag_latency.rs`, docs/PERFORMANCE.md). The event ring
//! stays with the proxy: draining it reads mapped memory, and its records
//! go to the owner model with the next call. The call the engine makes
//! before every batch (the sockets that changed hands) crosses over only
//! when events came in since the last one, or the thread said it has
//! changes (the perf tracepoint's records are drained there, since
//! pairing them reads `/proc`): without them nothing changed.
//!
//! The thread is started by the factory after the capture is open; it
//! confines itself (capabilities, `no_new_privs`, no Landlock) when the
//! capture thread confines itself ([`confine_owner_threads`]), not at
//! start: `netop serve` switches user in between, and every thread of the
//! process must still hold CAP_SETUID for that switch. It keeps its
//! permitted capabilities across the switch (`PR_SET_KEEPCAPS`, as the
//! capture thread does).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netop_core::{FlowKey, ProcessInfo, ResolveError, SocketEntry, SocketResolver, SocketTable};

use crate::confine::Confinement;
use crate::events::EventSource;
use crate::resolver::{drain_into, LinuxResolver, Told};

/// One call of the capture thread; the first four carry the owners the
/// event ring told of since the last call.
enum Request {
    Sockets(Vec<Told>),
    Lookup(FlowKey, Vec<Told>),
    OwnerChanges(Vec<Told>),
    CookieOwners(Vec<u64>, Vec<Told>),
    Untranslated(FlowKey),
    Exited(Vec<(u32, u64)>),
}

/// The thread's answer to a [`Request`] of the same name.
enum Reply {
    Sockets(Result<SocketTable, ResolveError>),
    Lookup(Result<Option<SocketEntry>, ResolveError>),
    Untranslated(Option<FlowKey>),
    OwnerChanges(Vec<SocketEntry>),
    CookieOwners(Vec<(u64, ProcessInfo)>),
    Exited(Vec<(u32, u64)>),
}

/// What the thread receives: a call, or the order to confine itself
/// (answered on its own channel).
enum Message {
    Call(Request),
    Confine(Sender<Confinement>),
    Stop,
}

/// Owner threads not yet confined, by id, told by
/// [`confine_owner_threads`]; a proxy dropped unconfined (the library
/// confines nothing) takes its entry out.
static UNCONFINED: Mutex<Vec<(u64, Sender<Message>)>> = Mutex::new(Vec::new());

/// The next owner thread's id.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn unconfined() -> std::sync::MutexGuard<'static, Vec<(u64, Sender<Message>)>> {
    UNCONFINED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A [`SocketResolver`] whose work runs on an owner thread.
#[derive(Debug)]
pub struct OwnerThread {
    id: u64,
    requests: Sender<Message>,
    replies: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
    /// The resolver's event source, drained here.
    events: Option<EventSource>,
    /// Owners the ring told of that the thread has not seen yet.
    told: Vec<Told>,
    /// Owners were sent to the thread since it last reported the changes
    /// of hands: it may have some.
    changes_possible: bool,
    /// The same for the changes of hands by socket cookie.
    cookie_changes_possible: bool,
    /// What the thread's own drains (the tracepoint's) leave for the proxy.
    shared: Arc<Shared>,
    /// Lost event records already warned about.
    lost_reported: u64,
}

impl OwnerThread {
    /// Moves `resolver` onto a new thread (named `netop-owners`), keeping
    /// its event source here.
    pub fn spawn(mut resolver: LinuxResolver) -> std::io::Result<Self> {
        let events = resolver.take_events();
        let (requests, inbox) = mpsc::channel::<Message>();
        let (outbox, replies) = mpsc::channel::<Reply>();
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("netop-owners".to_string())
            .spawn(move || serve(resolver, &inbox, &outbox, &thread_shared))?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        unconfined().push((id, requests.clone()));
        Ok(OwnerThread {
            id,
            requests,
            replies,
            handle: Some(handle),
            events,
            told: Vec::new(),
            changes_possible: false,
            cookie_changes_possible: false,
            shared,
            lost_reported: 0,
        })
    }

    fn call(&self, request: Request) -> Option<Reply> {
        self.requests.send(Message::Call(request)).ok()?;
        receive(&self.replies, CALLER_POLLS)
    }

    /// What the ring holds now, to go with the next call.
    fn drain(&mut self) -> Vec<Told> {
        if let Some(source) = self.events.as_mut() {
            drain_into(source, &mut self.told, Instant::now());
        }
        if !self.told.is_empty() {
            self.changes_possible = true;
            self.cookie_changes_possible = true;
        }
        std::mem::take(&mut self.told)
    }

    /// Warns once per growth of the kernel's count of records it could not
    /// queue (read with each table, not each lookup: it is a syscall).
    fn check_lost(&mut self) {
        let lost = self.lost_events();
        if lost > self.lost_reported {
            tracing::warn!(
                lost,
                "the event ring buffer overflowed; some short-lived sockets' owners may be unknown"
            );
            self.lost_reported = lost;
        }
    }
}

impl Drop for OwnerThread {
    fn drop(&mut self) {
        unconfined().retain(|(id, _)| *id != self.id);
        let _ = self.requests.send(Message::Stop);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// How long the caller polls for its answer before sleeping on the
/// channel: most answers (an exact lookup, a cached owner, the changes of
/// hands) take less, and waking a sleeping thread can take longer than
/// the lookup itself.
const CALLER_POLLS: Duration = Duration::from_micros(20);

/// How long the owner thread polls for the next call after answering a
/// lookup before sleeping: the engine's queued searches come one after
/// another. After other calls (once a batch or a refresh) it sleeps at
/// once, so an idle run does not spin.
const OWNER_POLLS: Duration = Duration::from_micros(50);

/// The next message on `channel`: polled for `polls` (spinning, not
/// yielding: on a machine whose cores are busy, a `sched_yield` handed the
/// CPU to the busy threads for a whole slice, and under a flood of new
/// flows the capture thread lost so much time waiting for lookups that
/// the kernel dropped about 60 % of packets, against 11 % spinning and 7 %
/// with the search on the capture thread), then waited for. `None` once
/// the other side is gone.
fn receive<T>(channel: &Receiver<T>, polls: Duration) -> Option<T> {
    let start = Instant::now();
    loop {
        match channel.try_recv() {
            Ok(message) => return Some(message),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) if start.elapsed() < polls => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => return channel.recv().ok(),
        }
    }
}

/// What the owner thread's own drains (the perf tracepoint's, read on
/// the thread) leave for the proxy, updated after each answer.
#[derive(Debug, Default)]
struct Shared {
    /// Sockets changed hands: `owner_changes` must cross over.
    changes_waiting: AtomicBool,
    /// Records the tracepoint's rings could not hold.
    lost: AtomicU64,
}

/// The thread's loop: one call at a time, until the proxy is dropped.
fn serve(
    mut resolver: LinuxResolver,
    inbox: &Receiver<Message>,
    outbox: &Sender<Reply>,
    shared: &Shared,
) {
    keep_capabilities_across_user_switch();
    let mut polls = Duration::ZERO;
    while let Some(message) = receive(inbox, polls) {
        polls = match &message {
            Message::Call(Request::Lookup(..) | Request::Untranslated(_)) => OWNER_POLLS,
            _ => Duration::ZERO,
        };
        let reply = match message {
            Message::Confine(answer) => {
                let _ = answer.send(crate::confine::after_startup(None));
                continue;
            }
            Message::Call(request) => answer(&mut resolver, request),
            Message::Stop => return,
        };
        if resolver.has_owner_changes() {
            shared.changes_waiting.store(true, Ordering::Release);
        }
        // The resolver's source was taken out unless it is the tracepoint.
        shared.lost.store(resolver.lost_events(), Ordering::Relaxed);
        if outbox.send(reply).is_err() {
            return;
        }
    }
}

fn answer(resolver: &mut LinuxResolver, request: Request) -> Reply {
    match request {
        Request::Sockets(told) => {
            resolver.told(told);
            Reply::Sockets(resolver.sockets())
        }
        Request::Lookup(key, told) => {
            resolver.told(told);
            Reply::Lookup(resolver.lookup(&key))
        }
        Request::OwnerChanges(told) => {
            resolver.told(told);
            Reply::OwnerChanges(resolver.owner_changes())
        }
        Request::CookieOwners(cookies, told) => {
            resolver.told(told);
            Reply::CookieOwners(resolver.cookie_owners(&cookies))
        }
        Request::Untranslated(key) => Reply::Untranslated(resolver.untranslated(&key)),
        Request::Exited(processes) => Reply::Exited(resolver.exited(&processes)),
    }
}

/// `PR_SET_KEEPCAPS` on this thread: `netop serve`'s switch to its user
/// (a `setuid` glibc applies to every thread) then keeps this thread's
/// permitted capabilities, as the capture thread's own flag keeps its.
fn keep_capabilities_across_user_switch() {
    // SAFETY: prctl(PR_SET_KEEPCAPS) only sets a flag of the calling
    // thread; it takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot set keepcaps");
    }
}

/// Confines every owner thread started and not yet confined (capabilities
/// and `no_new_privs`, no Landlock: see the module's comment), and returns
/// what each holds then. Called by the capture thread when it confines
/// itself, after start-up (and after `netop serve`'s user switch).
pub fn confine_owner_threads() -> Vec<Confinement> {
    let waiting = std::mem::take(&mut *unconfined());
    waiting
        .into_iter()
        .filter_map(|(_, thread)| {
            let (answer, confined) = mpsc::channel();
            thread.send(Message::Confine(answer)).ok()?;
            confined.recv().ok()
        })
        .collect()
}

fn stopped() -> ResolveError {
    ResolveError::Failed {
        what: "socket owners".to_string(),
        message: "the owner thread stopped".to_string(),
    }
}

impl SocketResolver for OwnerThread {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        let told = self.drain();
        if self.events.is_some() {
            self.check_lost();
        }
        match self.call(Request::Sockets(told)) {
            Some(Reply::Sockets(result)) => result,
            _ => Err(stopped()),
        }
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        let told = self.drain();
        match self.call(Request::Lookup(*key, told)) {
            Some(Reply::Lookup(result)) => result,
            _ => Err(stopped()),
        }
    }

    fn untranslated(&mut self, key: &FlowKey) -> Option<FlowKey> {
        match self.call(Request::Untranslated(*key)) {
            Some(Reply::Untranslated(inside)) => inside,
            _ => None,
        }
    }

    fn owner_changes(&mut self) -> Vec<SocketEntry> {
        let told = self.drain();
        // Only events change hands: none since the last answer, no change.
        let waiting = self.shared.changes_waiting.swap(false, Ordering::Acquire);
        if !self.changes_possible && !waiting {
            return Vec::new();
        }
        self.changes_possible = false;
        match self.call(Request::OwnerChanges(told)) {
            Some(Reply::OwnerChanges(changes)) => changes,
            _ => Vec::new(),
        }
    }

    /// Crosses over when the engine asks about cookies, or when records
    /// came in since the last answer (a cookie may have changed hands):
    /// else the answer would be empty, as for the changes by tuple.
    fn cookie_owners(&mut self, cookies: &[u64]) -> Vec<(u64, ProcessInfo)> {
        let told = self.drain();
        if cookies.is_empty() && !self.cookie_changes_possible {
            return Vec::new();
        }
        self.cookie_changes_possible = false;
        match self.call(Request::CookieOwners(cookies.to_vec(), told)) {
            Some(Reply::CookieOwners(owners)) => owners,
            _ => Vec::new(),
        }
    }

    fn exited(&mut self, processes: &[(u32, u64)]) -> Vec<(u32, u64)> {
        match self.call(Request::Exited(processes.to_vec())) {
            Some(Reply::Exited(gone)) => gone,
            _ => Vec::new(),
        }
    }

    /// Event records the kernel dropped (ring buffer full); 0 when polling.
    /// The tracepoint's are counted on the thread (whose resolver warns of
    /// them) and read here.
    fn lost_events(&self) -> u64 {
        self.events.as_ref().map_or(0, EventSource::lost) + self.shared.lost.load(Ordering::Relaxed)
    }
}
