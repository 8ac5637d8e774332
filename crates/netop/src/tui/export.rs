//! The export key: the current view's rows, as shown (filter, sort, pins),
//! as TSV (`e`) or JSON (`E`) text, and the file name it goes under
//! (`netop-process-20261202-045501.tsv`, the report's time in UTC). Pure:
//! the monitor's file thread writes it (the screen thread writes nothing).

use serde_json::{json, Value};

use super::rows::{self, WINDOWS};
use super::state::{AppState, View};

/// Which text an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Tsv,
    Json,
}

/// A file to write: its name (no directory) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub contents: String,
}

/// The current view as an export; `None` for the DNS view (its log has
/// `--dns-log` snapshots).
pub fn export(state: &AppState, format: ExportFormat) -> Option<Export> {
    let (header, rows) = table(state)?;
    let stamp = chrono::DateTime::from_timestamp(state.report.second as i64, 0)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|| state.report.second.to_string());
    let view = state.view.title().to_lowercase();
    let (ext, contents) = match format {
        ExportFormat::Tsv => {
            let mut text = header.join("\t");
            text.push('\n');
            for row in &rows {
                let cells: Vec<String> = row.iter().map(cell_text).collect();
                text.push_str(&cells.join("\t"));
                text.push('\n');
            }
            ("tsv", text)
        }
        ExportFormat::Json => {
            let objects: Vec<Value> = rows
                .iter()
                .map(|row| {
                    Value::Object(
                        header
                            .iter()
                            .zip(row)
                            .map(|(k, v)| ((*k).to_string(), v.clone()))
                            .collect(),
                    )
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&Value::Array(objects)).unwrap_or_default();
            text.push('\n');
            ("json", text)
        }
    };
    Some(Export {
        name: format!("netop-{view}-{stamp}.{ext}"),
        contents,
    })
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

type Table = (Vec<&'static str>, Vec<Vec<Value>>);

fn table(state: &AppState) -> Option<Table> {
    let windows = |h: &[(u64, u64)]| WINDOWS.map(|s| json!(rows::window_rate(h, s)));
    match state.view {
        View::Process => {
            let header = vec![
                "pid", "process", "user", "sockets", "conns", "rx_rate", "tx_rate", "rate_2s",
                "rate_10s", "rate_40s", "rx_bytes", "tx_bytes", "pinned",
            ];
            let rows = rows::process_lines(state)
                .into_iter()
                .filter_map(|l| match l {
                    rows::ProcessLine::Process { process: p, .. } => Some(p),
                    _ => None,
                })
                .map(|p| {
                    let [w2, w10, w40] = windows(&p.history);
                    vec![
                        json!(p.pid),
                        json!(p.name),
                        json!(p.user),
                        json!(p.sockets),
                        json!(p.conns),
                        json!(p.rate.rx),
                        json!(p.rate.tx),
                        w2,
                        w10,
                        w40,
                        json!(p.totals.rx_bytes),
                        json!(p.totals.tx_bytes),
                        json!(rows::is_pinned_process(state, p)),
                    ]
                })
                .collect();
            Some((header, rows))
        }
        View::Connection => {
            let header = vec![
                "pid", "process", "proto", "local", "remote", "state", "iface", "rx_rate",
                "tx_rate", "rate_2s", "rate_10s", "rate_40s", "rx_bytes", "tx_bytes",
            ];
            let rows = rows::connections(state)
                .into_iter()
                .map(|c| {
                    let [w2, w10, w40] = windows(&c.history);
                    vec![
                        json!(c.pid),
                        json!(c.process),
                        json!(c.key.proto.to_string()),
                        json!(
                            std::net::SocketAddr::new(c.key.local_ip, c.key.local_port).to_string()
                        ),
                        json!(super::state::remote_key(&c.key)),
                        json!(c.state.map(|s| s.as_str())),
                        json!(c.interface),
                        json!(c.rate.rx),
                        json!(c.rate.tx),
                        w2,
                        w10,
                        w40,
                        json!(c.totals.rx_bytes),
                        json!(c.totals.tx_bytes),
                    ]
                })
                .collect();
            Some((header, rows))
        }
        View::Interface => {
            let header = vec![
                "index", "name", "up", "rx_rate", "tx_rate", "rx_bytes", "tx_bytes",
            ];
            let rows = rows::interfaces(state)
                .into_iter()
                .map(|i| {
                    vec![
                        json!(i.index),
                        json!(i.name),
                        json!(i.up),
                        json!(i.rate.rx),
                        json!(i.rate.tx),
                        json!(i.totals.rx_bytes),
                        json!(i.totals.tx_bytes),
                    ]
                })
                .collect();
            Some((header, rows))
        }
        View::Dns => None,
    }
}
