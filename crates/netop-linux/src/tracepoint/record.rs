//! One perf ring record of the tracepoint's event, as bytes, into a
//! [`PerfRecord`].
//!
//! The event is opened with `PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
//! PERF_SAMPLE_RAW` and `attr.comm`, without `sample_id_all`, so the
//! records netop reads are: a sample (`u32 pid, u32 tid, u64 time, u32
//! size, u8 raw[size]`: the kernel's order of sample fields), a command-name
//! change (`u32 pid, u32 tid, char comm[]`) and a count of lost samples
//! (`u64 id, u64 lost`), each after the header the ring reader strips.
//! The raw part is decoded with the [`Layout`] read from tracefs. Plain
//! Rust over byte slices, native byte order for numbers as the kernel
//! writes them, network order for addresses; a short or unknown record is
//! an error value, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::format::{Field, Layout};

/// `PERF_RECORD_LOST`.
pub const RECORD_LOST: u32 = 2;
/// `PERF_RECORD_COMM`.
pub const RECORD_COMM: u32 = 3;
/// `PERF_RECORD_SAMPLE`.
pub const RECORD_SAMPLE: u32 = 9;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One `inet_sock_set_state` event: a TCP socket changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The socket's kernel address: the same socket across its events
    /// (and reused by a later socket once this one is freed).
    pub skaddr: u64,
    /// When it fired (CLOCK_MONOTONIC, ns): orders the CPUs' records.
    pub time: u64,
    pub oldstate: i32,
    pub newstate: i32,
    /// The process running when the event fired (the connecting process
    /// for CLOSE -> SYN_SENT; whoever was interrupted in softirq).
    pub pid: u32,
    /// `IPPROTO_*` (6 for TCP; the tracepoint also reports SCTP, MPTCP).
    pub protocol: u16,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// What one ring record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerfRecord {
    Sample(StateChange),
    /// A process's command name at `exec` (or `prctl(PR_SET_NAME)`).
    Comm {
        pid: u32,
        tid: u32,
        comm: String,
    },
    /// Samples the kernel could not queue (ring full).
    Lost(u64),
    /// A record type netop does not use.
    Other(u32),
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("perf record of type {kind} with {len} bytes, too short")]
    Short { kind: u32, len: usize },
    #[error("tracepoint record with unknown address family {0}")]
    Family(u16),
}

fn bytes<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    bytes(b, at).map(u16::from_ne_bytes)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_ne_bytes)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    bytes(b, at).map(u64::from_ne_bytes)
}

fn field_u64(b: &[u8], f: Field) -> Option<u64> {
    match f.size {
        8 => u64_at(b, f.offset),
        4 => u32_at(b, f.offset).map(u64::from),
        _ => None,
    }
}

/// Decodes the body of one ring record of type `kind` (the header
/// stripped).
pub fn decode(kind: u32, body: &[u8], layout: &Layout) -> Result<PerfRecord, RecordError> {
    let short = RecordError::Short {
        kind,
        len: body.len(),
    };
    match kind {
        RECORD_SAMPLE => {
            let (Some(pid), Some(time), Some(size)) =
                (u32_at(body, 0), u64_at(body, 8), u32_at(body, 16))
            else {
                return Err(short);
            };
            let raw = usize::try_from(size)
                .ok()
                .and_then(|size| body.get(20..20 + size))
                .ok_or(short.clone())?;
            let mut change = decode_raw(raw, pid, layout)?;
            change.time = time;
            Ok(PerfRecord::Sample(change))
        }
        RECORD_COMM => {
            let (Some(pid), Some(tid)) = (u32_at(body, 0), u32_at(body, 4)) else {
                return Err(short);
            };
            let name = &body[8..];
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            Ok(PerfRecord::Comm {
                pid,
                tid,
                comm: String::from_utf8_lossy(&name[..end]).into_owned(),
            })
        }
        RECORD_LOST => u64_at(body, 8).map(PerfRecord::Lost).ok_or(short),
        other => Ok(PerfRecord::Other(other)),
    }
}

/// Decodes the tracepoint's raw record.
pub fn decode_raw(raw: &[u8], pid: u32, l: &Layout) -> Result<StateChange, RecordError> {
    let short = RecordError::Short {
        kind: RECORD_SAMPLE,
        len: raw.len(),
    };
    if raw.len() < l.min_len() {
        return Err(short);
    }
    let get16 = |f: Field| u16_at(raw, f.offset).ok_or(short.clone());
    let get32 = |f: Field| u32_at(raw, f.offset).ok_or(short.clone());
    let family = get16(l.family)?;
    let (src, dst) = match family {
        AF_INET => {
            let s: [u8; 4] = bytes(raw, l.saddr.offset).ok_or(short.clone())?;
            let d: [u8; 4] = bytes(raw, l.daddr.offset).ok_or(short.clone())?;
            (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d)))
        }
        AF_INET6 => {
            let s: [u8; 16] = bytes(raw, l.saddr_v6.offset).ok_or(short.clone())?;
            let d: [u8; 16] = bytes(raw, l.daddr_v6.offset).ok_or(short.clone())?;
            (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))
        }
        other => return Err(RecordError::Family(other)),
    };
    Ok(StateChange {
        skaddr: field_u64(raw, l.skaddr).ok_or(short.clone())?,
        time: 0,
        // The states are C ints; the bits are read as they are.
        oldstate: get32(l.oldstate)? as i32,
        newstate: get32(l.newstate)? as i32,
        pid,
        protocol: get16(l.protocol)?,
        // The tracepoint stores ports in host order (ntohs).
        local: SocketAddr::new(src, get16(l.sport)?),
        remote: SocketAddr::new(dst, get16(l.dport)?),
    })
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
