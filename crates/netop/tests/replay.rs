//! The built binary on recorded captures the tests make themselves
//! (hidden `--replay`): every output format with measured numbers, the
//! filter, containers, a closed pipe, corrupt and malformed files.
//!
//! Linux only for now: the pcap files are written with libpcap (a Linux
//! dev-dependency) and replays run through the Linux backend's libpcap
//! capture; the macOS backend's replay comes with its own issue.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use netop_core::testing::{OwnedFrame, PacketSpec};
use predicates::prelude::*;

fn netop() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("netop").expect("binary");
    cmd.env_remove("RUST_LOG");
    // No config file of the machine's: the tests that want one name it.
    for var in netop_cli::ENVIRONMENT.iter().map(|(_, v)| *v) {
        cmd.env_remove(var);
    }
    cmd.env("NETOP_CONFIG", "/dev/null");
    cmd
}

/// Writes frames to a pcap file with libpcap's own writer.
fn write_pcap(path: &std::path::Path, frames: &[OwnedFrame]) {
    let dead = pcap::Capture::dead(pcap::Linktype(frames[0].link.to_linktype())).expect("dead");
    let mut file = dead.savefile(path).expect("savefile");
    for f in frames {
        let header = pcap::PacketHeader {
            ts: libc_timeval(f.ts),
            caplen: f.data.len() as u32,
            len: f.orig_len,
        };
        file.write(&pcap::Packet::new(&header, &f.data));
    }
    file.flush().expect("flush");
}

fn libc_timeval(ts: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: ts.as_secs() as libc::time_t,
        tv_usec: ts.subsec_micros() as libc::suseconds_t,
    }
}

/// A recorded morning: curl downloads, a DNS query, and traffic nobody owns.
struct Fixture {
    _dir: tempfile::TempDir,
    pcap: std::path::PathBuf,
    sockets: std::path::PathBuf,
    /// (pid, rx_bytes, tx_bytes, rx_packets, tx_packets) computed from the frames.
    expected: Vec<(Option<u32>, u64, u64, u64, u64)>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = |ms: u64| Duration::from_millis(1_700_000_000_000 + ms);
    let down = PacketSpec::tcp("93.184.216.34:443", "10.0.0.5:40000", 1400);
    let up = PacketSpec::tcp("10.0.0.5:40000", "93.184.216.34:443", 0);
    let query = PacketSpec::udp("10.0.0.5:51000", "10.0.0.1:53", 40);
    let answer = PacketSpec::udp("10.0.0.1:53", "10.0.0.5:51000", 120);
    let stray = PacketSpec::udp("203.0.113.9:9999", "10.0.0.5:7777", 10);
    let mut frames = Vec::new();
    for i in 0..50 {
        frames.push(down.sll2(t(i), 2, false, 96));
        if i % 2 == 0 {
            frames.push(up.sll2(t(i), 2, true, 96));
        }
    }
    frames.push(query.sll2(t(60), 2, true, 96));
    frames.push(answer.sll2(t(70), 2, false, 96));
    frames.push(stray.sll2(t(80), 2, false, 96));
    let pcap = dir.path().join("morning.pcap");
    write_pcap(&pcap, &frames);
    let sockets = dir.path().join("morning.sockets");
    std::fs::write(
        &sockets,
        "tcp 10.0.0.5:40000 93.184.216.34:443 1842 curl alice docker:3f2a1b4c5d6e\nudp 0.0.0.0:51000 0.0.0.0:0 77 resolver root\n",
    )
    .expect("write sockets");
    let wire = |p: &PacketSpec| p.ip_bytes().len() as u64 + 14;
    let expected = vec![
        (Some(1842), 50 * wire(&down), 25 * wire(&up), 50, 25),
        (Some(77), wire(&answer), wire(&query), 1, 1),
        (None, wire(&stray), 0, 1, 0),
    ];
    Fixture {
        _dir: dir,
        pcap,
        sockets,
        expected,
    }
}

