//! Pairs a TCP socket's CLOSE -> SYN_SENT event (in `connect()`'s process
//! context: the pid is the owner, but the local port may not be chosen
//! yet) with its SYN_SENT -> ESTABLISHED event (in softirq: the full
//! tuple, but the pid is whoever was interrupted), by the socket's kernel
//! address: the same idea as the eBPF program's per-socket storage
//! (`events/netop.bpf.c`), here in a bounded userspace map.
//!
//! The map holds at most `capacity` connects in flight; past that the
//! oldest is forgotten (its connection, should it complete, is then left
//! to polling). A connect that fails (SYN_SENT -> CLOSE) is dropped.
//!
//! Records come in time order (the caller merges the CPUs' rings by
//! their timestamps), but a drain that reads CPU 0's ring, then CPU 1's,
//! can find a handshake on CPU 1 whose connect was written on CPU 0 just
//! after CPU 0 was read: the connect comes with the next drain. Such a
//! handshake is kept as an orphan until the end of the next drain
//! ([`Pairing::end_drain`]), and a connect that finds its orphan, earlier
//! than it, completes at once. A freed socket's address is soon another
//! socket's: a connect never takes a handshake from before it, nor a
//! handshake a connect from after it, and older orphans are dropped (one
//! from before netop started must not lend its tuple to a later
//! connect).

use std::collections::VecDeque;
use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use super::record::StateChange;

const IPPROTO_TCP: u16 = 6;
pub const TCP_ESTABLISHED: i32 = 1;
pub const TCP_SYN_SENT: i32 = 2;

/// A connection that completed, with what was remembered at its connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected<T> {
    pub owner: T,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// Connects in flight, by socket address.
#[derive(Debug)]
pub struct Pairing<T> {
    /// The owner and time of each connect in flight.
    pending: FxHashMap<u64, (T, u64)>,
    /// Socket addresses in the order their connect was seen (some may be
    /// paired already), to forget the oldest when full.
    order: VecDeque<u64>,
    capacity: usize,
    /// Handshakes without a connect, by socket address.
    orphans: FxHashMap<u64, Orphan>,
    /// Drains ended so far.
    drains: u64,
}

/// A handshake whose connect was not read yet.
#[derive(Debug, Clone, Copy)]
struct Orphan {
    local: SocketAddr,
    remote: SocketAddr,
    time: u64,
    /// The drain it was read in.
    drain: u64,
}

/// What one state change means.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// A connect began: remember its owner (the caller reads it now,
    /// while the process is surely alive).
    Connecting,
    Connected(Connected<T>),
    Nothing,
}

impl<T> Pairing<T> {
    pub fn new(capacity: usize) -> Self {
        Pairing {
            pending: FxHashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            orphans: FxHashMap::default(),
            drains: 0,
        }
    }

    /// Connects waiting for their handshake.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// What `change` is, before any owner is read: a connect to remember
    /// (then call [`Pairing::remember`]), a completion, or neither.
    pub fn step(&mut self, change: &StateChange) -> Step<T> {
        if change.protocol != IPPROTO_TCP {
            return Step::Nothing;
        }
        if change.newstate == TCP_SYN_SENT {
            return Step::Connecting;
        }
        if change.oldstate != TCP_SYN_SENT {
            return Step::Nothing;
        }
        let connect = self
            .pending
            .get(&change.skaddr)
            .is_some_and(|(_, time)| *time <= change.time);
        let Some((owner, _)) = connect
            .then(|| self.pending.remove(&change.skaddr))
            .flatten()
        else {
            if change.newstate == TCP_ESTABLISHED && self.orphans.len() < self.capacity {
                let orphan = Orphan {
                    local: change.local,
                    remote: change.remote,
                    time: change.time,
                    drain: self.drains,
                };
                self.orphans.insert(change.skaddr, orphan);
            }
            return Step::Nothing;
        };
        if change.newstate != TCP_ESTABLISHED {
            return Step::Nothing;
        }
        Step::Connected(Connected {
            owner,
            local: change.local,
            remote: change.remote,
        })
    }

