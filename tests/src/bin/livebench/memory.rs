//! netop's memory as the kernel counts it, from `/proc/PID/status`: the
//! issue 10 scenarios report peak RSS and growth, and read them from
//! outside so the binary under test needs no instrumentation (the same
//! reading works on a build from before the change).
//!
//! - `VmHWM`: the peak resident set over the process's life ("peak RSS").
//! - `VmRSS`: resident now; includes the capture ring, a kernel buffer
//!   mapped into netop (4 MiB by default, resident once traffic touched it).
//! - `RssAnon`: heap and stacks, without the ring or mapped files: what
//!   grows with the state netop keeps.

use anyhow::Context;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub peak_kib: u64,
    pub rss_kib: u64,
    pub anon_kib: u64,
}

impl Memory {
    /// The reading of `pid` now.
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        Self::parse(&status).with_context(|| format!("in {path}"))
    }

    fn parse(status: &str) -> anyhow::Result<Self> {
        let field = |name: &str| -> anyhow::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} line"))
        };
        Ok(Self {
            peak_kib: field("VmHWM")?,
            rss_kib: field("VmRSS")?,
            anon_kib: field("RssAnon")?,
        })
    }

    /// The larger of each figure.
    pub fn max(self, other: Self) -> Self {
        Self {
            peak_kib: self.peak_kib.max(other.peak_kib),
            rss_kib: self.rss_kib.max(other.rss_kib),
            anon_kib: self.anon_kib.max(other.anon_kib),
        }
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `after - before` in MiB, signed.
pub fn growth(before: u64, after: u64) -> String {
    format!("{:+.1} MiB", (after as f64 - before as f64) / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::{growth, mib, Memory};

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tnetop\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\nRssAnon:\t    4096 kB\nRssFile:\t 9000 kB\n";
        let m = Memory::parse(status).expect("parsed");
        assert_eq!((m.peak_kib, m.rss_kib, m.anon_kib), (30_720, 20_480, 4096));
        assert!(Memory::parse("Name:\tnetop\n").is_err());
        assert_eq!(mib(30_720), "30.0 MiB");
        assert_eq!(growth(2048, 1024), "-1.0 MiB");
    }
}