/// Runs a command that must succeed and returns its standard output.
fn stdout_of(mut cmd: assert_cmd::Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

fn replay(fx: &Fixture, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = netop();
    cmd.args(["--duration", "1", "--replay"])
        .arg(&fx.pcap)
        .arg("--replay-sockets")
        .arg(&fx.sockets)
        .args(extra);
    cmd
}

#[test]
fn replayed_snapshot_tsv_has_the_measured_numbers() {
    let fx = fixture();
    let out = stdout_of(replay(&fx, &[]));
    let text = String::from_utf8(out).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("pid\tprocess\trx_bytes\ttx_bytes\trx_packets\ttx_packets")
    );
    let rows: Vec<String> = lines.map(str::to_string).collect();
    let expected: Vec<String> = fx
        .expected
        .iter()
        .map(|(pid, rx, tx, rp, tp)| {
            let (pid, name) = match pid {
                Some(1842) => ("1842".to_string(), "curl"),
                Some(77) => ("77".to_string(), "resolver"),
                _ => ("-".to_string(), "unknown"),
            };
            format!("{pid}\t{name}\t{rx}\t{tx}\t{rp}\t{tp}")
        })
        .collect();
    assert_eq!(rows, expected);
    assert!(!text.contains('\x1b'));
}

#[test]
fn replayed_snapshot_json_and_pretty() {
    let fx = fixture();
    let out = stdout_of(replay(&fx, &["--format", "json"]));
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let arr = json.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["pid"], 1842);
    assert_eq!(arr[0]["rx_bytes"], fx.expected[0].1);
    assert!(arr[2]["pid"].is_null());
    assert_eq!(arr[2]["process"], "unknown");

    let out = stdout_of(replay(&fx, &["--format", "pretty"]));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.starts_with("Per-Process Network Traffic\n"));
    assert!(text.contains("TOTAL"));
    assert!(!text.contains('\x1b'));
}

/// The fixture's curl is in a container; it shows only with the flag
/// (the plain TSV and JSON tests above pin the guide's formats).
#[test]
fn containers_flag_adds_the_container_column_and_field() {
    let fx = fixture();
    let text = String::from_utf8(stdout_of(replay(&fx, &["--containers"]))).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "pid\tprocess\trx_bytes\ttx_bytes\trx_packets\ttx_packets\tcontainer"
    );
    assert!(lines[1].starts_with("1842\tcurl\t"), "{text}");
    assert!(lines[1].ends_with("\tdocker:3f2a1b4c5d6e"), "{text}");
    assert!(lines[2..].iter().all(|l| l.ends_with("\t-")), "{text}");

    let out = stdout_of(replay(&fx, &["--containers", "--format", "json"]));
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json[0]["container"], "docker:3f2a1b4c5d6e");
    assert!(json[1]["container"].is_null() && json[2]["container"].is_null());

    let out = stdout_of(replay(&fx, &["--containers", "--format", "pretty"]));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("CONTAINER") && text.contains("docker:3f2a1b4c5d6e"));

    let out = stdout_of(replay(&fx, &["--format", "json"]));
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert!(
        json[0].get("container").is_none(),
        "no field without the flag"
    );
}

#[test]
fn filter_keeps_matching_processes_and_remote_addresses() {
    let fx = fixture();
    let out = stdout_of(replay(&fx, &["--filter", "CURL"]));
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("\tcurl\t"));
    let out = stdout_of(replay(&fx, &["--filter", "203.0.113"]));
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        text.lines().nth(1).map(|l| l.starts_with("-\tunknown\t")),
        Some(true),
        "{text}"
    );
}

