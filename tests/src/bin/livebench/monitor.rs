//! The three monitors under test (netop, nethogs, bandwhich): finding their
//! binaries, starting them on one interface, reading the CPU they use
//! (`/proc/PID/stat`) and what each one saw, and stopping them.
//!
//! What each monitor saw, in its own terms:
//! - netop: its JSON totals and its `the kernel dropped N packets` line.
//! - nethogs: the byte totals of its last trace refresh (`-v 2`, six
//!   significant digits); it reports no drops.
//! - bandwhich: the drop counter of its packet socket (`ss --packet -e -m`,
//!   the `d` of `skmem`), since it reports none either. Ring sockets (netop,
//!   nethogs) count ring overflows elsewhere, so `ss` is not used for them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use netop_e2e::child::Proc;
use netop_e2e::{Counts, NetopOptions, UsageRow};
use nix::sys::signal::Signal;

/// How long a monitor may take to open its capture.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long a stopped monitor may take to exit before it is killed (a
/// netop far behind after a flood of new flows drains its ring first).
const STOP_LIMIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Netop,
    Nethogs,
    Bandwhich,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Netop => "netop",
            Kind::Nethogs => "nethogs",
            Kind::Bandwhich => "bandwhich",
        }
    }
}

/// A monitor binary, or why there is none.
#[derive(Debug, Clone)]
pub struct Tool {
    pub kind: Kind,
    pub bin: Result<PathBuf, String>,
    pub version: String,
}

impl Tool {
    pub fn netop(bin: PathBuf) -> Self {
        let version = version_of(&bin, "--version");
        Self {
            kind: Kind::Netop,
            bin: Ok(bin),
            version,
        }
    }

