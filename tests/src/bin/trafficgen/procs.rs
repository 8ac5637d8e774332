//! Short-lived processes: a launcher that, on `go`, runs `count` child
//! processes one after the other, each doing one exchange from its own
//! fixed port and exiting at once (a `curl`-like TCP request, or one DNS
//! question). The children are this same binary (`one-upload`,
//! `dns-once`), so each has its own PID; the launcher reports them as
//! `pidI=PID portI=PORT` in its `done` line for the per-PID truth.

use std::fmt::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::args::{Args, MAX_BYTES, MAX_COUNT};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Children a launcher runs at most.
const MAX_PROCS: u64 = 5000;
/// How long one child may take before the launcher gives up on it.
const CHILD_LIMIT: Duration = Duration::from_secs(5);
/// How long a DNS child waits for its answer.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// `short-procs --to A:P --count N --bind-port-base P --kind tcp|dns [--bytes B]`
pub fn short_procs(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let count = args.bounded("count", MAX_PROCS, None)?;
    let base = args.port("bind-port-base")?;
    let kind = args.text("kind")?;
    let bytes = args.bounded("bytes", MAX_BYTES, Some(4000))?;
    if !matches!(kind, "tcp" | "dns") {
        bail!("--kind {kind:?}: use tcp or dns");
    }
    if u64::from(base) + count > u64::from(u16::MAX) {
        bail!("ports {base}+{count} run past 65535");
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    arm_watchdog(Duration::from_secs(60) + CHILD_LIMIT * count as u32);
    ready_then_wait_for_go()?;
    let mut line = format!("done procs={count}");
    let mut slowest = Duration::ZERO;
    for i in 0..count {
        let port = (u64::from(base) + i).to_string();
        let mut cmd = Command::new(&exe);
        match kind {
            "tcp" => cmd.args(["one-upload", "--bytes", &bytes.to_string()]),
            _ => cmd.arg("dns-once"),
        };
        cmd.args(["--to", &to.to_string(), "--bind-port", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let started = Instant::now();
        let mut child = cmd.spawn().context("spawning a child")?;
        let pid = child.id();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > CHILD_LIMIT {
                let _ = child.kill();
                bail!("child {i} (pid {pid}) still running after {CHILD_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        slowest = slowest.max(started.elapsed());
        if !status.success() {
            bail!("child {i} (pid {pid}) failed: {status}");
        }
        let _ = write!(line, " pid{i}={pid} port{i}={port}");
    }
    let _ = write!(line, " slowest_ms={}", slowest.as_millis());
    say(&line);
    Ok(())
}

/// `dns-once --to A:P --bind-port P`: one A question for
/// `alpha.netop.test` from port P, one answer, exit.
pub fn dns_once(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let port = args.port("bind-port")?;
    arm_watchdog(DNS_TIMEOUT + Duration::from_secs(1));
    let socket = UdpSocket::bind(("0.0.0.0", port)).with_context(|| format!("bind {port}"))?;
    socket
        .connect(to)
        .with_context(|| format!("connect {to}"))?;
    socket.set_read_timeout(Some(DNS_TIMEOUT))?;
    let id = (std::process::id() & 0xffff) as u16;
    ask(&socket, id, &["alpha", "netop", "test"])
}

/// `dns-burst --to A:P --bind-port P --count N`: N A questions, each for
/// another name (`qN.burst.netop.test`), one after the other from one
/// socket, each waiting for its answer; then `done queries=N`, exit. (The
/// soak fills netop's DNS query log with it, no `ready`/`go`.)
pub fn dns_burst(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let port = args.port("bind-port")?;
    let count = args.bounded("count", MAX_COUNT, None)?;
    arm_watchdog(DNS_TIMEOUT + Duration::from_millis(count));
    let socket = UdpSocket::bind(("0.0.0.0", port)).with_context(|| format!("bind {port}"))?;
    socket
        .connect(to)
        .with_context(|| format!("connect {to}"))?;
    socket.set_read_timeout(Some(DNS_TIMEOUT))?;
    for n in 0..count {
        let name = format!("q{n}");
        ask(
            &socket,
            (n & 0xffff) as u16,
            &[&name, "burst", "netop", "test"],
        )?;
    }
    say(&format!("done queries={count}"));
    Ok(())
}

/// One A question for the name made of `labels` on a connected socket,
/// and its answer.
fn ask(socket: &UdpSocket, id: u16, labels: &[&str]) -> anyhow::Result<()> {
    let mut query = Vec::with_capacity(48);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in labels {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send(&query).context("send")?;
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf).context("no answer")?;
    if n < 12 || buf[..2] != id.to_be_bytes() {
        bail!("not the answer to our question ({n} bytes)");
    }
    Ok(())
}
