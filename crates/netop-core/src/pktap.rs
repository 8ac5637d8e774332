//! PKTAP: Apple's per-packet header naming the interface and the process.
//!
//! On macOS, libpcap's `pktap` pseudo-device (DLT_PKTAP, 149) captures every
//! interface at once and puts a `struct pktap_header` (xnu
//! `bsd/net/pktap.h`) before each frame: the header's length, the inner
//! frame's DLT, the interface name, direction flags, and the process that
//! sent or received the packet (pid and command), plus the *effective*
//! process when another one moved the bytes on its behalf (nsurlsessiond,
//! mDNSResponder). Capture files store the same bytes as LINKTYPE_PKTAP
//! (258).
//!
//! This module only reads the header; `decode.rs` decodes the inner frame
//! as usual and the engine credits the flow to the header's process. The
//! fields are in the capturing host's byte order, and every Mac (x86_64,
//! arm64) is little-endian, so they are read little-endian. Two header
//! versions exist: version 1 (fixed layout, 156 bytes) and version 2
//! (compact, strings at offsets), told apart by `PTH_FLAG_V2_HDR` in the
//! flags word, which both keep at byte 36.
//!
//! Nothing here panics: a short or inconsistent header is a
//! [`DecodeError`].

use crate::decode::DecodeError;

/// `sizeof(struct pktap_header)`, version 1: the fields below, with the
/// compiler's natural alignment (all 4-byte fields on 4-byte offsets).
pub const V1_LEN: usize = 156;
/// `sizeof(struct pktap_v2_hdr)`: 6 one-byte fields, 5 `uint16_t`, 6
/// four-byte fields.
pub const V2_LEN: usize = 40;

// struct pktap_header (version 1), byte offsets.
/// `uint32_t pth_length`: length of this header; the frame follows it.
const V1_LENGTH: usize = 0;
/// `uint32_t pth_type_next`: PTH_TYPE_PACKET (1) when a frame follows.
const V1_TYPE_NEXT: usize = 4;
/// `uint32_t pth_dlt`: the inner frame's DLT.
const V1_DLT: usize = 8;
/// `char pth_ifname[PKTAP_IFXNAMESIZE]` (IF_NAMESIZE 16 + 8 = 24).
const V1_IFNAME: usize = 12;
/// `PKTAP_IFXNAMESIZE`.
pub const IFNAME_LEN: usize = 24;
/// `uint32_t pth_flags` (12 + 24 = 36; the same offset in version 2).
const FLAGS: usize = 36;
// 40 pth_protocol_family, 44 pth_frame_pre_length,
// 48 pth_frame_post_length (uint32_t each; not needed).
/// `pid_t pth_pid`: the process.
const V1_PID: usize = 52;
/// `char pth_comm[MAXCOMLEN + 1]` (MAXCOMLEN 16), then `uint8_t
/// pth_pad1` at 73 and `uint16_t pth_trace_tag` at 74.
const V1_COMM: usize = 56;
/// `MAXCOMLEN + 1` (`PKTAP_MAX_COMM_SIZE`).
pub const COMM_LEN: usize = 17;
// 76 pth_svc (uint32_t), 80 pth_iftype and 82 pth_ifunit (uint16_t).
/// `pid_t pth_epid`: the effective process.
const V1_EPID: usize = 84;
/// `char pth_ecomm[MAXCOMLEN + 1]`, then pth_pad2 at 105, pth_pad3 at 106;
/// after it 108 pth_flowid, 112 pth_ipproto, 116 pth_tstamp (struct
/// timeval32: two int32), 124 pth_uuid, 140 pth_euuid (uuid_t, 16 each),
/// 156 the end.
const V1_ECOMM: usize = 88;

// struct pktap_v2_hdr, byte offsets.
/// `uint8_t pth_length`.
const V2_LENGTH: usize = 0;
// 1 pth_uuid_offset, 2 pth_e_uuid_offset (uint8_t each; not needed).
/// `uint8_t pth_ifname_offset`: from the header's start; 0 when absent.
const V2_IFNAME_OFFSET: usize = 3;
/// `uint8_t pth_comm_offset`.
const V2_COMM_OFFSET: usize = 4;
/// `uint8_t pth_e_comm_offset`.
const V2_E_COMM_OFFSET: usize = 5;
/// `uint16_t pth_dlt`; then 8 pth_frame_pre_length, 10
/// pth_frame_post_length, 12 pth_iftype, 14 pth_ipproto (uint16_t), 16
/// pth_protocol_family, 20 pth_svc, 24 pth_flowid (uint32_t).
const V2_DLT: usize = 6;
/// `pid_t pth_pid`.
const V2_PID: usize = 28;
/// `pid_t pth_e_pid`; then 36 pth_flags (`FLAGS`).
const V2_E_PID: usize = 32;

