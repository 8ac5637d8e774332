//! Pretty: a titled table with IEC byte units and a TOTAL line, for people.
//! With `--containers` a last CONTAINER column (`-` for none), left open at
//! the right so a long name never shifts the other columns.

use std::io::{self, Write};

use netop_core::ProcessReport;

use super::units::iec_bytes;
use super::{cell, container_cell, TableOptions};

const WIDTH: usize = 78;
const NAME_WIDTH: usize = 20;
/// Room the rulers leave for the container: `containerd:` and a short id.
const CONTAINER_WIDTH: usize = 23;

fn line(
    out: &mut dyn Write,
    pid: &str,
    name: &str,
    cols: [&str; 4],
    container: Option<&str>,
) -> io::Result<()> {
    let name: String = name.chars().take(NAME_WIDTH).collect();
    let text = format!(
        "{pid:<8} {name:<NAME_WIDTH$} {:>12} {:>12} {:>10} {:>10}",
        cols[0], cols[1], cols[2], cols[3]
    );
    match container {
        // The TOTAL line has no container: no trailing blanks.
        Some(c) if !c.is_empty() => writeln!(out, "{text}  {c}"),
        _ => writeln!(out, "{text}"),
    }
}

pub fn write(rows: &[ProcessReport], options: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    let width = if options.containers {
        WIDTH + 2 + CONTAINER_WIDTH
    } else {
        WIDTH
    };
    let column = |text: String| options.containers.then_some(text);
    writeln!(out, "Per-Process Network Traffic")?;
    writeln!(out, "{}", "=".repeat(width))?;
    line(
        out,
        "PID",
        "PROCESS",
        ["RX", "TX", "RX_PKT", "TX_PKT"],
        column("CONTAINER".to_string()).as_deref(),
    )?;
    writeln!(out, "{}", "-".repeat(width))?;
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
            column(container_cell(r)).as_deref(),
        )?;
    }
    writeln!(out, "{}", "-".repeat(width))?;
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
        None,
    )
}
