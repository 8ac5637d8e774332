//! Least privilege after start-up (issue 15), as root: a confined thread
//! keeps only the documented capabilities, has `no_new_privs`, and under
//! Landlock cannot open `/root` for writing although it is root, while it
//! still reads `/proc` and writes where it was allowed.
//!
//! Not root: skipped, or a failure under `CI`.

#![cfg(target_os = "linux")]

use std::fs::OpenOptions;
use std::io::ErrorKind;

use netop_linux::confine::{after_startup, Landlock, KEPT};

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
