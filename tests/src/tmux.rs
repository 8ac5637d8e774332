//! A detached tmux session running one command, for driving the monitor
//! (it only runs in a terminal): the monitor's end-to-end tests and the
//! live benchmark's processes scenario. Killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A detached tmux session running one command; killed on drop.
#[derive(Debug)]
pub struct Tmux {
    session: String,
}

impl Tmux {
    pub fn start(tag: &str, command: &str, size: (u16, u16)) -> anyhow::Result<Tmux> {
        crate::install_package("tmux", "tmux", "-V")?;
        let session = format!("netop-t-{tag}");
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &session])
            .output();
        // The pane keeps the exit status on screen after netop ends.
        let shell = format!("{command}; echo EXIT=$?; sleep 60");
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session])
            .args(["-x", &size.0.to_string(), "-y", &size.1.to_string()])
            .arg(shell)
            .env("TERM", "xterm-256color")
            .status()
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(Tmux { session })
    }

    fn tmux(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("tmux")
            .args(args)
            .output()
            .context("running tmux")?;
        if !out.status.success() {
            bail!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Sends keys by tmux name (`Enter`, `Escape`) or as literal text.
    pub fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        for k in keys {
            let literal =
                k.chars().count() == 1 || !k.chars().next().is_some_and(char::is_uppercase);
            let mut args = vec!["send-keys", "-t", self.session.as_str()];
            if literal {
                args.push("-l");
            }
            args.push(k);
            self.tmux(&args)?;
        }
        Ok(())
    }

    /// Resizes the window (and its pane) to `size` columns and rows.
    pub fn resize(&self, size: (u16, u16)) -> anyhow::Result<()> {
        let (x, y) = (size.0.to_string(), size.1.to_string());
        self.tmux(&["resize-window", "-t", &self.session, "-x", &x, "-y", &y])
            .map(drop)
    }

    pub fn screen(&self) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// A pane variable, e.g. `alternate_on`.
    pub fn flag(&self, name: &str) -> anyhow::Result<String> {
        Ok(self
            .tmux(&[
                "display-message",
                "-p",
                "-t",
                &self.session,
                &format!("#{{{name}}}"),
            ])?
            .trim()
            .to_string())
    }

    /// Waits until the screen satisfies `ok`; returns it.
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        self.wait_within(what, Duration::from_secs(15), ok)
    }

    /// [`Tmux::wait_for`] with another limit.
    pub fn wait_within(
        &self,
        what: &str,
        limit: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let screen = self.screen()?;
            if ok(&screen) {
                return Ok(screen);
            }
            if start.elapsed() > limit {
                bail!("waited {limit:?} for {what}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of the pane's command (netop): the pane shell's child.
    pub fn command_pid(&self) -> anyhow::Result<u32> {
        let shell = self.flag("pane_pid")?;
        let path = format!("/proc/{shell}/task/{shell}/children");
        let children = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        children
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .with_context(|| format!("no child under the pane's shell {shell}"))
    }

    /// The terminal is as the shell left it: main screen, cursor shown, no
    /// mouse reporting.
    pub fn assert_restored(&self) -> anyhow::Result<()> {
        for (flag, want) in [
            ("alternate_on", "0"),
            ("cursor_flag", "1"),
            ("mouse_any_flag", "0"),
        ] {
            let got = self.flag(flag)?;
            if got != want {
                bail!("terminal not restored: {flag} is {got}, expected {want}");
            }
        }
        Ok(())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}
