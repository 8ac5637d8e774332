//! A [`System`] built from fixtures: processes with their sockets, the
//! pcblist sysctls and the interfaces, each encoded in the kernel's own
//! layout by the decoders' builders. Tests run the backend's logic on it
//! on Linux. Shared state (clones see the same system), so a test can
//! start or end a process while a resolver holds the system.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use netop_core::interfaces::KernelCounters;
use netop_core::Protocol;

use crate::fdinfo::{build as fdbuild, FdEntry, IpSocket, PROX_FDTYPE_SOCKET};
use crate::pcblist::Pcb;
use crate::system::{IfAddr, IfAddrKind, System, TCP_PCBLIST, UDP_PCBLIST};

/// One fake process.
#[derive(Debug, Clone)]
pub struct FakeProcess {
    pub pid: u32,
    pub uid: u32,
    pub name: String,
    pub start_sec: u64,
    /// Its sockets: fd, kernel address (`soi_so`), endpoints.
    pub sockets: Vec<(u32, u64, IpSocket)>,
    /// Hidden from this (non-root) process: libproc refuses it.
    pub hidden: bool,
    /// What `proc_pidpath` answers; `None`: it fails.
    pub exe: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    processes: BTreeMap<u32, FakeProcess>,
    interfaces: Vec<IfAddr>,
    users: BTreeMap<u32, String>,
    euid: u32,
    dns: Option<String>,
    /// Calls of `socket_fdinfo`, to see how much a search read.
    fdinfo_calls: u64,
}

/// The fake system; see the module doc.
#[derive(Debug, Clone, Default)]
pub struct FakeSystem(Arc<Mutex<State>>);

impl FakeSystem {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_euid(&self, uid: u32) {
        self.state().euid = uid;
    }

    /// What `scutil --dns` says.
    pub fn set_dns_config(&self, text: &str) {
        self.state().dns = Some(text.to_string());
    }

    pub fn add_user(&self, uid: u32, name: &str) {
        self.state().users.insert(uid, name.to_string());
    }

    pub fn add_process(&self, p: FakeProcess) {
        self.state().processes.insert(p.pid, p);
    }

    pub fn remove_process(&self, pid: u32) {
        self.state().processes.remove(&pid);
    }

    /// An interface: its link entry (index, MAC, counters) and addresses.
    pub fn add_interface(
        &self,
        name: &str,
        index: u32,
        up: bool,
        mac: Option<[u8; 6]>,
        counters: KernelCounters,
        addrs: &[std::net::IpAddr],
    ) {
        let flags = u32::from(up) | if name.starts_with("lo") { 0x8 } else { 0 };
        let mut s = self.state();
        s.interfaces.push(IfAddr {
            name: name.to_string(),
            flags,
            kind: IfAddrKind::Link {
                index,
                mac,
                if_data: crate::ifdata::build(&counters),
            },
        });
        for ip in addrs {
            s.interfaces.push(IfAddr {
                name: name.to_string(),
                flags,
                kind: IfAddrKind::Ip(*ip),
            });
        }
    }

    pub fn fdinfo_calls(&self) -> u64 {
        self.state().fdinfo_calls
    }

    /// The pcblist the kernel would give for `proto`: every socket of
    /// every process (hidden ones included: the sysctl shows all).
    fn pcblist(&self, proto: Protocol) -> Vec<u8> {
        let s = self.state();
        let pcbs: Vec<Pcb> = s
            .processes
            .values()
            .flat_map(|p| {
                p.sockets
                    .iter()
                    .filter(|(_, _, ip)| ip.proto == proto)
                    .map(|(_, so, ip)| Pcb {
                        proto,
                        local: ip.local,
                        remote: ip.remote,
                        state: ip.state,
                        so: *so,
                        uid: p.uid,
                        rtt_us: (proto == Protocol::Tcp).then_some(12_000),
                        last_pid: p.pid,
                        e_pid: p.pid,
                    })
            })
            .collect();
        crate::pcblist::build(&pcbs)
    }

    fn visible(&self, pid: u32) -> Option<FakeProcess> {
        let s = self.state();
        let p = s.processes.get(&pid)?;
        (!p.hidden || s.euid == 0).then(|| p.clone())
    }
}

impl System for FakeSystem {
    fn pids(&mut self) -> Vec<u32> {
        self.state().processes.keys().copied().collect()
    }

    fn bsdinfo(&mut self, pid: u32) -> Option<Vec<u8>> {
        let p = self.visible(pid)?;
        Some(crate::bsdinfo::build(p.uid, &p.name, p.start_sec))
    }

    fn path(&mut self, pid: u32) -> Option<Vec<u8>> {
        self.visible(pid)?.exe.map(String::into_bytes)
    }

    fn fd_list(&mut self, pid: u32) -> Option<Vec<u8>> {
        let p = self.visible(pid)?;
        let mut entries = vec![FdEntry { fd: 0, fd_type: 1 }];
        entries.extend(p.sockets.iter().map(|(fd, _, _)| FdEntry {
            fd: *fd,
            fd_type: PROX_FDTYPE_SOCKET,
        }));
        Some(fdbuild::fd_list(&entries))
    }

    fn socket_fdinfo(&mut self, pid: u32, fd: u32) -> Option<Vec<u8>> {
        self.state().fdinfo_calls += 1;
        let p = self.visible(pid)?;
        let (_, so, ip) = p.sockets.iter().find(|(f, _, _)| *f == fd)?;
        Some(fdbuild::socket_fdinfo(*so, ip))
    }

    fn sysctl(&mut self, name: &str) -> Result<Vec<u8>, String> {
        match name {
            TCP_PCBLIST => Ok(self.pcblist(Protocol::Tcp)),
            UDP_PCBLIST => Ok(self.pcblist(Protocol::Udp)),
            other => Err(format!("unknown sysctl {other}")),
        }
    }

    fn ifaddrs(&mut self) -> Result<Vec<IfAddr>, String> {
        Ok(self.state().interfaces.clone())
    }

    fn dns_config(&mut self) -> Option<String> {
        self.state().dns.clone()
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        self.state().users.get(&uid).cloned()
    }

    fn euid(&self) -> u32 {
        self.state().euid
    }
}
