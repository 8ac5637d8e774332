//! Privileged tests of how netop treats privileges: a copy of the binary
//! with only CAP_NET_RAW and CAP_NET_ADMIN (set with setcap) captures as an
//! unprivileged user, and the same copy without them refuses with the
//! guide's message.
//!
//! Not root: skipped, or a failure when `CI` is set.

use std::process::Command;

use netop_e2e::begin;
use netop_e2e::netop::netop_bin;

/// Runs `bin` as uid/gid 65534 (nobody) with `args`.
fn as_nobody(bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run setpriv")
}

#[test]
fn capabilities_from_setcap_are_enough_to_capture() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let dir = tempfile_dir();
    let bin = dir.join("netop");
    std::fs::copy(netop_bin().expect("netop binary"), &bin).expect("copy netop");
    // The copy must be reachable and runnable by nobody.
    set_mode(&dir, 0o755);
    set_mode(&bin, 0o755);

    let refused = as_nobody(&bin, &["--duration", "1", "--interface", "lo"]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: netop requires root privileges. Run with: sudo netop"),
        "{stderr}"
    );

    let status = Command::new("setcap")
        .args(["cap_net_raw,cap_net_admin=eip"])
        .arg(&bin)
        .status()
        .expect("run setcap");
    assert!(status.success(), "setcap failed");
    let allowed = as_nobody(&bin, &["--duration", "1", "--interface", "lo"]);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let stdout = String::from_utf8_lossy(&allowed.stdout);
    assert!(
        stdout.starts_with("pid\tprocess\trx_bytes\ttx_bytes\trx_packets\ttx_packets\n"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netop-t-caps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
