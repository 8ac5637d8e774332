//! Ending a snapshot early: Ctrl-C (SIGINT), SIGTERM or a hangup (SIGHUP,
//! the terminal closed) during a live capture prints what was collected so far, says so on stderr, and exits 0.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netop_e2e::begin;
use netop_e2e::netop::{counts_in_kernel, has_running_packet_socket, netop_bin};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn interrupted_by(signal: Signal) {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let child = Command::new(netop_bin().expect("netop binary"))
        .args(["--duration", "60", "--interface", "lo", "--format", "json"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netop");
    let pid = child.id();
    let started = Instant::now();
    // Counting in the kernel (the default) has no packet socket.
    while !has_running_packet_socket(pid) && !counts_in_kernel(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "netop never started capturing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    kill(Pid::from_raw(pid as i32), signal).expect("signal netop");
    let out = child.wait_with_output().expect("wait for netop");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "netop took {:?} to stop",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("netop: interrupted after "), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("valid JSON on stdout");
    assert!(json.is_array());
}

#[test]
fn ctrl_c_prints_what_was_collected() {
    interrupted_by(Signal::SIGINT);
}

#[test]
fn sigterm_prints_what_was_collected() {
    interrupted_by(Signal::SIGTERM);
}

#[test]
fn a_hangup_prints_what_was_collected() {
    interrupted_by(Signal::SIGHUP);
}
