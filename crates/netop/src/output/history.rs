//! `netop history`'s output: totals per group over a period, in the
//! snapshot's three formats and conventions (sorted by total bytes,
//! largest first; IEC units and a TOTAL line in pretty; no ANSI codes).
//!
//! The first column (TSV) or field (JSON) is the grouping's: `process`,
//! `user`, `container` (`-` in TSV, `null` in JSON, for processes in
//! none) or `interface`; then the snapshot's `rx_bytes`, `tx_bytes`,
//! `rx_packets`, `tx_packets`. Grouped by process, a row is a name and an
//! executable (two programs called `python3` are two rows) and ends with
//! its path: the `exe` column (`-` when unknown) in TSV and pretty, the
//! `exe` field (`null` when unknown) in JSON, whose rows otherwise carry
//! the snapshot's fields but `pid`.

use std::io::{self, Write};

use netop_cli::{Grouping, HistoryFormat};
use netop_history::Total;
use serde::ser::{SerializeMap, Serializer};

use super::cell;
use super::units::iec_bytes;

/// The grouping's column name.
pub fn key_column(by: Grouping) -> &'static str {
    match by {
        Grouping::Process => "process",
        Grouping::User => "user",
        Grouping::Container => "container",
        Grouping::Interface => "interface",
    }
}

/// A period as the pretty title shows it.
#[derive(Debug, Clone)]
pub struct Period {
    pub since: String,
    pub until: String,
}

pub fn write(
    format: HistoryFormat,
    by: Grouping,
    period: &Period,
    rows: &[Total],
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        HistoryFormat::Tsv => tsv(by, rows, out),
        HistoryFormat::Json => json(by, rows, out),
        HistoryFormat::Pretty => pretty(by, period, rows, out),
    }?;
    out.flush()
}

/// The key as a cell: `-` for an empty container.
fn key_cell(row: &Total) -> String {
    if row.key.is_empty() {
        "-".to_string()
    } else {
        cell(&row.key)
    }
}

/// The path as a cell: `-` when unknown.
fn exe_cell(row: &Total) -> String {
    if row.exe.is_empty() {
        "-".to_string()
    } else {
        cell(&row.exe)
    }
}

fn tsv(by: Grouping, rows: &[Total], out: &mut dyn Write) -> io::Result<()> {
    let exe = by == Grouping::Process;
    writeln!(
        out,
        "{}\trx_bytes\ttx_bytes\trx_packets\ttx_packets{}",
        key_column(by),
        if exe { "\texe" } else { "" }
    )?;
    for r in rows {
        let t = &r.traffic;
        write!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            key_cell(r),
            t.rx_bytes,
            t.tx_bytes,
            t.rx_packets,
            t.tx_packets
        )?;
        if exe {
            write!(out, "\t{}", exe_cell(r))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn json(by: Grouping, rows: &[Total], out: &mut dyn Write) -> io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    let mut seq = ser
        .serialize_seq(Some(rows.len()))
        .map_err(io::Error::from)?;
    for r in rows {
        use serde::ser::SerializeSeq;
        seq.serialize_element(&Row { by, row: r })
            .map_err(io::Error::from)?;
    }
    serde::ser::SerializeSeq::end(seq).map_err(io::Error::from)?;
    writeln!(out)
}

struct Row<'a> {
    by: Grouping,
    row: &'a Total,
}

impl serde::Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = &self.row.traffic;
        let mut map = s.serialize_map(None)?;
        let key = key_column(self.by);
        if self.by == Grouping::Container && self.row.key.is_empty() {
            map.serialize_entry(key, &None::<&str>)?;
        } else {
            map.serialize_entry(key, &self.row.key)?;
        }
        map.serialize_entry("rx_bytes", &t.rx_bytes)?;
        map.serialize_entry("tx_bytes", &t.tx_bytes)?;
        map.serialize_entry("rx_packets", &t.rx_packets)?;
        map.serialize_entry("tx_packets", &t.tx_packets)?;
        if self.by == Grouping::Process {
            let exe = Some(self.row.exe.as_str()).filter(|e| !e.is_empty());
            map.serialize_entry("exe", &exe)?;
        }
        map.end()
    }
}

const NAME_WIDTH: usize = 28;

fn bytes(n: i64) -> String {
    if n < 0 {
        format!("-{}", iec_bytes(n.unsigned_abs()))
    } else {
        iec_bytes(n as u64)
    }
}

