//! Privileged end-to-end tests of the event source (issue 5): traffic that
//! polling cannot place (connections of a few milliseconds, processes that
//! live 50 ms, DNS questions from processes that exit at once) must land
//! on the right PID, each class with at least 99% of its bytes per PID,
//! and all unknown bytes together under 0.5% of what netop reported. One
//! test turns the event source off (`--no-events`) and checks that steady
//! traffic is still attributed and that netop says it fell back.
//!
//! netop captures on the test host's veth only (`--interface`): the
//! machine's other traffic (other test runs, downloads) stays out of the
//! unknown share being measured. Tags `ev1`..`ev5`, subnets
//! 10.231.51-55.0/24 and ports 31000-35999 are this file's own.
//!
//! Not root: skipped, or a failure when `CI` is set. A netop built without
//! eBPF (no clang) fails the event tests: the fallback line it prints says
//! why.
#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use netop_e2e::{
    begin, install_package, Expectation, Netns, NetopOptions, Outcome, Proc, Scenario, Tolerance,
    Transport,
};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
/// netop's window; every workload below ends within about 3.5 s of `go`.
const NETOP_SECONDS: u64 = 6;
const SERVER_PORT: u16 = 5001;
/// Unknown bytes allowed, in percent of all bytes netop reported.
const MAX_UNKNOWN_PERCENT: f64 = 0.5;
/// Each class: at least 99% of its bytes on the right PID.
const AT_LEAST: f64 = 99.0;

fn netop_on(host: &Netns, extra: &[&str]) -> Option<NetopOptions> {
    Some(NetopOptions {
        duration_secs: NETOP_SECONDS,
        interface: Some(host.host_if.clone()),
        bpf_buffer: None,
        extra: extra.iter().map(|s| s.to_string()).collect(),
    })
}

fn server_addr(host: &Netns, port: u16) -> String {
    format!("{}:{port}", host.ns_addr)
}

/// netop must have run with events: its stderr has no fallback line.
fn check_events_on(outcome: &Outcome) -> anyhow::Result<()> {
    if outcome.netop_stderr.contains("events unavailable") {
        bail!(
            "netop fell back to polling:\n{}",
            outcome.netop_stderr.trim_end()
        );
    }
    Ok(())
}

/// Adds one expectation per child of a `short-procs` launcher, from the
/// `pidI=` and `portI=` fields of its `done` line.
fn expect_children(
    outcome: &mut Outcome,
    launcher: &str,
    transport: Transport,
) -> anyhow::Result<usize> {
    let done = outcome
        .done
        .iter()
        .find(|(label, _)| label == launcher)
        .map(|(_, done)| done.clone())
        .with_context(|| format!("no done line from {launcher}"))?;
    let count = done.get("procs");
    println!(
        "{launcher}: {count} processes, slowest {} ms",
        done.get("slowest_ms")
    );
    for i in 0..count {
        let (pid, port) = (done.get(&format!("pid{i}")), done.get(&format!("port{i}")));
        let (Ok(pid), Ok(port)) = (u32::try_from(pid), u16::try_from(port)) else {
            bail!("bad pid{i}/port{i} in {launcher}'s done line");
        };
        let truth = outcome.truth.ports(transport, [port]);
        if truth.total_bytes() == 0 {
            bail!("child {i} (pid {pid}, port {port}) moved nothing in the truth");
        }
        outcome.expectations.push(Expectation {
            label: format!("{launcher} #{i}"),
            pid,
            truth,
            tolerance: Tolerance::at_least(AT_LEAST),
        });
    }
    Ok(count as usize)
}

#[test]
fn three_hundred_short_tcp_connections_are_attributed() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ev1", 51)?;
    let to = server_addr(&host, SERVER_PORT);
    let (count, first_port) = (300u16, 31000u16);
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.server(
        "sink",
        ["sink", "--listen", &to, "--seconds", "30", "--conns", "300"],
    )?;
    scenario.client(
        "short-conns",
        Transport::Tcp,
        first_port..first_port + count,
        Tolerance::at_least(AT_LEAST),
        [
            "short-conns",
            "--to",
            &to,
            "--count",
            &count.to_string(),
            "--bind-port-base",
            &first_port.to_string(),
            "--bytes",
            "4000",
            "--hold-ms",
            "2",
        ],
    )?;
    let outcome = scenario.run(netop_on(&host, &[]))?;
    check_events_on(&outcome)?;
    outcome.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
}

