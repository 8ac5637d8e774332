//! Privileged end-to-end tests of traffic from another network namespace:
//! a client process inside one test host (a container's namespace) sends
//! through the root namespace, which routes it to a sink in a second test
//! host. netop runs in the root namespace and must put the bytes on the
//! client's PID, which lives in a namespace netop is not in, first on the
//! client's own veth (the addresses are the container's) and then on the
//! uplink behind a masquerade NAT (the addresses are the host's; only
//! conntrack links them to the client's socket).
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use netop_e2e::child::Proc;
use netop_e2e::compare::compare;
use netop_e2e::netns::run;
use netop_e2e::{
    begin, install_package, Netns, NetopOptions, Scenario, Tolerance, Transport, Watch,
};
use netop_e2e::{Counts, Expectation, NetopRun, TruthCapture};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const NETOP_SECONDS: u64 = 6;
const SINK_PORT: u16 = 5001;
const RATES: [u64; 2] = [300_000, 1_500_000];
/// Each class: at least 99 % of its bytes on the right PID (and not more
/// than 101 %).
const TOLERANCE: f64 = 1.0;
/// All unknown together, and the distance between netop's total and the
/// kernel's counters, as a share of the interface's bytes.
const MAX_UNKNOWN_PERCENT: f64 = 0.5;
const MAX_TOTAL_PERCENT: f64 = 0.5;

/// Two test hosts joined by the root namespace as a router, and optionally
/// a masquerade on the way into the second. Undone on drop (the test hosts
/// remove their own veths, which takes their forwarding and routes along).
struct Routed {
    client: Netns,
    server: Netns,
    nat_table: Option<String>,
}

impl Routed {
    fn new(tag: &str, client_subnet: u8, server_subnet: u8, nat: bool) -> anyhow::Result<Self> {
        let client = Netns::create(&format!("{tag}c"), client_subnet)?;
        let server = Netns::create(&format!("{tag}s"), server_subnet)?;
        let mut routed = Routed {
            client,
            server,
            nat_table: None,
        };
        // Forwarding on the two test veths only: the host's other
        // interfaces keep their setting.
        for iface in [&routed.client.host_if, &routed.server.host_if] {
            sysctl(&format!("net.ipv4.conf.{iface}.forwarding"), "1")?;
        }
        let via_client = routed.client.host_addr.to_string();
        let server_net = format!("{}/32", routed.server.ns_addr);
        run(routed
            .client
            .command("ip")
            .args(["route", "add", &server_net, "via", &via_client]))?;
        if nat {
            install_package("nftables", "nft", "--version")?;
            let table = format!("netop_e2e_{tag}");
            routed.nat_table = Some(table.clone());
            let script = format!(
                "add table ip {table}\n\
                 add chain ip {table} post {{ type nat hook postrouting priority 100 ; }}\n\
                 add rule ip {table} post oifname \"{}\" masquerade\n",
                routed.server.host_if
            );
            nft(&script)?;
        } else {
            // Without NAT the server must route answers back.
            let client_net = format!("{}/32", routed.client.ns_addr);
            let via_server = routed.server.host_addr.to_string();
            run(routed.server.command("ip").args([
                "route",
                "add",
                &client_net,
                "via",
                &via_server,
            ]))?;
        }
        Ok(routed)
    }
}

impl Drop for Routed {
    fn drop(&mut self) {
        if let Some(table) = &self.nat_table {
            let _ = nft(&format!("delete table ip {table}\n"));
        }
    }
}

fn sysctl(key: &str, value: &str) -> anyhow::Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).with_context(|| format!("writing {path}"))
}

fn nft(script: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running nft")?;
    child
        .stdin
        .take()
        .context("nft stdin")?
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "nft failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A sink in the server host and one stream per rate from the client host,
/// each from its own port.
fn streams<'a>(routed: &'a Routed, first_port: u16, watch: Watch) -> anyhow::Result<Scenario<'a>> {
    let mut scenario = Scenario::new(&routed.server, TRAFFICGEN)
        .clients_in(&routed.client)
        .watch(watch);
    let to = format!("{}:{SINK_PORT}", routed.server.ns_addr);
    scenario.server(
        "sink",
        ["sink", "--listen", &to, "--seconds", "25", "--conns", "2"],
    )?;
    for (port, rate) in (first_port..).zip(RATES) {
        let (port_arg, rate_arg) = (port.to_string(), rate.to_string());
        scenario.client(
            &format!("ns stream {}kB/s", rate / 1000),
            Transport::Tcp,
            [port],
            Tolerance::within(TOLERANCE),
            [
                "stream",
                "--to",
                &to,
                "--bind-port",
                &port_arg,
                "--rate",
                &rate_arg,
                "--seconds",
                "3",
            ],
        )?;
    }
    Ok(scenario)
}

fn netop_on(iface: &str) -> Option<NetopOptions> {
    Some(NetopOptions {
        duration_secs: NETOP_SECONDS,
        interface: Some(iface.to_string()),
        bpf_buffer: None,
        extra: Vec::new(),
    })
}

/// The same without the event source: sockets come from sock_diag inside
/// each namespace alone.
fn netop_polling_on(iface: &str) -> Option<NetopOptions> {
    netop_on(iface).map(|o| NetopOptions {
        extra: vec!["--no-events".to_string()],
        ..o
    })
}

#[test]
fn a_process_in_another_namespace_gets_its_bytes_on_its_own_veth() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let routed = Routed::new("nr", 60, 61, false)?;
    // On the client host's veth the packets carry the client's own
    // address: the root namespace has no socket for them.
    let watch = Watch {
        iface: routed.client.host_if.clone(),
        local_ip: routed.client.ns_addr,
        iface_mac: routed.client.host_mac.clone(),
    };
    let outcome = streams(&routed, 26001, watch)?.run(netop_on(&routed.client.host_if))?;
    outcome.verify()?;
    outcome.check_totals(MAX_TOTAL_PERCENT, MAX_UNKNOWN_PERCENT)
}

