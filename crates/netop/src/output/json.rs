//! JSON: an array of objects with the guide's fields in the guide's order;
//! `"pid": null` for the traffic without an owner, whose object also
//! carries `"reasons"`: its bytes split by why they have no owner. With
//! `--containers`, a `"container"` field after the guide's:
//! `"runtime:name"` or `null`. A process others moved bytes for (macOS
//! PKTAP's delegated traffic) carries `"delegates"`: their pids and names.

use std::io::{self, Write};

use netop_core::ProcessReport;
use serde::Serialize;

use super::TableOptions;

/// One element of the array. Field order is the output order.
#[derive(Serialize)]
struct Row<'a> {
    pid: Option<u32>,
    process: &'a str,
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
    /// Absent without `--containers`; with it, `null` when the process
    /// runs in no container.
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    delegates: Vec<Delegate<'a>>,
}

/// A process that moved bytes on the row's behalf.
#[derive(Serialize)]
struct Delegate<'a> {
    pid: u32,
    process: &'a str,
}

/// One reason of the unknown row.
#[derive(Serialize)]
struct Reason {
    reason: &'static str,
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
}

pub fn write(rows: &[ProcessReport], options: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<Row<'_>> = rows
        .iter()
        .map(|r| Row {
            pid: r.pid,
            process: &r.name,
            rx_bytes: r.counters.rx_bytes,
            tx_bytes: r.counters.tx_bytes,
            rx_packets: r.counters.rx_packets,
            tx_packets: r.counters.tx_packets,
            container: options
                .containers
                .then(|| r.container.as_ref().map(ToString::to_string)),
            reasons: r
                .reasons
                .iter()
                .map(|(why, c)| Reason {
                    reason: why.as_str(),
                    rx_bytes: c.rx_bytes,
                    tx_bytes: c.tx_bytes,
                    rx_packets: c.rx_packets,
                    tx_packets: c.tx_packets,
                })
                .collect(),
            delegates: r
                .delegates
                .iter()
                .map(|(pid, name)| Delegate {
                    pid: *pid,
                    process: name,
                })
                .collect(),
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows).map_err(io::Error::from)?;
    writeln!(out)
}
