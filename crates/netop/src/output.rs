//! Snapshot output: the per-process table in the guide's three formats.
//!
//! The TSV columns and JSON fields are a contract with scripts; they are
//! defined here once (see [`COLUMNS`]) and pinned by golden tests. Output
//! never contains ANSI escapes.

use std::io::{self, Write};

use netop_core::ProcessReport;

use crate::args::Format;

pub mod dns_log;
mod json;
mod pretty;
mod tsv;
pub mod units;

/// Column names of TSV, and field names of JSON, in order.
pub const COLUMNS: [&str; 6] = [
    "pid",
    "process",
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
];

/// Writes the table in `format`. Rows arrive sorted.
pub fn write_table(format: Format, rows: &[ProcessReport], out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Tsv => tsv::write(rows, out),
        Format::Json => json::write(rows, out),
        Format::Pretty => pretty::write(rows, out),
    }?;
    out.flush()
}

/// A process name made safe for one cell: control characters (tabs,
/// newlines, escapes) become `?`.
fn cell(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
