//! `netop serve` runs as an unprivileged user once its privileged start-up
//! is done (capture open, event source loaded, netlink sockets open,
//! history file created): the user named by `--user`, else `netop` if
//! that user exists, else `nobody`.
//!
//! The switch keeps the permitted capabilities across `setuid`
//! (`PR_SET_KEEPCAPS`), so `confine::after_startup`, called next, can
//! keep the five the capture thread still needs and drop the rest; a run
//! that is not root (a `setcap` install) has nothing to switch. Files the
//! service goes on writing (the history database and its directory) are
//! handed to the user first.

use std::path::PathBuf;

use nix::unistd::{self, Gid, Uid, User};

/// What a run became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Became {
    /// It was not root: nothing changed.
    Unchanged { user: String },
    /// Now running as this user.
    User { name: String, uid: u32, gid: u32 },
}

/// The user `serve` switches to: `wanted`, or `netop` if it exists, else
/// `nobody`.
pub fn service_user(wanted: Option<&str>) -> Result<User, String> {
    let lookup =
        |name: &str| User::from_name(name).map_err(|e| format!("cannot look up user {name}: {e}"));
    match wanted {
        Some(name) => lookup(name)?
            .ok_or_else(|| format!("no user named {name} (create it, or pass another --user)")),
        None => match lookup("netop")? {
            Some(user) => Ok(user),
            None => lookup("nobody")?
                .ok_or_else(|| "neither user netop nor nobody exists; pass --user".to_string()),
        },
    }
}

/// Switches the whole process to `wanted`'s user (see [`service_user`])
/// when running as root, after giving it `own` (files and directories
/// that exist). Supplementary groups are dropped.
pub fn become_user(wanted: Option<&str>, own: &[PathBuf]) -> Result<Became, String> {
    if !unistd::geteuid().is_root() {
        let name = User::from_uid(unistd::geteuid())
            .ok()
            .flatten()
            .map_or_else(|| unistd::geteuid().to_string(), |u| u.name);
        return Ok(Became::Unchanged { user: name });
    }
    let user = service_user(wanted)?;
    if user.uid.is_root() {
        return Ok(Became::Unchanged { user: user.name });
    }
    for path in own.iter().filter(|p| p.exists()) {
        unistd::chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| format!("cannot give {} to {}: {e}", path.display(), user.name))?;
    }
    // SAFETY: prctl(PR_SET_KEEPCAPS) only sets a flag of the calling
    // thread; it takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "cannot keep capabilities across the user switch: {}",
            std::io::Error::last_os_error()
        ));
    }
    let switch = || -> nix::Result<()> {
        unistd::setgroups(&[user.gid])?;
        unistd::setgid(user.gid)?;
        unistd::setuid(user.uid)
    };
    switch().map_err(|e| format!("cannot switch to user {}: {e}", user.name))?;
    if unistd::getuid() != user.uid || unistd::getgid() != user.gid {
        return Err(format!("the switch to user {} did not take", user.name));
    }
    // Root cannot be regained: setuid(0) must fail now.
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err("root could be regained after the user switch".to_string());
    }
    Ok(Became::User {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}
