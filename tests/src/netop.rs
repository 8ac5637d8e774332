//! Running the real `netop` binary and reading its JSON snapshot.
//!
//! The binary is `$NETOP_BIN` if set, else `netop` next to this test's own
//! profile directory (test executables live in `target/<profile>/deps/`),
//! built with `cargo build -p netop` when it is missing or older than the
//! workspace's crate sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::child::Proc;
use crate::counters::Counts;

/// Finds (or builds) the netop binary; the answer is cached per process.
pub fn netop_bin() -> anyhow::Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| locate().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn locate() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("NETOP_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("NETOP_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    let exe = std::env::current_exe().context("finding the test executable")?;
    let mut profile_dir = exe.parent().context("test executable has no directory")?;
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir = profile_dir.parent().context("deps/ has no parent")?;
    }
    let bin = profile_dir.join("netop");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if built.is_none_or(|built| newest_source().is_some_and(|src| src > built)) {
        build(profile_dir)?;
    }
    if !bin.is_file() {
        bail!(
            "`cargo build -p netop` did not produce {}; build netop and set NETOP_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// The newest modification time of the workspace's crate sources, so a
/// binary older than the code under test is rebuilt rather than measured.
fn newest_source() -> Option<SystemTime> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let mut newest = std::fs::metadata(root.join("Cargo.lock"))
        .and_then(|m| m.modified())
        .ok();
    // Bounded walk: crates/<crate>/{Cargo.toml, src/**}.
    let mut dirs = vec![root.join("crates")];
    let mut visited = 0;
    while let Some(dir) = dirs.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n != "target" && n != "tests")
                {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs" || e == "toml") {
                let modified = meta.modified().ok();
                newest = newest.max(modified);
            }
        }
    }
    newest
}

fn build(profile_dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir.parent().context("profile dir has no parent")?;
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "-p", "netop", "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    eprintln!("netop binary missing or stale; running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("running {cmd:?} (set CARGO or NETOP_BIN)"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status}); build netop first or set NETOP_BIN");
    }
    Ok(())
}

/// How to run netop for one measurement window.
#[derive(Debug, Clone)]
pub struct NetopOptions {
    pub duration_secs: u64,
    /// `--interface`; `None` captures on netop's default device.
    pub interface: Option<String>,
    /// `--bpf-buffer`; `None` keeps netop's default.
    pub bpf_buffer: Option<u32>,
    /// Further flags, e.g. `--no-events`.
    pub extra: Vec<String>,
}

impl NetopOptions {
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--duration".to_owned(),
            self.duration_secs.to_string(),
            "--format".to_owned(),
            "json".to_owned(),
        ];
        if let Some(iface) = &self.interface {
            args.extend(["--interface".to_owned(), iface.clone()]);
        }
        if let Some(bytes) = self.bpf_buffer {
            args.extend(["--bpf-buffer".to_owned(), bytes.to_string()]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }
}

/// A netop process measuring one window.
#[derive(Debug)]
pub struct NetopRun {
    proc: Proc,
    started: Instant,
    options: NetopOptions,
    /// Started by [`NetopRun::start_blind`]: `proc` is `unshare`, netop
    /// its child.
    blind: bool,
}

/// Runs `"$@"` with an empty `/run/netns` (in the mount namespace
/// `unshare` made).
const BLIND: &str = "mkdir -p /run/netns && mount -t tmpfs none /run/netns && exec \"$@\"";

impl NetopRun {
    pub fn start(options: NetopOptions) -> anyhow::Result<Self> {
        Self::start_logging(options, None)
    }

    /// [`NetopRun::start`] with `RUST_LOG` set to `log` (e.g.
    /// `netop::interfaces=info` for the per-interface totals, see
    /// [`interface_totals`]).
    pub fn start_logging(options: NetopOptions, log: Option<&str>) -> anyhow::Result<Self> {
        let bin = netop_bin()?;
        let mut cmd = Command::new(&bin);
        cmd.args(options.args()).env("NO_COLOR", "1");
        if let Some(filter) = log {
            cmd.env("RUST_LOG", filter);
        }
        Self::spawn(options, cmd, false)
    }

