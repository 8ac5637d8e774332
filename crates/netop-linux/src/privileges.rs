//! Whether this process may open a live capture, see other users'
//! processes and enter other network namespaces.
//!
//! The frontend asks before opening anything so it can print a precise fix
//! (run as root, or `setcap cap_net_raw,cap_net_admin=eip`), and
//! `--diagnostics` reports what a binary with file capabilities (the
//! packages' `netop` group) can attribute. Reading only uses
//! `/proc/self/status` (`CapEff`, through procfs) and the effective uid; [`drop_all`] is the one
//! change, for runs that read files a user named.

/// `CAP_DAC_READ_SEARCH`, bit 2 of the capability sets.
const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_NET_ADMIN`, bit 12 of the capability sets.
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_NET_RAW`, bit 13 of the capability sets.
const CAP_NET_RAW: u32 = 13;
/// `CAP_SYS_PTRACE`, bit 19 of the capability sets.
const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_SYS_ADMIN`, bit 21 of the capability sets.
const CAP_SYS_ADMIN: u32 = 21;

/// The capture-relevant privileges of the current process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileges {
    /// Effective uid is 0.
    pub root: bool,
    /// `CAP_NET_RAW` is in the effective set (needed for packet sockets).
    pub cap_net_raw: bool,
    /// `CAP_NET_ADMIN` is in the effective set.
    pub cap_net_admin: bool,
    /// `CAP_SYS_PTRACE` is in the effective set: the links in other
    /// users' `/proc/PID/fd` may be read (a ptrace access check).
    pub cap_sys_ptrace: bool,
    /// `CAP_DAC_READ_SEARCH` is in the effective set: other users'
    /// `/proc/PID/fd` directories (mode 0500) may be listed.
    pub cap_dac_read_search: bool,
    /// `CAP_SYS_ADMIN` is in the effective set: `setns` into other
    /// network namespaces.
    pub cap_sys_admin: bool,
}

impl Privileges {
    /// Builds the privileges from an effective uid and an effective
    /// capability mask (`CapEff`).
    pub fn from_parts(euid: u32, cap_eff: u64) -> Self {
        Privileges {
            root: euid == 0,
            cap_net_raw: cap_eff & (1 << CAP_NET_RAW) != 0,
            cap_net_admin: cap_eff & (1 << CAP_NET_ADMIN) != 0,
            cap_sys_ptrace: cap_eff & (1 << CAP_SYS_PTRACE) != 0,
            cap_dac_read_search: cap_eff & (1 << CAP_DAC_READ_SEARCH) != 0,
            cap_sys_admin: cap_eff & (1 << CAP_SYS_ADMIN) != 0,
        }
    }

    /// True when a live capture should be possible: root, or both network
    /// capabilities granted (the `setcap` route).
    pub fn can_capture(&self) -> bool {
        self.root || (self.cap_net_raw && self.cap_net_admin)
    }

    /// True when polling can find the owners of other users' sockets:
    /// listing `/proc/PID/fd` needs CAP_DAC_READ_SEARCH and reading its
    /// links CAP_SYS_PTRACE; neither alone is enough (measured on 6.18).
    pub fn sees_other_users(&self) -> bool {
        self.root || (self.cap_sys_ptrace && self.cap_dac_read_search)
    }

    /// True when polling can read the sockets of other network namespaces
    /// (`setns` needs CAP_SYS_ADMIN).
    pub fn enters_namespaces(&self) -> bool {
        self.root || self.cap_sys_admin
    }
}

/// Drops every capability of this process (effective, permitted,
/// inheritable, ambient). Runs that read a file the user named (`--replay`)
/// call it first: a binary with file capabilities (CAP_DAC_READ_SEARCH)
/// must never open a file for its caller that the caller could not.
pub fn drop_all() -> Result<(), String> {
    use caps::CapSet;
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| format!("cannot drop capabilities: {e}"))?;
    }
    Ok(())
}

/// Reads the privileges of the running process.
pub fn capture_privileges() -> Privileges {
    Privileges::from_parts(nix::unistd::geteuid().as_raw(), effective_capabilities())
}

/// The effective capability mask of this process: `CapEff` of
/// `/proc/self/status`. Unreadable counts as "no capabilities".
pub fn effective_capabilities() -> u64 {
    match procfs::process::Process::myself().and_then(|p| p.status()) {
        Ok(status) => status.capeff,
        Err(err) => {
            tracing::debug!(%err, "cannot read /proc/self/status");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every capability of a 6.x kernel (root's `CapEff`).
    const ALL: u64 = 0x1ff_ffff_ffff;
    /// A binary after `setcap cap_net_raw,cap_net_admin=eip`.
    const SETCAP: u64 = 0x3000;

    #[test]
    fn root_with_every_capability_can_capture() {
        let p = Privileges::from_parts(0, ALL);
        assert!(p.root && p.cap_net_raw && p.cap_net_admin && p.can_capture());
    }

    #[test]
    fn unprivileged_user_cannot_capture() {
        let p = Privileges::from_parts(1000, 0);
        assert_eq!(p, Privileges::default());
        assert!(!p.can_capture());
    }

    #[test]
    fn setcap_binary_can_capture() {
        let p = Privileges::from_parts(1000, SETCAP);
        assert!(!p.root);
        assert!(p.cap_net_raw && p.cap_net_admin);
        assert!(p.can_capture());
    }

    #[test]
    fn other_users_need_both_ptrace_and_dac_read_search() {
        let packaged = Privileges::from_parts(1000, 0x00c0_0008_3004);
        assert!(packaged.can_capture() && packaged.sees_other_users());
        assert!(!packaged.enters_namespaces());
        let ptrace_only = Privileges::from_parts(1000, 0x3000 | (1 << 19));
        assert!(!ptrace_only.sees_other_users());
        let dac_only = Privileges::from_parts(1000, 0x3000 | (1 << 2));
        assert!(!dac_only.sees_other_users());
        let root = Privileges::from_parts(0, 0);
        assert!(root.sees_other_users() && root.enters_namespaces());
    }

    #[test]
    fn one_capability_is_not_enough() {
        let raw_only = Privileges::from_parts(1000, 1 << 13);
        assert!(raw_only.cap_net_raw && !raw_only.cap_net_admin);
        assert!(!raw_only.can_capture());
        let admin_only = Privileges::from_parts(1000, 1 << 12);
        assert!(!admin_only.can_capture());
    }

    /// procfs's `CapEff` is the effective set the kernel reports through
    /// capget(2) (the caps crate).
    #[test]
    fn effective_capabilities_are_the_kernels() {
        let set = caps::read(None, caps::CapSet::Effective).expect("capget");
        let mask = set.iter().fold(0u64, |m, c| m | c.bitmask());
        assert_eq!(effective_capabilities(), mask);
        let p = capture_privileges();
        assert_eq!(p.root, nix::unistd::geteuid().is_root());
    }
}
