//! Pieces of a container host's network beyond a test host's veth: a
//! Linux bridge the container's veth is enslaved to (Docker's and Podman's
//! default), per-interface forwarding, and nftables tables (masquerade,
//! published ports). Each is undone on drop.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::netns::{run, Netns, PREFIX};

/// A bridge holding a test host's root-side veth as its port; the test
/// host's gateway address (and MAC) move from the veth to the bridge.
/// Removed on drop.
#[derive(Debug)]
pub struct Bridge {
    pub name: String,
}

impl Bridge {
    /// Makes `netop-t-<tag>` and enslaves `host`'s veth to it.
    pub fn attach(tag: &str, host: &Netns) -> anyhow::Result<Self> {
        let name = format!("{PREFIX}{tag}");
        if name.len() > 15 {
            bail!("bridge name {name:?} is too long");
        }
        if std::path::Path::new(&format!("/sys/class/net/{name}")).exists() {
            let _ = ip(&["link", "del", &name]);
        }
        let bridge = Bridge { name };
        bridge
            .setup(host)
            .with_context(|| format!("bridging {}", host.host_if))?;
        Ok(bridge)
    }

    fn setup(&self, host: &Netns) -> anyhow::Result<()> {
        let br = self.name.as_str();
        // The bridge takes the gateway's MAC: the test host's permanent
        // neighbour entry for its gateway stays right. The port gets
        // another, so the two never share one.
        ip(&[
            "link",
            "add",
            br,
            "address",
            &host.host_mac,
            "type",
            "bridge",
        ])?;
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{br}/disable_ipv6"), "1");
        ip(&["addr", "flush", "dev", &host.host_if])?;
        let port_mac = format!("{}:ff", &host.host_mac[..14]);
        ip(&["link", "set", &host.host_if, "address", &port_mac])?;
        ip(&["link", "set", &host.host_if, "master", br])?;
        ip(&["addr", "add", &format!("{}/24", host.host_addr), "dev", br])?;
        ip(&["link", "set", br, "up"])?;
        ip(&[
            "neigh",
            "replace",
            &host.ns_addr.to_string(),
            "lladdr",
            &host.ns_mac,
            "dev",
            br,
            "nud",
            "permanent",
        ])?;
        wait_up(br)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Err(e) = ip(&["link", "del", &self.name]) {
            eprintln!("cleanup: {e:#}");
        }
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    run(Command::new("ip").args(args))
}

fn wait_up(iface: &str) -> anyhow::Result<()> {
    let path = format!("/sys/class/net/{iface}/operstate");
    for _ in 0..500 {
        let state = std::fs::read_to_string(&path).unwrap_or_default();
        if state.trim() == "up" {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    bail!("{iface} did not come up within 5 s")
}

/// Sets a sysctl by its dotted name.
pub fn sysctl(key: &str, value: &str) -> anyhow::Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).with_context(|| format!("writing {path}"))
}

/// An nftables table made from a script; deleted on drop.
#[derive(Debug)]
pub struct NftTable {
    name: String,
}

impl NftTable {
    /// Runs `script` (which must `add table ip <name>`).
    pub fn create(name: &str, script: &str) -> anyhow::Result<Self> {
        crate::install_package("nftables", "nft", "--version")?;
        let _ = nft(&format!("delete table ip {name}\n"));
        nft(script)?;
        Ok(NftTable {
            name: name.to_owned(),
        })
    }
}

impl Drop for NftTable {
    fn drop(&mut self) {
        if let Err(e) = nft(&format!("delete table ip {}\n", self.name)) {
            eprintln!("cleanup: {e:#}");
        }
    }
}

fn nft(script: &str) -> anyhow::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft")?;
    child
        .stdin
        .take()
        .context("nft stdin")?
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "nft failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
