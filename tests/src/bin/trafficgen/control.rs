//! The stdout/stdin protocol with the test harness and the watchdog.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};

/// How long a client waits for `go` before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Ends the process with status 3 once `limit` has passed, whatever it is
/// doing: the last line of defence that keeps every workload bounded in time.
pub fn arm_watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        println!("error watchdog: still running after {}s", limit.as_secs());
        std::process::exit(3);
    });
}

/// Prints one protocol line and flushes it, so the harness sees it at once.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A vanished harness is not this process's problem: the watchdog ends it.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Announces `ready` and blocks until the harness writes `go` on stdin.
pub fn ready_then_wait_for_go() -> anyhow::Result<()> {
    say("ready");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
    });
    let line = rx
        .recv_timeout(START_TIMEOUT)
        .context("no start signal on stdin")?
        .context("reading the start signal")?;
    if line.trim() != "go" {
        bail!("expected `go` on stdin, got {:?}", line.trim());
    }
    Ok(())
}
