//! The owner index against a fake process table: which `/proc` work each
//! kind of miss costs.

use std::sync::{Arc, Mutex};

use super::*;
use crate::clock::SystemClock;

#[derive(Debug, Default)]
struct Table {
    /// pid -> (uid, socket inodes, comm)
    procs: std::collections::BTreeMap<u32, (u32, Vec<u64>, String)>,
    scans: Vec<u32>,
    /// pid -> `/proc/PID/cgroup` text
    cgroups: std::collections::BTreeMap<u32, String>,
    cgroup_reads: usize,
    /// (parent, child): reading the parent's fds makes it fork and exit,
    /// its sockets now the child's (a race the search must survive).
    fork_on_scan: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<Table>>);

impl Fake {
    fn set(&self, pid: u32, uid: u32, inodes: &[u64]) {
        let mut t = self.0.lock().expect("lock");
        t.procs
            .insert(pid, (uid, inodes.to_vec(), format!("proc{pid}")));
    }

    fn set_cgroup(&self, pid: u32, text: &str) {
        let mut t = self.0.lock().expect("lock");
        t.cgroups.insert(pid, text.to_string());
    }

    fn cgroup_reads(&self) -> usize {
        self.0.lock().expect("lock").cgroup_reads
    }

    fn kill(&self, pid: u32) {
        self.0.lock().expect("lock").procs.remove(&pid);
    }

    /// The pids scanned since the last call.
    fn take_scans(&self) -> Vec<u32> {
        let mut scans = std::mem::take(&mut self.0.lock().expect("lock").scans);
        scans.sort_unstable();
        scans
    }
}

impl ProcessSource for Fake {
    fn pids(&mut self) -> Vec<u32> {
        self.0.lock().expect("lock").procs.keys().copied().collect()
    }

    fn socket_inodes(&mut self, pid: u32) -> Option<ProcSockets> {
        let mut t = self.0.lock().expect("lock");
        t.scans.push(pid);
        if let Some((parent, child)) = t.fork_on_scan {
            if parent == pid {
                let held = t.procs.remove(&pid)?;
                t.procs.insert(child, held);
                return None;
            }
        }
        let (uid, inodes, _) = t.procs.get(&pid)?;
        // fds 3, 4, ... in the order of the inodes, as a shell would open them.
        let fds = (3..).take(inodes.len()).collect();
        Some(ProcSockets {
            uid: *uid,
            inodes: inodes.clone(),
            fds,
        })
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        (uid == 0).then(|| "root".to_string())
    }

    fn comm(&mut self, pid: u32) -> Option<String> {
        let t = self.0.lock().expect("lock");
        t.procs.get(&pid).map(|p| p.2.clone())
    }

    fn cgroup(&mut self, pid: u32) -> Option<String> {
        let mut t = self.0.lock().expect("lock");
        t.cgroup_reads += 1;
        t.procs.get(&pid)?;
        Some(
            t.cgroups
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| "0::/\n".into()),
        )
    }
}

/// Index with processes 1 and 2 (no sockets), 10 (uid 1000) and 20 (uid 0),
/// after an initial refresh that placed every socket.
fn setup(interval: Duration) -> (Fake, OwnerIndex) {
    let fake = Fake::default();
    fake.set(1, 0, &[]);
    fake.set(2, 0, &[]);
    fake.set(10, 1000, &[100, 101]);
    fake.set(20, 0, &[200]);
    let mut index = OwnerIndex::with_clock(
        Box::new(fake.clone()),
        Box::new(SystemClock),
        interval,
        Duration::ZERO,
    );
    index.refresh_for(&[100, 101, 200]);
    assert_eq!(index.cached(100), Some(10));
    assert_eq!(index.cached(200), Some(20));
    fake.take_scans();
    (fake, index)
}

