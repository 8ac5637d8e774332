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
/// docs/ARCHITECTURE.md names, per thread, in the effective, permitted and
/// bounding sets, with `no_new_privs`: the owner thread (`netop-owners`)
/// CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE and
/// CAP_SYS_ADMIN; the packet thread (a snapshot's main thread, whose
/// figures `/proc/PID/status` shows) only CAP_NET_ADMIN and CAP_NET_RAW.
#[test]
fn issue_15_a_running_netop_holds_the_documented_reduced_set() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    const OWNERS: u64 = (1 << 2) | (1 << 12) | (1 << 13) | (1 << 19) | (1 << 21);
    const PACKETS: u64 = (1 << 12) | (1 << 13);
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
    let caps = |status: &str, name: &str| {
        field(status, name).and_then(|v| u64::from_str_radix(&v, 16).ok())
    };
    // The packet thread's status (the process's) and the owner thread's.
    let owner_status = || -> Option<String> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
            .find(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "netop-owners")
            })
            .and_then(|t| std::fs::read_to_string(t.path().join("status")).ok())
    };
    let started = std::time::Instant::now();
    let mut last = (String::new(), String::new());
    let mut seen = None;
    while started.elapsed() < std::time::Duration::from_secs(3) {
        let packets = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let owners = owner_status().unwrap_or_default();
        if caps(&packets, "CapEff:") == Some(PACKETS) && caps(&owners, "CapEff:") == Some(OWNERS) {
            seen = Some((packets.clone(), owners.clone()));
            break;
        }
        last = (packets, owners);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.wait();
    let (packets, owners) = seen.unwrap_or_else(|| {
        panic!(
            "CapEff never became {PACKETS:x} (packet thread) and {OWNERS:x} (owner thread):\n{}\n{}",
            last.0, last.1
        )
    });
    for (status, want) in [(&packets, PACKETS), (&owners, OWNERS)] {
        for name in ["CapPrm:", "CapBnd:"] {
            assert_eq!(caps(status, name), Some(want), "{name}\n{status}");
        }
        assert_eq!(
            field(status, "CapInh:").as_deref(),
            Some("0000000000000000")
        );
        assert_eq!(
            field(status, "NoNewPrivs:").as_deref(),
            Some("1"),
            "{status}"
        );
    }
}

/// Issue 15: in a snapshot the thread that captures and parses packets is
/// Landlocked (at its first batch it may not create a file in `/root`
/// although it runs as root, nor read where a descriptor of this test,
/// its parent, points), while the owner search, on its own unconfined thread, still
/// reads other processes' `/proc/PID/fd`: with events off, sockets this
/// test opens after netop confined itself are attributed to this test's
/// pid.
#[test]
fn issue_15_a_snapshots_packet_thread_is_landlocked_and_owners_are_still_found() {
    use std::io::BufRead;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let probe = std::path::PathBuf::from(format!("/root/.netop-e2e-probe-{}", std::process::id()));
    /// Removes the probe's file however the test ends.
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _ = std::fs::remove_file(&probe);
    let cleanup = Cleanup(probe.clone());
    let mut child = Command::new(netop_bin().expect("netop binary"))
        .args(["--duration", "5", "--interface", "lo", "--no-events"])
        .arg("--confinement-probe")
        .arg(&probe)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start netop");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, seen) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    let started = Instant::now();
    let mut probe_line = None;
    while probe_line.is_none() && started.elapsed() < Duration::from_secs(10) {
        if let Ok(line) = seen.recv_timeout(Duration::from_millis(100)) {
            if line.contains("confinement probe") {
                probe_line = Some(line);
            }
        }
    }
    // Sockets opened now are unknown to the table netop read at start-up:
    // only the owner thread's search can find their process.
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sender
        .connect(receiver.local_addr().expect("addr"))
        .expect("connect");
    for _ in 0..20 {
        sender.send(&[7u8; 400]).expect("send");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("netop ran");
    let stderr = reader.join().expect("stderr reader");
    let created = probe.exists();
    drop(cleanup);
    assert!(output.status.success(), "netop failed:\n{stderr}");
    let probe_line = probe_line.unwrap_or_else(|| panic!("no probe line:\n{stderr}"));
    assert!(
        !created,
        "the packet thread created {}: {probe_line}",
        probe.display()
    );
    assert!(
        probe_line.contains(&format!("create {}: denied", probe.display()))
            && probe_line.contains(&format!("read /proc/{}/fd: denied", std::process::id())),
        "{probe_line}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let me = std::process::id().to_string();
    let row = stdout
        .lines()
        .find(|l| l.split('\t').next() == Some(me.as_str()))
        .unwrap_or_else(|| {
            panic!("this test's process ({me}) not attributed:\n{stdout}\n{stderr}")
        });
    let fields: Vec<&str> = row.split('\t').collect();
    let tx: u64 = fields[3].parse().expect("tx_bytes");
    assert!(tx >= 10 * 400, "{row}");
}

/// Issue 15: `--diagnostics` says, per kind of thread, what it holds after
/// start-up: the packet and screen threads Landlocked (fully, or partly
/// on a kernel with an older Landlock), the owner search not.
#[test]
fn issue_15_diagnostics_name_the_landlocked_threads() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let output = Command::new(netop_bin().expect("netop binary"))
        .arg("--diagnostics")
        .env_remove("RUST_LOG")
        .output()
        .expect("run netop --diagnostics");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = |thread: &str| -> String {
        let prefix = format!("after start-up, {thread} thread: ");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no line for the {thread} thread:\n{stdout}"))
            .to_string()
    };
    for thread in ["capture (packets)", "screen"] {
        let held = line(thread);
        assert!(
            held.ends_with("; landlock enforced")
                || held.ends_with("; landlock partly enforced (older kernel)"),
            "{thread}: {held}"
        );
    }
    let owners = line("owner search");
    assert!(
        owners.ends_with("; no landlock (this thread reads /proc/PID/fd)"),
        "{owners}"
    );
}
