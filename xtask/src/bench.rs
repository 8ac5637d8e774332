//! `cargo xtask bench`: the criterion benchmarks. Figures go to
//! docs/PERFORMANCE.md with the command that produced them.

use std::process::Command;

use anyhow::Result;

pub fn run(rest: &[String]) -> Result<()> {
    super::deps(super::PACKAGES)?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    cmd.args([
        "bench",
        "--package",
        "netop-core",
        "--features",
        "testing",
        "--bench",
        "ingest",
    ]);
    if rest.iter().any(|a| a == "--quick") {
        cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "3"]);
    }
    super::run(&mut cmd)?;
    let mut mem = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    mem.args([
        "run",
        "--release",
        "--package",
        "netop-core",
        "--features",
        "testing",
        "--example",
        "flow_memory",
    ]);
    super::run(&mut mem)
}
