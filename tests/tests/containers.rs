//! Privileged end-to-end test of `--containers` (issue 5): container
//! identity read from each process's cgroup.
//!
//! Three `trafficgen` streams in the root namespace send to a sink in a
//! test host: one moved into a cgroup v1 directory shaped like Docker's
//! (`<memory mount>/docker/<id>`), one into a cgroup v2 one
//! (`<cgroup2 mount>/system.slice/docker-<id>.scope`, when cgroup v2 is
//! mounted and writable here), and one left where it was. The real netop
//! binary, run with `--containers` in JSON and TSV and without the flag,
//! must name the first two `docker:<first 12 hex digits>`, and the third
//! and the unknown row no container; without the flag, no container
//! field at all. The cgroups are removed on Drop, also when the test fails.
//!
//! Traffic goes only between the root namespace and the test host.
#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use netop_e2e::cgroup::{self, FakeCgroup};
use netop_e2e::{begin, netop_bin, Netns, Proc};
use serde_json::Value;

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const SERVER_PORT: u16 = 5001;
/// Client ports: Docker on cgroup v1, Docker on cgroup v2, no container.
const PORTS: [u16; 3] = [47_311, 47_312, 47_313];
const RATE: u64 = 100_000;
const STREAM_SECONDS: &str = "2";
const NETOP_SECONDS: &str = "4";

fn start_stream(to: &str, port: u16) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(TRAFFICGEN);
    cmd.args(["stream", "--to", to, "--bind-port", &port.to_string()])
        .args(["--rate", &RATE.to_string(), "--seconds", STREAM_SECONDS]);
    let mut proc = Proc::spawn(format!("stream :{port}"), cmd)?;
    proc.expect_line("ready", Duration::from_secs(10))?;
    Ok(proc)
}

fn start_netop(interface: &str, extra: &[&str]) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(netop_bin()?);
    cmd.args(["--duration", NETOP_SECONDS, "--interface", interface])
        .args(extra)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    let mut proc = Proc::spawn(format!("netop {}", extra.join(" ")), cmd)?;
    proc.close_stdin();
    proc.wait_capturing(Duration::from_secs(10))?;
    Ok(proc)
}

fn finish(mut proc: Proc) -> anyhow::Result<String> {
    let status = proc.wait_exit(Duration::from_secs(30))?;
    let stdout = proc.stdout(Duration::from_secs(2));
    if !status.success() {
        bail!("{} failed ({status}):\n{}", proc.name(), proc.describe());
    }
    Ok(stdout)
}

#[test]
fn containers_are_read_from_cgroup_v1_and_v2() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    // Declared before the processes, so they are dropped (killed) first
    // and the cgroups are empty when their guards remove them.
    let memory = cgroup::v1_mount("memory").context("no cgroup v1 memory hierarchy")?;
    let v1_id = cgroup::random_id()?;
    let v1 = FakeCgroup::create(&memory, &format!("docker/{v1_id}"))?;
    let v2_id = cgroup::random_id()?;
    let v2 = match cgroup::v2_mount() {
        Some(root) => {
            match FakeCgroup::create(&root, &format!("system.slice/docker-{v2_id}.scope")) {
                Ok(dir) => Some(dir),
                Err(e) => {
                    netop_core::testing::skip(&format!("cgroup v2 part: {e:#}"));
                    None
                }
            }
        }
        None => {
            netop_core::testing::skip("cgroup v2 part: no cgroup2 mount");
            None
        }
    };

    let host = Netns::create("ctr", 42)?;
    let to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let mut sink = Proc::spawn("sink", {
        let mut c = host.command(TRAFFICGEN);
        c.args(["sink", "--listen", &to, "--seconds", "30", "--conns", "3"]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut streams = PORTS
        .iter()
        .map(|&port| start_stream(&to, port))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pids: Vec<u32> = streams.iter().map(Proc::pid).collect();
    v1.add(pids[0])?;
    if let Some(v2) = &v2 {
        v2.add(pids[1])?;
    }

    let runs = [
        start_netop(&host.host_if, &["--containers", "--format", "json"])?,
        start_netop(&host.host_if, &["--containers", "--format", "tsv"])?,
        start_netop(&host.host_if, &["--format", "json"])?,
    ];
    for stream in &mut streams {
        stream.send_line("go")?;
    }
    for stream in &mut streams {
        stream.expect_line("done", Duration::from_secs(15))?;
    }
    let [json, tsv, plain] = runs;
    let (json, tsv, plain) = (finish(json)?, finish(tsv)?, finish(plain)?);

    let short = |id: &str| format!("docker:{}", &id[..12]);
    let expected: [(u32, Option<String>); 3] = [
        (pids[0], Some(short(&v1_id))),
        (pids[1], v2.as_ref().map(|_| short(&v2_id))),
        (pids[2], None),
    ];

    // JSON: every row has the field; ours carry their containers, the rest
    // (the unknown row) none.
    let rows: Value = serde_json::from_str(&json).with_context(|| format!("JSON: {json}"))?;
    let rows = rows.as_array().context("a JSON array")?;
    for (pid, container) in &expected {
        let row = rows
            .iter()
            .find(|r| r["pid"] == *pid)
            .with_context(|| format!("no row for pid {pid} in {json}"))?;
        let want = container
            .as_ref()
            .map_or(Value::Null, |c| Value::from(c.as_str()));
        assert_eq!(row["container"], want, "pid {pid} in {json}");
    }
    for row in rows {
        let ours = expected.iter().any(|(pid, _)| row["pid"] == *pid);
        assert!(row.get("container").is_some(), "{row}");
        assert!(ours || row["container"].is_null(), "{row}");
    }

    // TSV: the trailing column, `-` for none.
    let mut lines = tsv.lines();
    assert_eq!(
        lines.next(),
        Some("pid\tprocess\trx_bytes\ttx_bytes\trx_packets\ttx_packets\tcontainer")
    );
    let cells: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(cells.iter().all(|c| c.len() == 7), "{tsv}");
    for (pid, container) in &expected {
        let row = cells
            .iter()
            .find(|c| c[0] == pid.to_string())
            .with_context(|| format!("no row for pid {pid} in {tsv}"))?;
        assert_eq!(row[6], container.as_deref().unwrap_or("-"), "{tsv}");
    }

    // Without the flag: the guide's six fields, containers or not.
    let rows: Value = serde_json::from_str(&plain).with_context(|| format!("JSON: {plain}"))?;
    let rows = rows.as_array().context("a JSON array")?;
    assert!(rows.iter().any(|r| r["pid"] == pids[0]), "{plain}");
    assert!(rows.iter().all(|r| r.get("container").is_none()), "{plain}");
    drop(streams);
    drop(sink);
    Ok(())
}
