//! TSV: a header row, then one row per process; `-` and `unknown` for the
//! traffic without an owner. No comments, no section headers. With
//! `--containers` a trailing `container` column (`-` for none).

use std::io::{self, Write};

use netop_core::ProcessReport;

use super::{cell, container_cell, TableOptions};

pub fn write(rows: &[ProcessReport], options: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", options.columns().join("\t"))?;
    for r in rows {
        let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let c = &r.counters;
        write!(
            out,
            "{pid}\t{}\t{}\t{}\t{}\t{}",
            cell(&r.name),
            c.rx_bytes,
            c.tx_bytes,
            c.rx_packets,
            c.tx_packets
        )?;
        if options.containers {
            write!(out, "\t{}", container_cell(r))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
