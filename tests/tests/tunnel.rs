//! Privileged end-to-end test of a VPN: a process's traffic through a
//! WireGuard tunnel (wireguard-go, the userspace implementation, on a tun
//! device; this needs only `/dev/net/tun`, not the kernel module) to a
//! sink in an outside test host. Its inner packets (on the tunnel
//! interface) are the process's; the encrypted outer packets (UDP on the
//! veth to the outside host) are the tunnel's: wireguard-go's socket.
//! netop on `any`, on the tunnel and on the veth at once must credit each
//! once, and each interface's totals must equal its kernel counters.
//!
//! Not root: skipped, or a failure when `CI` is set. No `/dev/net/tun`: a
//! skip that says so, or a failure under `CI`.
#![cfg(target_os = "linux")]

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::everywhere::Everywhere;
use netop_e2e::netns::run;
use netop_e2e::scratch::ScratchDir;
use netop_e2e::{
    begin, install_package, Expectation, Netns, Proc, Tolerance, Transport, TruthCapture,
};
use nix::sys::signal::Signal;

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const NETOP_SECONDS: u64 = 8;
const SINK_PORT: u16 = 5001;
const CLIENT_PORT: u16 = 27_401;
const HOST_WG_PORT: u16 = 51_820;
const OUTSIDE_WG_PORT: u16 = 51_821;
const HOST_WG: &str = "netop-t-wg0";
const OUTSIDE_WG: &str = "netop-t-wg1";
/// The tunnel's own subnet: 10.231.119.1 here, .2 in the outside host.
const TUNNEL_HOST: Ipv4Addr = Ipv4Addr::new(10, 231, 119, 1);
const TUNNEL_OUTSIDE: Ipv4Addr = Ipv4Addr::new(10, 231, 119, 2);
const TOLERANCE: f64 = 1.0;
/// wireguard-go refuses to start on Linux without it.
const USERSPACE_OK: &str = "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD";

