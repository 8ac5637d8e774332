//! Owners by socket cookie in kernel counting (issue 17, item 1's last
//! sentence): a socket's egress packets carry its cookie, the event
//! source records the same cookie with the socket's owner, and the
//! engine credits the flow by it (`netop-core/src/engine/cookies.rs`).
//!
//! The workload is one the tuple cannot tell apart: two processes' UDP
//! sockets share one port (SO_REUSEPORT, both bound to `0.0.0.0:P`,
//! unconnected, `trafficgen udp-shared`), each sending to a port of its
//! own. By tuple both flows match the same bound socket, and when the
//! second process starts sending the event source reports that socket
//! "changing hands", so the first process's further bytes would go to the
//! second. Measured with `--capture pcap` (no cookies): the first got
//! 0 % of its bytes, the second all 250 datagrams (the socket table's
//! tuple answer was the second's socket from the start). By cookie each
//! flow is its own socket's.
//!
//! The truth is the tcpdump truth of the shared port, split between the
//! two by the datagrams each sent (same size). Each process must get at
//! least 95 % of its share (measured: 100 % each; a new flow waits for
//! its cookie's answer, but should the question come before the event
//! record was read, its first batch goes by tuple), and netop's own count
//! says the
//! cookie answered: `RUST_LOG=netop::owners=info` prints `cookie_owners`,
//! the flows given their owner, or a new one, by a cookie.
//!
//! Tag `ck`, subnet 10.231.94.0/24 and port 36100 are this file's own.
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use anyhow::{bail, Context};
use netop_e2e::{begin, Netns, NetopOptions, Outcome, Scenario, Tolerance, Transport};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const NETOP_SECONDS: u64 = 12;
const SHARED_PORT: u16 = 36100;
const AT_LEAST: f64 = 95.0;
/// Warnings as usual (the fallback line), and the owner sources.
const LOG: &str = "warn,netop::owners=info";
const FALLBACK: &str = "kernel counting unavailable";

/// The owner sources netop logged at the end of its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sources {
    cookie_owners: u64,
    lookups: u64,
}

fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn sources(stderr: &str) -> anyhow::Result<Sources> {
    let line = stderr
        .lines()
        .find(|l| l.contains("owner sources"))
        .with_context(|| format!("no `owner sources` line on netop's stderr:\n{stderr}"))?;
    Ok(Sources {
        cookie_owners: field(line, "cookie_owners").context("no cookie_owners")?,
        lookups: field(line, "lookups").context("no lookups")?,
    })
}

/// One sender on the shared port: `count` datagrams, one per 20 ms,
/// after `delay_ms`.
fn shared_sender(
    scenario: &mut Scenario<'_>,
    label: &str,
    to: &str,
    count: u64,
    delay_ms: u64,
) -> anyhow::Result<()> {
    scenario.client(
        label,
        Transport::Udp,
        [SHARED_PORT],
        Tolerance::at_least(AT_LEAST),
        [
            "udp-shared",
            "--to",
            to,
            "--bind-port",
            &SHARED_PORT.to_string(),
            "--count",
            &count.to_string(),
            "--size",
            "1000",
            "--interval-ms",
            "20",
            "--delay-ms",
            &delay_ms.to_string(),
        ],
    )
}

/// Each sender's expectation: its share of the shared port's truth, by
/// the datagrams it says it sent.
fn split_the_port(outcome: &mut Outcome) -> anyhow::Result<()> {
    let datagrams = |label: &str| -> anyhow::Result<u64> {
        outcome
            .done
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, done)| done.get("datagrams"))
            .with_context(|| format!("no done line from {label}"))
    };
    let (first, second) = (datagrams("first")?, datagrams("second")?);
    let port = outcome.truth.ports(Transport::Udp, [SHARED_PORT]);
    if port.tx_packets != first + second {
        bail!(
            "the truth has {} datagrams on port {SHARED_PORT}, the senders {first} + {second}",
            port.tx_packets
        );
    }
    for e in outcome.expectations.iter_mut() {
        let n = if e.label == "first" { first } else { second };
        e.truth.tx_packets = n;
        e.truth.tx_bytes = port.tx_bytes * n / (first + second);
        e.truth.rx_packets = 0;
        e.truth.rx_bytes = 0;
    }
    Ok(())
}

#[test]
fn issue_17_sockets_sharing_a_port_are_told_apart_by_their_cookies() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("ck", 94)?;
    let mut scenario = Scenario::new(&host, TRAFFICGEN);
    let mut targets = Vec::new();
    for port in [6001u16, 6002] {
        let to = format!("{}:{port}", host.ns_addr);
        scenario.server(
            &format!("sink {port}"),
            ["udp-sink", "--listen", &to, "--seconds", "8"],
        )?;
        targets.push(to);
    }
    // The first sends for 3 s; the second starts a second later.
    shared_sender(&mut scenario, "first", &targets[0], 150, 1)?;
    shared_sender(&mut scenario, "second", &targets[1], 100, 1000)?;
    let netop = NetopOptions {
        duration_secs: NETOP_SECONDS,
        interface: Some(host.host_if.clone()),
        bpf_buffer: None,
        extra: vec!["--capture".into(), "kernel".into()],
    };
    let mut outcome = scenario.run_logging(Some(netop), Some(LOG))?;
    anyhow::ensure!(
        !outcome.netop_stderr.contains(FALLBACK),
        "netop fell back to libpcap:\n{}",
        outcome.netop_stderr
    );
    split_the_port(&mut outcome)?;
    let sources = sources(&outcome.netop_stderr)?;
    println!(
        "owner sources: cookie_owners={} lookups={}",
        sources.cookie_owners, sources.lookups
    );
    outcome.verify()?;
    anyhow::ensure!(
        sources.cookie_owners >= 1,
        "no flow got its owner from a socket cookie: {sources:?}"
    );
    Ok(())
}