    /// Remembers the owner of the connect `change` ([`Pairing::step`]
    /// said it is one); if its handshake was read first (an orphan from
    /// after it), the connection is complete now.
    pub fn remember(&mut self, change: &StateChange, owner: T) -> Option<Connected<T>> {
        let skaddr = change.skaddr;
        if let Some(orphan) = self.orphans.get(&skaddr).copied() {
            if orphan.time >= change.time {
                self.orphans.remove(&skaddr);
                return Some(Connected {
                    owner,
                    local: orphan.local,
                    remote: orphan.remote,
                });
            }
        }
        if self
            .pending
            .get(&skaddr)
            .is_some_and(|(_, time)| *time > change.time)
        {
            // A later connect at this address is already waiting.
            return None;
        }
        while self.pending.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.pending.remove(&oldest);
        }
        if self.pending.insert(skaddr, (owner, change.time)).is_none() {
            self.order.push_back(skaddr);
        }
        // Addresses already paired linger in `order`; trim them so it
        // stays within a small multiple of the map.
        if self.order.len() > self.capacity * 2 {
            let pending = &self.pending;
            self.order.retain(|a| pending.contains_key(a));
        }
        None
    }

    /// Ends a drain: orphans older than the drain before are dropped.
    pub fn end_drain(&mut self) {
        let drains = self.drains;
        self.orphans.retain(|_, orphan| orphan.drain == drains);
        self.drains += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(skaddr: u64, old: i32, new: i32, pid: u32, sport: u16) -> StateChange {
        let time = NOW.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StateChange {
            skaddr,
            time,
            oldstate: old,
            newstate: new,
            pid,
            protocol: IPPROTO_TCP,
            local: SocketAddr::from(([10, 0, 0, 1], sport)),
            remote: SocketAddr::from(([10, 0, 0, 2], 5001)),
        }
    }

    const CLOSE: i32 = 7;

    /// Each change made is later than the one before.
    static NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

    fn feed(p: &mut Pairing<u32>, c: &StateChange) -> Option<Connected<u32>> {
        match p.step(c) {
            Step::Connecting => p.remember(c, c.pid),
            Step::Connected(done) => Some(done),
            Step::Nothing => None,
        }
    }

    #[test]
    fn the_connects_pid_goes_with_the_handshakes_tuple() {
        let mut p = Pairing::new(16);
        assert_eq!(
            feed(&mut p, &change(0xa, CLOSE, TCP_SYN_SENT, 100, 0)),
            None
        );
        // Another socket's connect in between, by another process.
        assert_eq!(
            feed(&mut p, &change(0xb, CLOSE, TCP_SYN_SENT, 200, 0)),
            None
        );
        // Softirq: the pid is whoever ran (0 here).
        let done = feed(
            &mut p,
            &change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40000),
        );
        assert_eq!(
            done,
            Some(Connected {
                owner: 100,
                local: SocketAddr::from(([10, 0, 0, 1], 40000)),
                remote: SocketAddr::from(([10, 0, 0, 2], 5001)),
            })
        );
        assert_eq!(p.pending(), 1);
        let done = feed(
            &mut p,
            &change(0xb, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40001),
        );
        assert_eq!(done.map(|d| d.owner), Some(200));
        // Paired once: a second completion of the same address is not.
        assert_eq!(
            feed(&mut p, &change(0xb, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1)),
            None
        );
    }

    #[test]
    fn failed_connects_and_other_changes_tell_nothing() {
        let mut p = Pairing::new(16);
        feed(&mut p, &change(0xa, CLOSE, TCP_SYN_SENT, 100, 0));
        assert_eq!(feed(&mut p, &change(0xa, TCP_SYN_SENT, CLOSE, 0, 0)), None);
        assert_eq!(p.pending(), 0, "a refused connect is forgotten");
        // A handshake never seen connecting (netop started in between).
        assert_eq!(
            feed(&mut p, &change(0xc, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1)),
            None
        );
        // An accepted connection (SYN_RECV -> ESTABLISHED) has no owner here.
        assert_eq!(feed(&mut p, &change(0xd, 3, TCP_ESTABLISHED, 0, 1)), None);
        let mut sctp = change(0xe, CLOSE, TCP_SYN_SENT, 1, 0);
        sctp.protocol = 132;
        assert_eq!(p.step(&sctp), Step::Nothing);
    }

    #[test]
    fn a_handshake_read_before_its_connect_is_paired_in_the_next_drain() {
        let mut p = Pairing::new(16);
        let connect = change(0xa, CLOSE, TCP_SYN_SENT, 100, 0);
        let handshake = change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40000);
        // Drain 1: the handshake (CPU 1's ring) without its connect (CPU 0's
        // ring, written after it was read).
        assert_eq!(feed(&mut p, &handshake), None);
        p.end_drain();
        // Drain 2: the connect completes it.
        let done = feed(&mut p, &connect);
        assert_eq!(
            done,
            Some(Connected {
                owner: 100,
                local: SocketAddr::from(([10, 0, 0, 1], 40000)),
                remote: SocketAddr::from(([10, 0, 0, 2], 5001)),
            })
        );
        assert_eq!(p.pending(), 0);
        assert!(p.orphans.is_empty());
    }

    #[test]
    fn a_reused_socket_address_pairs_each_connect_with_its_own_handshake() {
        let mut p = Pairing::new(16);
        // Two connections, one after the other, at one address, by two
        // processes, all in one drain (in time order).
        let c1 = change(0xa, CLOSE, TCP_SYN_SENT, 100, 0);
        let h1 = change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40000);
        let c2 = change(0xa, CLOSE, TCP_SYN_SENT, 200, 0);
        let h2 = change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40001);
        assert_eq!(feed(&mut p, &c1), None);
        let first = feed(&mut p, &h1).expect("first");
        assert_eq!((first.owner, first.local.port()), (100, 40000));
        assert_eq!(feed(&mut p, &c2), None);
        let second = feed(&mut p, &h2).expect("second");
        assert_eq!((second.owner, second.local.port()), (200, 40001));
    }

    #[test]
    fn an_orphan_is_not_given_to_a_later_connect() {
        let mut p = Pairing::new(16);
        // Drain 1 read CPU 0 before the first connect was written there,
        // then CPU 1 with its handshake and a second connect at the
        // (freed, reused) address.
        let c1 = change(0xa, CLOSE, TCP_SYN_SENT, 100, 0);
        let h1 = change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40000);
        let c2 = change(0xa, CLOSE, TCP_SYN_SENT, 200, 0);
        let h2 = change(0xa, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 40001);
        assert_eq!(feed(&mut p, &h1), None);
        assert_eq!(feed(&mut p, &c2), None, "the orphan is older than c2");
        p.end_drain();
        // Drain 2: the first connect, then the second handshake.
        let first = feed(&mut p, &c1).expect("first");
        assert_eq!((first.owner, first.local.port()), (100, 40000));
        let second = feed(&mut p, &h2).expect("second");
        assert_eq!((second.owner, second.local.port()), (200, 40001));
    }

    #[test]
    fn the_map_is_bounded_and_forgets_the_oldest() {
        let mut p = Pairing::new(3);
        for a in 1..=5u64 {
            feed(&mut p, &change(a, CLOSE, TCP_SYN_SENT, a as u32, 0));
        }
        assert_eq!(p.pending(), 3);
        assert_eq!(
            feed(&mut p, &change(1, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1)),
            None
        );
        assert_eq!(
            feed(&mut p, &change(2, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1)),
            None
        );
        let done = feed(&mut p, &change(5, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1));
        assert_eq!(done.map(|d| d.owner), Some(5));
        for a in 100..200u64 {
            feed(&mut p, &change(a, CLOSE, TCP_SYN_SENT, 1, 0));
            feed(&mut p, &change(a, TCP_SYN_SENT, TCP_ESTABLISHED, 0, 1));
        }
        assert!(p.order.len() <= 6, "{}", p.order.len());
    }
}