    /// [`NetopRun::start_logging`] for netop as the router of a LAN of other
    /// machines: the test hosts are namespaces of this machine, so netop
    /// would find their sockets. Here it runs in a pid and mount namespace
    /// of its own (only itself in `/proc`, an empty `/run/netns`: no other
    /// network namespace to enter) and polls (`--no-events`: the event
    /// source sees every socket of the kernel), so their sockets are as
    /// unknown to it as another machine's. It still captures in the test's
    /// network namespace.
    pub fn start_blind(mut options: NetopOptions, log: Option<&str>) -> anyhow::Result<Self> {
        let bin = netop_bin()?;
        options.extra.push("--no-events".to_owned());
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--mount-proc",
            "--propagation",
            "private",
            "sh",
            "-c",
            BLIND,
            "sh",
        ])
        .arg(&bin)
        .args(options.args())
        .env("NO_COLOR", "1");
        if let Some(filter) = log {
            cmd.env("RUST_LOG", filter);
        }
        Self::spawn(options, cmd, true)
    }

    fn spawn(options: NetopOptions, cmd: Command, blind: bool) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut proc = Proc::spawn(format!("netop {}", options.args().join(" ")), cmd)?;
        proc.close_stdin();
        Ok(Self {
            proc,
            started,
            options,
            blind,
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// When netop's window closes (measured from its spawn).
    pub fn window_end(&self) -> Instant {
        self.started + Duration::from_secs(self.options.duration_secs)
    }

    /// Waits until netop's capture is open: a bound packet socket with its
    /// ring mapped (see [`has_running_packet_socket`]), or kernel counting
    /// attached (see [`counts_in_kernel`]).
    pub fn wait_capturing(&mut self, limit: Duration) -> anyhow::Result<()> {
        if !self.blind {
            return self
                .proc
                .wait_capturing(limit)
                .context("netop did not start capturing");
        }
        // netop is `unshare`'s child.
        let deadline = Instant::now() + limit;
        let pid = self.proc.pid();
        loop {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if children
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .any(|c| has_running_packet_socket(c) || counts_in_kernel(c))
            {
                return Ok(());
            }
            if let Some(status) = self.proc.try_exit()? {
                bail!(
                    "exited ({status}) before capturing:\n{}",
                    self.proc.describe()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "netop did not start capturing within {limit:?}:\n{}",
                    self.proc.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for netop to print its snapshot and exit, and parses it.
    pub fn finish(self, grace: Duration) -> anyhow::Result<Vec<UsageRow>> {
        self.finish_with_stderr(grace).map(|(rows, _)| rows)
    }

    /// [`NetopRun::finish`], with what netop wrote on stderr.
    pub fn finish_with_stderr(self, grace: Duration) -> anyhow::Result<(Vec<UsageRow>, String)> {
        let (json, stderr) = self.finish_json_with_stderr(grace)?;
        Ok((UsageRow::from_json(&json)?, stderr))
    }

    /// Waits for netop to print its snapshot and exit; its JSON as is.
    pub fn finish_json(self, grace: Duration) -> anyhow::Result<Value> {
        self.finish_json_with_stderr(grace).map(|(json, _)| json)
    }

    /// [`NetopRun::finish_json`], with what netop wrote on stderr.
    pub fn finish_json_with_stderr(mut self, grace: Duration) -> anyhow::Result<(Value, String)> {
        let left = self.window_end().saturating_duration_since(Instant::now());
        let status = match self.proc.wait_exit(left + grace) {
            Ok(status) => status,
            Err(_) => {
                // Ask it to stop so its error shows what it had collected.
                let _ = self.proc.signal(Signal::SIGINT);
                let _ = self.proc.wait_exit(Duration::from_secs(3));
                let _ = self.proc.stdout(Duration::from_secs(1));
                bail!(
                    "netop did not exit within {grace:?} after its {}s window (sent SIGINT):\n{}",
                    self.options.duration_secs,
                    self.proc.describe()
                );
            }
        };
        let stdout = self.proc.stdout(Duration::from_secs(2));
        if !status.success() {
            bail!("netop failed ({status}):\n{}", self.proc.describe());
        }
        let json: Value = serde_json::from_str(&stdout)
            .with_context(|| format!("netop's stdout is not JSON:\n{}", self.proc.describe()))?;
        Ok((json, self.proc.stderr()))
    }
}

/// Runs netop with `args` to completion (at most a minute) and parses its
/// JSON output.
pub fn run_netop(args: &[&str]) -> anyhow::Result<Value> {
    let bin = netop_bin()?;
    let mut cmd = Command::new(&bin);
    cmd.args(args).env("NO_COLOR", "1");
    let mut proc = Proc::spawn(format!("netop {}", args.join(" ")), cmd)?;
    proc.close_stdin();
    let status = proc.wait_exit(Duration::from_secs(60))?;
    let stdout = proc.stdout(Duration::from_secs(2));
    if !status.success() {
        bail!("netop failed ({status}):\n{}", proc.describe());
    }
    serde_json::from_str(&stdout)
        .with_context(|| format!("netop's stdout is not JSON:\n{}", proc.describe()))
}

/// Whether `pid` has an AF_PACKET socket that is bound and running
/// (`R` = 1 in `/proc/net/packet`).
pub fn has_running_packet_socket(pid: u32) -> bool {
    has_packet_socket(pid, true)
}

/// The DNS ring of kernel counting (`DNS` in
/// `crates/netop-linux/src/counting/netop_tc.bpf.c`), in bytes.
const KERNEL_DNS_RING: u64 = 1 << 20;

/// Whether `pid` counts in the kernel with its programs attached (issue
/// 17), where it holds no packet socket. With DNS on, netop maps the
/// counting program's DNS ring once every interface is attached: a
/// read-only mapping of twice the ring plus a page (the event source's
/// ring is half the size). With `--no-dns` there is no ring: a TCX link
/// (its first interface attached) is the sign.
pub fn counts_in_kernel(pid: u32) -> bool {
    let ring = std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| {
        maps.lines().any(|l| {
            let mut cols = l.split_whitespace();
            let (Some(range), Some(perms)) = (cols.next(), cols.next()) else {
                return false;
            };
            let Some((a, b)) = range.split_once('-') else {
                return false;
            };
            let len = u64::from_str_radix(b, 16)
                .unwrap_or(0)
                .saturating_sub(u64::from_str_radix(a, 16).unwrap_or(0));
            perms == "r--s"
                && l.ends_with("anon_inode:bpf-map")
                && len == 2 * KERNEL_DNS_RING + 4096
        })
    });
    if ring {
        return true;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    let no_dns = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split('\0').any(|a| a == "--no-dns"));
    no_dns
        && fds.filter_map(Result::ok).any(|fd| {
            std::fs::read_to_string(fd.path()).is_ok_and(|info| {
                info.lines()
                    .any(|l| l.split_whitespace().eq(["link_type:", "tcx"]))
            })
        })
}

/// [`has_running_packet_socket`] for a reader without a mapped ring
/// (`ring` false: bandwhich 0.23 reads its socket with `recvfrom`), for
/// which a bound, running socket is all there is to wait for.
pub fn has_packet_socket(pid: u32, ring: bool) -> bool {
    let Ok(packet) = std::fs::read_to_string("/proc/net/packet") else {
        return false;
    };
    // Columns: sk RefCnt Type Proto Iface R Rmem User Inode
    let running: Vec<&str> = packet
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(5) == Some(&"1"))
                .then(|| cols.get(8).copied())
                .flatten()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let bound: Vec<String> = fds
        .filter_map(Result::ok)
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let target = target.to_string_lossy().into_owned();
            let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
            running.contains(&inode).then_some(target)
        })
        .collect();
    if bound.is_empty() || !ring {
        return !bound.is_empty();
    }
    // libpcap maps the ring after binding, and re-binds around setting it
    // up: the capture is ready once the ring is in the process's memory.
    std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| {
        maps.lines()
            .any(|l| bound.iter().any(|b| l.ends_with(b.as_str())))
    })
}

