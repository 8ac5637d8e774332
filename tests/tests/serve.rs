//! `netop serve` end to end, as root in a test host: known uploads from a
//! process with a known name, a real Prometheus server (Debian's
//! `prometheus`) scraping `/metrics` every second, its HTTP API asked for
//! the process's counters, which must be within 2 % of an independent
//! tcpdump truth; `promtool check metrics` accepting the exposition; the
//! history surviving a restart (SIGTERM: exit 0, the minute in progress
//! written) and a `kill -9` (at most the minute in progress lost). Also
//! the NDJSON stream into a closed pipe.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netop_e2e::netop::netop_bin;
use netop_e2e::scratch::ScratchDir;
use netop_e2e::service::{renamed_copy, sample, wait_for, Prometheus, Serve};
use netop_e2e::{begin, Counts, Netns, Proc, Scenario, Tolerance, Transport};
use nix::sys::signal::Signal;

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
/// The upload's process name (a copy of trafficgen under this name).
const UPLOADER: &str = "e2eupload";
const SINK_PORT: u16 = 5001;
const TX: &str = "netop_process_network_transmit_bytes_total";
/// The bound: counters within 2 % of the truth.
const PERCENT: f64 = 2.0;

fn within(value: f64, truth: u64, percent: f64) -> bool {
    let truth = truth as f64;
    truth > 0.0 && (value - truth).abs() <= truth * percent / 100.0
}

/// Uploads `rate` bytes a second for `seconds` from `uploader` on local
/// `port` to a sink in `host`; returns the truth of that port.
fn upload(host: &Netns, uploader: &Path, port: u16, rate: u64, seconds: u64) -> Counts {
    let to = format!("{}:{SINK_PORT}", host.ns_addr);
    // The sink is plain trafficgen in the test host: another name, so the
    // uploader's label holds only the upload.
    let mut sink_cmd = host.command(TRAFFICGEN);
    sink_cmd.args(["sink", "--listen", &to, "--seconds", "30", "--conns", "1"]);
    let mut sink = Proc::spawn("sink", sink_cmd).expect("sink");
    sink.expect_line("ready", Duration::from_secs(10))
        .expect("sink ready");
    let mut scenario = Scenario::new(host, uploader);
    scenario
        .client(
            "upload",
            Transport::Tcp,
            [port],
            Tolerance::within(PERCENT),
            [
                "stream",
                "--to",
                &to,
                "--bind-port",
                &port.to_string(),
                "--rate",
                &rate.to_string(),
                "--seconds",
                &seconds.to_string(),
            ],
        )
        .expect("uploader");
    let outcome = scenario.run(None).expect("workload");
    sink.expect_line("done", Duration::from_secs(20))
        .expect("sink done");
    eprintln!("{}", outcome.summary());
    outcome.expectations[0].truth
}

