//! A test host: a network namespace joined to the root namespace by a veth
//! pair, with fixed addresses in 10.231.<subnet>.0/24 (.1 root side, .2 in
//! the namespace), static neighbours (no ARP) and IPv6 off (no ND/MLD noise),
//! so the only packets on the veth are the workload's.
//!
//! Names are `netop-t-<tag>` (namespace), `netop-t-<tag>h` (root-side veth)
//! and `netop-t-<tag>n` (namespace side). A test owns its tag: leftovers with
//! that name from a crashed run are removed before creation, and Drop removes
//! everything, including processes still running inside the namespace.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Prefix of every namespace, interface and scratch directory we create.
pub const PREFIX: &str = "netop-t-";
/// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

#[derive(Debug)]
pub struct Netns {
    pub name: String,
    /// The veth end in the root namespace: capture here.
    pub host_if: String,
    /// The veth end inside the namespace.
    pub ns_if: String,
    pub host_addr: Ipv4Addr,
    pub ns_addr: Ipv4Addr,
    pub host_mac: String,
    pub ns_mac: String,
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    run(Command::new("ip").args(args))
}

/// Runs `cmd`, failing with its stderr.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Netns {
    /// Creates the test host `tag` on 10.231.`subnet`.0/24. `tag` is 1-6
    /// lowercase letters or digits; each test uses its own tag and subnet.
    pub fn create(tag: &str, subnet: u8) -> anyhow::Result<Self> {
        let valid = !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let host_if = format!("{PREFIX}{tag}h");
        if !valid || host_if.len() > MAX_IFNAME {
            bail!("bad test host tag {tag:?}: use 1-6 lowercase letters or digits");
        }
        let netns = Self {
            name: format!("{PREFIX}{tag}"),
            ns_if: format!("{PREFIX}{tag}n"),
            host_if,
            host_addr: Ipv4Addr::new(10, 231, subnet, 1),
            ns_addr: Ipv4Addr::new(10, 231, subnet, 2),
            host_mac: format!("02:6e:74:{subnet:02x}:00:01"),
            ns_mac: format!("02:6e:74:{subnet:02x}:00:02"),
        };
        netns.remove();
        netns.check_subnet_free(subnet)?;
        // From here on, Drop cleans up whatever part got created.
        netns
            .setup()
            .with_context(|| format!("creating test host {}", netns.name))?;
        Ok(netns)
    }

    /// Refuses to add a second route to a subnet someone else is using.
    fn check_subnet_free(&self, subnet: u8) -> anyhow::Result<()> {
        let prefix = format!("10.231.{subnet}.0/24");
        let out = Command::new("ip")
            .args(["-o", "-4", "addr", "show", "to", &prefix])
            .output()
            .context("running ip addr show")?;
        let used = String::from_utf8_lossy(&out.stdout);
        if !used.trim().is_empty() {
            bail!("{prefix} is already in use on this machine:\n{used}");
        }
        Ok(())
    }

    fn setup(&self) -> anyhow::Result<()> {
        ip(&["netns", "add", &self.name])?;
        // New interfaces in the namespace inherit `default`: no IPv6 on them.
        // Best effort: a kernel without IPv6 has no such file.
        let _ = run(self.command("sh").args([
            "-c",
            "for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null; true",
        ]));
        self.link()
    }

    /// Deletes the veth pair (both ends), as a container's teardown does;
    /// processes in the namespace keep running.
    pub fn unlink(&self) -> anyhow::Result<()> {
        ip(&["link", "del", &self.host_if])
    }

    /// Makes the veth pair again after [`Netns::unlink`], with the same
    /// names, addresses and neighbours.
    pub fn relink(&self) -> anyhow::Result<()> {
        self.link()
            .with_context(|| format!("re-creating the link of {}", self.name))
    }

    fn link(&self) -> anyhow::Result<()> {
        let (name, host_if, ns_if) = (
            self.name.as_str(),
            self.host_if.as_str(),
            self.ns_if.as_str(),
        );
        let host_cidr = format!("{}/24", self.host_addr);
        let ns_cidr = format!("{}/24", self.ns_addr);
        ip(&[
            "link",
            "add",
            host_if,
            "address",
            &self.host_mac,
            "type",
            "veth",
            "peer",
            "name",
            ns_if,
            "address",
            &self.ns_mac,
            "netns",
            name,
        ])?;
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6"),
            "1",
        );
        ip(&["addr", "add", &host_cidr, "dev", host_if])?;
        ip(&[
            "neigh",
            "replace",
            &self.ns_addr.to_string(),
            "lladdr",
            &self.ns_mac,
            "dev",
            host_if,
            "nud",
            "permanent",
        ])?;
        ip(&["link", "set", host_if, "up"])?;
        let in_ns = |args: &[&str]| run(self.command("ip").args(args));
        in_ns(&["addr", "add", &ns_cidr, "dev", ns_if])?;
        in_ns(&[
            "neigh",
            "replace",
            &self.host_addr.to_string(),
            "lladdr",
            &self.host_mac,
            "dev",
            ns_if,
            "nud",
            "permanent",
        ])?;
        in_ns(&["link", "set", ns_if, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        self.wait_link_up(Duration::from_secs(5))
    }

    fn wait_link_up(&self, limit: Duration) -> anyhow::Result<()> {
        let path = format!("/sys/class/net/{}/operstate", self.host_if);
        let deadline = Instant::now() + limit;
        loop {
            let state = std::fs::read_to_string(&path).unwrap_or_default();
            if state.trim() == "up" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} is {:?}, not up, after {limit:?}",
                    self.host_if,
                    state.trim()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`
    /// execs it, so the child's PID is the program's).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// PIDs of the processes inside the namespace.
    pub fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Best-effort removal of everything named after this test host.
    fn remove(&self) {
        for pid in self.pids() {
            // Only processes inside our own namespace: ours, or a crashed run's.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Deleting one end of a veth pair deletes both.
        if std::path::Path::new(&format!("/sys/class/net/{}", self.host_if)).exists() {
            if let Err(e) = ip(&["link", "del", &self.host_if]) {
                eprintln!("cleanup: {e:#}");
            }
        }
        if std::path::Path::new(&format!("/run/netns/{}", self.name)).exists() {
            if let Err(e) = ip(&["netns", "del", &self.name]) {
                eprintln!("cleanup: {e:#}");
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.remove();
    }
}
