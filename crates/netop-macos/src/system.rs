//! The system calls the macOS backend makes, as one small trait: the
//! only seam between the backend's logic (plain Rust, tested on Linux
//! with [`crate::fake::FakeSystem`]) and macOS (`live.rs`, built on macOS
//! only). Every answer is the kernel's bytes, decoded by this crate's
//! decoders, so the fake and the real system go through the same code.

use std::net::IpAddr;

/// The sysctl names of the socket tables.
pub const TCP_PCBLIST: &str = "net.inet.tcp.pcblist_n";
pub const UDP_PCBLIST: &str = "net.inet.udp.pcblist_n";

/// One getifaddrs(3) entry, reduced to what netop reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub name: String,
    /// `ifa_flags` (`IFF_UP` 0x1, `IFF_LOOPBACK` 0x8).
    pub flags: u32,
    pub kind: IfAddrKind,
}

/// The address of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfAddrKind {
    /// AF_INET or AF_INET6.
    Ip(IpAddr),
    /// AF_LINK: the `sockaddr_dl`'s index and link address, and the
    /// `ifa_data` bytes (`struct if_data`).
    Link {
        index: u32,
        mac: Option<[u8; 6]>,
        if_data: Vec<u8>,
    },
}

/// What the backend asks of the OS.
pub trait System: Send {
    /// Every pid (`proc_listallpids`).
    fn pids(&mut self) -> Vec<u32>;
    /// `proc_pidinfo(pid, PROC_PIDTBSDINFO)`: `struct proc_bsdinfo`;
    /// `None` when the process is gone or hidden (another user's,
    /// without root).
    fn bsdinfo(&mut self, pid: u32) -> Option<Vec<u8>>;
    /// `proc_pidpath(pid)`: the executable's path, as the kernel's bytes
    /// (up to the first NUL); `None` when the process is gone or hidden.
    fn path(&mut self, pid: u32) -> Option<Vec<u8>>;
    /// `proc_pidinfo(pid, PROC_PIDLISTFDS)`: the `struct proc_fdinfo`
    /// array.
    fn fd_list(&mut self, pid: u32) -> Option<Vec<u8>>;
    /// `proc_pidfdinfo(pid, fd, PROC_PIDFDSOCKETINFO)`: `struct
    /// socket_fdinfo`.
    fn socket_fdinfo(&mut self, pid: u32, fd: u32) -> Option<Vec<u8>>;
    /// `sysctlbyname(name)`'s bytes.
    fn sysctl(&mut self, name: &str) -> Result<Vec<u8>, String>;
    /// getifaddrs(3).
    fn ifaddrs(&mut self) -> Result<Vec<IfAddr>, String>;
    /// The text of `scutil --dns` (the resolver configuration); `None`
    /// when it cannot be read.
    fn dns_config(&mut self) -> Option<String>;
    /// The name of user `uid` (getpwuid_r).
    fn user_name(&mut self, uid: u32) -> Option<String>;
    /// The effective uid of this process.
    fn euid(&self) -> u32;
}