fn pretty(by: Grouping, period: &Period, rows: &[Total], out: &mut dyn Write) -> io::Result<()> {
    // By process the path follows the numbers, whole (a path cut short
    // would not tell two programs apart).
    let exe = by == Grouping::Process;
    let line = |out: &mut dyn Write, name: &str, cols: [String; 4], path: &str| {
        let name: String = name.chars().take(NAME_WIDTH).collect();
        let text = format!(
            "{name:<NAME_WIDTH$} {:>12} {:>12} {:>11} {:>11}",
            cols[0], cols[1], cols[2], cols[3]
        );
        if exe && !path.is_empty() {
            writeln!(out, "{text}  {path}")
        } else {
            writeln!(out, "{text}")
        }
    };
    writeln!(
        out,
        "Network Traffic by {}, {} to {}",
        key_column(by),
        period.since,
        period.until
    )?;
    writeln!(out, "{}", "=".repeat(78))?;
    line(
        out,
        &key_column(by).to_uppercase(),
        ["RX".into(), "TX".into(), "RX_PKT".into(), "TX_PKT".into()],
        "EXE",
    )?;
    writeln!(out, "{}", "-".repeat(78))?;
    let mut total = netop_history::Traffic::default();
    for r in rows {
        total.add(&r.traffic);
        let t = &r.traffic;
        line(
            out,
            &key_cell(r),
            [
                bytes(t.rx_bytes),
                bytes(t.tx_bytes),
                t.rx_packets.to_string(),
                t.tx_packets.to_string(),
            ],
            &exe_cell(r),
        )?;
    }
    writeln!(out, "{}", "-".repeat(78))?;
    line(
        out,
        "TOTAL",
        [
            bytes(total.rx_bytes),
            bytes(total.tx_bytes),
            total.rx_packets.to_string(),
            total.tx_packets.to_string(),
        ],
        "",
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use netop_history::Traffic;

    use super::*;

    fn rows() -> Vec<Total> {
        let t = |rx, tx| Traffic {
            rx_bytes: rx,
            tx_bytes: tx,
            rx_packets: rx / 1400,
            tx_packets: tx / 1400,
        };
        vec![
            Total {
                key: "firefox".into(),
                exe: "/usr/lib/firefox-esr/firefox-esr".into(),
                traffic: t(6_442_450_944, 209_715_200),
            },
            Total {
                key: "curl".into(),
                exe: "/usr/bin/curl".into(),
                traffic: t(52_428_800, 1_048_576),
            },
            Total {
                key: "unknown".into(),
                exe: String::new(),
                traffic: t(45_000, 0),
            },
        ]
    }

    fn render(format: HistoryFormat, by: Grouping, rows: &[Total]) -> String {
        let period = Period {
            since: "2026-11-30T08:00:00Z".into(),
            until: "2026-12-01T08:00:00Z".into(),
        };
        let mut out = Vec::new();
        write(format, by, &period, rows, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    fn golden(name: &str, actual: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).expect("write golden");
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(actual, expected, "{name} differs from its golden file");
    }

    #[test]
    fn formats_match_golden() {
        golden(
            "history.tsv",
            &render(HistoryFormat::Tsv, Grouping::Process, &rows()),
        );
        golden(
            "history.json",
            &render(HistoryFormat::Json, Grouping::Process, &rows()),
        );
        golden(
            "history.pretty.txt",
            &render(HistoryFormat::Pretty, Grouping::Process, &rows()),
        );
    }

    #[test]
    fn json_rows_carry_the_snapshot_fields_and_the_grouping() {
        let v: serde_json::Value =
            serde_json::from_str(&render(HistoryFormat::Json, Grouping::Process, &rows()))
                .expect("json");
        let first = &v[0];
        for f in [
            "process",
            "rx_bytes",
            "tx_bytes",
            "rx_packets",
            "tx_packets",
            "exe",
        ] {
            assert!(first.get(f).is_some(), "{f}");
        }
        assert_eq!(first["exe"], "/usr/lib/firefox-esr/firefox-esr");
        assert!(v[2]["exe"].is_null(), "the unknown row has no path");
        let containers = vec![Total {
            key: String::new(),
            exe: String::new(),
            traffic: Traffic::default(),
        }];
        let v: serde_json::Value = serde_json::from_str(&render(
            HistoryFormat::Json,
            Grouping::Container,
            &containers,
        ))
        .expect("json");
        assert!(v[0]["container"].is_null());
        assert!(v[0].get("exe").is_none(), "a path only by process");
        assert!(render(HistoryFormat::Tsv, Grouping::Container, &containers).contains("\n-\t"));
    }
}
