//! Tests of the built `netop` binary that need no root: flags, messages,
//! exit codes, completions, broken pipes. Whole snapshots replayed from
//! capture files the tests write are in `replay.rs`.

use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use predicates::prelude::*;

fn netop() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("netop").expect("binary");
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn help_answers_the_common_questions() {
    netop()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--duration <SECONDS>"))
        .stdout(predicate::str::contains("--format <FORMAT>"))
        .stdout(predicate::str::contains("--interface <IFACE>"))
        .stdout(predicate::str::contains("--filter <PATTERN>"))
        .stdout(predicate::str::contains("--containers"))
        .stdout(predicate::str::contains("--no-events"))
        .stdout(predicate::str::contains("--diagnostics"))
        .stdout(predicate::str::contains("Exit status:"))
        .stdout(predicate::str::contains("4  unknown network interface"))
        .stdout(predicate::str::contains("replay").not());
}

#[test]
fn version_prints_name_and_version() {
    netop()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("netop {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    netop()
        .arg("--bogus")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument '--bogus'"));
}

#[test]
fn duration_out_of_range_is_a_usage_error() {
    for bad in ["0.5", "3601", "-1", "abc"] {
        netop()
            .args(["--duration", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--duration"));
    }
    netop()
        .args(["--duration", "0.5"])
        .assert()
        .stderr(predicate::str::contains("use 1.0 to 3600.0 seconds"));
}

#[test]
fn unknown_format_is_a_usage_error() {
    netop()
        .args(["--duration", "1", "--format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "possible values: tsv, json, pretty",
        ));
}

#[test]
fn bpf_buffer_range_is_enforced() {
    netop()
        .args(["--duration", "1", "--bpf-buffer", "100"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("4096..=67108864"));
}

#[test]
fn monitor_without_a_terminal_says_to_use_a_snapshot() {
    // Under the test harness stdout is a pipe, not a terminal.
    netop()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("needs a terminal"))
        .stderr(predicate::str::contains("--duration"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn interval_out_of_range_is_a_usage_error() {
    netop()
        .args(["--interval", "0.05"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("0.2 to 60"));
    netop()
        .args(["--duration", "1", "--interval", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

/// Runs netop as an unprivileged user: as root, through setpriv
/// (util-linux). The tests that use it check the Linux backend's messages.
#[cfg(target_os = "linux")]
fn unprivileged(args: &[&str]) -> assert_cmd::Command {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_netop"));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = assert_cmd::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]);
        c.arg(bin);
        c
    } else {
        assert_cmd::Command::new(bin)
    };
    cmd.args(args).env_remove("RUST_LOG");
    cmd
}

#[test]
fn completions_for_every_shell_name_the_flags() {
    for (shell, marker) in [
        ("bash", "complete -F _netop"),
        ("zsh", "#compdef netop"),
        ("fish", "complete -c netop"),
        ("elvish", "edit:completion:arg-completer[netop]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        netop()
            .args(["--completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker))
            .stdout(predicate::str::contains("format"))
            .stdout(predicate::str::contains("replay").not());
    }
}

#[test]
fn completions_reject_unknown_shells_and_other_flags() {
    netop()
        .args(["--completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
    netop()
        .args(["--completions", "bash", "--duration", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn completions_into_a_closed_pipe_exit_zero() {
    let mut child = Command::cargo_bin("netop")
        .expect("binary")
        .args(["--completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg(target_os = "linux")]
fn diagnostics_without_privileges_say_why_owners_are_polled() {
    unprivileged(&["--diagnostics"])
        .assert()
        .success()
        .stdout(predicate::str::contains("capture: not permitted"))
        .stdout(predicate::function(|s: &str| {
            // Why not eBPF, then why not the perf tracepoint (issue 17).
            let line = s
                .lines()
                .find(|l| l.starts_with("socket owners: "))
                .unwrap_or_default();
            (line.starts_with(
                "socket owners: polling (not permitted: eBPF needs root, or CAP_BPF and CAP_PERFMON; ",
            ) || line.starts_with("socket owners: polling (built without eBPF support; "))
                && (line.contains("; tracepoint sock:inet_sock_set_state unreadable: ")
                    || line.contains("; perf_event_open refused: "))
        }));
}

#[test]
#[cfg(target_os = "linux")]
fn without_privileges_it_says_how_to_get_them() {
    unprivileged(&["--duration", "1"])
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: netop requires root privileges. Run with: sudo netop",
        ))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
#[cfg(target_os = "linux")]
fn unknown_interface_lists_the_real_ones() {
    netop()
        .args(["--duration", "1", "--interface", "nosuchif0"])
        .assert()
        .code(4)
        .stderr(predicate::str::starts_with(
            "error: unknown interface 'nosuchif0'; available: ",
        ))
        .stderr(predicate::str::contains("lo"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

/// `netop serve` refuses to listen beyond loopback without a token (or an
/// explicit --insecure), before it opens anything.
#[test]
fn serve_beyond_loopback_needs_a_token() {
    netop()
        .args(["serve", "--listen", "0.0.0.0:9474"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--token-file"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("token");
    std::fs::write(&empty, "\n").expect("write");
    netop()
        .args(["serve", "--listen", "0.0.0.0", "--token-file"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is empty"));
}

/// `netop history`: a missing database, a bad time and a reversed period
/// are one line each, with the documented codes; it never creates a file.
#[test]
fn history_errors_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("missing/history.db");
    netop()
        .args(["history", "--history"])
        .arg(&db)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(db.to_str().expect("utf-8")))
        .stderr(predicate::str::contains("netop serve creates it"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    assert!(!db.exists() && !db.parent().expect("dir").exists());
    netop()
        .args(["history", "--since", "yesterday", "--history"])
        .arg(&db)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--since: 'yesterday' is not a time",
        ));
    netop()
        .args(["history", "--since", "1h", "--until", "2h", "--history"])
        .arg(&db)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("must be before"));
    netop().args(["history", "--by", "pid"]).assert().code(2);
}
