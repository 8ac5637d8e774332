//! A spawned process under a Drop guard, with its output read line by line in
//! the background so every wait on it can have a deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Poll period of [`Proc::wait_exit`]; every wait also has a deadline.
const POLL: Duration = Duration::from_millis(10);

/// A child process that is killed (SIGKILL) and reaped on Drop if it is still
/// running.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    exited: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` with piped stdin, stdout and stderr. `name` labels errors.
    pub fn spawn(name: impl Into<String>, mut cmd: Command) -> anyhow::Result<Self> {
        let name = name.into();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        let (tx, stdout) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = err.read(&mut buf) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Self {
            name,
            child,
            stdin,
            stdout,
            stdout_seen: Vec::new(),
            stderr,
            exited: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until a stdout line starts with `prefix` and returns it. Lines
    /// before it are kept for [`Proc::stdout`] and error messages.
    pub fn expect_line(&mut self, prefix: &str, limit: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.stdout_seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!(
                    "{}: no `{prefix}` line within {limit:?}\n{}",
                    self.name,
                    self.describe()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(Duration::from_secs(2)).ok();
                    bail!(
                        "{}: stdout closed before a `{prefix}` line (exit: {status:?})\n{}",
                        self.name,
                        self.describe()
                    )
                }
            }
        }
    }

    /// Writes one line on the process's stdin.
    pub fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("writing {line:?} to {}", self.name))
    }

    /// Closes stdin: the process reads EOF, as under `< /dev/null`.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.pid()).context("pid out of range")?);
        nix::sys::signal::kill(pid, signal).with_context(|| format!("{signal} to {}", self.name))
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait()?;
        }
        Ok(self.exited)
    }

    /// Waits for the process to end, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} still running after {limit:?}", self.name);
            }
            std::thread::sleep(POLL);
        }
    }

    /// All of stdout, once the process has ended (waits for the reader to
    /// reach EOF, at most `limit`).
    pub fn stdout(&mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => self.stdout_seen.push(line),
                Err(_) => break,
            }
        }
        self.stdout_seen.join("\n")
    }

    /// Stdout seen so far and stderr, for error messages.
    /// Waits until this process holds a bound, running packet socket (its
    /// capture is open), failing if it exits first or `limit` passes.
    pub fn wait_capturing(&mut self, limit: std::time::Duration) -> anyhow::Result<()> {
        self.wait_packet_socket(limit, true)
    }

    /// [`Proc::wait_capturing`]; with `ring` false a bound, running packet
    /// socket is enough (a reader that maps no ring).
    pub fn wait_packet_socket(
        &mut self,
        limit: std::time::Duration,
        ring: bool,
    ) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            // A ring reader (netop) may count in the kernel instead.
            if crate::netop::has_packet_socket(self.pid(), ring)
                || (ring && crate::netop::counts_in_kernel(self.pid()))
            {
                return Ok(());
            }
            if let Some(status) = self.try_exit()? {
                anyhow::bail!("exited ({status}) before capturing:\n{}", self.describe());
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "no packet socket nor kernel counting within {limit:?}:\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits until this process holds a UDP socket bound to local `port`
    /// (read from its own network namespace's `/proc/PID/net/udp{,6}` and
    /// its fd table): a server that says it started binds a moment later.
    pub fn wait_udp_bound(&mut self, port: u16, limit: std::time::Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if holds_udp_port(self.pid(), port) {
                return Ok(());
            }
            if let Some(status) = self.try_exit()? {
                anyhow::bail!(
                    "exited ({status}) before binding UDP port {port}:\n{}",
                    self.describe()
                );
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "no UDP socket on port {port} within {limit:?}:\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            self.stdout_seen.join("\n"),
            self.name,
            self.stderr().trim_end()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.try_exit(), Ok(Some(_))) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `done key=value ...` line of a trafficgen process.
#[derive(Debug, Clone, Default)]
pub struct Done {
    pub fields: BTreeMap<String, u64>,
}

impl Done {
    pub fn parse(line: &str) -> anyhow::Result<Self> {
        let rest = line
            .strip_prefix("done")
            .with_context(|| format!("not a done line: {line:?}"))?;
        let mut fields = BTreeMap::new();
        for pair in rest.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("bad field {pair:?} in {line:?}"))?;
            let value = value
                .parse()
                .with_context(|| format!("bad number in {pair:?}"))?;
            fields.insert(key.to_owned(), value);
        }
        Ok(Self { fields })
    }

    pub fn get(&self, key: &str) -> u64 {
        self.fields.get(key).copied().unwrap_or(0)
    }
}

/// Whether `pid` holds a UDP socket bound to local `port`.
fn holds_udp_port(pid: u32, port: u16) -> bool {
    let wanted = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["udp", "udp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        // Columns: sl local_address rem_address st ... uid timeout inode
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(1).is_some_and(|local| local.ends_with(&wanted)) {
                if let Some(inode) = cols.get(9) {
                    inodes.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| *i == *target.to_string_lossy()))
    })
}

#[cfg(test)]
mod tests {
    use super::Done;

    #[test]
    fn done_line_fields_are_parsed() {
        let done = Done::parse("done sent=10 recv=3 conns=2").expect("valid line");
        assert_eq!(done.get("sent"), 10);
        assert_eq!(done.get("recv"), 3);
        assert_eq!(done.get("missing"), 0);
        assert!(Done::parse("ready").is_err());
    }
}