    /// nethogs from PATH or /usr/sbin; installed with apt-get when missing.
    pub fn nethogs() -> Self {
        let found = search(
            "nethogs",
            &[PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")],
        );
        let bin = match found {
            Some(bin) => Ok(bin),
            None => {
                eprintln!("livebench: nethogs is missing; installing it with apt-get");
                netop_e2e::privilege::install_package("nethogs", "nethogs", "-V")
                    .map_err(|e| format!("not installed ({e:#})"))
                    .and_then(|()| {
                        search("nethogs", &[PathBuf::from("/usr/sbin")])
                            .ok_or_else(|| "not installed (apt-get install nethogs)".to_owned())
                    })
            }
        };
        Self::peer(Kind::Nethogs, bin, "-V")
    }

    /// bandwhich from `$BANDWHICH`, PATH or a cargo bin directory (root's,
    /// or the sudo user's). Never installed here: it is a cargo install.
    pub fn bandwhich() -> Self {
        let bin = match std::env::var_os("BANDWHICH") {
            Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
            None => search("bandwhich", &cargo_bin_dirs()),
        };
        let bin = bin.ok_or_else(|| "not installed (cargo install bandwhich)".to_owned());
        Self::peer(Kind::Bandwhich, bin, "--version")
    }

    /// A peer the phases asked for do not use (not looked for).
    pub fn unused(kind: Kind) -> Self {
        Self::peer(kind, Err("not used by these phases".to_owned()), "")
    }

    fn peer(kind: Kind, bin: Result<PathBuf, String>, version_flag: &str) -> Self {
        let version = match &bin {
            Ok(bin) => version_of(bin, version_flag),
            Err(_) => String::new(),
        };
        Self { kind, bin, version }
    }
}

/// `program` in `$PATH`, else in one of `extra`.
fn search(program: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn cargo_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    if let Some(user) = std::env::var_os("SUDO_USER") {
        dirs.push(Path::new("/home").join(user).join(".cargo/bin"));
    }
    dirs.push(PathBuf::from("/root/.cargo/bin"));
    dirs
}

/// The first line `bin flag` prints, or `?`.
fn version_of(bin: &Path, flag: &str) -> String {
    Command::new(bin)
        .arg(flag)
        .output()
        .ok()
        .and_then(|out| {
            let text = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// The command line each monitor gets, capturing on `iface`.
pub fn command_line(kind: Kind, iface: &str, netop: &NetopOptions) -> Vec<String> {
    let own = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    match kind {
        Kind::Netop => netop.args(),
        // -C: UDP as well as TCP, so it attributes the same traffic as the
        // others; -v 2: totals in bytes, to see what it counted.
        Kind::Nethogs => own(&["-t", "-C", "-v", "2", "-d", "1", iface]),
        Kind::Bandwhich => own(&["--raw", "--no-resolve", "--interface", iface]),
    }
}

/// A monitor that is capturing.
#[derive(Debug)]
pub struct Running {
    pub kind: Kind,
    proc: Proc,
}

impl Running {
    pub fn start(tool: &Tool, args: &[String]) -> anyhow::Result<Self> {
        let bin = tool
            .bin
            .as_ref()
            .map_err(|why| anyhow::anyhow!("{}: {why}", tool.kind.name()))?;
        let mut cmd = Command::new(bin);
        cmd.args(args).env("NO_COLOR", "1");
        let mut proc = Proc::spawn(format!("{} {}", tool.kind.name(), args.join(" ")), cmd)?;
        if tool.kind == Kind::Netop {
            proc.close_stdin();
        }
        Ok(Self {
            kind: tool.kind,
            proc,
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Waits until the monitor has a bound, running packet socket (netop
    /// counting in the kernel: its programs attached).
    pub fn wait_capturing(&mut self) -> anyhow::Result<()> {
        // bandwhich (0.23, pnet) reads its packet socket without a ring.
        let ring = self.kind != Kind::Bandwhich;
        self.proc.wait_packet_socket(START_LIMIT, ring)
    }

    /// CPU time used so far (all threads).
    pub fn cpu(&self) -> anyhow::Result<CpuTime> {
        cpu_time(self.pid())
    }

    /// Its output so far, for error messages.
    pub fn describe(&self) -> String {
        self.proc.describe()
    }

    /// Waits at most `limit` for the monitor to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        self.proc.wait_exit(limit).is_ok()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.proc.try_exit(), Ok(None))
    }

    /// Stops the monitor and reads what it saw. `socket_drops` is sampled by
    /// the caller while the monitor still ran.
    pub fn stop(mut self, socket_drops: Option<u64>) -> anyhow::Result<Seen> {
        let signal = match self.kind {
            // Ctrl-C ends a netop snapshot early and prints it.
            Kind::Netop | Kind::Nethogs => Signal::SIGINT,
            // bandwhich --raw ignores SIGINT.
            Kind::Bandwhich => Signal::SIGTERM,
        };
        if self.proc.try_exit()?.is_none() {
            self.proc.signal(signal)?;
        }
        let status = self.proc.wait_exit(STOP_LIMIT);
        let stdout = self.proc.stdout(Duration::from_secs(2));
        match self.kind {
            Kind::Netop => {
                let status = status?;
                if !status.success() {
                    bail!("netop failed ({status}):\n{}", self.proc.describe());
                }
                let json = serde_json::from_str(&stdout).with_context(|| {
                    format!("netop's stdout is not JSON:\n{}", self.proc.describe())
                })?;
                let rows = UsageRow::from_json(&json)?;
                let mut totals = Counts::default();
                for row in &rows {
                    totals.merge(&Counts {
                        rx_bytes: row.rx_bytes,
                        tx_bytes: row.tx_bytes,
                        rx_packets: row.rx_packets,
                        tx_packets: row.tx_packets,
                    });
                }
                let stderr = self.proc.stderr();
                Ok(Seen::Netop {
                    totals,
                    drops: netop_drops(&stderr),
                    lost_events: netop_lost_events(&stderr),
                    rows,
                })
            }
            Kind::Nethogs => Ok(Seen::Nethogs {
                bytes: nethogs_total(&stdout),
            }),
            Kind::Bandwhich => Ok(Seen::Bandwhich {
                drops: socket_drops,
            }),
        }
    }
}

/// What a monitor reported about its own capture.
#[derive(Debug, Clone)]
pub enum Seen {
    Netop {
        totals: Counts,
        drops: u64,
        /// Owner events the ring could not hold (their bytes may be unknown).
        lost_events: u64,
        /// Its JSON rows, for the per-pid figures.
        rows: Vec<UsageRow>,
    },
    Nethogs {
        bytes: Option<f64>,
    },
    Bandwhich {
        drops: Option<u64>,
    },
}

/// CPU time of a process: all its threads, live and ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// In % of one core over `window`.
    pub fn percent_of(&self, window: Duration) -> f64 {
        100.0 * self.total().as_secs_f64() / window.as_secs_f64().max(1e-9)
    }

    /// `self - earlier`.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// utime and stime of the whole thread group (`/proc/PID/stat` fields 14
/// and 15), in clock ticks turned into time.
pub fn cpu_time(pid: u32) -> anyhow::Result<CpuTime> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')', with the state (field 3) first.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let hz = clock_ticks()? as f64;
    let field = |n: usize| -> anyhow::Result<Duration> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|ticks| Duration::from_secs_f64(ticks as f64 / hz))
            .with_context(|| format!("field {n} of {path}: {stat:?}"))
    };
    Ok(CpuTime {
        user: field(14)?,
        system: field(15)?,
    })
}

fn clock_ticks() -> anyhow::Result<u64> {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .context("sysconf(CLK_TCK)")?
        .context("CLK_TCK unknown")?;
    u64::try_from(hz).context("negative CLK_TCK")
}

/// The count in netop's `netop: the kernel dropped N packets` line, 0 without.
fn netop_drops(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|line| {
            line.strip_prefix("netop: the kernel dropped ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The count in netop's `N owner events overflowed the ring` note, 0 without.
fn netop_lost_events(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter(|line| line.starts_with("netop: "))
        .flat_map(|line| line.split("; "))
        .find_map(|part| {
            part.trim_start_matches("netop: ")
                .strip_suffix(
                    " owner events overflowed the ring (their bytes may show as unknown)",
                )?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The bytes (sent + received, all rows) of nethogs' last trace refresh.
fn nethogs_total(stdout: &str) -> Option<f64> {
    let mut last = None;
    let mut current: Option<f64> = None;
    for line in stdout.lines() {
        if line.starts_with("Refreshing:") {
            if current.is_some() {
                last = current;
            }
            current = Some(0.0);
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if let (Some(total), [_, sent, recv]) = (current.as_mut(), cols.as_slice()) {
            if let (Ok(sent), Ok(recv)) = (sent.trim().parse::<f64>(), recv.trim().parse::<f64>()) {
                *total += sent + recv;
            }
        }
    }
    current.filter(|t| *t > 0.0).or(last)
}

/// Drops counted on the packet sockets of `pid` that have no ring (the `d`
/// of `ss`'s skmem), or `None` if it has none such.
pub fn socket_drops(pid: u32) -> Option<u64> {
    let out = Command::new("ss")
        .args(["--packet", "--all", "--extended", "--memory", "--processes"])
        .output()
        .ok()?;
    parse_socket_drops(&String::from_utf8_lossy(&out.stdout), pid)
}

fn parse_socket_drops(ss: &str, pid: u32) -> Option<u64> {
    let owner = format!("pid={pid},");
    // A socket is one line plus indented continuation lines.
    let mut records: Vec<String> = Vec::new();
    for line in ss.lines().skip(1) {
        match records.last_mut() {
            Some(record) if line.starts_with(char::is_whitespace) => {
                record.push(' ');
                record.push_str(line.trim());
            }
            _ => records.push(line.to_owned()),
        }
    }
    records
        .iter()
        .filter(|r| r.contains(&owner) && !r.contains("ring_rx"))
        .filter_map(|r| {
            let skmem = r.split("skmem:(").nth(1)?.split(')').next()?;
            skmem
                .split(',')
                .find_map(|f| f.strip_prefix('d')?.parse::<u64>().ok())
        })
        .reduce(|a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::{nethogs_total, netop_drops, netop_lost_events, parse_socket_drops};

    #[test]
    fn netop_drop_line_is_read() {
        let err =
            "netop: the kernel dropped 149012 packets; totals are short (raise --bpf-buffer)\n";
        assert_eq!(netop_drops(err), 149_012);
        assert_eq!(netop_drops("netop: interrupted after 9.0 s\n"), 0);
        let both = "netop: the kernel dropped 4 packets; totals are short (raise --bpf-buffer); 7 owner events overflowed the ring (their bytes may show as unknown)\n";
        assert_eq!(netop_drops(both), 4);
        assert_eq!(netop_lost_events(both), 7);
        let alone =
            "netop: 12 owner events overflowed the ring (their bytes may show as unknown)\n";
        assert_eq!(netop_lost_events(alone), 12);
        assert_eq!(netop_lost_events(err), 0);
    }

    #[test]
    fn nethogs_last_refresh_is_summed() {
        let out = "Refreshing:\nunknown UDP/0/0\t40080\t0\n\nRefreshing:\n\
                   unknown UDP/0/0\t2.27098e+07\t10\nunknown TCP/0/0\t0\t0\n\nRefreshing:\n";
        assert_eq!(nethogs_total(out), Some(2.27098e7 + 10.0));
        assert_eq!(nethogs_total("nothing"), None);
    }

    #[test]
    fn ss_drops_only_for_socket_without_ring() {
        let ss = "Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n\
p_raw UNCONN 0 0 *:veth * users:((\"bandwhich\",pid=9861,fd=3)) ino:54464 sk:307\n\
\tver:0 cpy_thresh:0 flags( running ) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d291618)\n\
p_raw UNCONN 0 0 *:veth * users:((\"netop\",pid=10495,fd=4)) ino:54942 sk:30b\n\
\tver:1 cpy_thresh:0 flags( running auxdata )\n\
\tring_rx(blk_size:4096,blk_nr:520,frm_size:336,frm_nr:6240,tmo:0,features:0x0) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)\n";
        assert_eq!(parse_socket_drops(ss, 9861), Some(291_618));
        assert_eq!(parse_socket_drops(ss, 10495), None);
        assert_eq!(parse_socket_drops(ss, 1), None);
    }
}
