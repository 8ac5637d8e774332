//! Privileged end-to-end test of the DNS observatory (issue 4): a dnsmasq
//! in a test host serves known records; `dnsquery` processes with known
//! PIDs ask known questions, directly and through a second dnsmasq in the
//! root namespace acting as a local stub resolver on 127.0.53.53. The real
//! netop binary's `--dns-log` must list every query exactly once with the
//! right process, type, answer, resolver and a positive latency, link each
//! stub query to the stub's own upstream query, and count the resolver
//! statistics exactly.
//!
//! Traffic goes only to loopback and to the test host. dnsmasq comes from
//! the Debian package `dnsmasq-base` (no service), installed if missing.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use netop_e2e::scratch::ScratchDir;
use netop_e2e::{begin, install_package, netop_bin, Netns, Proc};
use serde_json::Value;

const DNSQUERY: &str = env!("CARGO_BIN_EXE_dnsquery");
const STUB: &str = "127.0.53.53";
const NETOP_SECONDS: &str = "4";
/// Addresses of big.netop.test: an answer of about 420 bytes, longer
/// than netop's 256-byte snap length for other traffic.
const BIG: std::ops::RangeInclusive<u8> = 1..=24;

/// The questions asked directly, and the answers dnsmasq gives.
const DIRECT: [(&str, &str, &str, &str); 4] = [
    ("alpha.netop.test", "A", "answered", "10.9.0.1"),
    ("beta.netop.test", "AAAA", "answered", "2001:db8::b"),
    ("www.netop.test", "A", "answered", "10.9.0.1"),
    ("missing.netop.test", "A", "nxdomain", "NXDOMAIN"),
];
/// Asked through the stub.
const VIA_STUB: [(&str, &str, &str, &str); 2] = [
    ("stubbed.netop.test", "A", "answered", "10.9.0.3"),
    ("gone.netop.test", "A", "nxdomain", "NXDOMAIN"),
];

fn dnsmasq(cmd: &mut Command, listen: &str, extra: &[String]) -> Command {
    let mut c = std::mem::replace(cmd, Command::new("true"));
    c.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--user=root",
        "--pid-file=",
        "--log-facility=-",
        "--port=53",
    ])
    .arg(format!("--listen-address={listen}"))
    .args(extra);
    c
}

/// Waits until dnsmasq holds its port-53 socket.
fn wait_started(proc: &mut Proc) -> anyhow::Result<()> {
    proc.wait_udp_bound(53, Duration::from_secs(10))
}

struct Resolvers {
    _server: Proc,
    stub: Proc,
    server_addr: String,
}

fn resolvers(host: &Netns, scratch: &ScratchDir) -> anyhow::Result<Resolvers> {
    let hosts = scratch.path().join("big.hosts");
    let lines: String = BIG
        .map(|i| format!("10.9.1.{i} big.netop.test\n"))
        .collect();
    std::fs::write(&hosts, lines).context("writing the hosts file")?;
    let server_addr = host.ns_addr.to_string();
    let records = [
        "--local=/netop.test/".to_string(),
        "--host-record=alpha.netop.test,10.9.0.1".to_string(),
        "--host-record=beta.netop.test,2001:db8::b".to_string(),
        "--host-record=stubbed.netop.test,10.9.0.3".to_string(),
        "--cname=www.netop.test,alpha.netop.test".to_string(),
        format!("--addn-hosts={}", hosts.display()),
    ];
    let mut server = Proc::spawn(
        "dnsmasq (test host)",
        dnsmasq(&mut host.command("dnsmasq"), &server_addr, &records),
    )?;
    wait_started(&mut server)?;
    let stub_args = [
        "--cache-size=0".to_string(),
        format!("--server={server_addr}"),
    ];
    let mut stub = Proc::spawn(
        "dnsmasq (stub)",
        dnsmasq(&mut Command::new("dnsmasq"), STUB, &stub_args),
    )?;
    wait_started(&mut stub)?;
    Ok(Resolvers {
        _server: server,
        stub,
        server_addr,
    })
}

