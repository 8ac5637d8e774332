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
    // `netop serve`: /metrics and the ledger with 1,000 processes, and a
    // minute of history for as many.
    for (package, bench) in [("netop", "service"), ("netop-history", "write")] {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
        cmd.args(["bench", "--package", package, "--bench", bench]);
        if rest.iter().any(|a| a == "--quick") {
            cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "3"]);
        }
        super::run(&mut cmd)?;
    }
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

/// `cargo xtask bench-live [ARGS]`: builds netop and the e2e binaries in
/// release mode, then runs `livebench ARGS` as root (via sudo when needed):
/// live capture on a veth at the highest packet rate, netop against nethogs
/// and bandwhich, netop idle, issue 10's scenarios and issue 17's `spread`
/// (100,000 packets/s over 20,000 flows); `--only PHASE,...` picks phases,
/// `--netop PATH` measures another build (`livebench --help` lists them).
/// The markdown report goes to stdout.
pub fn live(rest: &[String]) -> Result<()> {
    super::deps(super::PACKAGES)?;
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    build.args([
        "build",
        "--release",
        "--package",
        "netop",
        "--package",
        "netop-e2e",
        "--bins",
    ]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    super::run(build.current_dir(&root))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    let bin = target.join("release/livebench");
    let mut cmd = if super::is_root() {
        Command::new(&bin)
    } else {
        let mut c = Command::new("sudo");
        c.args(["--preserve-env=LIVEBENCH_COMMAND,BANDWHICH"])
            .arg(&bin);
        c
    };
    let mut shown = vec!["cargo xtask bench-live".to_string()];
    shown.extend(rest.iter().cloned());
    cmd.args(rest).env("LIVEBENCH_COMMAND", shown.join(" "));
    super::run(&mut cmd)
}