/// The per-interface totals a snapshot logs under
/// `RUST_LOG=netop::interfaces=info` (lines `... interface totals index=3
/// name=eth0 rx_bytes=... tx_bytes=... rx_packets=... tx_packets=...`), by
/// interface name.
pub fn interface_totals(stderr: &str) -> anyhow::Result<Vec<(String, Counts)>> {
    let mut out = Vec::new();
    for line in stderr.lines().filter(|l| l.contains("interface totals")) {
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .with_context(|| format!("no {key}= in {line:?}"))
        };
        let num = |key: &str| -> anyhow::Result<u64> {
            field(key)?
                .parse()
                .with_context(|| format!("bad {key} in {line:?}"))
        };
        out.push((
            field("name")?.trim_matches('"').to_owned(),
            Counts {
                rx_bytes: num("rx_bytes")?,
                tx_bytes: num("tx_bytes")?,
                rx_packets: num("rx_packets")?,
                tx_packets: num("tx_packets")?,
            },
        ));
    }
    Ok(out)
}

/// One object of netop's JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// `None` is netop's "unknown" row: traffic it could not attribute.
    pub pid: Option<u32>,
    pub process: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl UsageRow {
    /// Parses netop's JSON: an array of `{pid, process, rx_bytes, tx_bytes,
    /// rx_packets, tx_packets}` objects (other fields are ignored).
    pub fn from_json(json: &Value) -> anyhow::Result<Vec<Self>> {
        let rows = json
            .as_array()
            .with_context(|| format!("expected a JSON array, got {json}"))?;
        rows.iter().map(Self::from_object).collect()
    }

    fn from_object(row: &Value) -> anyhow::Result<Self> {
        let num = |key: &str| {
            row.get(key)
                .and_then(Value::as_u64)
                .with_context(|| format!("`{key}` missing or not a count in {row}"))
        };
        let pid = match row.get("pid") {
            Some(Value::Null) => None,
            Some(pid) => Some(
                pid.as_u64()
                    .and_then(|p| u32::try_from(p).ok())
                    .with_context(|| format!("bad `pid` in {row}"))?,
            ),
            None => bail!("`pid` missing in {row}"),
        };
        Ok(Self {
            pid,
            process: row
                .get("process")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            rx_bytes: num("rx_bytes")?,
            tx_bytes: num("tx_bytes")?,
            rx_packets: num("rx_packets")?,
            tx_packets: num("tx_packets")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{NetopOptions, UsageRow};

    #[test]
    fn usage_rows_are_read_from_netop_json_with_null_pid_as_unknown() {
        let json = serde_json::json!([
            {"pid": 42, "process": "trafficgen", "rx_bytes": 10, "tx_bytes": 20,
             "rx_packets": 1, "tx_packets": 2, "extra": "ignored"},
            {"pid": null, "process": "unknown", "rx_bytes": 5, "tx_bytes": 0,
             "rx_packets": 1, "tx_packets": 0}
        ]);
        let rows = UsageRow::from_json(&json).expect("valid rows");
        assert_eq!(rows[0].pid, Some(42));
        assert_eq!(rows[0].tx_bytes, 20);
        assert_eq!(rows[1].pid, None);
        assert!(UsageRow::from_json(&serde_json::json!({"pid": 1})).is_err());
        assert!(UsageRow::from_json(&serde_json::json!([{"pid": 1}])).is_err());
    }

    #[test]
    fn interface_totals_are_read_from_the_log_lines() {
        let stderr = " WARN something else\n INFO interface totals index=7 name=br0 rx_bytes=10 tx_bytes=20 rx_packets=1 tx_packets=2\n";
        let totals = super::interface_totals(stderr).expect("parsed");
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].0, "br0");
        assert_eq!(totals[0].1.tx_bytes, 20);
        assert_eq!(totals[0].1.rx_packets, 1);
        assert!(super::interface_totals(" INFO interface totals index=1").is_err());
    }

    #[test]
    fn options_become_the_documented_flags() {
        let options = NetopOptions {
            duration_secs: 5,
            interface: Some("veth0".into()),
            bpf_buffer: None,
            extra: Vec::new(),
        };
        assert_eq!(
            options.args(),
            [
                "--duration",
                "5",
                "--format",
                "json",
                "--interface",
                "veth0"
            ]
        );
    }
}