#[test]
fn owners_fd_numbers_follow_the_owner() {
    let (fake, mut index) = setup(Duration::ZERO);
    assert_eq!(index.fd_of(100), Some(3));
    assert_eq!(index.fd_of(101), Some(4));
    assert_eq!(index.fd_of(200), Some(3));
    // Socket 100 closes; 101 is now the process's first socket fd.
    fake.set(10, 1000, &[101]);
    index.refresh_for(&[101, 200]);
    assert_eq!(index.fd_of(100), None);
    fake.kill(20);
    index.refresh_for(&[101, 200, 300]);
    assert_eq!(index.fd_of(200), None, "a dead owner's fds are forgotten");
}

#[test]
fn first_refresh_reads_every_process_once() {
    let fake = Fake::default();
    fake.set(10, 1000, &[100]);
    fake.set(20, 0, &[200]);
    let mut index = OwnerIndex::with_clock(
        Box::new(fake.clone()),
        Box::new(SystemClock),
        Duration::ZERO,
        Duration::ZERO,
    );
    index.refresh_for(&[100, 200]);
    assert_eq!(fake.take_scans(), vec![10, 20]);
    assert_eq!(index.resolve(200, 0), Some(20));
    assert!(fake.take_scans().is_empty());
}

#[test]
fn known_inodes_cost_nothing() {
    let (fake, mut index) = setup(Duration::ZERO);
    let before = index.stats();
    for _ in 0..100 {
        index.refresh_for(&[100, 101, 200]);
        assert_eq!(index.resolve(101, 1000), Some(10));
    }
    assert_eq!(index.stats(), before);
    assert!(fake.take_scans().is_empty());
}

#[test]
fn new_socket_of_active_process_is_found_reading_only_that_process() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.set(10, 1000, &[100, 101, 102]);
    assert_eq!(index.resolve(102, 1000), Some(10));
    // No new processes; among the active ones, same uid first: process 10
    // alone was enough.
    assert_eq!(fake.take_scans(), vec![10]);
}

#[test]
fn uid_hint_orders_the_active_processes() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.set(20, 0, &[200, 201]);
    assert_eq!(index.resolve(201, 0), Some(20));
    assert_eq!(fake.take_scans(), vec![20]);
}

#[test]
fn new_process_is_found_without_a_full_scan() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.set(30, 1000, &[300]);
    let full = index.stats().full_scans;
    assert_eq!(index.resolve(300, 1000), Some(30));
    // The newcomer first: no other process read.
    assert_eq!(fake.take_scans(), vec![30]);
    assert_eq!(index.stats().full_scans, full);
}

#[test]
fn socket_in_an_old_quiet_process_needs_the_rate_limited_full_scan() {
    let (fake, mut index) = setup(Duration::from_secs(3600));
    // Process 1 had no sockets and is not new: only a full scan finds it.
    fake.set(1, 0, &[1]);
    assert_eq!(index.resolve(1, 0), Some(1));
    assert_eq!(index.stats().full_scans, 1);
    assert_eq!(fake.take_scans(), vec![1, 10, 20]);

    // Process 2 does the same within the interval: no second full scan.
    fake.set(2, 0, &[2]);
    assert_eq!(index.resolve(2, 0), None);
    assert_eq!(index.stats().full_scans, 1);
    assert_eq!(fake.take_scans(), vec![1, 10, 20]);
}

#[test]
fn unplaceable_inodes_stop_costing_after_a_full_scan() {
    let (fake, mut index) = setup(Duration::ZERO);
    index.refresh_for(&[100, 101, 200, 999]);
    let scans = fake.take_scans();
    assert!(scans.contains(&1), "a full scan happened: {scans:?}");
    let before = index.stats();
    index.refresh_for(&[100, 101, 200, 999]);
    assert_eq!(index.resolve(999, 0), None);
    assert_eq!(index.stats(), before);
    // An orphan found later by an unrelated scan is placed.
    fake.set(10, 1000, &[100, 101, 102, 999]);
    assert_eq!(index.resolve(102, 1000), Some(10));
    assert_eq!(index.cached(999), Some(10));
}

