//! The packaging test's system changes, each undone on Drop: the installed
//! `netop` package (purged), test users (`netop-t-*`, deleted) and the group
//! `netop` when the package created it (deleted, so the machine is left as
//! it was; the package itself keeps the group on purge, as Debian advises).

use std::process::{Command, Output};

use anyhow::{bail, Context};

/// Runs `program args`, returning its output whatever the exit status.
pub fn output(program: &str, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .with_context(|| format!("running {program} {args:?}"))
}

/// Runs `program args` and returns its stdout, failing with its stderr.
pub fn checked(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = output(program, args)?;
    if !out.status.success() {
        bail!(
            "{program} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `dpkg args`, waiting (up to two minutes) while another apt or dpkg
/// holds the dpkg lock: other jobs on the machine may be installing too.
pub fn dpkg(args: &[&str]) -> anyhow::Result<Output> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = output("dpkg", args)?;
        let locked = String::from_utf8_lossy(&out.stderr).contains("lock");
        if out.status.success() || !locked || std::time::Instant::now() >= deadline {
            return Ok(out);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// [`dpkg`], failing with its output when it fails.
fn dpkg_checked(args: &[&str]) -> anyhow::Result<()> {
    let out = dpkg(args)?;
    if !out.status.success() {
        bail!(
            "dpkg {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn group_exists(name: &str) -> bool {
    output("getent", &["group", name]).is_ok_and(|o| o.status.success())
}

fn user_exists(name: &str) -> bool {
    output("getent", &["passwd", name]).is_ok_and(|o| o.status.success())
}

/// An installed .deb of netop, purged on Drop with the users made for it.
#[derive(Debug)]
pub struct InstalledDeb {
    users: Vec<String>,
    group_was_there: bool,
    /// The system user `netop` (netop serve's) the package creates.
    user_was_there: bool,
}

impl InstalledDeb {
    /// Installs `deb` with `dpkg -i` (purging a leftover install and
    /// leftover test users first).
    pub fn install(deb: &std::path::Path) -> anyhow::Result<Self> {
        let _ = dpkg(&["--purge", "netop"]);
        for leftover in ["netop-t-member", "netop-t-other"] {
            if user_exists(leftover) {
                let _ = output("userdel", &[leftover]);
            }
        }
        let guard = InstalledDeb {
            users: Vec::new(),
            group_was_there: group_exists("netop"),
            user_was_there: user_exists("netop"),
        };
        let deb = deb.to_str().context("package path is not UTF-8")?;
        dpkg_checked(&["-i", deb])?;
        Ok(guard)
    }

    /// Adds a system user without a home, in the group `netop` or not.
    pub fn add_user(&mut self, name: &str, in_group: bool) -> anyhow::Result<()> {
        let mut args = vec!["--system", "--no-create-home", "--shell", "/bin/sh"];
        if in_group {
            args.extend(["--groups", "netop"]);
        }
        args.push(name);
        checked("useradd", &args)?;
        self.users.push(name.to_string());
        Ok(())
    }

    /// Purges the package now, failing if dpkg does.
    pub fn purge(&mut self) -> anyhow::Result<()> {
        dpkg_checked(&["--purge", "netop"])
    }
}

impl Drop for InstalledDeb {
    fn drop(&mut self) {
        let _ = dpkg(&["--purge", "netop"]);
        for user in &self.users {
            let _ = output("userdel", &[user]);
        }
        // The package's user first: a group cannot go while it is a
        // user's primary group.
        if !self.user_was_there && user_exists("netop") {
            let _ = output("userdel", &["netop"]);
        }
        if !self.group_was_there && group_exists("netop") {
            let _ = output("groupdel", &["netop"]);
        }
    }
}
