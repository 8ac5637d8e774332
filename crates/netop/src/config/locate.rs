//! Where the config file is: `$NETOP_CONFIG` if set; else the user's
//! `$XDG_CONFIG_HOME/netop/config.toml` (`~/.config/...` without it), and
//! under sudo the invoking user's (`SUDO_USER`'s home, from
//! `/etc/passwd`), not root's; else `/etc/netop/config.toml`. The first
//! that exists is used; none is fine (defaults).
//!
//! As root, a file owned by another user than root or the one who ran
//! sudo is refused: it would let that user steer a privileged process.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The system-wide file.
pub const SYSTEM: &str = "/etc/netop/config.toml";

/// What the search depends on, read from the process once (tests fill it
/// in by hand).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `NETOP_CONFIG`: this file and no other.
    pub explicit: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// Under sudo as root: the invoking user (name, uid, home).
    pub sudo_user: Option<SudoUser>,
    pub euid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SudoUser {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
}

impl Env {
    /// The running process's environment.
    pub fn current() -> Env {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let sudo_user = if euid == 0 {
            std::env::var("SUDO_USER").ok().and_then(|name| {
                let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
                passwd_entry(&passwd, &name)
            })
        } else {
            None
        };
        Env {
            explicit: var("NETOP_CONFIG"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            sudo_user,
            euid,
        }
    }

    /// The user's own config file path (whether or not it exists): where
    /// `netop setup` writes.
    pub fn user_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.explicit {
            return Some(path.clone());
        }
        let base = match &self.sudo_user {
            // sudo keeps root's XDG variables, or none: the invoking
            // user's own default location.
            Some(user) => user.home.join(".config"),
            None => self
                .xdg_config_home
                .clone()
                .or_else(|| self.home.as_ref().map(|h| h.join(".config")))?,
        };
        Some(base.join("netop").join("config.toml"))
    }

    /// Where to look, in order.
    pub fn candidates(&self) -> Vec<PathBuf> {
        if let Some(path) = &self.explicit {
            return vec![path.clone()];
        }
        self.user_path()
            .into_iter()
            .chain([PathBuf::from(SYSTEM)])
            .collect()
    }
}

/// A user's uid and home from the text of `/etc/passwd`.
pub fn passwd_entry(passwd: &str, name: &str) -> Option<SudoUser> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0] != name {
            return None;
        }
        Some(SudoUser {
            name: name.to_string(),
            uid: f[2].parse().ok()?,
            home: PathBuf::from(f[5]),
        })
    })
}

/// The first candidate that exists, checked for ownership.
pub fn find(env: &Env) -> Result<Option<PathBuf>, ConfigError> {
    for path in env.candidates() {
        match std::fs::metadata(&path) {
            Ok(meta) => {
                check_owner(&path, owner_of(&meta), env)?;
                return Ok(Some(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // A directory on the way this user may not enter (HOME left
            // at /root by `sudo -u`): no file of theirs is there.
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied && env.explicit.is_none() =>
            {
                tracing::debug!(path = %path.display(), "config location not searchable");
                continue;
            }
            // NETOP_CONFIG naming a missing file is an error, not a
            // default: the user asked for that file.
            Err(e) => return Err(ConfigError::new(&path, format!("cannot read it: {e}"))),
        }
    }
    if let Some(path) = &env.explicit {
        return Err(ConfigError::new(path, "no such file (NETOP_CONFIG)"));
    }
    Ok(None)
}

fn owner_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    meta.uid()
}

/// Refuses, as root, a file another non-root user owns (other than the
/// user who ran sudo).
pub fn check_owner(path: &Path, owner: u32, env: &Env) -> Result<(), ConfigError> {
    if env.euid != 0 || owner == 0 {
        return Ok(());
    }
    if env.sudo_user.as_ref().is_some_and(|u| u.uid == owner) {
        return Ok(());
    }
    Err(ConfigError::new(
        path,
        format!("refused: owned by uid {owner}, and netop runs as root (the file must belong to root or to the user running sudo)"),
    ))
}
