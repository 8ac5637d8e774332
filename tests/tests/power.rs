//! Issue 14 end to end: `--bpf` counts only what its expression matches
//! (checked against the truth capture), an invalid expression exits 2, and
//! (see `monitor.rs`) the Interface view's loopback rate.
//!
//! Root only (namespaces, capture); under `CI` a missing root is a failure.

use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use netop_e2e::compare::compare;
use netop_e2e::scratch::ScratchDir;
use netop_e2e::workload::{Scenario, MAX_UNKNOWN_PERCENT};
use netop_e2e::{
    begin, install_package, netop_bin, Netns, NetopOptions, NetopRun, Proc, Tolerance, Transport,
};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");

#[test]
fn issue_14_bpf_counts_only_the_matching_traffic() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("bpf", 61)?;
    let udp_to = format!("{}:9999", host.ns_addr);
    let tcp_to = format!("{}:5001", host.ns_addr);
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.server(
        "echo",
        [
            "udp-echo-server",
            "--listen",
            &udp_to,
            "--seconds",
            "20",
            "--count",
            "200",
        ],
    )?;
    scenario.server(
        "sink",
        [
            "sink",
            "--listen",
            &tcp_to,
            "--seconds",
            "20",
            "--conns",
            "1",
        ],
    )?;
    scenario.client(
        "udp",
        Transport::Udp,
        [46_201],
        Tolerance::within(2.0),
        [
            "udp-client",
            "--to",
            &udp_to,
            "--bind-port",
            "46201",
            "--count",
            "200",
            "--size",
            "1000",
            "--interval-ms",
            "10",
        ],
    )?;
    scenario.client(
        "tcp",
        Transport::Tcp,
        [46_202],
        Tolerance::within(2.0),
        [
            "stream",
            "--to",
            &tcp_to,
            "--bind-port",
            "46202",
            "--rate",
            "500000",
            "--seconds",
            "2",
        ],
    )?;
    let outcome = scenario.run(Some(NetopOptions {
        duration_secs: 10,
        interface: Some(host.host_if.clone()),
        bpf_buffer: None,
        extra: vec!["--bpf".into(), "udp port 9999".into()],
    }))?;
    println!("{}", outcome.summary());
    let rows = outcome.rows.clone().unwrap_or_default();
    let udp: Vec<_> = outcome
        .expectations
        .iter()
        .filter(|e| e.label == "udp")
        .cloned()
        .collect();
    let tcp = outcome
        .expectations
        .iter()
        .find(|e| e.label == "tcp")
        .expect("the tcp client");
    anyhow::ensure!(
        tcp.truth.total_bytes() > 500_000,
        "the TCP stream did not run: {}",
        tcp.truth
    );
    // The stream's bytes (and the test host's other packets) are not seen.
    anyhow::ensure!(
        rows.iter().all(|r| r.pid != Some(tcp.pid)),
        "the TCP stream (pid {}) is counted despite --bpf: {rows:?}",
        tcp.pid
    );
    let report = compare(&udp, &rows, MAX_UNKNOWN_PERCENT);
    println!("{report}");
    anyhow::ensure!(
        report.is_ok(),
        "--bpf 'udp port 9999' is off the truth:\n{report}"
    );
    Ok(())
}

#[test]
fn issue_14_an_invalid_bpf_expression_exits_2_with_one_line() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let out = Command::new(netop_bin()?)
        .args(["--duration", "1", "--bpf", "udp port 99999"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.code() == Some(2), "{:?}: {stderr}", out.status);
    anyhow::ensure!(
        stderr.starts_with("error: invalid --bpf expression: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
    anyhow::ensure!(out.stdout.is_empty());
    Ok(())
}

/// Issue 14: `--write` saves the packets with each one's process as a
/// pcapng comment; tshark reads them back, and every packet of the test
/// client's port names the client's pid.
#[test]
fn issue_14_write_pcapng_comments_name_the_process() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    install_package("tshark", "tshark", "--version")?;
    let host = Netns::create("pcapng", 62)?;
    let to = format!("{}:9998", host.ns_addr);
    let mut echo = Proc::spawn("echo", {
        let mut c = host.command(TRAFFICGEN);
        c.args([
            "udp-echo-server",
            "--listen",
            &to,
            "--seconds",
            "20",
            "--count",
            "100",
        ]);
        c
    })?;
    echo.expect_line("ready", Duration::from_secs(10))?;
    let scratch = ScratchDir::new("pcapng")?;
    let file = scratch.path().join("netop.pcapng");
    let mut netop = NetopRun::start(NetopOptions {
        duration_secs: 6,
        interface: Some(host.host_if.clone()),
        bpf_buffer: None,
        extra: vec!["--write".into(), file.display().to_string()],
    })?;
    netop.wait_capturing(Duration::from_secs(10))?;
    let mut client = Proc::spawn("client", {
        let mut c = Command::new(TRAFFICGEN);
        c.args([
            "udp-client",
            "--to",
            &to,
            "--bind-port",
            "46301",
            "--count",
            "100",
        ])
        .args(["--size", "200", "--interval-ms", "5"]);
        c
    })?;
    client.expect_line("ready", Duration::from_secs(10))?;
    client.send_line("go")?;
    let pid = client.pid();
    client.wait_exit(Duration::from_secs(20))?;
    let rows = netop.finish(Duration::from_secs(10))?;
    anyhow::ensure!(rows.iter().any(|r| r.pid == Some(pid)), "{rows:?}");

    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "frame.comment",
        ])
        .output()
        .context("running tshark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("pid {pid} trafficgen");
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() >= 2 && (f[0] == "46301" || f[1] == "46301")
        })
        .collect();
    // 100 datagrams out, 100 echoes back.
    anyhow::ensure!(
        ours.len() >= 200,
        "{} packets of port 46301:\n{text}",
        ours.len()
    );
    let wrong: Vec<&&str> = ours.iter().filter(|l| !l.contains(&want)).collect();
    anyhow::ensure!(
        wrong.is_empty(),
        "{} of {} packets lack '{want}': {:?}",
        wrong.len(),
        ours.len(),
        &wrong[..wrong.len().min(5)]
    );
    Ok(())
}