#[test]
fn a_process_in_another_namespace_is_found_by_polling_too() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let routed = Routed::new("np", 65, 66, false)?;
    let watch = Watch {
        iface: routed.client.host_if.clone(),
        local_ip: routed.client.ns_addr,
        iface_mac: routed.client.host_mac.clone(),
    };
    let outcome = streams(&routed, 26201, watch)?.run(netop_polling_on(&routed.client.host_if))?;
    outcome.verify()?;
    outcome.check_totals(MAX_TOTAL_PERCENT, MAX_UNKNOWN_PERCENT)
}

#[test]
fn a_process_behind_masquerade_gets_its_bytes_on_the_uplink() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let routed = Routed::new("nn", 62, 63, true)?;
    // On the server host's veth the packets carry the host's address (the
    // masquerade); the ports stay the client's unless they collide, and
    // these are unused.
    let watch = Watch {
        iface: routed.server.host_if.clone(),
        local_ip: routed.server.host_addr,
        iface_mac: routed.server.host_mac.clone(),
    };
    let outcome = streams(&routed, 26101, watch)?.run(netop_on(&routed.server.host_if))?;
    outcome.verify()?;
    outcome.check_totals(MAX_TOTAL_PERCENT, MAX_UNKNOWN_PERCENT)
}

/// A published port: a client outside (the server test host) connects to
/// the host's address on port 8080, which the host forwards (DNAT) to a
/// sink inside a container's namespace. On the uplink every packet carries
/// the host's address and port 8080; conntrack's original tuple leads to
/// the sink's socket, so the sink's PID gets the bytes.
#[test]
fn a_published_port_credits_the_container_process_behind_it() -> anyhow::Result<()> {
    const PUBLISHED: u16 = 8080;
    let Some(_session) = begin()? else {
        return Ok(());
    };
    install_package("nftables", "nft", "--version")?;
    // "Client" here is the container (where the sink runs); "server" is the
    // outside host the connection comes from.
    let routed = Routed::new("nd", 67, 68, false)?;
    let (container, outside) = (&routed.client, &routed.server);
    let table = "netop_e2e_nd_dnat";
    nft(&format!(
        "add table ip {table}\n\
         add chain ip {table} pre {{ type nat hook prerouting priority -100 ; }}\n\
         add rule ip {table} pre iifname \"{}\" tcp dport {PUBLISHED} dnat to {}:{SINK_PORT}\n",
        outside.host_if, container.ns_addr
    ))?;
    struct DropTable(&'static str);
    impl Drop for DropTable {
        fn drop(&mut self) {
            let _ = nft(&format!("delete table ip {}\n", self.0));
        }
    }
    let _table = DropTable(table);
    // Routed::new gave the container a route back to the outside host:
    // it answers directly, without source NAT.
    let iface = outside.host_if.as_str();
    let before = Counts::of_interface(iface)?;
    let truth = TruthCapture::start(iface, outside.host_addr, &outside.host_mac)?;
    let netop = NetopRun::start(NetopOptions {
        duration_secs: NETOP_SECONDS,
        interface: Some(iface.to_string()),
        bpf_buffer: None,
        extra: Vec::new(),
    });
    let mut netop = netop?;
    netop.wait_capturing(Duration::from_secs(10))?;
    let listen = format!("{}:{SINK_PORT}", container.ns_addr);
    let mut sink = Proc::spawn("sink in the container", {
        let mut c = container.command(TRAFFICGEN);
        c.args([
            "sink",
            "--listen",
            &listen,
            "--seconds",
            "20",
            "--conns",
            "1",
        ]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let to = format!("{}:{PUBLISHED}", outside.host_addr);
    let mut stream = Proc::spawn("stream from outside", {
        let mut c = outside.command(TRAFFICGEN);
        c.args(["stream", "--to", &to, "--bind-port", "26301"])
            .args(["--rate", "1000000", "--seconds", "3"]);
        c
    })?;
    stream.expect_line("ready", Duration::from_secs(10))?;
    stream.send_line("go")?;
    stream.expect_line("done", Duration::from_secs(20))?;
    sink.expect_line("done", Duration::from_secs(20))?;
    netop_e2e::counters::wait_quiet(iface, Duration::from_millis(150), Duration::from_secs(5))?;
    let truth = truth.stop()?;
    let kernel = Counts::of_interface(iface)?.since(&before);
    let rows = netop.finish(Duration::from_secs(10))?;

    let expectation = Expectation {
        label: "published sink".to_string(),
        pid: sink.pid(),
        truth: truth.ports(Transport::Tcp, [PUBLISHED]),
        tolerance: Tolerance::within(TOLERANCE),
    };
    assert!(
        expectation.truth.total_bytes() > 2_000_000,
        "the stream went through: {}",
        expectation.truth
    );
    let report = compare(&[expectation], &rows, MAX_UNKNOWN_PERCENT);
    println!("kernel {iface}: {kernel}\n{report}");
    if !report.is_ok() {
        bail!("the published port's bytes are not on the sink:\n{report}");
    }
    let sum: u64 = rows.iter().map(|r| r.rx_bytes + r.tx_bytes).sum();
    let off = 100.0 * sum.abs_diff(kernel.total_bytes()) as f64 / kernel.total_bytes() as f64;
    assert!(
        off <= MAX_TOTAL_PERCENT,
        "netop {sum} B vs kernel {kernel}: {off:.3} % apart"
    );
    Ok(())
}
