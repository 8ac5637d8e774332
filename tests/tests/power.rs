//! Issue 14 end to end: `--bpf` counts only what its expression matches
//! (checked against the truth capture), an invalid expression exits 2, and
//! (see `monitor.rs`) the Interface view's loopback rate.
//!
//! Root only (namespaces, capture); under `CI` a missing root is a failure.

use std::process::Command;

use netop_e2e::compare::compare;
use netop_e2e::workload::{Scenario, MAX_UNKNOWN_PERCENT};
use netop_e2e::{begin, netop_bin, Netns, NetopOptions, Tolerance, Transport};

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
