//! Privileged end-to-end test of the unknown row's reasons: datagrams sent
//! to this host on a port nobody listens on are "no listener", and the
//! ICMP port-unreachable answers the kernel sends back are "kernel". The
//! reasons add up to the unknown row, in netop's JSON.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::time::Duration;

use anyhow::Context;
use netop_e2e::child::Proc;
use netop_e2e::{begin, Netns, NetopOptions, NetopRun};
use serde_json::Value;

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const DATAGRAMS: u64 = 200;
/// A port nothing on the host listens on (discard).
const CLOSED_PORT: u16 = 9;

fn reason<'a>(unknown: &'a Value, name: &str) -> Option<&'a Value> {
    unknown["reasons"]
        .as_array()?
        .iter()
        .find(|r| r["reason"] == name)
}

fn field(v: &Value, name: &str) -> u64 {
    v[name].as_u64().unwrap_or(0)
}

#[test]
fn unknown_traffic_is_explained_by_reason() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("unk", 64)?;
    let mut netop = NetopRun::start(NetopOptions {
        duration_secs: 4,
        interface: Some(host.host_if.clone()),
        bpf_buffer: None,
        extra: Vec::new(),
    })?;
    netop.wait_capturing(Duration::from_secs(10))?;

    // From inside the test host to the root namespace's closed port.
    let to = format!("{}:{CLOSED_PORT}", host.host_addr);
    let mut blast = Proc::spawn("udp to a closed port", {
        let mut c = host.command(TRAFFICGEN);
        c.args(["udp-blast", "--to", &to, "--bind-port", "40000"])
            .args(["--size", "100", "--count", &DATAGRAMS.to_string()])
            .args(["--seconds", "2"]);
        c
    })?;
    blast.expect_line("ready", Duration::from_secs(10))?;
    blast.send_line("go")?;
    blast.expect_line("done", Duration::from_secs(10))?;

    let json = netop.finish_json(Duration::from_secs(10))?;
    let rows = json.as_array().context("an array")?;
    let unknown = rows
        .iter()
        .find(|r| r["pid"].is_null())
        .with_context(|| format!("no unknown row: {json:#}"))?;
    let no_listener =
        reason(unknown, "no_listener").with_context(|| format!("no no_listener: {unknown:#}"))?;
    assert_eq!(
        field(no_listener, "rx_packets"),
        DATAGRAMS,
        "every datagram to the closed port: {unknown:#}"
    );
    // 100-byte payloads: 14 + 20 + 8 + 100 bytes on the wire each.
    assert_eq!(
        field(no_listener, "rx_bytes"),
        DATAGRAMS * 142,
        "{unknown:#}"
    );
    let kernel = reason(unknown, "kernel").with_context(|| format!("no kernel: {unknown:#}"))?;
    assert!(
        field(kernel, "tx_packets") > 0,
        "the kernel's port-unreachable answers: {unknown:#}"
    );
    let reasons = unknown["reasons"].as_array().context("reasons")?;
    for name in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"] {
        let sum: u64 = reasons.iter().map(|r| field(r, name)).sum();
        assert_eq!(sum, field(unknown, name), "{name}: {unknown:#}");
    }
    Ok(())
}
