//! The live `/proc` reads the core's owner search needs: Linux's
//! [`ProcessSource`] (the search policy itself is the core's
//! [`netop_core::owners::OwnerIndex`]).

use std::io;

use procfs::process::{FDTarget, Process};
use procfs::ProcError;

use netop_core::owners::{OwnerIndex, ProcSockets, ProcessSource};

/// An owner index over the live `/proc`.
pub fn live_index() -> OwnerIndex {
    OwnerIndex::new(Box::new(LiveProc))
}

/// [`ProcessSource`] reading the real `/proc`.
#[derive(Debug, Default)]
pub(crate) struct LiveProc;

impl ProcessSource for LiveProc {
    fn pids(&mut self) -> Vec<u32> {
        // A plain readdir: cheaper than opening every process, and this
        // runs on every owner miss.
        let dir = match std::fs::read_dir("/proc") {
            Ok(dir) => dir,
            Err(err) => {
                tracing::debug!(%err, "cannot list /proc");
                return Vec::new();
            }
        };
        dir.filter_map(|entry| parse_pid(entry.ok()?.file_name().to_str()?))
            .collect()
    }

    fn socket_inodes(&mut self, pid: u32) -> Option<ProcSockets> {
        let read = || -> Result<ProcSockets, ProcError> {
            let process = Process::new(i32::try_from(pid).unwrap_or(i32::MAX))?;
            let uid = process.uid()?;
            let mut inodes = Vec::new();
            let mut fds = Vec::new();
            for fd in process.fd()? {
                // An fd closed mid-walk is skipped by procfs; other errors
                // end this process's scan.
                let fd = fd?;
                if let FDTarget::Socket(inode) = fd.target {
                    inodes.push(inode);
                    fds.push(u32::try_from(fd.fd).unwrap_or(u32::MAX));
                }
            }
            Ok(ProcSockets { uid, inodes, fds })
        };
        match read() {
            Ok(sockets) => Some(sockets),
            Err(err) => {
                // Vanished (ENOENT/ESRCH) or not ours to read (EACCES):
                // both are normal during a scan.
                tracing::debug!(pid, err = %err, "process fds unreadable");
                None
            }
        }
    }

    fn comm(&mut self, pid: u32) -> Option<String> {
        read_proc_file(pid, "comm").map(|text| parse_comm(&text))
    }

    fn cgroup(&mut self, pid: u32) -> Option<String> {
        read_proc_file(pid, "cgroup")
    }

    fn start_time(&mut self, pid: u32) -> Option<u64> {
        let stat = Process::new(i32::try_from(pid).ok()?).and_then(|p| p.stat());
        stat.map(|s| s.starttime).ok()
    }

    fn exe(&mut self, pid: u32) -> Option<String> {
        // Reading another user's link needs ptrace read access: root, or
        // CAP_SYS_PTRACE, which the capture thread keeps (confine.rs).
        match std::fs::read_link(format!("/proc/{pid}/exe")) {
            Ok(link) => Some(exe_path(&link.to_string_lossy())),
            Err(err) => {
                // Gone, or a kernel thread (no executable): normal.
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::debug!(pid, %err, "cannot read /proc/PID/exe");
                }
                None
            }
        }
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(user) => user.map(|u| u.name),
            Err(errno) => {
                tracing::debug!(uid, %errno, "getpwuid failed");
                None
            }
        }
    }
}

/// `/proc/PID/<file>` as text; `None` when the process is gone or hidden.
fn read_proc_file(pid: u32, file: &str) -> Option<String> {
    match std::fs::read_to_string(format!("/proc/{pid}/{file}")) {
        Ok(text) => Some(text),
        Err(err) => {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::debug!(pid, file, %err, "cannot read /proc file");
            }
            None
        }
    }
}

/// A `/proc` entry name that is a pid.
pub(crate) fn parse_pid(name: &str) -> Option<u32> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The executable's path from the `/proc/PID/exe` link's text. A binary
/// replaced on disk since the process started (a package upgrade) reads
/// `PATH (deleted)`: the suffix is dropped, so its history stays with the
/// path it was started from.
pub(crate) fn exe_path(link: &str) -> String {
    link.strip_suffix(" (deleted)").unwrap_or(link).to_string()
}

/// The text of `/proc/PID/comm` without its trailing newline.
pub(crate) fn parse_comm(text: &str) -> String {
    text.strip_suffix('\n').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_names() {
        assert_eq!(parse_pid("1"), Some(1));
        assert_eq!(parse_pid("4194304"), Some(4_194_304));
        assert_eq!(parse_pid("self"), None);
        assert_eq!(parse_pid("+1"), None);
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("99999999999"), None);
    }

    #[test]
    fn comm_keeps_inner_spaces() {
        assert_eq!(parse_comm("Web Content\n"), "Web Content");
        assert_eq!(parse_comm("curl"), "curl");
        assert_eq!(parse_comm("a b \n"), "a b ");
    }

    #[test]
    fn reads_own_process() {
        let mut live = LiveProc;
        let me = std::process::id();
        assert!(live.pids().contains(&me));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let sockets = live.socket_inodes(me).expect("own fds are readable");
        assert!(!sockets.inodes.is_empty());
        assert_eq!(sockets.inodes.len(), sockets.fds.len());
        let listener_fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        assert!(sockets
            .fds
            .contains(&u32::try_from(listener_fd).expect("fd")));
        assert_eq!(sockets.uid, nix::unistd::geteuid().as_raw());
        assert!(live
            .comm(me)
            .is_some_and(|c| !c.is_empty() && !c.ends_with('\n')));
        assert!(live.cgroup(me).is_some_and(|c| c.contains(':')));
        assert!(live.start_time(me).is_some_and(|t| t > 0));
        let exe = std::env::current_exe().expect("current exe");
        assert_eq!(live.exe(me), Some(exe.to_string_lossy().into_owned()));
        drop(listener);
        assert_eq!(live.socket_inodes(u32::MAX), None);
        assert_eq!(live.exe(u32::MAX), None);
    }

    #[test]
    fn a_replaced_binary_keeps_its_path() {
        assert_eq!(exe_path("/usr/bin/curl"), "/usr/bin/curl");
        assert_eq!(exe_path("/usr/sbin/nginx (deleted)"), "/usr/sbin/nginx");
        assert_eq!(exe_path("/opt/my (deleted) app"), "/opt/my (deleted) app");
    }
}
