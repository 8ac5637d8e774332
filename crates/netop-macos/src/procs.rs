//! The owner search's view of macOS processes: a
//! [`ProcessSource`] over libproc (through [`System`]). A process's
//! socket identities are the `soi_so` kernel addresses of its socket
//! descriptors, the same values the pcblist sysctls call `xso_so`, so the
//! core's `OwnerIndex` matches the two as it matches inodes on Linux.

use netop_core::owners::{ProcSockets, ProcessSource};

use crate::bsdinfo::bsdinfo;
use crate::fdinfo::{fd_list, socket_fdinfo, PROX_FDTYPE_SOCKET};
use crate::system::System;

/// libproc as a [`ProcessSource`].
#[derive(Debug)]
pub struct MacProcesses<S> {
    system: S,
}

impl<S: System> MacProcesses<S> {
    pub fn new(system: S) -> Self {
        MacProcesses { system }
    }
}

impl<S: System> ProcessSource for MacProcesses<S> {
    fn pids(&mut self) -> Vec<u32> {
        self.system.pids()
    }

    fn socket_inodes(&mut self, pid: u32) -> Option<ProcSockets> {
        let info = bsdinfo(&self.system.bsdinfo(pid)?).ok()?;
        let fds = fd_list(&self.system.fd_list(pid)?).ok()?;
        let mut out = ProcSockets {
            uid: info.uid,
            inodes: Vec::new(),
            fds: Vec::new(),
        };
        for entry in fds.iter().filter(|e| e.fd_type == PROX_FDTYPE_SOCKET) {
            let Some(bytes) = self.system.socket_fdinfo(pid, entry.fd) else {
                continue;
            };
            match socket_fdinfo(&bytes) {
                Ok(s) if s.ip.is_some() => {
                    out.inodes.push(s.so);
                    out.fds.push(entry.fd);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(pid, fd = entry.fd, error = %e, "socket_fdinfo"),
            }
        }
        Some(out)
    }

    fn comm(&mut self, pid: u32) -> Option<String> {
        Some(bsdinfo(&self.system.bsdinfo(pid)?).ok()?.name)
    }

    fn cgroup(&mut self, _pid: u32) -> Option<String> {
        None
    }

    fn exe(&mut self, pid: u32) -> Option<String> {
        proc_path(&self.system.path(pid)?)
    }

    fn start_time(&mut self, pid: u32) -> Option<u64> {
        Some(bsdinfo(&self.system.bsdinfo(pid)?).ok()?.start_us)
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        self.system.user_name(uid)
    }
}

/// `proc_pidpath`'s bytes as a path: up to the first NUL, as UTF-8 (a
/// byte that is not becomes U+FFFD); `None` when empty.
pub fn proc_path(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let path = String::from_utf8_lossy(&bytes[..end]);
    (!path.is_empty()).then(|| path.into_owned())
}

#[cfg(test)]
mod tests {
    use super::proc_path;

    #[test]
    fn proc_pidpath_bytes_end_at_the_first_nul() {
        assert_eq!(
            proc_path(b"/Applications/Safari.app/Contents/MacOS/Safari\0\0junk").as_deref(),
            Some("/Applications/Safari.app/Contents/MacOS/Safari")
        );
        assert_eq!(
            proc_path(b"/usr/bin/curl").as_deref(),
            Some("/usr/bin/curl")
        );
        assert_eq!(proc_path(b"\0"), None);
        assert_eq!(proc_path(b""), None);
        assert_eq!(
            proc_path(b"/tmp/a\xffb").as_deref(),
            Some("/tmp/a\u{fffd}b")
        );
    }
}