#[test]
fn closed_stdout_exits_quietly_with_success() {
    let fx = fixture();
    let mut child = Command::cargo_bin("netop")
        .expect("binary")
        .args(["--duration", "1", "--replay"])
        .arg(&fx.pcap)
        .arg("--replay-sockets")
        .arg(&fx.sockets)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // the reader goes away before anything is written
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn a_corrupt_capture_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, b"this is not a pcap file").expect("write");
    netop()
        .args(["--duration", "1", "--replay"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: cannot replay"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn truncated_and_garbage_frames_do_not_stop_a_replay() {
    let fx = fixture();
    let t = Duration::from_millis(1_700_000_000_000);
    let good = PacketSpec::tcp("93.184.216.34:443", "10.0.0.5:40000", 100).sll2(t, 2, false, 96);
    let mut short = good.clone();
    short.data.truncate(30);
    let mut garbage = good.clone();
    garbage.data = vec![0xff; 60];
    let path = fx.pcap.with_file_name("mixed.pcap");
    write_pcap(&path, &[short, garbage, good]);
    let out = netop()
        .args(["--duration", "1", "--format", "json", "--replay"])
        .arg(&path)
        .arg("--replay-sockets")
        .arg(&fx.sockets)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json[0]["pid"], 1842);
    assert_eq!(json[0]["rx_packets"], 1);
}

/// `--format ndjson` over a replay: every line parses, and each process's
/// deltas sum to its last total, which is the measured truth.
#[test]
fn replayed_ndjson_stream_sums_to_the_measured_numbers() {
    let fx = fixture();
    let mut cmd = netop();
    cmd.args(["--format", "ndjson", "--interval", "1", "--replay"])
        .arg(&fx.pcap)
        .arg("--replay-sockets")
        .arg(&fx.sockets);
    let text = String::from_utf8(stdout_of(cmd)).expect("utf-8");
    assert!(text.lines().count() >= 1, "no line: {text:?}");
    let mut sums = std::collections::BTreeMap::<Option<u64>, [i64; 4]>::new();
    let mut totals = std::collections::BTreeMap::<Option<u64>, [u64; 4]>::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(v["schema_version"], 1);
        for p in v["processes"].as_array().expect("processes") {
            let pid = p["pid"].as_u64();
            let sum = sums.entry(pid).or_default();
            for (i, f) in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"]
                .iter()
                .enumerate()
            {
                sum[i] += p[f].as_i64().expect("delta");
            }
            let t = &p["total"];
            totals.insert(
                pid,
                ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"]
                    .map(|f| t[f].as_u64().expect("total")),
            );
        }
    }
    for (pid, rx, tx, rp, tp) in &fx.expected {
        let pid = pid.map(u64::from);
        assert_eq!(totals.get(&pid), Some(&[*rx, *tx, *rp, *tp]), "pid {pid:?}");
        assert_eq!(
            sums.get(&pid),
            Some(&[*rx as i64, *tx as i64, *rp as i64, *tp as i64]),
            "pid {pid:?}"
        );
    }
}

#[test]
fn ndjson_stream_to_a_closed_pipe_exits_quietly_with_success() {
    let fx = fixture();
    let mut child = Command::cargo_bin("netop")
        .expect("binary")
        .args(["--format", "ndjson", "--replay"])
        .arg(&fx.pcap)
        .arg("--replay-sockets")
        .arg(&fx.sockets)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

/// Issue 14: a config file for the snapshot (`NETOP_CONFIG`), layered
/// under the environment and the flags.
#[test]
fn issue_14_config_file_then_environment_then_flags() {
    let fx = fixture();
    let config = fx._dir.path().join("config.toml");
    std::fs::write(&config, "# mine\nformat = \"json\"\n").expect("write");
    let json = |cmd: assert_cmd::Command| -> bool {
        let out = stdout_of(cmd);
        serde_json::from_slice::<serde_json::Value>(&out).is_ok()
    };
    let mut from_file = replay(&fx, &[]);
    from_file.env("NETOP_CONFIG", &config);
    assert!(json(from_file), "format from the file");
    let mut from_env = replay(&fx, &[]);
    from_env
        .env("NETOP_CONFIG", &config)
        .env("NETOP_FORMAT", "tsv");
    assert!(!json(from_env), "the environment wins over the file");
    let mut from_flag = replay(&fx, &["--format", "json"]);
    from_flag
        .env("NETOP_CONFIG", &config)
        .env("NETOP_FORMAT", "tsv");
    assert!(json(from_flag), "the flag wins over the environment");
}

#[test]
fn issue_14_a_bad_config_file_is_one_line_and_exit_2() {
    let fx = fixture();
    let config = fx._dir.path().join("config.toml");
    std::fs::write(&config, "format = \"json\"\nfromat = \"tsv\"\n").expect("write");
    let mut cmd = replay(&fx, &[]);
    cmd.env("NETOP_CONFIG", &config)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "error: config file {} line 2, key 'fromat': unknown field",
            config.display()
        )))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    let mut missing = replay(&fx, &[]);
    missing
        .env("NETOP_CONFIG", fx._dir.path().join("none.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such file (NETOP_CONFIG)"));
}

