//! Whether this process may open a live capture, see other users'
//! processes and enter other network namespaces.
//!
//! The frontend asks before opening anything so it can print a precise fix
//! (run as root, or `setcap cap_net_raw,cap_net_admin=eip`), and
//! `--diagnostics` reports what a binary with file capabilities (the
//! packages' `netop` group) can attribute. Reading only uses
//! `/proc/self/status` and the effective uid; [`drop_all`] is the one
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

/// Reads the privileges of the running process. An unreadable
/// `/proc/self/status` counts as "no capabilities".
pub fn capture_privileges() -> Privileges {
    let cap_eff = match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => parse_cap_eff(&status).unwrap_or(0),
        Err(err) => {
            tracing::debug!(%err, "cannot read /proc/self/status");
            0
        }
    };
    Privileges::from_parts(nix::unistd::geteuid().as_raw(), cap_eff)
}

/// Extracts the effective capability mask from the text of
/// `/proc/PID/status` (the hexadecimal `CapEff:` line).
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix("CapEff:")?;
        u64::from_str_radix(value.trim(), 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_STATUS: &str = "Name:\tnetop\nUmask:\t0022\nState:\tR (running)\n\
        Uid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
        CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";

    const USER_STATUS: &str = "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\n\
        CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
        CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n";

    /// A binary after `setcap cap_net_raw,cap_net_admin=eip`.
    const SETCAP_STATUS: &str =
        "Name:\tnetop\nCapPrm:\t0000000000003000\nCapEff:\t0000000000003000\n";

    #[test]
    fn parses_full_capability_set() {
        assert_eq!(parse_cap_eff(ROOT_STATUS), Some(0x1ff_ffff_ffff));
        let p = Privileges::from_parts(0, 0x1ff_ffff_ffff);
        assert!(p.root && p.cap_net_raw && p.cap_net_admin && p.can_capture());
    }

    #[test]
    fn unprivileged_user_cannot_capture() {
        let caps = parse_cap_eff(USER_STATUS);
        assert_eq!(caps, Some(0));
        let p = Privileges::from_parts(1000, 0);
        assert_eq!(p, Privileges::default());
        assert!(!p.can_capture());
    }

    #[test]
    fn setcap_binary_can_capture() {
        let caps = parse_cap_eff(SETCAP_STATUS).unwrap_or_default();
        let p = Privileges::from_parts(1000, caps);
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

    #[test]
    fn missing_or_garbled_line_is_none() {
        assert_eq!(parse_cap_eff("Name:\tx\nCapPrm:\t00\n"), None);
        assert_eq!(parse_cap_eff("CapEff:\tnot-hex\n"), None);
        assert_eq!(parse_cap_eff(""), None);
    }

    #[test]
    fn reading_self_does_not_fail() {
        let p = capture_privileges();
        assert_eq!(p.root, nix::unistd::geteuid().is_root());
    }
}
