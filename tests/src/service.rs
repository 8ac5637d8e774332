//! Helpers for `netop serve`'s end-to-end tests: the service as a child
//! process, plain HTTP GETs (HTTP/1.0, so no chunked bodies), a real
//! Prometheus server started with a scrape configuration pointing at it,
//! and the uploads whose process name is known. The browser is
//! `webdriver.rs`'s.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::child::Proc;
use crate::netop::netop_bin;

/// One GET; returns the status and the body.
pub fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP head in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// A free TCP port on loopback (bound, then released for the child).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `netop serve` as a child process, with its HTTP address.
#[derive(Debug)]
pub struct Serve {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Serve {
    /// Starts `netop serve ARGS --listen 127.0.0.1:PORT` and waits until
    /// it captures and answers `/healthz`.
    pub fn start(args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cmd = Command::new(netop_bin()?);
        cmd.arg("serve")
            .args(args)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", "warn");
        let mut proc = Proc::spawn("netop serve", cmd)?;
        proc.wait_capturing(Duration::from_secs(20))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if matches!(get(addr, "/healthz", &[]), Ok((200, _))) {
                break;
            }
            if Instant::now() >= deadline {
                bail!("netop serve never answered /healthz:\n{}", proc.describe());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Serve { proc, addr })
    }

    pub fn metrics(&self) -> anyhow::Result<String> {
        let (status, body) = get(self.addr, "/metrics", &[])?;
        if status != 200 {
            bail!("/metrics answered {status}: {body}");
        }
        Ok(body)
    }
}

/// The value of the sample `name{labels}` in a text exposition, where
/// `labels` is the exact label text between the braces.
pub fn sample(body: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A Prometheus server (Debian's `prometheus` package) scraping one
/// target every second, its data in a scratch directory. Killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    pub proc: Proc,
    pub addr: SocketAddr,
    _dir: crate::scratch::ScratchDir,
}

impl Prometheus {
    pub fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let bin = which("prometheus").context(
            "the prometheus binary is missing: `cargo xtask deps` installs Debian's prometheus package",
        )?;
        let dir = crate::scratch::ScratchDir::new("prometheus")?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: netop\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )?;
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"));
        let proc = Proc::spawn("prometheus", cmd)?;
        let prometheus = Prometheus {
            proc,
            addr,
            _dir: dir,
        };
        let ready = wait_for(Duration::from_secs(30), || {
            matches!(get(addr, "/-/ready", &[]), Ok((200, _))).then_some(())
        });
        if ready.is_none() {
            bail!(
                "prometheus never became ready:\n{}",
                prometheus.proc.describe()
            );
        }
        Ok(prometheus)
    }

    /// The value of an instant query that returns one series, if it does.
    pub fn query_one(&self, query: &str) -> anyhow::Result<Option<f64>> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = get(self.addr, &format!("/api/v1/query?query={encoded}"), &[])?;
        if status != 200 {
            bail!("prometheus answered {status}: {body}");
        }
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let result = &v["data"]["result"];
        if result.as_array().is_none_or(|r| r.len() != 1) {
            return Ok(None);
        }
        Ok(result[0]["value"][1].as_str().and_then(|s| s.parse().ok()))
    }
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A copy of `bin` named `name` in `dir`: its processes show as `name`.
pub fn renamed_copy(bin: &Path, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let to = dir.join(name);
    std::fs::copy(bin, &to)
        .with_context(|| format!("copying {} to {}", bin.display(), to.display()))?;
    Ok(to)
}
