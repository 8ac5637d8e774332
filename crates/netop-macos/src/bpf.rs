//! The records a read(2) of a BPF device returns: `struct bpf_hdr` (xnu
//! `bsd/net/bpf.h`), the frame, padding to `BPF_WORDALIGN`, the next one.
//!
//! libpcap walks these for netop on a Mac; the walk is here so the layout
//! is written down and tested where the project can run tests (and so a
//! capture read without libpcap has it ready). On macOS `bh_tstamp` is a
//! `struct timeval32` (two 32-bit fields) for 64-bit programs and a
//! 32-bit `struct timeval` (also two 32-bit fields) for 32-bit ones: 8
//! bytes either way, so the header is 18 bytes (`bh_hdrlen` says 18 or
//! the padded 20). The BSDs whose `bh_tstamp` is a native 64-bit
//! `struct timeval` have 16 bytes there; [`TimestampWidth`] names both.

use std::time::Duration;

use crate::bytes::{Fields, LayoutError, Writer};

/// `BPF_ALIGNMENT`: `sizeof(int32_t)` on macOS.
pub const ALIGNMENT: usize = 4;

/// `BPF_WORDALIGN(x)`: `x` rounded up to [`ALIGNMENT`].
pub fn word_align(x: usize) -> usize {
    (x + (ALIGNMENT - 1)) & !(ALIGNMENT - 1)
}

/// The width of `bh_tstamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampWidth {
    /// macOS: `struct timeval32` (LP64) or the 32-bit `struct timeval`:
    /// `tv_sec` and `tv_usec` of 4 bytes each.
    Bits32,
    /// A native LP64 `struct timeval`: 8-byte `tv_sec`, 4-byte
    /// `tv_usec` padded to 8 (FreeBSD's layout, for comparison).
    Bits64,
}

impl TimestampWidth {
    fn len(self) -> usize {
        match self {
            TimestampWidth::Bits32 => 8,
            TimestampWidth::Bits64 => 16,
        }
    }

    /// `sizeof(struct bpf_hdr)` before padding: timestamp, `bh_caplen`,
    /// `bh_datalen` (`bpf_u_int32` each), `bh_hdrlen` (`u_short`).
    pub fn header_len(self) -> usize {
        self.len() + 4 + 4 + 2
    }
}

/// One captured frame of a BPF buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub ts: Duration,
    /// `bh_datalen`: the frame's length on the wire.
    pub orig_len: u32,
    /// `bh_caplen` bytes of the frame.
    pub data: &'a [u8],
}

/// Splits a buffer read from a BPF device into its records. Stops at the
/// first bad record with its error (the rest of the buffer cannot be
/// framed without it).
pub fn records(buffer: &[u8], width: TimestampWidth) -> Result<Vec<Record<'_>>, LayoutError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buffer.len() {
        let (record, next) = record_at(buffer, at, width)?;
        out.push(record);
        at = next;
    }
    Ok(out)
}

/// The record at `at` and where the next one starts.
pub fn record_at(
    buffer: &[u8],
    at: usize,
    width: TimestampWidth,
) -> Result<(Record<'_>, usize), LayoutError> {
    const WHAT: &str = "bpf_hdr";
    let rest = &buffer[at.min(buffer.len())..];
    let f = Fields::new(WHAT, rest, width.header_len())?;
    let t = width.len();
    let (sec, usec) = match width {
        TimestampWidth::Bits32 => (u64::from(f.u32(0)?), f.u32(4)?),
        TimestampWidth::Bits64 => (f.u64(0)?, f.u32(8)?),
    };
    let caplen = f.u32(t)? as usize;
    let datalen = f.u32(t + 4)?;
    let hdrlen = usize::from(f.u16(t + 8)?);
    if hdrlen < width.header_len() {
        return Err(LayoutError::Malformed {
            what: WHAT,
            why: format!("bh_hdrlen {hdrlen} shorter than the header"),
        });
    }
    if usec >= 1_000_000 {
        return Err(LayoutError::Malformed {
            what: WHAT,
            why: format!("tv_usec {usec}"),
        });
    }
    let end = hdrlen + caplen;
    if rest.len() < end {
        return Err(LayoutError::Truncated {
            what: WHAT,
            need: end,
            have: rest.len(),
        });
    }
    let record = Record {
        ts: Duration::from_secs(sec) + Duration::from_micros(u64::from(usec)),
        orig_len: datalen.max(caplen as u32),
        data: &rest[hdrlen..end],
    };
    Ok((record, at + word_align(end)))
}

/// Appends one record as the kernel lays it out (fixtures).
pub fn push_record(buffer: &mut Vec<u8>, width: TimestampWidth, ts: Duration, frame: &[u8]) {
    let hdrlen = word_align(width.header_len());
    let t = width.len();
    let mut w = Writer::new(hdrlen);
    match width {
        TimestampWidth::Bits32 => w.u32(0, ts.as_secs() as u32).u32(4, ts.subsec_micros()),
        TimestampWidth::Bits64 => w.u64(0, ts.as_secs()).u32(8, ts.subsec_micros()),
    };
    w.u32(t, frame.len() as u32)
        .u32(t + 4, frame.len() as u32)
        .u16(t + 8, hdrlen as u16);
    buffer.extend_from_slice(&w.0);
    buffer.extend_from_slice(frame);
    buffer.resize(word_align(buffer.len()), 0);
}