/// Issue 14: `--alert` in a snapshot prints the table and exits 5 when a
/// process's rate crossed it, 0 when none did; per-process thresholds
/// come from the config file.
#[test]
fn issue_14_snapshot_alert_exit_code() {
    let fx = fixture();
    let busiest = fx
        .expected
        .iter()
        .filter(|e| e.0.is_some())
        .map(|e| e.1 + e.2)
        .max()
        .expect("a process");
    // The replay's snapshot lasts --duration 1: the rate is its bytes.
    let below = (busiest - 1).to_string();
    let above = (busiest + 1).to_string();
    let out = replay(&fx, &["--alert", &below]).assert().code(5);
    let text = String::from_utf8(out.get_output().stdout.clone()).expect("utf-8");
    assert!(
        text.starts_with("pid\tprocess"),
        "the table is printed: {text}"
    );
    assert!(out.get_output().stderr.is_empty(), "no error line");
    replay(&fx, &["--alert", &above]).assert().code(0);
    let config = fx._dir.path().join("config.toml");
    let name = "curl";
    std::fs::write(&config, format!("[alerts.processes]\n{name} = {below}\n")).expect("write");
    // curl's own threshold (below its rate) overrides --alert (above it).
    let mut cmd = replay(&fx, &["--alert", &above]);
    cmd.env("NETOP_CONFIG", &config).assert().code(5);
    // The other way round: curl's own threshold above its rate.
    std::fs::write(&config, format!("[alerts.processes]\n{name} = {above}\n")).expect("write");
    let mut cmd = replay(&fx, &["--alert", &below]);
    cmd.env("NETOP_CONFIG", &config).assert().code(0);
}

/// Issue 14: `--bpf` keeps only the packets the expression matches (here
/// on a replay; the root e2e test does it live).
#[test]
fn issue_14_bpf_keeps_only_matching_packets() {
    let fx = fixture();
    let out = String::from_utf8(stdout_of(replay(&fx, &["--bpf", "udp port 53"]))).expect("utf-8");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    let (resolver_rx, resolver_tx) = fx
        .expected
        .iter()
        .find(|e| e.0 == Some(77))
        .map(|e| (e.1, e.2))
        .expect("resolver");
    assert_eq!(
        rows,
        vec![format!("77\tresolver\t{resolver_rx}\t{resolver_tx}\t1\t1")],
        "{out}"
    );
    let out = String::from_utf8(stdout_of(replay(&fx, &["--bpf", "not udp"]))).expect("utf-8");
    assert!(
        out.contains("\tcurl\t") && !out.contains("resolver"),
        "{out}"
    );
}

#[test]
fn issue_14_an_invalid_bpf_expression_is_exit_2_with_libpcaps_message() {
    let fx = fixture();
    replay(&fx, &["--bpf", "udp prot 53"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: invalid --bpf expression: ",
        ))
        .stderr(predicate::str::contains("syntax error"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn issue_14_exclude_hides_processes_by_name() {
    let fx = fixture();
    let out = String::from_utf8(stdout_of(replay(
        &fx,
        &["--exclude", "CUR", "--exclude", "nothing"],
    )))
    .expect("utf-8");
    assert!(!out.contains("curl"), "{out}");
    assert!(
        out.contains("\tresolver\t") && out.contains("\tunknown\t"),
        "{out}"
    );
}
