//! `cargo xtask fuzz [--seconds N]` (also part of `cargo xtask test`): runs
//! every cargo-fuzz target of `fuzz/` for N seconds (default 10, about a
//! minute for all of them) and fails on the first crash, naming the input
//! libFuzzer saved under `fuzz/artifacts/<target>/`.
//!
//! libFuzzer needs the nightly toolchain. Without it this says so and
//! skips, except under `CI`, where it fails. cargo-fuzz is installed with
//! `cargo install --locked cargo-fuzz` when missing (about 100 s on two
//! busy cores); the first build of the targets takes about 4 minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Seconds per target in `cargo xtask test`.
pub const TEST_SECONDS: u64 = 10;

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0")
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("fuzz"), |root| root.join("fuzz"))
}

/// `cargo +nightly fuzz ARGS` in `fuzz/`, building into `fuzz/target`
/// (nightly builds kept apart from the workspace's). The targets run
/// without AddressSanitizer (`-s none`): the parsers are safe Rust, where
/// a bug shows as a panic, which libFuzzer catches either way, and the
/// build takes a fraction of the time.
fn cargo_fuzz(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "fuzz"])
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"));
    cmd
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// `cargo xtask fuzz [--seconds N]`.
pub fn cli(rest: &[String]) -> Result<()> {
    let seconds = match rest {
        [] => TEST_SECONDS,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a number")?,
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    };
    run(seconds)
}

/// Runs every target for `seconds`.
pub fn run(seconds: u64) -> Result<()> {
    if !succeeds(Command::new("cargo").args(["+nightly", "--version"])) {
        let msg = "fuzzing needs the nightly toolchain (`rustup toolchain install nightly`)";
        if under_ci() {
            bail!("{msg}; under CI this is a failure");
        }
        eprintln!("xtask: skipped fuzzing: {msg}");
        return Ok(());
    }
    if !succeeds(Command::new("cargo").args(["fuzz", "--version"])) {
        super::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let dir = fuzz_dir();
    let list = cargo_fuzz(&dir, &["list"])
        .output()
        .context("cargo fuzz list")?;
    let targets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if targets.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    // Well-formed inputs to start from (frames, DNS over UDP and TCP,
    // cgroup texts), written by the core's fixtures.
    let seeds = dir.join("seeds");
    super::run(
        Command::new("cargo")
            .args(["run", "-q", "-p", "netop-core", "--features", "testing"])
            .args(["--example", "fuzz_seeds", "--"])
            .arg(&seeds),
    )?;
    super::run(&mut cargo_fuzz(&dir, &["build", "-O", "-s", "none"]))?;
    for target in &targets {
        let corpus = dir.join("corpus").join(target);
        let seed = seeds.join(target);
        std::fs::create_dir_all(&corpus).context("creating the corpus directory")?;
        std::fs::create_dir_all(&seed).context("creating the seed directory")?;
        let result = super::run(
            cargo_fuzz(&dir, &["run", "-O", "-s", "none", target])
                .arg(&corpus)
                .arg(&seed)
                .arg("--")
                .arg(format!("-max_total_time={seconds}")),
        );
        if result.is_err() {
            bail!(
                "fuzz target {target} crashed; the input is in {}/artifacts/{target}/: \
                 add it as a regression test named after it (see CONTRIBUTING.md)",
                dir.display()
            );
        }
    }
    Ok(())
}
