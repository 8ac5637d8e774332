//! What the kernel-counting loop sleeps on between its table reads.
//!
//! The loop reads the kernel's counters ten times a second and otherwise
//! sleeps. Three things end a sleep early: a link announcement (an
//! interface to attach), a DNS record (the observatory parses them as
//! they come), and the event source's ring filling up. The first two are
//! level-triggered: readable while anything waits. The event ring is
//! edge-triggered, because its records are meant to wait for the next
//! batch: they wake no reader until the ring is a quarter full
//! (`events/netop.bpf.c`), and a level-triggered wait would return at
//! once for every record. Before the ring woke the loop, a burst of
//! 10,000 new sockets overflowed its 512 KiB between two reads and 4,045
//! owners were lost (their bytes then waited for a socket dump).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// An epoll set over the loop's wake-up sources; without one (epoll
/// refused) the loop sleeps for the whole interval.
pub(super) struct Sleeper {
    epoll: Option<Epoll>,
    /// Kept open for as long as it is in the set.
    _events: Option<OwnedFd>,
}

impl Sleeper {
    /// A set over `ready` (level-triggered).
    pub(super) fn new<'a>(ready: impl IntoIterator<Item = std::os::fd::BorrowedFd<'a>>) -> Sleeper {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| tracing::warn!(error = %e, "no epoll; sleeping between reads"))
            .ok();
        if let Some(epoll) = &epoll {
            for fd in ready {
                if let Err(e) = epoll.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, 0)) {
                    tracing::warn!(error = %e, "cannot wait on a descriptor; it is read between sleeps");
                }
            }
        }
        Sleeper {
            epoll,
            _events: None,
        }
    }

    /// Also wakes when `events` (the event ring's descriptor) signals,
    /// edge-triggered.
    pub(super) fn wake_on_events(&mut self, events: OwnedFd) {
        let Some(epoll) = &self.epoll else {
            return;
        };
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
        match epoll.add(events.as_fd(), EpollEvent::new(flags, 0)) {
            Ok(()) => self._events = Some(events),
            Err(e) => tracing::warn!(error = %e, "cannot wait on the event ring"),
        }
    }

    /// Sleeps at most `timeout`, or until a source is ready.
    pub(super) fn sleep(&self, timeout: Duration) {
        let Some(epoll) = &self.epoll else {
            std::thread::sleep(timeout);
            return;
        };
        // Rounded up: a wait of less than a millisecond must not become a
        // wait that returns at once, or the loop spins until the next read
        // (up to a millisecond of busy work every read, 1 % of a core).
        let ms = u32::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u32::MAX);
        let timeout = EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX);
        let mut ready = [EpollEvent::empty(); 4];
        // EINTR (a signal, such as the monitor's resize) only ends the
        // sleep early, as readiness does.
        let _ = epoll.wait(&mut ready, timeout);
    }
}
