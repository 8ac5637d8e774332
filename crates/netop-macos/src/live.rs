//! The real [`System`] on macOS: libproc, sysctlbyname and getifaddrs
//! through libc. Each call copies the kernel's bytes out and nothing
//! else; every decoding happens in the plain-Rust decoders that the
//! tests on Linux cover. Built on macOS only (it has not been run on a
//! Mac by this project yet).

use std::ffi::{c_void, CStr, CString};

use crate::ifdata::IF_DATA_LEN;
use crate::sockaddr::{parse, Sockaddr};
use crate::system::{IfAddr, IfAddrKind, System};

/// `proc_pidinfo` flavors and `proc_pidfdinfo`'s, from
/// `sys/proc_info.h`.
const PROC_PIDLISTFDS: libc::c_int = 1;
const PROC_PIDTBSDINFO: libc::c_int = 3;
const PROC_PIDFDSOCKETINFO: libc::c_int = 3;

/// The running Mac.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveSystem;

/// Calls `f(buffer, size)` with a growing buffer until the answer fits;
/// `f` returns the bytes written, or a negative/zero value on failure.
fn filled(mut size: usize, f: impl Fn(*mut c_void, libc::c_int) -> libc::c_int) -> Option<Vec<u8>> {
    for _ in 0..4 {
        let mut buf = vec![0u8; size];
        let n = f(buf.as_mut_ptr().cast(), libc::c_int::try_from(size).ok()?);
        if n <= 0 {
            return None;
        }
        let n = n as usize;
        if n < size {
            buf.truncate(n);
            return Some(buf);
        }
        size *= 2;
    }
    None
}

