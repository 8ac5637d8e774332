//! A detached tmux session running the monitor, for the processes
//! scenario: the monitor is what keeps state for every process it shows,
//! and it only runs in a terminal. Killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct Tmux {
    session: String,
}

impl Tmux {
    /// Starts `command` in a `size` pane of a new session `name`; the pane
    /// keeps the exit status on screen (`EXIT=N`) after it ends.
    pub fn start(name: &str, command: &str, size: (u16, u16)) -> anyhow::Result<Self> {
        netop_e2e::install_package("tmux", "tmux", "-V")?;
        let session = name.to_owned();
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &session])
            .output();
        let shell = format!("{command}; echo EXIT=$?; sleep 60");
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session])
            .args(["-x", &size.0.to_string(), "-y", &size.1.to_string()])
            .arg(shell)
            .env("TERM", "xterm-256color")
            .env("NO_COLOR", "1")
            .status()
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(Self { session })
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

    /// Types `text` literally.
    pub fn keys(&self, text: &str) -> anyhow::Result<()> {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text])
            .map(drop)
    }

    pub fn screen(&self) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits at most `limit` until the screen satisfies `ok`; returns it.
    pub fn wait_for(
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
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The pid of the pane's command: the only child of the pane's shell.
    pub fn command_pid(&self) -> anyhow::Result<u32> {
        let shell = self.tmux(&["display-message", "-p", "-t", &self.session, "#{pane_pid}"])?;
        let shell = shell.trim();
        let path = format!("/proc/{shell}/task/{shell}/children");
        let children = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        children
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .with_context(|| format!("no child under the pane's shell {shell}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}