/// `netop history` as JSON: the uploader's row.
fn history_row(db: &Path) -> Option<serde_json::Value> {
    let out = Command::new(netop_bin().expect("netop"))
        .args(["history", "--since", "2h", "--format", "json", "--history"])
        .arg(db)
        .output()
        .expect("netop history");
    assert!(out.status.success(), "netop history: {out:?}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mine: Vec<&serde_json::Value> = rows
        .as_array()?
        .iter()
        .filter(|r| r["process"] == UPLOADER)
        .collect();
    assert!(mine.len() <= 1, "the uploader in several rows: {rows:#}");
    mine.first().map(|r| (*r).clone())
}

/// `netop history` as JSON: the uploader's (rx, tx) bytes.
fn history_of(db: &Path) -> Option<(u64, u64)> {
    history_row(db).map(|r| {
        (
            r["rx_bytes"].as_u64().unwrap_or(0),
            r["tx_bytes"].as_u64().unwrap_or(0),
        )
    })
}

/// A field of `/proc/PID[/task/TID]/status`.
fn status_field(path: &Path, field: &str) -> String {
    let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// After start-up, serve runs as another user than root; its HTTP and
/// history threads hold no capability, its owner thread the five of
/// `confine.rs`, its packet thread CAP_NET_RAW and CAP_NET_ADMIN. Returns
/// serve's uid and gid.
fn check_least_privilege(pid: u32) -> (String, String) {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let uid = status_field(&proc_dir, "Uid");
    let gid = status_field(&proc_dir, "Gid");
    let real_uid = uid
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let real_gid = gid
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        !real_uid.is_empty() && real_uid != "0",
        "serve still runs as root: Uid {uid}"
    );
    assert!(uid.split_whitespace().all(|u| u == real_uid), "Uid {uid}");
    // CAP_DAC_READ_SEARCH 2, CAP_NET_ADMIN 12, CAP_NET_RAW 13,
    // CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21.
    let kept: u64 = [2u32, 12, 13, 19, 21].iter().map(|b| 1u64 << b).sum();
    let mut workers = 0;
    let mut owners = 0;
    for task in std::fs::read_dir(proc_dir.join("task"))
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let eff = u64::from_str_radix(&status_field(&task.path(), "CapEff"), 16).expect("CapEff");
        let prm = u64::from_str_radix(&status_field(&task.path(), "CapPrm"), 16).expect("CapPrm");
        // The main thread captures and parses packets: it keeps only what
        // re-opening a capture needs.
        if task.file_name().to_str() == Some(pid.to_string().as_str()) {
            let packets = (1u64 << 12) | (1 << 13);
            assert_eq!(
                (eff, prm),
                (packets, packets),
                "the packet thread holds {eff:#x}"
            );
            continue;
        }
        match comm.trim() {
            "netop-http" | "netop-history" => {
                workers += 1;
                assert_eq!((eff, prm), (0, 0), "{} holds capabilities", comm.trim());
            }
            // The owner search kept its capabilities across the user
            // switch and dropped the rest when the capture thread
            // confined it.
            "netop-owners" => {
                owners += 1;
                assert_eq!((eff, prm), (kept, kept), "the owner thread holds {eff:#x}");
            }
            _ => assert_eq!(eff & !kept, 0, "{} holds {eff:#x}", comm.trim()),
        }
    }
    assert!(workers >= 2, "no HTTP or history thread found");
    assert_eq!(owners, 1, "no owner thread found");
    (real_uid, real_gid)
}

