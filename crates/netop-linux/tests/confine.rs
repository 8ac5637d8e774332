//! Least privilege after start-up (issue 15), as root: a confined thread
//! keeps only the documented capabilities, has `no_new_privs`, and under
//! Landlock cannot open `/root` for writing although it is root, while it
//! still reads `/proc` and writes where it was allowed. A Landlocked
//! caller (as the packet thread is) still learns the owner of another
//! process's socket through the owner thread, which it could not read
//! itself, and the owner thread holds exactly the kept capabilities once
//! confined.
//!
//! Not root: skipped, or a failure under `CI`.

#![cfg(target_os = "linux")]

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};

use netop_core::{FlowKey, Protocol, SocketResolver};
use netop_linux::confine::{after_startup, Landlock, KEPT};
use netop_linux::owner_thread::confine_owner_threads;
use netop_linux::{LinuxResolver, OwnerThread};

fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(!ci, "needs root under CI");
    eprintln!("skipped: needs root");
    false
}

#[test]
fn a_confined_thread_keeps_the_documented_capabilities_and_cannot_write_root() {
    if !root_or_skip() {
        return;
    }
    let allowed = tempfile::tempdir().expect("temp dir");
    let allowed_path = allowed.path().to_path_buf();
    // Confinement is per thread: do it on a scratch thread so the test
    // harness keeps its own privileges.
    let outcome = std::thread::spawn(move || {
        let held = after_startup(Some(std::slice::from_ref(&allowed_path)));
        let root = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open("/root/.netop-landlock-probe");
        let mine = std::fs::write(allowed_path.join("ok"), b"ok");
        let proc_read = std::fs::read_to_string("/proc/self/status");
        (held, root.map(|_| ()), mine, proc_read.map(|_| ()))
    })
    .join()
    .expect("confined thread");
    let (held, root, mine, proc_read) = outcome;
    let _ = std::fs::remove_file("/root/.netop-landlock-probe");
    let mut kept: Vec<_> = KEPT.iter().map(|(c, _)| *c).collect();
    kept.sort_by_key(|c| c.index());
    assert_eq!(held.effective, kept, "{}", held.describe());
    assert!(held.no_new_privs);
    assert_eq!(held.landlock, Landlock::Enforced, "{}", held.describe());
    let err = root.expect_err("a Landlocked thread must not open /root for writing");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    mine.expect("the allowed directory stays writable");
    proc_read.expect("/proc stays readable");
}

fn key(local: SocketAddr, remote: SocketAddr) -> FlowKey {
    FlowKey {
        proto: Protocol::Tcp,
        local_ip: local.ip(),
        local_port: local.port(),
        remote_ip: remote.ip(),
        remote_port: remote.port(),
    }
}

/// The owner thread's capabilities, from its `/proc/self/task/TID/status`.
fn owner_thread_caps() -> Option<(u64, u64)> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "netop-owners" {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        };
        return Some((field("CapEff:")?, field("CapPrm:")?));
    }
    None
}

#[test]
fn a_landlocked_caller_learns_another_processes_owner_through_the_owner_thread() {
    if !root_or_skip() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Another process holding a connection: bash's /dev/tcp.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected && sleep 20"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("bash");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("bash says connected");
    let (server, peer) = listener.accept().expect("accept");
    let theirs = key(peer, server.local_addr().expect("addr"));
    let child_pid = child.id();

    let proxy = OwnerThread::spawn(LinuxResolver::new().expect("resolver")).expect("thread");
    let outcome = std::thread::spawn(move || {
        let mut proxy = proxy;
        let owners = confine_owner_threads();
        let held = after_startup(Some(&[]));
        // What the caller itself may not do: read where the child's
        // descriptors point.
        let own_read =
            std::fs::read_dir(format!("/proc/{child_pid}/fd")).and_then(|mut d| match d.next() {
                Some(e) => std::fs::read_link(e?.path()).map(drop),
                None => Ok(()),
            });
        let found = proxy.lookup(&theirs);
        (owners, held, own_read, found, owner_thread_caps())
    })
    .join()
    .expect("caller thread");
    let _ = child.kill();
    let _ = child.wait();
    let (owners, held, own_read, found, caps) = outcome;
    assert_eq!(owners.len(), 1, "one owner thread confined");
    assert_eq!(owners[0].landlock, Landlock::NotAsked);
    assert_ne!(held.landlock, Landlock::Unsupported, "{}", held.describe());
    assert!(
        own_read.is_err(),
        "a Landlocked thread read /proc/{child_pid}/fd"
    );
    let entry = found.expect("lookup").expect("the child's socket");
    assert_eq!(entry.owner.map(|o| o.pid), Some(child_pid));
    let kept: u64 = KEPT.iter().map(|(c, _)| 1u64 << c.index()).sum();
    assert_eq!(caps, Some((kept, kept)), "the owner thread's CapEff/CapPrm");
}
