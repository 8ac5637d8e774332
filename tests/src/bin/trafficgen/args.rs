//! `--key value` argument parsing with hard upper bounds on every number, so
//! a typo can't turn a test workload into an unbounded one.

use std::collections::HashMap;
use std::net::SocketAddr;

use anyhow::{bail, Context};

/// Largest byte count any subcommand accepts (per connection or in total).
pub const MAX_BYTES: u64 = 1 << 30;
/// Largest duration any subcommand accepts.
pub const MAX_SECONDS: u64 = 120;
/// Largest count of connections or datagrams.
pub const MAX_COUNT: u64 = 10_000;
/// Largest life and connection count of a server (`sink`, `udp-sink`) that
/// serves a benchmark's long wave of clients.
pub const MAX_SERVE_SECONDS: u64 = 3600;
pub const MAX_SERVE_CONNS: u64 = 200_000;

#[derive(Debug)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    pub fn parse(argv: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut argv = argv;
        while let Some(key) = argv.next() {
            let Some(name) = key.strip_prefix("--") else {
                bail!("expected --key, got {key:?}");
            };
            let value = argv
                .next()
                .with_context(|| format!("{key} needs a value"))?;
            values.insert(name.to_owned(), value);
        }
        Ok(Self { values })
    }

    fn raw(&self, key: &str) -> anyhow::Result<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("missing --{key}"))
    }

    /// A word, as given.
    pub fn text(&self, key: &str) -> anyhow::Result<&str> {
        self.raw(key)
    }

    pub fn addr(&self, key: &str) -> anyhow::Result<SocketAddr> {
        let raw = self.raw(key)?;
        raw.parse()
            .with_context(|| format!("--{key} {raw:?} is not ADDR:PORT"))
    }

    pub fn port(&self, key: &str) -> anyhow::Result<u16> {
        let raw = self.raw(key)?;
        raw.parse()
            .with_context(|| format!("--{key} {raw:?} is not a port"))
    }

    /// A number in `1..=max`, or `None` when the flag is absent.
    pub fn optional(&self, key: &str, max: u64) -> anyhow::Result<Option<u64>> {
        let Some(raw) = self.values.get(key) else {
            return Ok(None);
        };
        let value: u64 = raw
            .parse()
            .with_context(|| format!("--{key} {raw:?} is not a number"))?;
        if value == 0 || value > max {
            bail!("--{key} {value} is outside 1..={max}");
        }
        Ok(Some(value))
    }

    /// A number in `1..=max`, or `default` when the flag is absent.
    pub fn bounded(&self, key: &str, max: u64, default: Option<u64>) -> anyhow::Result<u64> {
        self.optional(key, max)?
            .or(default)
            .with_context(|| format!("missing --{key}"))
    }
}
