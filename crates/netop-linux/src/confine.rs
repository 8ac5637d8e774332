//! Least privilege after start-up.
//!
//! netop parses whatever arrives on the wire and usually runs as root. Once
//! the capture is open, the event source loaded and the netlink sockets
//! open, it needs only a few capabilities, so it sets `no_new_privs`, keeps
//! [`KEPT`] (each with the reason it is still needed) and drops every
//! other one from its effective, permitted, inheritable, ambient and
//! bounding sets; the packet thread keeps only [`PACKET_KEPT`]. Where the
//! kernel has Landlock, a thread that asks for it is then limited to
//! reading [`READ_ONLY`] and to the paths the caller asks to write.
//!
//! Landlock also denies a confined thread ptrace-mode access to every
//! process outside its domain, and reading another process's
//! `/proc/PID/fd` or `/proc/PID/ns/net` is such an access: the thread that
//! finds socket owners (`owner_thread.rs`) therefore drops capabilities
//! but is not Landlocked. Every other long-lived thread is: the thread
//! that captures and parses packets, the monitor's screen, its file
//! thread, `netop serve`'s writer and HTTP threads.
//!
//! Landlock is asked for at ABI 5 (file access, truncate, device ioctls)
//! in best-effort mode: a kernel with an older ABI enforces what it knows
//! ([`Landlock::Partial`]), one without Landlock nothing
//! ([`Landlock::Unsupported`]); the run goes on either way.
//!
//! Capabilities, `no_new_privs` and Landlock domains belong to a thread:
//! [`after_startup`] confines the calling thread (and the threads it starts
//! later), so every long-lived thread calls it once. It never fails the
//! run: what could not be done is logged and told in [`Confinement`].

use std::path::{Path, PathBuf};

use caps::{CapSet, Capability, CapsHashSet};

/// The capabilities netop keeps after start-up, and why.
pub const KEPT: [(Capability, &str); 5] = [
    (
        Capability::CAP_NET_RAW,
        "re-open a lost capture (a packet socket)",
    ),
    (
        Capability::CAP_NET_ADMIN,
        "conntrack queries (NAT mapping) and libpcap's interface set-up on re-opening",
    ),
    (
        Capability::CAP_SYS_ADMIN,
        "enter network namespaces created during the run (setns)",
    ),
    (
        Capability::CAP_SYS_PTRACE,
        "read other users' /proc/PID/fd and /proc/PID/ns/net (ptrace access check)",
    ),
    (
        Capability::CAP_DAC_READ_SEARCH,
        "list other users' /proc/PID/fd directories (mode 0500)",
    ),
];

/// What the packet thread keeps of [`KEPT`]: it re-opens a lost capture
/// but no longer searches owners (`owner_thread.rs`), so it needs neither
/// `/proc/PID/fd` nor `setns`.
pub const PACKET_KEPT: [Capability; 2] = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN];

/// Trees netop reads during a run: processes, interfaces and counters,
/// resolver configuration, named namespaces, systemd-resolved's files,
/// and the time zone `/etc/localtime` points into.
pub const READ_ONLY: [&str; 6] = [
    "/proc",
    "/sys",
    "/etc",
    "/run/netns",
    "/run/systemd/resolve",
    "/usr/share/zoneinfo",
];

/// Landlock's state after [`after_startup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landlock {
    /// Not asked for (the owner thread: it reads other processes'
    /// `/proc` entries).
    NotAsked,
    /// Every requested restriction is enforced.
    Enforced,
    /// The kernel's Landlock is older: some rights are not restricted.
    Partial,
    /// The kernel has no Landlock (or it is disabled).
    Unsupported,
    /// Setting it up failed: the message.
    Failed(String),
}

/// What the calling thread holds after [`after_startup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub no_new_privs: bool,
    /// Effective capabilities now, sorted.
    pub effective: Vec<Capability>,
    pub landlock: Landlock,
}

impl Confinement {
    /// One line for `--diagnostics` and logs.
    pub fn describe(&self) -> String {
        let caps = if self.effective.is_empty() {
            "none".to_string()
        } else {
            self.effective
                .iter()
                .map(|c| c.to_string().to_lowercase())
                .collect::<Vec<_>>()
                .join(",")
        };
        let landlock = match &self.landlock {
            Landlock::NotAsked => "no landlock (this thread reads /proc/PID/fd)".to_string(),
            Landlock::Enforced => "landlock enforced".to_string(),
            Landlock::Partial => "landlock partly enforced (older kernel)".to_string(),
            Landlock::Unsupported => "no landlock (kernel without it)".to_string(),
            Landlock::Failed(e) => format!("landlock failed ({e})"),
        };
        format!(
            "capabilities {caps}; no_new_privs {}; {landlock}",
            if self.no_new_privs { "on" } else { "off" }
        )
    }
}

