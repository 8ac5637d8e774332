//! `cargo xtask soak --serve`: `netop serve` instead of the monitor, under
//! the same churn (issue 12: its memory flat within 5 MB over an hour).
//!
//! The service runs as a plain child (no terminal), its history in a
//! scratch directory, listening on a loopback port. Each cycle the soak
//! scrapes it as Prometheus would (`/metrics`), and asks the dashboard's
//! endpoints once (`/api/series` from memory and from the history,
//! `/api/dns`), so the HTTP side's memory is in the figures too. At the
//! end it sends SIGTERM, expects exit 0, and reads the history back with
//! `netop history`: the run must have left per-minute rows.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Allowed growth after the first minute, in KiB (the 5 MB).
pub const MAX_GROWTH_KIB: u64 = 5 * 1024;

/// The scratch directory of the service's history.
const DIR: &str = "/tmp/netop-soak-serve";

/// `netop serve` started for the soak.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    history: PathBuf,
    log: PathBuf,
    /// The slowest `/metrics` answer seen, and how many were timed.
    pub slowest_metrics: Duration,
    pub scrapes: u64,
}

impl Service {
    /// Starts `netop serve ARGS` and waits until it answers `/healthz`.
    pub fn start(netop: &Path, args: &[String]) -> Result<Self> {
        let _ = std::fs::remove_dir_all(DIR);
        std::fs::create_dir_all(DIR).with_context(|| format!("creating {DIR}"))?;
        let history = Path::new(DIR).join("history.db");
        let log = Path::new(DIR).join("serve.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let child = Command::new(netop)
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--history")
            .arg(&history)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {} serve", netop.display()))?;
        let mut service = Service {
            child,
            addr,
            history,
            log,
            slowest_metrics: Duration::ZERO,
            scrapes: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if matches!(get(addr, "/healthz"), Ok((200, _))) {
                return Ok(service);
            }
            if let Some(status) = service.child.try_wait()? {
                bail!("netop serve exited with {status}:\n{}", service.stderr());
            }
            if Instant::now() > deadline {
                bail!("netop serve never answered /healthz:\n{}", service.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One cycle's clients: a scrape, and the dashboard's data once.
    pub fn visit(&mut self) -> Result<()> {
        let asked = Instant::now();
        let (status, body) = get(self.addr, "/metrics")?;
        let took = asked.elapsed();
        if status != 200 || !body.contains("netop_build_info") {
            bail!("/metrics answered {status}: {body:.200}");
        }
        self.slowest_metrics = self.slowest_metrics.max(took);
        self.scrapes += 1;
        for path in ["/api/series?range=5m", "/api/series?range=24h", "/api/dns"] {
            let (status, body) = get(self.addr, path)?;
            if status != 200 {
                bail!("{path} answered {status}: {body:.200}");
            }
        }
        Ok(())
    }

    /// SIGTERM, exit 0, and the history holds the run's minutes.
    pub fn stop(mut self, netop: &Path) -> Result<String> {
        kill(self.child.id(), "TERM")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("netop serve did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.success() {
            bail!(
                "netop serve exited with {status} after SIGTERM:\n{}",
                self.stderr()
            );
        }
        let out = Command::new(netop)
            .args(["history", "--since", "2h", "--format", "tsv", "--history"])
            .arg(&self.history)
            .output()
            .context("running netop history")?;
        if !out.status.success() {
            bail!(
                "netop history failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let rows = text.lines().skip(1).count();
        if rows == 0 {
            bail!("netop history has no rows after the run:\n{text}");
        }
        Ok(format!(
            "exit 0 on SIGTERM; `netop history` lists {rows} processes; /metrics answered {} scrapes, the slowest in {:.1} ms",
            self.scrapes,
            self.slowest_metrics.as_secs_f64() * 1000.0
        ))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed");
    }
    Ok(())
}

/// One HTTP/1.0 GET: status and body.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP head in {text:.200}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}
