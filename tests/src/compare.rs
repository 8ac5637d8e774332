//! Comparing what netop attributed to each PID with the truth, as a table
//! that is printed on failure (and on success under `--nocapture`).

use std::fmt::{self, Write};

use crate::counters::Counts;
use crate::netop::UsageRow;

/// Absolute slack per direction on top of the relative tolerance: a couple of
/// bare ACKs, so near-empty directions aren't judged by a 2% of nothing.
pub const SLACK_BYTES: u64 = 200;

/// Accepted range of measured/truth, in percent.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub min_percent: f64,
    pub max_percent: f64,
}

impl Tolerance {
    /// Within ±`percent` of the truth.
    pub fn within(percent: f64) -> Self {
        Self {
            min_percent: 100.0 - percent,
            max_percent: 100.0 + percent,
        }
    }

    /// At least `percent` of the truth, and not over it by more than 2%.
    pub fn at_least(percent: f64) -> Self {
        Self {
            min_percent: percent,
            max_percent: 102.0,
        }
    }

    /// Whether `measured` is within this tolerance of `truth` (plus
    /// [`SLACK_BYTES`]).
    pub fn accepts(&self, truth: u64, measured: u64) -> bool {
        let lo = (truth as f64 * self.min_percent / 100.0) as u64;
        let hi = (truth as f64 * self.max_percent / 100.0).ceil() as u64;
        measured + SLACK_BYTES >= lo && measured <= hi + SLACK_BYTES
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0}..{:.0}%", self.min_percent, self.max_percent)
    }
}

/// What one workload process should have been charged.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub label: String,
    pub pid: u32,
    pub truth: Counts,
    pub tolerance: Tolerance,
}

/// The comparison: a table and the list of what failed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub table: String,
    pub failures: Vec<String>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table)?;
        for failure in &self.failures {
            writeln!(f, "FAILED: {failure}")?;
        }
        Ok(())
    }
}

fn measured_for(rows: &[UsageRow], pid: Option<u32>) -> Counts {
    let mut sum = Counts::default();
    for row in rows.iter().filter(|r| r.pid == pid) {
        sum.merge(&Counts {
            rx_bytes: row.rx_bytes,
            tx_bytes: row.tx_bytes,
            rx_packets: row.rx_packets,
            tx_packets: row.tx_packets,
        });
    }
    sum
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Checks every expectation in both directions, and that netop's unknown row
/// is under `max_unknown_percent` of all bytes it reported.
pub fn compare(
    expectations: &[Expectation],
    rows: &[UsageRow],
    max_unknown_percent: f64,
) -> Report {
    let mut report = Report::default();
    let t = &mut report.table;
    let _ = writeln!(
        t,
        "{:<22} {:>8} {:>3} {:>12} {:>12} {:>8} {:>9} {:>6} {:>6}  verdict",
        "workload", "pid", "dir", "truth B", "netop B", "netop %", "allowed", "t pkt", "n pkt"
    );
    for exp in expectations {
        let got = measured_for(rows, Some(exp.pid));
        let directions = [
            (
                "rx",
                exp.truth.rx_bytes,
                got.rx_bytes,
                exp.truth.rx_packets,
                got.rx_packets,
            ),
            (
                "tx",
                exp.truth.tx_bytes,
                got.tx_bytes,
                exp.truth.tx_packets,
                got.tx_packets,
            ),
        ];
        for (dir, truth, measured, truth_pkts, measured_pkts) in directions {
            let ok = exp.tolerance.accepts(truth, measured);
            let _ = writeln!(
                t,
                "{:<22} {:>8} {:>3} {:>12} {:>12} {:>7.2}% {:>9} {:>6} {:>6}  {}",
                exp.label,
                exp.pid,
                dir,
                truth,
                measured,
                percent(measured, truth),
                exp.tolerance.to_string(),
                truth_pkts,
                measured_pkts,
                if ok { "ok" } else { "FAIL" }
            );
            if !ok {
                report.failures.push(format!(
                    "{} (pid {}) {dir}: netop {measured} B vs truth {truth} B, allowed {}",
                    exp.label, exp.pid, exp.tolerance
                ));
            }
        }
    }
    let total: u64 = rows.iter().map(|r| r.rx_bytes + r.tx_bytes).sum();
    let unknown = measured_for(rows, None).total_bytes();
    let unknown_ok = percent(unknown, total) < max_unknown_percent;
    let _ = writeln!(
        t,
        "unknown (pid null): {unknown} B of {total} B reported = {:.2}% (limit {max_unknown_percent}%)  {}",
        percent(unknown, total),
        if unknown_ok { "ok" } else { "FAIL" }
    );
    if !unknown_ok {
        report.failures.push(format!(
            "unknown traffic is {:.2}% of all bytes netop reported (limit {max_unknown_percent}%)",
            percent(unknown, total)
        ));
    }
    for row in rows.iter().filter(|r| {
        r.pid
            .is_some_and(|pid| expectations.iter().all(|e| e.pid != pid))
    }) {
        let _ = writeln!(
            t,
            "  other: pid {:?} {:<16} rx {} B tx {} B",
            row.pid, row.process, row.rx_bytes, row.tx_bytes
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::{compare, Expectation, Tolerance};
    use crate::counters::Counts;
    use crate::netop::UsageRow;

    fn row(pid: Option<u32>, rx: u64, tx: u64) -> UsageRow {
        UsageRow {
            pid,
            process: "p".into(),
            rx_bytes: rx,
            tx_bytes: tx,
            rx_packets: 1,
            tx_packets: 1,
        }
    }

    fn expect(pid: u32, rx: u64, tx: u64, tolerance: Tolerance) -> Expectation {
        Expectation {
            label: format!("p{pid}"),
            pid,
            truth: Counts {
                rx_bytes: rx,
                tx_bytes: tx,
                ..Counts::default()
            },
            tolerance,
        }
    }

    #[test]
    fn within_two_percent_passes_and_three_percent_fails() {
        let exp = [expect(7, 100_000, 1_000_000, Tolerance::within(2.0))];
        assert!(compare(&exp, &[row(Some(7), 101_900, 981_000)], 2.0).is_ok());
        let report = compare(&exp, &[row(Some(7), 100_000, 970_000)], 2.0);
        assert_eq!(report.failures.len(), 1, "{report}");
    }

    #[test]
    fn at_least_accepts_a_shortfall_but_not_an_excess() {
        let exp = [expect(7, 0, 1_000_000, Tolerance::at_least(90.0))];
        assert!(compare(&exp, &[row(Some(7), 0, 905_000)], 2.0).is_ok());
        assert!(!compare(&exp, &[row(Some(7), 0, 880_000)], 2.0).is_ok());
        assert!(!compare(&exp, &[row(Some(7), 0, 1_050_000)], 2.0).is_ok());
    }

    #[test]
    fn unknown_share_is_measured_against_everything_netop_reported() {
        let exp = [expect(7, 0, 1_000_000, Tolerance::within(2.0))];
        let rows = [row(Some(7), 0, 1_000_000), row(None, 30_000, 0)];
        let report = compare(&exp, &rows, 2.0);
        assert_eq!(report.failures.len(), 1, "{report}");
        assert!(report.failures[0].contains("unknown"));
    }
}
