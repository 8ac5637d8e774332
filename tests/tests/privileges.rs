//! Privileged tests of how netop treats privileges: a copy of the binary
//! with only CAP_NET_RAW and CAP_NET_ADMIN (set with setcap) captures as an
//! unprivileged user, and the same copy without them refuses with the
//! guide's message.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

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

/// Issue 15: once capturing, a root netop holds only the capabilities
/// docs/ARCHITECTURE.md names (CAP_DAC_READ_SEARCH, CAP_NET_ADMIN,
/// CAP_NET_RAW, CAP_SYS_PTRACE, CAP_SYS_ADMIN), in its effective,
/// permitted and bounding sets, with `no_new_privs`.
#[test]
fn issue_15_a_running_netop_holds_the_documented_reduced_set() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    const DOCUMENTED: u64 = (1 << 2) | (1 << 12) | (1 << 13) | (1 << 19) | (1 << 21);
    let mut child = Command::new(netop_bin().expect("netop binary"))
        .args(["--duration", "4", "--interface", "lo", "--format", "json"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start netop");
    let pid = child.id();
    let field = |status: &str, name: &str| -> Option<String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let started = std::time::Instant::now();
    let mut last = String::new();
    let mut seen = None;
    while started.elapsed() < std::time::Duration::from_secs(3) {
        last = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let eff = field(&last, "CapEff:").and_then(|v| u64::from_str_radix(&v, 16).ok());
        if eff == Some(DOCUMENTED) {
            seen = Some(last.clone());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.wait();
    let status = seen.unwrap_or_else(|| panic!("CapEff never became {DOCUMENTED:x}:\n{last}"));
    for name in ["CapPrm:", "CapBnd:"] {
        let value = field(&status, name).and_then(|v| u64::from_str_radix(&v, 16).ok());
        assert_eq!(value, Some(DOCUMENTED), "{name}\n{status}");
    }
    assert_eq!(
        field(&status, "CapInh:").as_deref(),
        Some("0000000000000000")
    );
    assert_eq!(
        field(&status, "NoNewPrivs:").as_deref(),
        Some("1"),
        "{status}"
    );
}
