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

/// Under a churn of short sockets a table takes only the most recently
/// gone ones, up to `GONE_SOCKETS_KEPT`; the older ones are still in the
/// cache for a search to find.
#[test]
fn a_table_takes_only_the_most_recently_gone_sockets() {
    let start = Instant::now();
    let mut owners = Owners::with_events(index(vec![]), OwnerCache::default());
    let total = GONE_SOCKETS_KEPT + 500;
    for i in 0..total {
        let local = a(&format!("10.0.{}.{}:4000", i / 250, i % 250 + 1));
        let seen = start + Duration::from_micros(i as u64);
        owners.told(
            Protocol::Tcp,
            local,
            a("10.9.0.2:80"),
            told(7, "churn", seen),
        );
    }
    let now = start + Duration::from_secs(1);
    let mut entries = Vec::new();
    owners.fill_table(&mut entries, now);
    assert_eq!(entries.len(), GONE_SOCKETS_KEPT);
    let oldest_kept = 500;
    let kept: FxHashSet<SocketAddr> = entries.iter().map(|e| e.local).collect();
    for i in [oldest_kept, total - 1] {
        let local = a(&format!("10.0.{}.{}:4000", i / 250, i % 250 + 1));
        assert!(kept.contains(&local), "socket {i} (recent) is in the table");
    }
    let oldest = a("10.0.0.1:4000");
    assert!(!kept.contains(&oldest), "the oldest is left out");
    let key = FlowKey::new(Protocol::Tcp, oldest, a("10.9.0.2:80"));
    let answer = owners.cached_answer(&key, now);
    assert_eq!(
        answer.and_then(|e| e.owner).map(|o| o.pid),
        Some(7),
        "a search still finds it"
    );
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

#[test]
fn owners_by_cookie_and_their_changes_of_hands() {
    let now = Instant::now();
    let mut owners = Owners::with_events(index(vec![]), OwnerCache::default());
    let (local, remote) = (a("10.0.0.1:4000"), a("10.0.0.2:80"));
    owners.told_socket(
        Protocol::Tcp,
        local,
        remote,
        Some(5),
        told(20, "parent", now),
    );
    let answers = owners.cookie_owners(&[5, 6], now);
    let pids: Vec<(u64, u32)> = answers.iter().map(|(c, p)| (*c, p.pid)).collect();
    assert_eq!(pids, vec![(5, 20)], "only the cookie the events told of");
    assert!(owners.cookie_owners(&[], now).is_empty(), "no change yet");
    owners.told_socket(
        Protocol::Tcp,
        local,
        remote,
        Some(5),
        told(21, "child", now),
    );
    let answers = owners.cookie_owners(&[], now);
    let pids: Vec<(u64, u32)> = answers.iter().map(|(c, p)| (*c, p.pid)).collect();
    assert_eq!(pids, vec![(5, 21)], "a change of hands is told unasked");
    assert!(owners.cookie_owners(&[], now).is_empty(), "told once");
    assert_eq!(
        pids_of_changes(&mut owners, now),
        vec![Some(21)],
        "by tuple too"
    );
    // Without events nothing is known by cookie.
    let mut polling = Owners::polling(index(vec![]));
    polling.told_socket(
        Protocol::Tcp,
        local,
        remote,
        Some(5),
        told(20, "parent", now),
    );
    assert!(polling.cookie_owners(&[5], now).is_empty());
}

fn pids_of_changes(owners: &mut Owners, now: Instant) -> Vec<Option<u32>> {
    pids(&owners.owner_changes(now))
}

#[test]
fn no_cookie_index_when_not_kept() {
    let now = Instant::now();
    let mut owners = Owners::with_events(index(vec![]), OwnerCache::default());
    owners.keep_cookies(false);
    let (local, remote) = (a("10.0.0.1:4000"), a("10.0.0.2:80"));
    owners.told_socket(
        Protocol::Tcp,
        local,
        remote,
        Some(5),
        told(20, "parent", now),
    );
    assert!(owners.cookie_owners(&[5], now).is_empty());
    let key = FlowKey::new(Protocol::Tcp, local, remote);
    assert!(
        owners.cached_answer(&key, now).is_some(),
        "the tuple still is"
    );
}

#[test]
fn a_processs_sockets_in_one_table_share_one_owner_record() {
    let mut owners = Owners::polling(index(vec![
        (10, vec![100, 101], "curl"),
        (11, vec![102], "wget"),
    ]));
    let mut entries = vec![
        entry("10.0.0.1:4000", "10.0.0.2:80", 100),
        entry("10.0.0.1:4001", "10.0.0.2:80", 101),
        entry("10.0.0.1:4002", "10.0.0.2:80", 102),
    ];
    owners.fill_table(&mut entries, Instant::now());
    assert_eq!(pids(&entries), vec![Some(10), Some(10), Some(11)]);
    let owner = |i: usize| entries[i].owner.as_ref().expect("owner");
    assert!(Arc::ptr_eq(owner(0), owner(1)), "one record for pid 10");
    assert!(!Arc::ptr_eq(owner(0), owner(2)));
    // The next table makes its own (the process may have changed).
    let mut next = vec![entry("10.0.0.1:4000", "10.0.0.2:80", 100)];
    owners.fill_table(&mut next, Instant::now());
    assert!(!Arc::ptr_eq(
        owner(0),
        next[0].owner.as_ref().expect("owner")
    ));
    assert_eq!(
        next[0].owner.as_ref().map(|o| o.name.as_str()),
        Some("curl")
    );
}