/// `PTH_TYPE_PACKET`.
const PTH_TYPE_PACKET: u32 = 1;
/// `PTH_FLAG_DIR_IN`.
pub const FLAG_DIR_IN: u32 = 0x1;
/// `PTH_FLAG_DIR_OUT`.
pub const FLAG_DIR_OUT: u32 = 0x2;
/// `PTH_FLAG_PROC_DELEGATED`: the effective process moved these bytes for
/// another one.
pub const FLAG_PROC_DELEGATED: u32 = 0x4;
/// `PTH_FLAG_V2_HDR`.
pub const FLAG_V2_HDR: u32 = 0x0008_0000;

/// A header longer than this is not a PKTAP header (version 1 is 156
/// bytes; a chain of blocks is not used by any capture we read).
const MAX_LEN: usize = 1024;

/// What a PKTAP header says about its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PktapHeader<'a> {
    /// Bytes before the inner frame.
    pub length: usize,
    /// The inner frame's DLT.
    pub dlt: u32,
    /// The interface name (no NUL).
    pub ifname: &'a [u8],
    /// `pth_flags`.
    pub flags: u32,
    /// The process the kernel named (`pth_pid`, `pth_comm`); a pid of 0 or
    /// less is none.
    pub pid: i32,
    pub comm: &'a [u8],
    /// The effective process (`pth_epid`, `pth_ecomm`).
    pub epid: i32,
    pub ecomm: &'a [u8],
}

/// The process a frame's bytes belong to, by its PKTAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapProcess<'a> {
    pub pid: u32,
    pub name: &'a [u8],
    /// The process that really moved the bytes when it did so for this
    /// one (the header's real pid, when the effective one differs).
    pub delegate: Option<(u32, &'a [u8])>,
}

impl<'a> PktapHeader<'a> {
    /// `Some(true)` for a packet the host sent, `Some(false)` for one it
    /// received, `None` when the header says neither.
    pub fn outgoing(&self) -> Option<bool> {
        if self.flags & FLAG_DIR_OUT != 0 {
            Some(true)
        } else if self.flags & FLAG_DIR_IN != 0 {
            Some(false)
        } else {
            None
        }
    }

    /// Whom the bytes belong to: the effective process when it is set and
    /// differs from the real one, else the real one; `None` when the
    /// header names no process (kernel traffic, forwarded packets).
    pub fn process(&self) -> Option<TapProcess<'a>> {
        let real = (self.pid > 0).then_some((self.pid as u32, self.comm));
        if self.epid > 0 && self.epid != self.pid {
            return Some(TapProcess {
                pid: self.epid as u32,
                name: self.ecomm,
                delegate: real,
            });
        }
        real.map(|(pid, name)| TapProcess {
            pid,
            name,
            delegate: None,
        })
    }
}

fn le32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The bytes of a fixed-size C string field up to its first NUL.
fn c_str(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A version 2 string: `offset` from the header's start (0: absent), at
/// most `max` bytes, inside the header.
fn v2_str(header: &[u8], offset: u8, max: usize) -> Result<&[u8], DecodeError> {
    let at = usize::from(offset);
    if at == 0 {
        return Ok(&[]);
    }
    if at >= header.len() {
        return Err(DecodeError::Malformed);
    }
    let end = (at + max).min(header.len());
    Ok(c_str(&header[at..end]))
}

/// Reads the PKTAP header at the start of `data`.
pub fn parse(data: &[u8]) -> Result<PktapHeader<'_>, DecodeError> {
    if data.len() < FLAGS + 4 {
        return Err(DecodeError::Truncated);
    }
    let flags = le32(data, FLAGS);
    if flags & FLAG_V2_HDR != 0 {
        return parse_v2(data, flags);
    }
    let length = le32(data, V1_LENGTH) as usize;
    if !(V1_LEN..=MAX_LEN).contains(&length) {
        return Err(DecodeError::Malformed);
    }
    if data.len() < length {
        return Err(DecodeError::Truncated);
    }
    if le32(data, V1_TYPE_NEXT) != PTH_TYPE_PACKET {
        return Err(DecodeError::Malformed);
    }
    Ok(PktapHeader {
        length,
        dlt: le32(data, V1_DLT),
        ifname: c_str(&data[V1_IFNAME..V1_IFNAME + IFNAME_LEN]),
        flags,
        pid: le32(data, V1_PID) as i32,
        comm: c_str(&data[V1_COMM..V1_COMM + COMM_LEN]),
        epid: le32(data, V1_EPID) as i32,
        ecomm: c_str(&data[V1_ECOMM..V1_ECOMM + COMM_LEN]),
    })
}

