//! Whether this process may open a live capture.
//!
//! The frontend asks before opening anything so it can print a precise fix
//! (run as root, or `setcap cap_net_raw,cap_net_admin=eip`). This module
//! only reads `/proc/self/status` and the effective uid; it never changes
//! privileges.

/// `CAP_NET_ADMIN`, bit 12 of the capability sets.
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_NET_RAW`, bit 13 of the capability sets.
const CAP_NET_RAW: u32 = 13;

/// The capture-relevant privileges of the current process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileges {
    /// Effective uid is 0.
    pub root: bool,
    /// `CAP_NET_RAW` is in the effective set (needed for packet sockets).
    pub cap_net_raw: bool,
    /// `CAP_NET_ADMIN` is in the effective set.
    pub cap_net_admin: bool,
}

impl Privileges {
    /// Builds the privileges from an effective uid and an effective
    /// capability mask (`CapEff`).
    pub fn from_parts(euid: u32, cap_eff: u64) -> Self {
        Privileges {
            root: euid == 0,
            cap_net_raw: cap_eff & (1 << CAP_NET_RAW) != 0,
            cap_net_admin: cap_eff & (1 << CAP_NET_ADMIN) != 0,
        }
    }

    /// True when a live capture should be possible: root, or both network
    /// capabilities granted (the `setcap` route).
    pub fn can_capture(&self) -> bool {
        self.root || (self.cap_net_raw && self.cap_net_admin)
    }
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