/// The thread that captures and parses packets is Landlocked: its probe
/// (`--confinement-probe`) could not create a file in a directory the
/// service user may write in.
fn check_packet_thread_landlocked(serve: &Serve, probe: &Path) {
    let line = wait_for(Duration::from_secs(10), || {
        let stderr = serve.proc.stderr();
        let line = stderr.lines().find(|l| l.contains("confinement probe"))?;
        Some(line.to_string())
    })
    .unwrap_or_else(|| panic!("no probe line:\n{}", serve.proc.describe()));
    assert!(
        !probe.exists(),
        "the packet thread created {}: {line}",
        probe.display()
    );
    assert!(
        line.contains(&format!("create {}: denied", probe.display())),
        "{line}"
    );
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn prometheus_scrapes_the_truth_and_history_survives_restart_and_kill() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let host = Netns::create("srv", 71).expect("test host");
    let scratch = ScratchDir::new("serve").expect("scratch");
    let db = scratch.path().join("history/netop.db");
    let uploader =
        renamed_copy(Path::new(TRAFFICGEN), scratch.path(), UPLOADER).expect("uploader copy");
    // A directory anyone may write in: only Landlock keeps the service
    // user's packet thread from creating the probe's file there.
    let open_dir = scratch.path().join("anyone");
    std::fs::create_dir_all(&open_dir).expect("open dir");
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let probe = open_dir.join("probe");
    let args = [
        "--interface",
        host.host_if.as_str(),
        "--history",
        db.to_str().expect("utf-8 path"),
        "--confinement-probe",
        probe.to_str().expect("utf-8 path"),
    ];
    let serve = Serve::start(&args).expect("netop serve");
    let (uid, gid) = check_least_privilege(serve.proc.pid());
    check_packet_thread_landlocked(&serve, &probe);
    let prometheus = Prometheus::start(serve.addr).expect("prometheus");

    let truth = upload(&host, &uploader, 5101, 1_000_000, 3);
    let label = format!("process=\"{UPLOADER}\",user=\"root\"");
    // /metrics settles at the truth within a tick or two.
    let served = wait_for(Duration::from_secs(20), || {
        let body = serve.metrics().ok()?;
        sample(&body, TX, &label).filter(|v| within(*v, truth.tx_bytes, PERCENT))
    });
    let body = serve.metrics().expect("metrics");
    assert!(
        served.is_some(),
        "netop's {TX}{{{label}}} is not within {PERCENT} % of the truth {}:\n{body}",
        truth.tx_bytes
    );
    assert!(!body.contains("pid="), "a pid label: {body}");
    // Prometheus scraped the same.
    let query = format!("{TX}{{{label}}}");
    let scraped = wait_for(Duration::from_secs(30), || {
        prometheus
            .query_one(&query)
            .ok()
            .flatten()
            .filter(|v| within(*v, truth.tx_bytes, PERCENT))
    });
    assert!(
        scraped.is_some(),
        "Prometheus's {query} = {:?}, truth {}",
        prometheus.query_one(&query),
        truth.tx_bytes
    );
    let rx = prometheus
        .query_one(&format!(
            "netop_process_network_receive_bytes_total{{{label}}}"
        ))
        .expect("query")
        .expect("rx series");
    assert!(
        within(rx, truth.rx_bytes, PERCENT),
        "rx {rx} vs {}",
        truth.rx_bytes
    );

    // promtool accepts the exposition.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {checked:?}"
    );

    // SIGTERM: exit 0, the minute in progress written.
    let mut serve = serve;
    serve.proc.signal(Signal::SIGTERM).expect("SIGTERM");
    let status = serve.proc.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", serve.proc.describe());
    let (_, tx) = history_of(&db).expect("the upload in the history");
    assert!(
        within(tx as f64, truth.tx_bytes, PERCENT),
        "history {tx} vs {}",
        truth.tx_bytes
    );
    // Its row names the executable it ran, not only its name.
    let row = history_row(&db).expect("the uploader's row");
    let exe = uploader.canonicalize().expect("uploader path");
    assert_eq!(
        row["exe"].as_str(),
        exe.to_str(),
        "the history's exe of {UPLOADER}: {row}"
    );
    // Reading needs no root: serve's own user reads it.
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
        ])
        .arg(netop_bin().expect("netop"))
        .args(["history", "--since", "2h", "--format", "tsv", "--history"])
        .arg(&db)
        .output()
        .expect("setpriv");
    assert!(out.status.success(), "netop history as uid {uid}: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(UPLOADER),
        "{out:?}"
    );
    // Another user (not in its group) gets one line naming the path.
    let out = Command::new("setpriv")
        .args(["--reuid=12345", "--regid=12345", "--clear-groups"])
        .arg(netop_bin().expect("netop"))
        .args(["history", "--history"])
        .arg(&db)
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains(db.to_str().expect("utf-8")) && stderr.lines().count() == 1,
        "{stderr}"
    );

    // Restarted: the history still has it, and adds what comes.
    let mut serve = Serve::start(&args).expect("netop serve again");
    let before = history_of(&db).expect("the upload after the restart");
    assert_eq!(before.1, tx);
    let second = upload(&host, &uploader, 5102, 500_000, 2);
    // Past the end of the minute the upload finished in, and a tick more,
    // that minute is written; then kill -9 loses only the current one.
    let finished = unix_now();
    let boundary = finished - finished % 60 + 60;
    wait_for(Duration::from_secs(75), || {
        (unix_now() >= boundary + 3).then_some(())
    });
    serve.proc.signal(Signal::SIGKILL).expect("SIGKILL");
    let _ = serve.proc.wait_exit(Duration::from_secs(10));
    let (_, after) = history_of(&db).expect("the uploads after kill -9");
    let both = truth.tx_bytes + second.tx_bytes;
    assert!(
        within(after as f64, both, PERCENT),
        "after kill -9 the history has {after}, the two uploads' truth is {both}"
    );
    drop(prometheus);
}

/// `netop --format ndjson --interval 1 --duration 3 | head -1` exits 0
/// with one JSON line.
#[test]
fn the_stream_into_head_exits_zero() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' --format ndjson --interval 1 --duration 3 --interface lo | head -1",
            netop_bin().expect("netop").display()
        ))
        .output()
        .expect("sh");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("a JSON line");
    assert_eq!(line["schema_version"], 1);
}
