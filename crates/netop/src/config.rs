//! The config file: what a user can set once instead of on every command
//! line, where netop looks for it, and how a saved preference goes back
//! into it.
//!
//! The file is TOML read through serde with `deny_unknown_fields`, so a
//! typo is an error, not a silently ignored key. Every error is one line
//! naming the file, the line and the key (exit code 2, as a bad flag).
//! Precedence: defaults < file < environment (`NETOP_*`) < flags
//! (`layer.rs`). netop never creates the file on its own (the guide
//! promises no files written): only `netop setup` writes one, and the
//! monitor saves what the user changes in it (sort, theme, pins) only when
//! it exists (`save.rs`). This module reads text and paths; the binary
//! decides when.

pub mod layer;
pub mod locate;
pub mod save;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// Everything the file may say. Every field is optional: what it leaves
/// out stays at its default (or what the environment and flags say).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Capture only on this interface.
    pub interface: Option<String>,
    /// The monitor's refresh, 0.2 to 60 seconds.
    #[serde(default, deserialize_with = "interval")]
    pub interval: Option<f64>,
    /// The monitor's first sort column.
    pub sort: Option<Sort>,
    /// The snapshot's default format.
    pub format: Option<Format>,
    /// The monitor's colours (see `tui/theme.rs`).
    #[serde(default, deserialize_with = "theme")]
    pub theme: Option<String>,
    /// Optional Process view columns to show (`user`, `sockets`, `conns`,
    /// `container`); all by default.
    pub columns: Option<Vec<Column>>,
    /// Show each process's container (`--containers`).
    pub containers: Option<bool>,
    /// The DNS observatory (`false` = `--no-dns`).
    pub dns: Option<bool>,
    /// The per-socket event source (`false` = `--no-events`).
    pub events: Option<bool>,
    /// How socket owners are found (`--owners`).
    pub owners: Option<Owners>,
    /// Where the monitor's export key writes (default: the working
    /// directory).
    pub export_dir: Option<PathBuf>,
    #[serde(default)]
    pub pins: Pins,
    #[serde(default)]
    pub alerts: Alerts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Traffic,
    Pid,
    Name,
    Connections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Tsv,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Owners {
    Auto,
    Events,
    Tracepoint,
    Polling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    User,
    Sockets,
    Conns,
    Container,
}

/// Rows kept on top of their view: processes by name, connections by
/// remote endpoint (`address:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    #[serde(default)]
    pub processes: Vec<String>,
    #[serde(default)]
    pub remotes: Vec<String>,
}

/// Rate thresholds, in bytes per second (a number, or a string such as
/// `"500K"` or `"2MB"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Any process or connection above this rate.
    #[serde(default, deserialize_with = "rate")]
    pub rate: Option<u64>,
    /// Per process name, overriding `rate` for that process.
    #[serde(default, deserialize_with = "rates")]
    pub processes: BTreeMap<String, u64>,
    /// Ring the terminal bell when a threshold is first crossed (default
    /// on).
    pub bell: Option<bool>,
}

fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.2..=60.0).contains(&v) {
        return Err(serde::de::Error::custom(format!(
            "{v} is out of range: use 0.2 to 60 seconds"
        )));
    }
    Ok(Some(v))
}

fn theme<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if !netop_cli::THEMES.contains(&name.as_str()) {
        return Err(serde::de::Error::custom(format!(
            "unknown theme '{name}'; use one of {}",
            netop_cli::THEMES.join(", ")
        )));
    }
    Ok(Some(name))
}

/// A rate written as a number of bytes per second or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum RateText {
    Number(u64),
    Text(String),
}

fn one_rate<E: serde::de::Error>(r: RateText) -> Result<u64, E> {
    match r {
        RateText::Number(n) => Ok(n),
        RateText::Text(t) => netop_cli::parse_rate(&t).map_err(E::custom),
    }
}

fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    one_rate(RateText::deserialize(d)?).map(Some)
}

fn rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u64>, D::Error> {
    BTreeMap::<String, RateText>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| one_rate(v).map(|v| (k, v)))
        .collect()
}

/// Why a config file was not used: one line, naming the file (and where
/// known, the line and key). The binary exits 2 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config file {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

/// Parses the text of the config file at `path` (named in errors only).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml_edit::de::from_str::<Config>(text).map_err(|e| {
        let (line, key) = match e.span() {
            Some(span) => {
                let (line, key) = where_in(text, span.start);
                (Some(line), key)
            }
            None => (None, None),
        };
        // toml's messages span several lines (a caret diagram for syntax
        // errors); the first line is the reason.
        let message = e.message().lines().next().unwrap_or("invalid").trim();
        ConfigError {
            path: path.to_path_buf(),
            line,
            key,
            message: message.to_string(),
        }
    })
}

/// The 1-based line of byte `at`, and the dotted key written there
/// (`alerts.rate`), when the line holds one.
fn where_in(text: &str, at: usize) -> (usize, Option<String>) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let mut table: Option<String> = None;
    for l in before.lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = Some(name.trim_matches(['[', ']', ' ']).to_string());
        }
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with('['));
    let key = match (table, key) {
        (Some(t), Some(k)) if !line.trim_start().starts_with('[') => Some(format!("{t}.{k}")),
        (_, k) => k,
    };
    (line_no, key)
}

/// Reads and parses the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, format!("cannot read it: {e}")))?;
    parse(&text, path)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
