//! Privileged end-to-end tests of the library (`netop-lib`): its
//! `Monitor`, in this test process, watches trafficgen clients with known
//! traffic on a test host's veth; each one's `traffic(pid)` must be within
//! 2 % of the tcpdump truth on that interface, and nothing of theirs may
//! land on another interface. `pid_by_port` must find listening servers.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::child::Proc;
use netop_e2e::compare::SLACK_BYTES;
use netop_e2e::{begin, Netns, Scenario, Tolerance, Transport};
use netop_lib::{Error, Monitor, Options, Proto, Traffic};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const SERVER_PORT: u16 = 5301;
const UDP_SERVER_PORT: u16 = 5302;
const STREAM_PORT: u16 = 47301;
const UDP_PORT: u16 = 47302;
/// Listening servers in the root namespace, for `pid_by_port`.
const LISTEN_TCP: u16 = 47311;
const LISTEN_UDP: u16 = 47312;

/// Within 2 % per direction, bytes (plus the harness's slack of a couple
/// of bare ACKs) and packets (plus two).
fn close(truth: u64, measured: u64, packets: bool) -> bool {
    if packets {
        let limit = (truth as f64 * 0.02).ceil() as u64 + 2;
        truth.abs_diff(measured) <= limit
    } else {
        Tolerance::within(2.0).accepts(truth, measured)
    }
}

/// Waits for `n` more reports (owners of the last packets found).
fn refreshes(monitor: &Monitor, n: usize) -> anyhow::Result<()> {
    let mut reports = monitor.reports();
    for _ in 0..n {
        reports
            .next_timeout(Duration::from_secs(5))
            .context("no report within 5 s: the capture stopped")?;
    }
    Ok(())
}

#[test]
fn library_traffic_per_interface_is_within_2_percent_of_the_truth() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("lib", 73)?;
    // Every interface (`any`): the figures must still name the veth alone.
    // Kernel counting by default; the suite's pcap pass sets
    // NETOP_CAPTURE=pcap, as it does for the command.
    let kernel = std::env::var("NETOP_CAPTURE").as_deref() != Ok("pcap");
    let monitor = Monitor::new(
        Options::new()
            .interval(Duration::from_millis(250))
            .kernel_counting(kernel),
    )?;
    monitor.start()?;

    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    let tcp_to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let udp_to = format!("{}:{UDP_SERVER_PORT}", host.ns_addr);
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
    scenario.server(
        "udp-echo",
        [
            "udp-echo-server",
            "--listen",
            &udp_to,
            "--seconds",
            "20",
            "--count",
            "150",
        ],
    )?;
    let (stream_port, udp_port) = (STREAM_PORT.to_string(), UDP_PORT.to_string());
    scenario.client(
        "stream",
        Transport::Tcp,
        [STREAM_PORT],
        Tolerance::within(2.0),
        [
            "stream",
            "--to",
            &tcp_to,
            "--bind-port",
            &stream_port,
            "--rate",
            "2000000",
            "--seconds",
            "2",
        ],
    )?;
    scenario.client(
        "udp",
        Transport::Udp,
        [UDP_PORT],
        Tolerance::within(2.0),
        [
            "udp-client",
            "--to",
            &udp_to,
            "--bind-port",
            &udp_port,
            "--count",
            "150",
            "--size",
            "1200",
            "--interval-ms",
            "5",
        ],
    )?;
    for (_, pid) in scenario.client_pids() {
        monitor.watch(pid)?;
    }
    let outcome = scenario.run(None)?;
    outcome.check_truth(4)?;
    refreshes(&monitor, 2)?;

    let mut failures = Vec::new();
    println!("{}", outcome.summary());
    for exp in &outcome.expectations {
        let traffic = monitor.traffic(exp.pid)?;
        println!("library {:<8} pid {:>7}: {traffic:?}", exp.label, exp.pid);
        let veth = traffic
            .iter()
            .find(|t| t.interface == host.host_if)
            .cloned()
            .unwrap_or_else(|| Traffic {
                interface: host.host_if.clone(),
                ..Traffic::default()
            });
        let t = &exp.truth;
        let pairs = [
            ("rx bytes", t.rx_bytes, veth.rx_bytes, false),
            ("tx bytes", t.tx_bytes, veth.tx_bytes, false),
            ("rx packets", t.rx_packets, veth.rx_packets, true),
            ("tx packets", t.tx_packets, veth.tx_packets, true),
        ];
        for (what, truth, measured, packets) in pairs {
            if !close(truth, measured, packets) {
                failures.push(format!(
                    "{} {what}: library {measured}, truth {truth}",
                    exp.label
                ));
            }
        }
        for other in traffic.iter().filter(|t| t.interface != host.host_if) {
            if other.total_bytes() > SLACK_BYTES {
                failures.push(format!(
                    "{}: {} B on {}, which carried none of its traffic",
                    exp.label,
                    other.total_bytes(),
                    other.interface
                ));
            }
        }
        if traffic.is_empty() {
            failures.push(format!("{}: no traffic at all", exp.label));
        }
    }
    monitor.stop()?;
    if !failures.is_empty() {
        bail!("the library's figures are off:\n{}", failures.join("\n"));
    }
    Ok(())
}

