//! Snapshot output: the per-process table in the guide's three formats.
//!
//! The TSV columns and JSON fields are a contract with scripts; they are
//! defined here once (see [`COLUMNS`], and [`CONTAINER`] added at the end
//! only with `--containers`, so the guide's formats stay exact without it)
//! and pinned by golden tests. Output never contains ANSI escapes.

use std::io::{self, Write};

use netop_core::ProcessReport;

use netop_cli::Format;

pub mod dns_log;
pub mod history;
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

/// The column, and field, `--containers` adds after the guide's.
pub const CONTAINER: &str = "container";

/// What a table shows beyond the guide's columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// A last column with each process's container (`--containers`).
    pub containers: bool,
}

impl TableOptions {
    /// The columns of TSV and fields of JSON, in order.
    pub fn columns(self) -> Vec<&'static str> {
        let mut columns = COLUMNS.to_vec();
        if self.containers {
            columns.push(CONTAINER);
        }
        columns
    }
}

/// Writes the table in `format`. Rows arrive sorted.
pub fn write_table(
    format: Format,
    options: TableOptions,
    rows: &[ProcessReport],
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Tsv => tsv::write(rows, options, out),
        // The stream (`stream.rs`) writes its own lines; a table asked for
        // in NDJSON is the JSON table.
        Format::Json | Format::Ndjson => json::write(rows, options, out),
        Format::Pretty => pretty::write(rows, options, out),
    }?;
    out.flush()
}

/// A row's container as TSV and pretty show it: `runtime:name`, or `-`
/// (the guide's mark for a missing value) when it runs in none.
fn container_cell(row: &ProcessReport) -> String {
    row.container
        .as_ref()
        .map_or_else(|| "-".to_string(), |c| cell(&c.to_string()))
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
