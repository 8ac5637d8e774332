//! Finds the `sock:inet_sock_set_state` tracepoint in tracefs: its id
//! (what `perf_event_open` asks for) and its `format` (where its fields
//! lie), and the CPUs to open it on.
//!
//! tracefs is usually mounted at `/sys/kernel/tracing` (or reachable as
//! `/sys/kernel/debug/tracing`). Where it is not, netop mounts it when it
//! may (CAP_SYS_ADMIN) on a directory of its own in the temporary
//! directory (not the shared path: two netops starting at once would
//! unmount each other's), reads the two files, unmounts it and removes
//! the directory: the perf event needs only the id once opened, so no
//! mount is left behind. Every failure is a sentence for the owner mode's
//! reason.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Where tracefs may already be.
const MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The event's directory under a tracefs mount.
const EVENT: &str = "events/sock/inet_sock_set_state";

/// The tracepoint's id and the text of its `format` file.
#[derive(Debug, Clone)]
pub struct Described {
    pub id: u64,
    pub format: String,
}

fn read_from(root: &Path) -> Result<Described, String> {
    let dir = root.join(EVENT);
    let id = std::fs::read_to_string(dir.join("id"))
        .map_err(|e| format!("{}: {e}", dir.join("id").display()))?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| format!("{}: not a number", dir.join("id").display()))?;
    let format = std::fs::read_to_string(dir.join("format"))
        .map_err(|e| format!("{}: {e}", dir.join("format").display()))?;
    Ok(Described { id, format })
}

/// Reads the tracepoint's id and format, mounting tracefs for the time
/// of the reading if no mount has it.
pub fn describe() -> Result<Described, String> {
    let mut seen = Vec::new();
    for root in MOUNTS {
        let root = PathBuf::from(root);
        if root.join("events").is_dir() {
            match read_from(&root) {
                Ok(found) => return Ok(found),
                Err(e) => seen.push(e),
            }
        }
    }
    if let Some(e) = seen.into_iter().next() {
        return Err(e);
    }
    mount_and_read()
}

/// Mounts tracefs on a new private directory, reads, unmounts.
fn mount_and_read() -> Result<Described, String> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let at = std::env::temp_dir().join(format!("netop-tracefs-{}-{n}", std::process::id()));
    // A new directory (mkdir fails on anything already there), 0700.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&at)
        .map_err(|e| format!("tracefs is not mounted and {}: {e}", at.display()))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let read = match mount(Some("tracefs"), &at, Some("tracefs"), flags, None::<&str>) {
        Ok(()) => {
            let read = read_from(&at);
            if let Err(e) = umount2(&at, MntFlags::MNT_DETACH) {
                tracing::debug!(error = %e, "cannot unmount the tracefs netop mounted");
            }
            read
        }
        Err(e) => Err(format!(
            "tracefs is not mounted and mounting it failed ({e}; needs root or CAP_SYS_ADMIN)"
        )),
    };
    if let Err(e) = std::fs::remove_dir(&at) {
        tracing::debug!(error = %e, dir = %at.display(), "cannot remove netop's tracefs mount point");
    }
    read
}

/// The online CPUs, from `/sys/devices/system/cpu/online`.
pub fn online_cpus() -> Result<Vec<usize>, String> {
    let path = "/sys/devices/system/cpu/online";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    parse_cpu_list(&text).ok_or_else(|| format!("{path}: cannot read {:?}", text.trim()))
}

/// A kernel CPU list (`0-3,5,7-8`).
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_read() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0-2,4,6-7"), Some(vec![0, 1, 2, 4, 6, 7]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
    }
}
