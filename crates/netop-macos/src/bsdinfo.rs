//! `proc_pidinfo(PROC_PIDTBSDINFO)`: `struct proc_bsdinfo` (xnu
//! `bsd/sys/proc_info.h`), for a process's uid, name and start time.

use crate::bytes::{Fields, LayoutError, Writer};

/// `sizeof(struct proc_bsdinfo)`.
pub const PROC_BSDINFO_LEN: usize = 136;
// uint32_t pbi_flags 0, pbi_status 4, pbi_xstatus 8, pbi_pid 12,
// pbi_ppid 16, then:
/// `uid_t pbi_uid`; gid 24, ruid 28, rgid 32, svuid 36, svgid 40, rfu_1 44.
const PBI_UID: usize = 20;
/// `char pbi_comm[MAXCOMLEN]` (16).
const PBI_COMM: usize = 48;
/// `char pbi_name[2 * MAXCOMLEN]` (32): empty when no name is registered.
const PBI_NAME: usize = 64;
// 96 pbi_nfiles, 100 pbi_pgid, 104 pbi_pjobc, 108 e_tdev, 112 e_tpgid,
// 116 pbi_nice (4 bytes each), then:
/// `uint64_t pbi_start_tvsec`; `pbi_start_tvusec` at 128.
const PBI_START_TVSEC: usize = 120;
const PBI_START_TVUSEC: usize = 128;
/// `uint32_t pbi_status` values: SZOMB.
const SZOMB: u32 = 5;
const PBI_STATUS: usize = 4;

/// What netop needs of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BsdInfo {
    pub uid: u32,
    /// `pbi_name` when set, else `pbi_comm`.
    pub name: String,
    /// Start time in microseconds since the epoch: with the pid, the
    /// process's identity ([`netop_core::ProcessInfo::start_time`]).
    pub start_us: u64,
    pub zombie: bool,
}

/// Decodes `struct proc_bsdinfo`.
pub fn bsdinfo(data: &[u8]) -> Result<BsdInfo, LayoutError> {
    let f = Fields::new("proc_bsdinfo", data, PROC_BSDINFO_LEN)?;
    let name = f.c_str(PBI_NAME, 32)?;
    let name = if name.is_empty() {
        f.c_str(PBI_COMM, 16)?
    } else {
        name
    };
    Ok(BsdInfo {
        uid: f.u32(PBI_UID)?,
        name,
        start_us: f
            .u64(PBI_START_TVSEC)?
            .saturating_mul(1_000_000)
            .saturating_add(f.u64(PBI_START_TVUSEC)?),
        zombie: f.u32(PBI_STATUS)? == SZOMB,
    })
}

/// `struct proc_bsdinfo` bytes (fixtures).
pub fn build(uid: u32, comm: &str, start_sec: u64) -> Vec<u8> {
    let mut w = Writer::new(PROC_BSDINFO_LEN);
    w.u32(PBI_UID, uid)
        .str(PBI_COMM, 16, comm)
        .u64(PBI_START_TVSEC, start_sec)
        .u32(PBI_STATUS, 2);
    w.0
}