/// One end of the tunnel: wireguard-go in the foreground and its
/// configuration. Stopped on drop, which removes its interface and its
/// control socket.
struct Peer {
    proc: Proc,
    socket: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.proc.signal(Signal::SIGTERM);
        let _ = self.proc.wait_exit(Duration::from_secs(3));
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Peer {
    /// Starts wireguard-go for `iface` (in `ns`, or here) and configures
    /// it: its key, port and address, one peer.
    #[allow(clippy::too_many_arguments)]
    fn start(
        ns: Option<&Netns>,
        iface: &str,
        key: &Path,
        port: u16,
        addr: Ipv4Addr,
        peer_key: &str,
        peer_addr: Ipv4Addr,
        endpoint: String,
    ) -> anyhow::Result<Self> {
        let command = |program: &str| match ns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        };
        // `wg` talks to it through its control socket, made after the
        // device; one left by a killed run would answer nothing.
        let socket = format!("/var/run/wireguard/{iface}.sock");
        let _ = std::fs::remove_file(&socket);
        let mut cmd = command("wireguard-go");
        cmd.args(["-f", iface]).env(USERSPACE_OK, "1");
        let proc = Proc::spawn(format!("wireguard-go {iface}"), cmd)?;
        let peer = Peer { proc, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&peer.socket).exists() {
            if Instant::now() > deadline {
                bail!(
                    "wireguard-go did not make {iface}:\n{}",
                    peer.proc.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        run(command("wg")
            .args(["set", iface, "listen-port", &port.to_string()])
            .arg("private-key")
            .arg(key)
            .args(["peer", peer_key, "allowed-ips", &format!("{peer_addr}/32")])
            .args(["endpoint", &endpoint]))?;
        run(command("ip").args(["addr", "add", &format!("{addr}/24"), "dev", iface]))?;
        run(command("ip").args(["link", "set", iface, "up"]))?;
        Ok(peer)
    }
}

/// A private key in `dir` and its public key.
fn keypair(dir: &Path, name: &str) -> anyhow::Result<(std::path::PathBuf, String)> {
    let out = Command::new("wg")
        .arg("genkey")
        .output()
        .context("wg genkey")?;
    if !out.status.success() {
        bail!("wg genkey failed");
    }
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout)?;
    let public = Command::new("sh")
        .arg("-c")
        .arg(format!("wg pubkey < {}", path.display()))
        .output()
        .context("wg pubkey")?;
    if !public.status.success() {
        bail!("wg pubkey failed");
    }
    Ok((
        path,
        String::from_utf8_lossy(&public.stdout).trim().to_string(),
    ))
}

fn spawn(label: &str, mut cmd: Command, args: &[&str]) -> anyhow::Result<Proc> {
    cmd.args(args);
    let mut proc = Proc::spawn(label, cmd)?;
    proc.expect_line("ready", Duration::from_secs(10))?;
    Ok(proc)
}

#[test]
fn a_process_behind_wireguard_gets_the_inner_bytes_and_the_tunnel_the_outer() -> anyhow::Result<()>
{
    let Some(_session) = begin()? else {
        return Ok(());
    };
    if !Path::new("/dev/net/tun").exists() {
        let why = "this kernel has no tun device (/dev/net/tun), which wireguard-go needs";
        if std::env::var_os("CI").is_some() {
            bail!("{why}; CI is set, so this is a failure, not a skip");
        }
        eprintln!("skipped: {why}");
        return Ok(());
    }
    install_package("wireguard-tools", "wg", "--version")?;
    install_package("wireguard-go", "wireguard-go", "--version")?;
    let outside = Netns::create("wg", 118)?;
    let keys = ScratchDir::new("wgkeys")?;
    let (host_key, host_pub) = keypair(keys.path(), "host")?;
    let (outside_key, outside_pub) = keypair(keys.path(), "outside")?;
    let host_peer = Peer::start(
        None,
        HOST_WG,
        &host_key,
        HOST_WG_PORT,
        TUNNEL_HOST,
        &outside_pub,
        TUNNEL_OUTSIDE,
        format!("{}:{OUTSIDE_WG_PORT}", outside.ns_addr),
    )?;
    let _outside_peer = Peer::start(
        Some(&outside),
        OUTSIDE_WG,
        &outside_key,
        OUTSIDE_WG_PORT,
        TUNNEL_OUTSIDE,
        &host_pub,
        TUNNEL_HOST,
        format!("{}:{HOST_WG_PORT}", outside.host_addr),
    )?;

    let inner = TruthCapture::start(HOST_WG, TUNNEL_HOST, "00:00:00:00:00:00")?;
    let outer = TruthCapture::start(&outside.host_if, outside.host_addr, &outside.host_mac)?;
    let path = vec![HOST_WG.to_string(), outside.host_if.clone()];
    let mut netop = Everywhere::start(&path, NETOP_SECONDS)?;
    let to = format!("{TUNNEL_OUTSIDE}:{SINK_PORT}");
    let mut sink = spawn(
        "sink behind the tunnel",
        outside.command(TRAFFICGEN),
        &["sink", "--listen", &to, "--seconds", "20", "--conns", "1"],
    )?;
    let mut stream = spawn(
        "stream into the tunnel",
        Command::new(TRAFFICGEN),
        &[
            "stream",
            "--to",
            &to,
            "--bind-port",
            &CLIENT_PORT.to_string(),
            "--rate",
            "500000",
            "--seconds",
            "3",
        ],
    )?;
    stream.send_line("go")?;
    stream.expect_line("done", Duration::from_secs(20))?;
    sink.expect_line("done", Duration::from_secs(20))?;
    netop.quiet()?;
    let inner = inner.stop()?;
    let outer = outer.stop()?;

    let client = Expectation {
        label: "client (inner)".to_string(),
        pid: stream.pid(),
        truth: inner.ports(Transport::Tcp, [CLIENT_PORT]),
        tolerance: Tolerance::within(TOLERANCE),
    };
    if client.truth.total_bytes() < 1_000_000 {
        bail!("the stream did not go through the tunnel: {}", client.truth);
    }
    let tunnel = Expectation {
        label: "wireguard-go (outer)".to_string(),
        pid: host_peer.proc.pid(),
        truth: outer.ports(Transport::Udp, [HOST_WG_PORT]),
        tolerance: Tolerance::within(TOLERANCE),
    };
    println!("inner {}\nouter {}", client.truth, tunnel.truth);
    let veth = outside.host_if.clone();
    netop.check(|iface| match iface {
        None => vec![client.clone(), tunnel.clone()],
        Some(HOST_WG) => vec![client.clone()],
        Some(i) if i == veth => vec![tunnel.clone()],
        Some(_) => Vec::new(),
    })
}
