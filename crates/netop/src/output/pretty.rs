//! Pretty: a titled table with IEC byte units and a TOTAL line, for people.

use std::io::{self, Write};

use netop_core::ProcessReport;

use super::cell;
use super::units::iec_bytes;

const WIDTH: usize = 78;
const NAME_WIDTH: usize = 20;

fn line(out: &mut dyn Write, pid: &str, name: &str, cols: [&str; 4]) -> io::Result<()> {
    let name: String = name.chars().take(NAME_WIDTH).collect();
    writeln!(
        out,
        "{pid:<8} {name:<NAME_WIDTH$} {:>12} {:>12} {:>10} {:>10}",
        cols[0], cols[1], cols[2], cols[3]
    )
}

pub fn write(rows: &[ProcessReport], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Per-Process Network Traffic")?;
    writeln!(out, "{}", "=".repeat(WIDTH))?;
    line(out, "PID", "PROCESS", ["RX", "TX", "RX_PKT", "TX_PKT"])?;
    writeln!(out, "{}", "-".repeat(WIDTH))?;
    let mut total = netop_core::flow::Counters::default();
    for r in rows {
        let c = &r.counters;
        total.merge(c);
        let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        line(
            out,
            &pid,
            &cell(&r.name),
            [
                &iec_bytes(c.rx_bytes),
                &iec_bytes(c.tx_bytes),
                &c.rx_packets.to_string(),
                &c.tx_packets.to_string(),
            ],
        )?;
    }
    writeln!(out, "{}", "-".repeat(WIDTH))?;
    line(
        out,
        "",
        "TOTAL",
        [
            &iec_bytes(total.rx_bytes),
            &iec_bytes(total.tx_bytes),
            &total.rx_packets.to_string(),
            &total.tx_packets.to_string(),
        ],
    )
}
