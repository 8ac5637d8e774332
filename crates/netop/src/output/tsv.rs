//! TSV: a header row, then one row per process; `-` and `unknown` for the
//! traffic without an owner. No comments, no section headers.

use std::io::{self, Write};

use netop_core::ProcessReport;

use super::{cell, COLUMNS};

pub fn write(rows: &[ProcessReport], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", COLUMNS.join("\t"))?;
    for r in rows {
        let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let c = &r.counters;
        writeln!(
            out,
            "{pid}\t{}\t{}\t{}\t{}\t{}",
            cell(&r.name),
            c.rx_bytes,
            c.tx_bytes,
            c.rx_packets,
            c.tx_packets
        )?;
    }
    Ok(())
}
