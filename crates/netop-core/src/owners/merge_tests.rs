//! Dumps and answers get their owners: the search's, an event's over it,
//! and sockets only the events still know.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::clock::SystemClock;
use crate::owners::{OwnerIndex, ProcSockets, ProcessSource};

/// Processes: pid -> (socket inodes, name).
struct Procs(Vec<(u32, Vec<u64>, &'static str)>);

impl ProcessSource for Procs {
    fn pids(&mut self) -> Vec<u32> {
        self.0.iter().map(|p| p.0).collect()
    }

    fn socket_inodes(&mut self, pid: u32) -> Option<ProcSockets> {
        let p = self.0.iter().find(|p| p.0 == pid)?;
        Some(ProcSockets {
            uid: 1000,
            inodes: p.1.clone(),
            fds: (3..).take(p.1.len()).collect(),
        })
    }

    fn comm(&mut self, pid: u32) -> Option<String> {
        self.0.iter().find(|p| p.0 == pid).map(|p| p.2.to_string())
    }

    fn cgroup(&mut self, _pid: u32) -> Option<String> {
        None
    }
}

fn a(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn entry(local: &str, remote: &str, inode: u64) -> SocketEntry {
    SocketEntry {
        proto: Protocol::Tcp,
        local: a(local),
        remote: a(remote),
        state: TcpState::Established,
        inode,
        uid: 1000,
        rtt_us: None,
        retrans: None,
        owner: None,
        fd: None,
    }
}

fn index(procs: Vec<(u32, Vec<u64>, &'static str)>) -> OwnerIndex {
    OwnerIndex::with_clock(
        Box::new(Procs(procs)),
        Box::new(SystemClock),
        Duration::ZERO,
        Duration::ZERO,
    )
}

fn told(pid: u32, comm: &str, seen: Instant) -> CachedOwner {
    CachedOwner {
        pid,
        comm: comm.to_string(),
        uid: 1000,
        netns: 0,
        seen,
    }
}

fn pids(entries: &[SocketEntry]) -> Vec<Option<u32>> {
    entries
        .iter()
        .map(|e| e.owner.as_ref().map(|o| o.pid))
        .collect()
}

#[test]
fn polling_owners_come_from_the_search() {
    let mut owners = Owners::polling(index(vec![(10, vec![100], "curl")]));
    let mut entries = vec![entry("10.0.0.1:4000", "10.0.0.2:80", 100)];
    owners.fill_table(&mut entries, Instant::now());
    assert_eq!(pids(&entries), vec![Some(10)]);
    assert_eq!(entries[0].fd, Some(3));
    // Events are ignored without an event source.
    owners.told(
        Protocol::Tcp,
        a("10.0.0.1:4000"),
        a("10.0.0.2:80"),
        told(11, "x", Instant::now()),
    );
    assert!(owners.owner_changes(Instant::now()).is_empty());
}

#[test]
fn an_event_owner_wins_and_sockets_gone_from_the_dump_are_added() {
    let now = Instant::now();
    let mut owners = Owners::with_events(
        index(vec![(10, vec![100], "parent"), (12, vec![], "child")]),
        OwnerCache::default(),
    );
    owners.told(
        Protocol::Tcp,
        a("10.0.0.1:4000"),
        a("10.0.0.2:80"),
        told(12, "child-thread", now),
    );
    owners.told(
        Protocol::Tcp,
        a("10.0.0.1:4001"),
        a("10.0.0.2:80"),
        told(13, "brief", now),
    );
    let mut entries = vec![entry("10.0.0.1:4000", "10.0.0.2:80", 100)];
    owners.fill_table(&mut entries, now);
    assert_eq!(pids(&entries), vec![Some(12), Some(13)]);
    assert_eq!(
        entries[0].owner.as_ref().map(|o| o.name.as_str()),
        Some("child"),
        "the live name"
    );
    assert_eq!(
        entries[1].owner.as_ref().map(|o| o.name.as_str()),
        Some("brief"),
        "gone: the event's"
    );
    assert_eq!(entries[1].state, TcpState::Close);
}

#[test]
fn an_answer_from_the_events_and_changes_of_hands() {
    let now = Instant::now();
    let mut owners = Owners::with_events(index(vec![]), OwnerCache::default());
    let (local, remote) = (a("10.0.0.1:4000"), a("10.0.0.2:80"));
    owners.told(Protocol::Tcp, local, remote, told(20, "parent", now));
    let key = FlowKey::new(Protocol::Tcp, local, remote);
    let answer = owners.cached_answer(&key, now).expect("told");
    assert_eq!(answer.owner.map(|o| o.pid), Some(20));
    assert!(
        owners.owner_changes(now).is_empty(),
        "a new socket is no change"
    );
    owners.told(Protocol::Tcp, local, remote, told(21, "child", now));
    let changes = owners.owner_changes(now);
    assert_eq!(pids(&changes), vec![Some(21)]);
    assert!(owners.owner_changes(now).is_empty(), "handed out once");
}