fn client(
    server: &str,
    questions: &[(&str, &str, &str, &str)],
    extra: &[&str],
) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(DNSQUERY);
    cmd.arg(format!("{server}:53"));
    for (name, qtype, ..) in questions {
        cmd.arg(format!("{name}:{qtype}"));
    }
    cmd.args(extra);
    let mut proc = Proc::spawn(format!("dnsquery {server}"), cmd)?;
    proc.expect_line("ready", Duration::from_secs(5))?;
    Ok(proc)
}

/// One window: netop with `format`, both clients asking their questions.
/// Returns netop's stdout and the clients' PIDs (direct, via stub).
fn window(r: &Resolvers, format: &str) -> anyhow::Result<(String, u32, u32)> {
    let mut direct = client(&r.server_addr, &DIRECT, &["big.netop.test:A"])?;
    let mut via_stub = client(STUB, &VIA_STUB, &[])?;
    let args = ["--duration", NETOP_SECONDS, "--dns-log", "--format", format];
    let mut netop_cmd = Command::new(netop_bin()?);
    netop_cmd.args(args).env("NO_COLOR", "1");
    let mut netop = Proc::spawn(format!("netop {}", args.join(" ")), netop_cmd)?;
    netop.close_stdin();
    netop.wait_capturing(Duration::from_secs(10))?;
    for c in [&mut direct, &mut via_stub] {
        c.send_line("go")?;
    }
    for c in [&mut direct, &mut via_stub] {
        let status = c.wait_exit(Duration::from_secs(10))?;
        if !status.success() {
            bail!("a client failed ({status}):\n{}", c.describe());
        }
    }
    let status = netop.wait_exit(Duration::from_secs(20))?;
    let out = netop.stdout(Duration::from_secs(2));
    if !status.success() {
        bail!("netop failed ({status}):\n{}", netop.describe());
    }
    Ok((out, direct.pid(), via_stub.pid()))
}

fn field<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key].as_str().unwrap_or_default()
}