#[test]
fn library_finds_the_process_behind_a_port() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let listen = |args: &[&str]| {
        let mut c = Command::new(TRAFFICGEN);
        c.args(args);
        c
    };
    let tcp_at = format!("127.0.0.1:{LISTEN_TCP}");
    let udp_at = format!("127.0.0.1:{LISTEN_UDP}");
    let mut tcp = Proc::spawn(
        "tcp server",
        listen(&[
            "sink",
            "--listen",
            &tcp_at,
            "--seconds",
            "20",
            "--conns",
            "1",
        ]),
    )?;
    tcp.expect_line("ready", Duration::from_secs(10))?;
    let mut udp = Proc::spawn(
        "udp server",
        listen(&["udp-echo-server", "--listen", &udp_at, "--seconds", "20"]),
    )?;
    udp.expect_line("ready", Duration::from_secs(10))?;

    let monitor = Monitor::new(Options::new().interface("lo").events(false))?;
    monitor.start()?;
    // Answered from the first table: start returns after reading it.
    assert_eq!(
        monitor.pid_by_port(Proto::Tcp, LISTEN_TCP)?,
        Some(tcp.pid())
    );
    assert_eq!(
        monitor.pid_by_port(Proto::Udp, LISTEN_UDP)?,
        Some(udp.pid())
    );
    assert_eq!(monitor.pid_by_port(Proto::Udp, LISTEN_TCP)?, None);
    let ports = monitor.ports_by_pid(tcp.pid())?;
    assert!(ports.contains(&(Proto::Tcp, LISTEN_TCP)), "{ports:?}");
    monitor.watch(udp.pid())?;
    assert_eq!(monitor.ports(Proto::Udp)?, [LISTEN_UDP]);

    // A server started after the monitor is found at a later refresh.
    let late_at = format!("127.0.0.1:{}", LISTEN_TCP + 10);
    let mut late = Proc::spawn(
        "late server",
        listen(&[
            "sink",
            "--listen",
            &late_at,
            "--seconds",
            "20",
            "--conns",
            "1",
        ]),
    )?;
    late.expect_line("ready", Duration::from_secs(10))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while monitor.pid_by_port(Proto::Tcp, LISTEN_TCP + 10)? != Some(late.pid()) {
        if Instant::now() > deadline {
            bail!("pid_by_port did not find the server started later");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    monitor.stop()?;
    Ok(())
}

#[test]
fn library_refuses_an_unknown_interface_with_the_list() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let monitor = Monitor::new(Options::new().interface("netop-t-nope"))?;
    match monitor.start() {
        Err(Error::NoSuchInterface { name, available }) => {
            assert_eq!(name, "netop-t-nope");
            assert!(available.iter().any(|i| i == "lo"), "{available:?}");
        }
        other => bail!("expected NoSuchInterface, got {other:?}"),
    }
    Ok(())
}
