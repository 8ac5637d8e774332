//! Entry gate of every privileged test: root check, one workload at a time,
//! and the external tools (`ip`, `tcpdump`) being present.
//!
//! Not root: a failure under `CI` (CI runs as root, so a missing privilege
//! there is a broken setup), a printed skip elsewhere.

use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use anyhow::{bail, Context};

/// Held for the whole of a privileged test.
///
/// Workloads run one at a time: netop on the `any` device sees every test
/// host's traffic, and a parallel test would show up as someone else's bytes
/// (or as unknown ones). Each test still uses its own names, addresses and
/// ports, so the serialisation is only about measurement, not about safety.
#[derive(Debug)]
pub struct Session {
    _exclusive: MutexGuard<'static, ()>,
}

/// Returns `Ok(None)` when the test should be skipped (not root, not in CI).
pub fn begin() -> anyhow::Result<Option<Session>> {
    if !nix::unistd::geteuid().is_root() {
        if netop_core::testing::in_ci() {
            bail!("netop end-to-end tests need root (they create network namespaces and capture packets); CI is set, so this is a failure, not a skip");
        }
        netop_core::testing::skip("needs root");
        return Ok(None);
    }
    static LOCK: Mutex<()> = Mutex::new(());
    // A panicking test poisons the lock; the next test can still run.
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    ensure_tools()?;
    Ok(Some(Session { _exclusive: guard }))
}

fn works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Checks for `ip` and `tcpdump`, installing tcpdump with apt-get when it is
/// missing (once per process).
fn ensure_tools() -> anyhow::Result<()> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        if !works("ip", "-V") {
            return Err("`ip` (Debian package iproute2) is not installed".into());
        }
        if !works("tcpdump", "--version") {
            install_tcpdump().map_err(|e| format!("{e:#}"))?;
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(()),
        Err(msg) => bail!("{msg}"),
    }
}

fn install_tcpdump() -> anyhow::Result<()> {
    eprintln!("tcpdump is missing; installing it with apt-get (CI should install the package `tcpdump` itself)");
    install_package("tcpdump", "tcpdump", "--version")
}

/// Installs the Debian `package` with apt-get (as root), then checks that
/// `program arg` runs. Refreshes the package lists only when a first try
/// fails (a fresh machine may have none yet).
pub fn install_package(package: &str, program: &str, arg: &str) -> anyhow::Result<()> {
    let apt = |args: &[&str]| -> anyhow::Result<bool> {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .context("running apt-get")?;
        Ok(out.status.success())
    };
    if !apt(&["install", "-y", "-q", package])? {
        apt(&["update", "-q"])?;
        apt(&["install", "-y", "-q", package])?;
    }
    if !works(program, arg) {
        bail!("{program} is not installed and `apt-get install -y {package}` did not install it; install the Debian package `{package}`");
    }
    Ok(())
}