fn check_log(
    rows: &[Value],
    direct: u32,
    via_stub: u32,
    stub: u32,
    server: &str,
) -> anyhow::Result<()> {
    let ours: Vec<&Value> = rows
        .iter()
        .filter(|r| field(r, "query").ends_with(".netop.test"))
        .collect();
    let describe = || serde_json::to_string_pretty(&ours).unwrap_or_default();
    let pid = |r: &Value| r["pid"].as_u64().map(|p| p as u32);
    let expect =
        |r: &Value, name: &str, qtype: &str, status: &str, resolver: &str| -> anyhow::Result<()> {
            let latency = r["latency_ms"].as_f64().unwrap_or(0.0);
            if field(r, "query") != name
                || field(r, "type") != qtype
                || field(r, "status") != status
                || field(r, "resolver") != resolver
                || latency <= 0.0
            {
                bail!("{name} {qtype}: expected {status} from {resolver} with a latency, got {r}");
            }
            Ok(())
        };
    // Direct: each question exactly once, from the direct client.
    let mine: Vec<&&Value> = ours.iter().filter(|r| pid(r) == Some(direct)).collect();
    if mine.len() != DIRECT.len() + 1 {
        bail!(
            "expected {} queries from pid {direct}:\n{}",
            DIRECT.len() + 1,
            describe()
        );
    }
    for (row, (name, qtype, status, answer)) in mine.iter().zip(DIRECT) {
        expect(row, name, qtype, status, server)?;
        if field(row, "process") != "dnsquery" || field(row, "response") != answer {
            bail!("{name}: expected dnsquery and {answer}, got {row}");
        }
    }
    let big = mine[DIRECT.len()];
    expect(big, "big.netop.test", "A", "answered", server)?;
    let got: BTreeSet<&str> = field(big, "response").split(", ").collect();
    let want: Vec<String> = BIG.map(|i| format!("10.9.1.{i}")).collect();
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    if got != want {
        bail!(
            "big.netop.test: every address of the {}-record answer, got {big}",
            BIG.count()
        );
    }
    // Through the stub: the application's query, linked to the stub's.
    let apps: Vec<&&Value> = ours.iter().filter(|r| pid(r) == Some(via_stub)).collect();
    if apps.len() != VIA_STUB.len() {
        bail!(
            "expected {} queries from pid {via_stub}:\n{}",
            VIA_STUB.len(),
            describe()
        );
    }
    for (app, (name, qtype, status, answer)) in apps.iter().zip(VIA_STUB) {
        expect(app, name, qtype, status, STUB)?;
        if field(app, "process") != "dnsquery" || field(app, "response") != answer {
            bail!("{name}: expected dnsquery and {answer}, got {app}");
        }
        let up_seq = app["upstream"]
            .as_u64()
            .with_context(|| format!("{name}: no upstream link:\n{}", describe()))?;
        let up = ours
            .iter()
            .find(|r| r["seq"].as_u64() == Some(up_seq))
            .with_context(|| format!("{name}: upstream {up_seq} not in the log"))?;
        expect(up, name, qtype, status, server)?;
        if pid(up) != Some(stub)
            || field(up, "process") != "dnsmasq"
            || up["downstream"] != app["seq"]
        {
            bail!("{name}: the upstream query should be the stub's (pid {stub}) and link back, got {up}");
        }
    }
    let total = DIRECT.len() + 1 + 2 * VIA_STUB.len();
    if ours.len() != total {
        bail!(
            "expected exactly {total} netop.test queries:\n{}",
            describe()
        );
    }
    Ok(())
}

/// The resolver table of `--format pretty`: (interface, server) -> the
/// counts columns.
fn resolver_row<'a>(pretty: &'a str, interface: &str, server: &str) -> Option<Vec<&'a str>> {
    pretty
        .lines()
        .take_while(|l| !l.starts_with("DNS Query Log"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.len() >= 6 && cols[0] == interface && cols[1] == server)
}

#[test]
fn issue4_dns_log_lists_every_query_with_owner_answer_resolver_and_stub_links() -> anyhow::Result<()>
{
    let Some(_session) = begin()? else {
        return Ok(());
    };
    install_package("dnsmasq-base", "dnsmasq", "--version")?;
    let host = Netns::create("dns", 53)?;
    let scratch = ScratchDir::new("dns")?;
    let r = resolvers(&host, &scratch)?;
    let stub_pid = r.stub.pid();

    let (json, direct, via_stub) = window(&r, "json")?;
    let rows: Value = serde_json::from_str(&json).with_context(|| format!("not JSON:\n{json}"))?;
    let rows = rows.as_array().context("an array")?;
    check_log(rows, direct, via_stub, stub_pid, &r.server_addr)?;

    let (pretty, ..) = window(&r, "pretty")?;
    let upstream = resolver_row(&pretty, &host.host_if, &r.server_addr).with_context(|| {
        format!(
            "no row for {} on {}:\n{pretty}",
            r.server_addr, host.host_if
        )
    })?;
    // Direct questions plus the stub's upstream queries; none failed.
    let sent = (DIRECT.len() + 1 + VIA_STUB.len()).to_string();
    assert_eq!(
        upstream[2..5],
        [sent.as_str(), sent.as_str(), "0"],
        "{pretty}"
    );
    let local = resolver_row(&pretty, "lo", STUB)
        .with_context(|| format!("no row for the stub:\n{pretty}"))?;
    let asked = VIA_STUB.len().to_string();
    assert_eq!(
        local[2..5],
        [asked.as_str(), asked.as_str(), "0"],
        "{pretty}"
    );
    Ok(())
}