#[test]
fn vanished_processes_are_forgotten() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.kill(10);
    fake.set(40, 0, &[400]);
    assert_eq!(index.resolve(400, 0), Some(40));
    assert_eq!(index.cached(100), None, "dead pid's sockets dropped");
    assert_eq!(index.process_info(10, 1000), None);
}

#[test]
fn refresh_drops_closed_sockets() {
    let (_fake, mut index) = setup(Duration::ZERO);
    index.refresh_for(&[100]);
    assert_eq!(index.cached(100), Some(10));
    assert_eq!(index.cached(101), None);
    assert_eq!(index.cached(200), None);
    assert_eq!(index.resolve(0, 0), None);
}

#[test]
fn shared_socket_stays_with_its_first_owner() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.set(11, 1000, &[100, 110]);
    assert_eq!(index.resolve(110, 1000), Some(11));
    assert_eq!(index.cached(100), Some(10));
}

#[test]
fn process_info_names_process_and_user() {
    let (_fake, mut index) = setup(Duration::ZERO);
    let info = index.process_info(20, 12345).expect("alive");
    assert_eq!(info.pid, 20);
    assert_eq!(info.name, "proc20");
    assert_eq!(
        info.user, "root",
        "the process uid (0) wins over the socket's"
    );
    let info = index.process_info(1, 3_999_999).expect("alive");
    assert_eq!(info.user, "3999999", "unnamed uid falls back to the number");
}

#[test]
fn containers_are_read_only_when_asked_for_and_cached_with_the_name() {
    let (fake, mut index) = setup(Duration::ZERO);
    let id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";
    fake.set_cgroup(10, &format!("4:memory:/docker/{id}\n1:cpu:/\n0::/\n"));
    fake.set_cgroup(20, "0::/user.slice/user-0.slice/session-1.scope\n");

    let info = index.process_info(10, 1000).expect("alive");
    assert_eq!(info.container, None, "off by default");
    assert_eq!(fake.cgroup_reads(), 0, "no cgroup read when off");

    index.set_containers(true);
    let info = index.process_info(10, 1000).expect("alive");
    assert_eq!(
        info.container.map(|c| c.to_string()).as_deref(),
        Some("docker:3f2a1b4c5d6e")
    );
    assert_eq!(index.process_info(20, 0).expect("alive").container, None);
    assert_eq!(fake.cgroup_reads(), 2);
    assert!(index
        .process_info(10, 1000)
        .expect("cached")
        .container
        .is_some());
    assert_eq!(fake.cgroup_reads(), 2, "cached with the process info");

    index.set_containers(false);
    assert_eq!(index.process_info(10, 1000).expect("alive").container, None);
}

#[test]
fn a_young_process_that_connects_after_being_listed_is_found() {
    // Process 40 was listed while it had no socket (a shell's fork before
    // exec); then it connects. Young processes are re-read, so no full
    // scan (rate-limited here) is needed.
    let fake = Fake::default();
    fake.set(1, 0, &[]);
    fake.set(10, 1000, &[100]);
    let mut index = OwnerIndex::with_clock(
        Box::new(fake.clone()),
        Box::new(SystemClock),
        Duration::from_secs(3600),
        super::YOUNG,
    );
    fake.set(40, 1000, &[]);
    index.refresh_for(&[100]);
    assert_eq!(index.cached(100), Some(10));
    // A full scan just happened: the next one is an hour away.
    index.last_full_scan = Some(std::time::Instant::now());
    let full = index.stats().full_scans;
    fake.set(40, 1000, &[400]);
    assert_eq!(index.resolve(400, 1000), Some(40));
    assert_eq!(index.stats().full_scans, full);
}

#[test]
fn a_socket_whose_owner_forks_and_exits_mid_search_is_found_in_the_child() {
    let (fake, mut index) = setup(Duration::ZERO);
    fake.set(30, 1000, &[300]);
    fake.0.lock().expect("lock").fork_on_scan = Some((30, 31));
    assert_eq!(index.resolve(300, 1000), Some(31));
}
