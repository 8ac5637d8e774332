//! The Python package's tests (`bindings/python`): a virtual environment
//! in `target/python` with maturin and pytest from PyPI, the package built
//! into it by pip (`pip install ./bindings/python`, which runs maturin and
//! cargo), then pytest on `bindings/python/tests`. As root the end-to-end
//! test makes a network namespace; under `CI` nothing skips.
//!
//! `cargo xtask python` does both steps; `--setup-only` only the first
//! (it needs the network: PyPI), `--no-setup` only the second (it needs
//! none, so it runs inside `ci/isolated`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::run;

/// The virtual environment, beside the build's other outputs.
const VENV: &str = "target/python";

fn venv_bin(program: &str) -> PathBuf {
    Path::new(VENV).join("bin").join(program)
}

/// `PATH` with the environment's `bin` first (pip's build runs `maturin`
/// by name).
fn path_with_venv() -> Result<String> {
    let bin = std::fs::canonicalize(Path::new(VENV).join("bin"))
        .with_context(|| format!("{VENV}/bin is missing"))?;
    let rest = std::env::var("PATH").unwrap_or_default();
    Ok(format!("{}:{rest}", bin.display()))
}

/// Creates the environment (once), installs maturin and pytest, and
/// builds and installs the package from the working tree.
pub fn setup() -> Result<()> {
    if !venv_bin("python").exists() {
        run(Command::new("python3").args(["-m", "venv", VENV]))
            .context("creating the Python virtual environment (Debian: python3-venv)")?;
    }
    let pip = venv_bin("pip");
    run(Command::new(&pip).args(["install", "-q", "--upgrade", "maturin>=1.5,<2", "pytest"]))?;
    run(Command::new(&pip)
        .args([
            "install",
            "--no-build-isolation",
            "--force-reinstall",
            "--no-deps",
            "./bindings/python",
        ])
        .env("PATH", path_with_venv()?))
}

/// Runs pytest on the package's tests with the environment's Python.
pub fn pytest() -> Result<()> {
    let python = venv_bin("python");
    if !python.exists() {
        bail!("no {VENV}: run `cargo xtask python --setup-only` first");
    }
    let trafficgen = std::fs::canonicalize("target/debug/trafficgen")
        .context("target/debug/trafficgen is missing: cargo build -p netop-e2e --bins")?;
    run(Command::new(python)
        .args(["-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider"])
        .arg("bindings/python/tests")
        .env("NETOP_TRAFFICGEN", trafficgen)
        .env("PYTHONDONTWRITEBYTECODE", "1"))
}

/// `cargo xtask python [--setup-only|--no-setup]`.
pub fn cli(rest: &[String]) -> Result<()> {
    match rest.first().map(String::as_str) {
        None => {
            run(crate::cargo().args(["build", "-p", "netop-e2e", "--bin", "trafficgen"]))?;
            setup()?;
            pytest()
        }
        Some("--setup-only") => setup(),
        Some("--no-setup") => pytest(),
        Some(other) => bail!("unknown option {other:?}: use --setup-only or --no-setup"),
    }
}