#[test]
fn fifty_short_lived_processes_are_attributed_per_pid() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ev2", 52)?;
    let to = server_addr(&host, SERVER_PORT);
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.server(
        "sink",
        ["sink", "--listen", &to, "--seconds", "30", "--conns", "50"],
    )?;
    // The launcher itself moves nothing: its expectation is zero bytes.
    scenario.client(
        "launcher",
        Transport::Tcp,
        [],
        Tolerance::within(2.0),
        [
            "short-procs",
            "--kind",
            "tcp",
            "--to",
            &to,
            "--count",
            "50",
            "--bind-port-base",
            "32000",
            "--bytes",
            "6000",
        ],
    )?;
    let mut outcome = scenario.run(netop_on(&host, &[]))?;
    check_events_on(&outcome)?;
    let children = expect_children(&mut outcome, "launcher", Transport::Tcp)?;
    anyhow::ensure!(children == 50, "{children} children");
    outcome.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
}

#[test]
fn udp_datagrams_and_their_echoes_are_attributed() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ev3", 53)?;
    let to = server_addr(&host, SERVER_PORT);
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.server(
        "udp-echo",
        [
            "udp-echo-server",
            "--listen",
            &to,
            "--seconds",
            "30",
            "--count",
            "300",
        ],
    )?;
    scenario.client(
        "udp-client",
        Transport::Udp,
        [33001],
        Tolerance::at_least(AT_LEAST),
        [
            "udp-client",
            "--to",
            &to,
            "--bind-port",
            "33001",
            "--count",
            "300",
            "--size",
            "1000",
            "--interval-ms",
            "10",
        ],
    )?;
    let outcome = scenario.run(netop_on(&host, &[]))?;
    check_events_on(&outcome)?;
    outcome.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
}

/// dnsmasq inside the test host, answering for `netop.test` on port 53.
fn dnsmasq(host: &Netns) -> anyhow::Result<Proc> {
    install_package("dnsmasq-base", "dnsmasq", "--version")?;
    let mut cmd = host.command("dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--user=root",
        "--pid-file=",
        "--log-facility=-",
        "--port=53",
        "--local=/netop.test/",
        "--host-record=alpha.netop.test,10.9.0.1",
    ])
    .arg(format!("--listen-address={}", host.ns_addr));
    let mut proc = Proc::spawn("dnsmasq (test host)", cmd)?;
    proc.wait_udp_bound(53, Duration::from_secs(10))?;
    Ok(proc)
}

#[test]
fn dns_questions_from_short_lived_processes_are_attributed() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ev4", 54)?;
    let _dnsmasq = dnsmasq(&host)?;
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.client(
        "dns-launcher",
        Transport::Udp,
        [],
        Tolerance::within(2.0),
        [
            "short-procs",
            "--kind",
            "dns",
            "--to",
            &server_addr(&host, 53),
            "--count",
            "50",
            "--bind-port-base",
            "34000",
        ],
    )?;
    let mut outcome = scenario.run(netop_on(&host, &[]))?;
    check_events_on(&outcome)?;
    let children = expect_children(&mut outcome, "dns-launcher", Transport::Udp)?;
    anyhow::ensure!(children == 50, "{children} children");
    outcome.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
}

#[test]
fn without_events_steady_traffic_is_attributed_and_netop_says_it_polls() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ev5", 55)?;
    let to = server_addr(&host, SERVER_PORT);
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    scenario.server(
        "sink",
        ["sink", "--listen", &to, "--seconds", "30", "--conns", "2"],
    )?;
    for (port, rate) in [(35001u16, "300000"), (35002, "1000000")] {
        scenario.client(
            &format!("stream {port}"),
            Transport::Tcp,
            [port],
            Tolerance::within(2.0),
            [
                "stream",
                "--to",
                &to,
                "--bind-port",
                &port.to_string(),
                "--rate",
                rate,
                "--seconds",
                "3",
            ],
        )?;
    }
    let outcome = scenario.run(netop_on(&host, &["--no-events"]))?;
    let expected = "netop: per-socket events unavailable (turned off with --no-events); using polling, short-lived connections may show as unknown";
    anyhow::ensure!(
        outcome.netop_stderr.lines().any(|l| l == expected),
        "netop's stderr does not say it polls:\n{}",
        outcome.netop_stderr
    );
    outcome.verify_with_unknown_limit(MAX_UNKNOWN_PERCENT)
}

/// The eBPF object's programs exist in the built netop: `--diagnostics`
/// reports the event source as built in and running.
#[test]
fn diagnostics_report_the_event_source_running() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let bin = netop_e2e::netop_bin()?;
    let out = Command::new(bin)
        .arg("--diagnostics")
        .output()
        .context("running netop --diagnostics")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "netop --diagnostics failed: {stdout}");
    anyhow::ensure!(
        stdout.contains("socket owners: events"),
        "events not running:\n{stdout}"
    );
    Ok(())
}