/// Confines the calling thread: `no_new_privs`, only [`KEPT`]
/// capabilities, and with `landlock` (the paths to write) Landlock:
/// reading [`READ_ONLY`], reading and writing those paths and the
/// terminal devices under `/dev`.
pub fn after_startup(landlock: Option<&[PathBuf]>) -> Confinement {
    after_startup_keeping(landlock, &kept())
}

/// The packet thread's confinement: [`after_startup`] keeping only
/// [`PACKET_KEPT`], and Landlock writing nothing.
pub fn packet_thread() -> Confinement {
    after_startup_keeping(Some(&[]), &PACKET_KEPT.into_iter().collect())
}

fn after_startup_keeping(landlock: Option<&[PathBuf]>, keep: &CapsHashSet) -> Confinement {
    set_no_new_privs();
    drop_capabilities(keep);
    let landlock = landlock.map_or(Landlock::NotAsked, restrict_files);
    let confinement = Confinement {
        no_new_privs: no_new_privs(),
        effective: effective(),
        landlock,
    };
    tracing::debug!(confinement = %confinement.describe(), "confined after start-up");
    confinement
}

fn kept() -> CapsHashSet {
    KEPT.iter().map(|(c, _)| *c).collect()
}

fn set_no_new_privs() {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot set no_new_privs");
    }
}

fn no_new_privs() -> bool {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes plain integers and touches no memory.
    unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 }
}

/// Bounding set first (that needs CAP_SETPCAP, dropped after), then the
/// ambient, inheritable, effective and permitted sets.
fn drop_capabilities(keep: &CapsHashSet) {
    if let Ok(bounding) = caps::read(None, CapSet::Bounding) {
        for cap in bounding.difference(keep) {
            if let Err(e) = caps::drop(None, CapSet::Bounding, *cap) {
                tracing::debug!(%cap, error = %e, "cannot drop from the bounding set");
            }
        }
    }
    for (set, value) in [
        (CapSet::Ambient, None),
        (CapSet::Inheritable, Some(CapsHashSet::new())),
    ] {
        let result = match value {
            None => caps::clear(None, set),
            Some(v) => caps::set(None, set, &v),
        };
        if let Err(e) = result {
            tracing::debug!(?set, error = %e, "cannot clear capability set");
        }
    }
    let permitted = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let now: CapsHashSet = permitted.intersection(keep).copied().collect();
    if let Err(e) = caps::set(None, CapSet::Effective, &now) {
        tracing::warn!(error = %e, "cannot reduce the effective capabilities");
    }
    if let Err(e) = caps::set(None, CapSet::Permitted, &now) {
        tracing::warn!(error = %e, "cannot reduce the permitted capabilities");
    }
}

fn effective() -> Vec<Capability> {
    let mut caps: Vec<Capability> = caps::read(None, CapSet::Effective)
        .unwrap_or_default()
        .into_iter()
        .collect();
    caps.sort_by_key(|c| c.index());
    caps
}

fn restrict_files(writable: &[PathBuf]) -> Landlock {
    use landlock::{
        path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, ABI,
    };

    let abi = ABI::V5;
    let existing = |paths: Vec<&Path>| -> Vec<PathBuf> {
        paths
            .into_iter()
            .filter(|p| p.exists())
            .map(Path::to_path_buf)
            .collect()
    };
    let read_only = existing(READ_ONLY.iter().map(Path::new).collect());
    let read_write = existing(
        writable
            .iter()
            .map(PathBuf::as_path)
            .chain([
                Path::new("/dev/tty"),
                Path::new("/dev/pts"),
                Path::new("/dev/null"),
            ])
            .collect(),
    );
    let result = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&read_only, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&read_write, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self());
    match result {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => Landlock::Enforced,
            RulesetStatus::PartiallyEnforced => Landlock::Partial,
            RulesetStatus::NotEnforced => Landlock::Unsupported,
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot restrict the file system with Landlock");
            Landlock::Failed(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kept_capability_has_a_reason_and_appears_once() {
        assert_eq!(kept().len(), KEPT.len());
        assert!(KEPT.iter().all(|(_, why)| why.len() > 10));
        assert!(PACKET_KEPT.iter().all(|c| kept().contains(c)));
    }

    #[test]
    fn describe_names_what_is_held() {
        let c = Confinement {
            no_new_privs: true,
            effective: vec![Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW],
            landlock: Landlock::Enforced,
        };
        assert_eq!(
            c.describe(),
            "capabilities cap_net_admin,cap_net_raw; no_new_privs on; landlock enforced"
        );
    }
}