fn parse_v2(data: &[u8], flags: u32) -> Result<PktapHeader<'_>, DecodeError> {
    let length = usize::from(data[V2_LENGTH]);
    if length < V2_LEN {
        return Err(DecodeError::Malformed);
    }
    if data.len() < length {
        return Err(DecodeError::Truncated);
    }
    let header = &data[..length];
    Ok(PktapHeader {
        length,
        dlt: u32::from(u16::from_le_bytes([data[V2_DLT], data[V2_DLT + 1]])),
        ifname: v2_str(header, data[V2_IFNAME_OFFSET], IFNAME_LEN)?,
        flags,
        pid: le32(data, V2_PID) as i32,
        comm: v2_str(header, data[V2_COMM_OFFSET], COMM_LEN)?,
        epid: le32(data, V2_E_PID) as i32,
        ecomm: v2_str(header, data[V2_E_COMM_OFFSET], COMM_LEN)?,
    })
}

/// Builds PKTAP headers in the layouts above, for tests, benches and the
/// replay fixtures (the project records its own PKTAP captures).
pub mod build {
    use super::*;

    /// The fields a test sets; the rest are zero.
    #[derive(Debug, Clone, Default)]
    pub struct Spec {
        pub dlt: u32,
        pub ifname: String,
        pub flags: u32,
        pub pid: i32,
        pub comm: String,
        pub epid: i32,
        pub ecomm: String,
    }

    fn put_str(out: &mut [u8], at: usize, max: usize, s: &str) {
        let b = s.as_bytes();
        let n = b.len().min(max - 1);
        out[at..at + n].copy_from_slice(&b[..n]);
    }

    /// A version 1 header (156 bytes), with `frame` after it.
    pub fn v1(spec: &Spec, frame: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; V1_LEN];
        out[V1_LENGTH..V1_LENGTH + 4].copy_from_slice(&(V1_LEN as u32).to_le_bytes());
        out[V1_TYPE_NEXT..V1_TYPE_NEXT + 4].copy_from_slice(&PTH_TYPE_PACKET.to_le_bytes());
        out[V1_DLT..V1_DLT + 4].copy_from_slice(&spec.dlt.to_le_bytes());
        put_str(&mut out, V1_IFNAME, IFNAME_LEN, &spec.ifname);
        out[FLAGS..FLAGS + 4].copy_from_slice(&spec.flags.to_le_bytes());
        out[V1_PID..V1_PID + 4].copy_from_slice(&spec.pid.to_le_bytes());
        put_str(&mut out, V1_COMM, COMM_LEN, &spec.comm);
        out[V1_EPID..V1_EPID + 4].copy_from_slice(&spec.epid.to_le_bytes());
        put_str(&mut out, V1_ECOMM, COMM_LEN, &spec.ecomm);
        out.extend_from_slice(frame);
        out
    }

    /// A version 2 header: the 40-byte fixed part, then the interface
    /// name, command and effective command at their offsets.
    pub fn v2(spec: &Spec, frame: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; V2_LEN];
        let mut strings = Vec::new();
        for (slot, s) in [
            (V2_IFNAME_OFFSET, &spec.ifname),
            (V2_COMM_OFFSET, &spec.comm),
            (V2_E_COMM_OFFSET, &spec.ecomm),
        ] {
            if !s.is_empty() {
                out[slot] = (V2_LEN + strings.len()) as u8;
                strings.extend_from_slice(s.as_bytes());
                strings.push(0);
            }
        }
        out[V2_LENGTH] = (V2_LEN + strings.len()) as u8;
        out[V2_DLT..V2_DLT + 2].copy_from_slice(&(spec.dlt as u16).to_le_bytes());
        out[V2_PID..V2_PID + 4].copy_from_slice(&spec.pid.to_le_bytes());
        out[V2_E_PID..V2_E_PID + 4].copy_from_slice(&spec.epid.to_le_bytes());
        let flags = spec.flags | FLAG_V2_HDR;
        out[FLAGS..FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&strings);
        out.extend_from_slice(frame);
        out
    }
}

#[cfg(test)]
#[path = "pktap_tests.rs"]
mod tests;