impl System for LiveSystem {
    fn pids(&mut self) -> Vec<u32> {
        // SAFETY: a null buffer asks proc_listallpids for the count only.
        let count = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
        let capacity = usize::try_from(count.max(0)).unwrap_or(0) + 64;
        let mut pids = vec![0 as libc::pid_t; capacity];
        let bytes = libc::c_int::try_from(capacity * std::mem::size_of::<libc::pid_t>())
            .unwrap_or(libc::c_int::MAX);
        // SAFETY: the buffer holds `bytes` bytes of pid_t slots.
        let n = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) };
        pids.truncate(usize::try_from(n.max(0)).unwrap_or(0));
        pids.into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
            .collect()
    }

    fn bsdinfo(&mut self, pid: u32) -> Option<Vec<u8>> {
        let pid = libc::c_int::try_from(pid).ok()?;
        let size = crate::bsdinfo::PROC_BSDINFO_LEN;
        let mut buf = vec![0u8; size];
        // SAFETY: the buffer holds `size` bytes, the struct's size.
        let n = unsafe {
            libc::proc_pidinfo(
                pid,
                PROC_PIDTBSDINFO,
                0,
                buf.as_mut_ptr().cast(),
                size as libc::c_int,
            )
        };
        (usize::try_from(n).ok()? == size).then_some(buf)
    }

    fn path(&mut self, pid: u32) -> Option<Vec<u8>> {
        let pid = libc::c_int::try_from(pid).ok()?;
        let size = libc::PROC_PIDPATHINFO_MAXSIZE as usize;
        let mut buf = vec![0u8; size];
        // SAFETY: the buffer holds `size` bytes, PROC_PIDPATHINFO_MAXSIZE,
        // the most proc_pidpath writes.
        let n = unsafe { libc::proc_pidpath(pid, buf.as_mut_ptr().cast(), size as u32) };
        buf.truncate(usize::try_from(n).ok().filter(|n| *n > 0)?);
        Some(buf)
    }

    fn fd_list(&mut self, pid: u32) -> Option<Vec<u8>> {
        let pid = libc::c_int::try_from(pid).ok()?;
        filled(64 * crate::fdinfo::PROC_FDINFO_LEN, |buf, size| {
            // SAFETY: `buf` holds `size` bytes.
            unsafe { libc::proc_pidinfo(pid, PROC_PIDLISTFDS, 0, buf, size) }
        })
    }

    fn socket_fdinfo(&mut self, pid: u32, fd: u32) -> Option<Vec<u8>> {
        let pid = libc::c_int::try_from(pid).ok()?;
        let fd = libc::c_int::try_from(fd).ok()?;
        let size = crate::fdinfo::SOCKET_FDINFO_LEN;
        let mut buf = vec![0u8; size];
        // SAFETY: the buffer holds `size` bytes, PROC_PIDFDSOCKETINFO_SIZE.
        let n = unsafe {
            libc::proc_pidfdinfo(
                pid,
                fd,
                PROC_PIDFDSOCKETINFO,
                buf.as_mut_ptr().cast(),
                size as libc::c_int,
            )
        };
        (usize::try_from(n).ok()? == size).then_some(buf)
    }

    fn sysctl(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        for _ in 0..4 {
            let mut len: libc::size_t = 0;
            // SAFETY: a null old pointer asks for the size only.
            let rc = unsafe {
                libc::sysctlbyname(
                    cname.as_ptr(),
                    std::ptr::null_mut(),
                    &mut len,
                    std::ptr::null_mut(),
                    0,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            // The table may grow between the two calls.
            let mut buf = vec![0u8; len + len / 4 + 4096];
            let mut got = buf.len();
            // SAFETY: `buf` holds `got` bytes; the kernel writes at most that.
            let rc = unsafe {
                libc::sysctlbyname(
                    cname.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &mut got,
                    std::ptr::null_mut(),
                    0,
                )
            };
            if rc == 0 {
                buf.truncate(got);
                return Ok(buf);
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ENOMEM) {
                return Err(err.to_string());
            }
        }
        Err(format!("{name}: the table kept growing"))
    }

    fn ifaddrs(&mut self) -> Result<Vec<IfAddr>, String> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs fills `head` with a list freed below.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let mut out = Vec::new();
        let mut cur = head;
        while !cur.is_null() {
            // SAFETY: `cur` is an entry of the list getifaddrs returned.
            let ifa = unsafe { &*cur };
            cur = ifa.ifa_next;
            if ifa.ifa_name.is_null() || ifa.ifa_addr.is_null() {
                continue;
            }
            // SAFETY: ifa_name is a NUL-terminated string of the entry.
            let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: a BSD sockaddr's first byte is its own length.
            let len = usize::from(unsafe { *ifa.ifa_addr.cast::<u8>() });
            // SAFETY: the sockaddr is `len` bytes long.
            let sa = unsafe { std::slice::from_raw_parts(ifa.ifa_addr.cast::<u8>(), len.max(2)) };
            let kind = match parse(sa) {
                Some(Sockaddr::Ip(ip)) => IfAddrKind::Ip(ip),
                Some(Sockaddr::Link { index, mac }) => {
                    let if_data = if ifa.ifa_data.is_null() {
                        Vec::new()
                    } else {
                        // SAFETY: an AF_LINK entry's ifa_data is a struct if_data.
                        unsafe {
                            std::slice::from_raw_parts(ifa.ifa_data.cast::<u8>(), IF_DATA_LEN)
                        }
                        .to_vec()
                    };
                    IfAddrKind::Link {
                        index,
                        mac,
                        if_data,
                    }
                }
                _ => continue,
            };
            out.push(IfAddr {
                name,
                flags: ifa.ifa_flags,
                kind,
            });
        }
        // SAFETY: `head` came from getifaddrs and is freed once.
        unsafe { libc::freeifaddrs(head) };
        Ok(out)
    }

    fn dns_config(&mut self) -> Option<String> {
        let out = std::process::Command::new("/usr/sbin/scutil")
            .arg("--dns")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        // SAFETY: passwd is plain data; getpwuid_r fills it and points its
        // strings into `buf`, which outlives their use below.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the sizes given.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name points into `buf`, NUL-terminated.
        Some(
            unsafe { CStr::from_ptr(pwd.pw_name) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    fn euid(&self) -> u32 {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }
}
