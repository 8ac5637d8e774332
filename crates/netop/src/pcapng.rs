//! `--write FILE.pcapng`: the captured packets, each with a comment naming
//! its process (`pid 1842 firefox`), so Wireshark (Packet Comments, or
//! `frame.comment`) shows who sent or received every packet.
//!
//! Frames are recorded as the capture hands them to the engine (the bytes
//! netop captured: headers, 256 bytes, or a whole DNS message) and written
//! at the next refresh, when the engine has found their owners off the
//! packet path. The pcapng blocks are written by hand: three fixed block
//! types (section header, one interface description per link type,
//! enhanced packets with an `opt_comment`), a few dozen lines against the
//! format's specification (draft-ietf-opsawg-pcapng), where a crate would
//! want an owned packet value per frame.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use netop_core::{
    Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Engine, Frame, LinkType, Poll,
};

/// One captured frame, owned until it is written.
#[derive(Debug, Clone)]
struct Recorded {
    ts: Duration,
    ifindex: Option<u32>,
    link: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

impl Recorded {
    fn frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            ifindex: self.ifindex,
            link: self.link,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }
}

/// Frames recorded by [`Recording`], shared with the writer (one thread).
#[derive(Debug, Default)]
pub struct Pending {
    frames: Vec<Recorded>,
    bytes: usize,
}

/// A capture that keeps a copy of every frame it hands on.
pub struct Recording {
    inner: Box<dyn Capture>,
    pending: Rc<RefCell<Pending>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").finish_non_exhaustive()
    }
}

impl Recording {
    pub fn new(inner: Box<dyn Capture>) -> (Recording, Rc<RefCell<Pending>>) {
        let pending = Rc::new(RefCell::new(Pending::default()));
        (
            Recording {
                inner,
                pending: Rc::clone(&pending),
            },
            pending,
        )
    }
}

fn record(pending: &RefCell<Pending>, frame: &Frame<'_>) {
    let mut p = pending.borrow_mut();
    p.bytes += frame.data.len();
    p.frames.push(Recorded {
        ts: frame.ts,
        ifindex: frame.ifindex,
        link: frame.link,
        orig_len: frame.orig_len,
        data: frame.data.to_vec(),
    });
}

impl Capture for Recording {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let pending = Rc::clone(&self.pending);
        let poll = self.inner.next_frame()?;
        if let Poll::Frame(frame) = &poll {
            record(&pending, frame);
        }
        Ok(poll)
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        let pending = &self.pending;
        self.inner.dispatch(&mut |frame| {
            record(pending, frame);
            each(frame);
        })
    }

    fn counting(&self) -> netop_core::Counting {
        self.inner.counting()
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        self.inner.stats()
    }

    fn health(&self) -> CaptureHealth {
        self.inner.health()
    }
}

/// `--write FILE`: records the backend's frames and opens the file (before
/// the thread is confined). `None` without the flag.
pub fn start(
    args: &netop_cli::Args,
    backend: &mut netop_core::Backend,
) -> Result<Option<Writer>, crate::failure::Failure> {
    let Some(path) = &args.power.write else {
        return Ok(None);
    };
    let inner = std::mem::replace(&mut backend.capture, Box::new(Nothing));
    let (recording, pending) = Recording::new(inner);
    backend.capture = Box::new(recording);
    Writer::create(path, pending).map(Some).map_err(|e| {
        crate::failure::Failure::Runtime(anyhow::anyhow!("cannot create {}: {e}", path.display()))
    })
}

/// A placeholder while the capture is moved into its wrapper.
struct Nothing;

impl Capture for Nothing {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        Ok(Poll::Closed)
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        Ok(CaptureStats::default())
    }
}

/// The pcapng file being written.
pub struct Writer {
    out: BufWriter<File>,
    /// Link type of each interface description written, by id.
    interfaces: Vec<LinkType>,
    pending: Rc<RefCell<Pending>>,
    pub packets: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Creates `path` (replacing it) and writes the section header.
    pub fn create(path: &Path, pending: Rc<RefCell<Pending>>) -> io::Result<Writer> {
        let mut out = BufWriter::new(File::create(path)?);
        section_header(&mut out)?;
        Ok(Writer {
            out,
            interfaces: Vec::new(),
            pending,
            packets: 0,
        })
    }

    /// Writes every recorded frame with its owners' comment.
    pub fn flush(&mut self, engine: &Engine) -> io::Result<()> {
        let frames = std::mem::take(&mut self.pending.borrow_mut().frames);
        self.pending.borrow_mut().bytes = 0;
        for r in &frames {
            let frame = r.frame();
            let comment = comment(&engine.owners_of_frame(&frame));
            let id = self.interface(r.link)?;
            packet(&mut self.out, id, &frame, &comment)?;
            self.packets += 1;
        }
        self.out.flush()
    }

    /// The interface id for `link`, describing it first if new.
    fn interface(&mut self, link: LinkType) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|l| *l == link) {
            return Ok(i as u32);
        }
        interface_description(&mut self.out, link)?;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }
}

/// `pid 1842 firefox`; both ends of local traffic joined with `; `;
/// `unknown` when no process owns it.
pub fn comment(owners: &[&netop_core::ProcessInfo]) -> String {
    if owners.is_empty() {
        return "unknown".to_string();
    }
    owners
        .iter()
        .map(|o| format!("pid {} {}", o.pid, o.name))
        .collect::<Vec<_>>()
        .join("; ")
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn block(out: &mut impl Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + body.len()) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

fn section_header(out: &mut impl Write) -> io::Result<()> {
    let mut body = Vec::with_capacity(16);
    body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes()); // byte-order magic
    body.extend_from_slice(&1u16.to_le_bytes()); // version 1.0
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    block(out, 0x0A0D_0D0A, &body)
}

fn interface_description(out: &mut impl Write, link: LinkType) -> io::Result<()> {
    let mut body = Vec::with_capacity(8);
    body.extend_from_slice(&(link.to_linktype() as u16).to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes()); // no snap length limit
                                                 // No if_tsresol option: microseconds, the default.
    block(out, 1, &body)
}

fn packet(
    out: &mut impl Write,
    interface: u32,
    frame: &Frame<'_>,
    comment: &str,
) -> io::Result<()> {
    let micros = u64::try_from(frame.ts.as_micros()).unwrap_or(u64::MAX);
    let data = frame.data;
    let text = comment.as_bytes();
    let mut body = Vec::with_capacity(20 + data.len() + 8 + text.len() + 8);
    body.extend_from_slice(&interface.to_le_bytes());
    body.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(micros as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&frame.orig_len.max(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    body.extend(std::iter::repeat_n(0, pad4(data.len())));
    // opt_comment (1), then opt_endofopt.
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(&text[..usize::from(len)]);
    body.extend(std::iter::repeat_n(0, pad4(usize::from(len))));
    body.extend_from_slice(&[0, 0, 0, 0]);
    block(out, 6, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_their_length_at_both_ends_and_are_aligned() {
        let mut out = Vec::new();
        section_header(&mut out).expect("shb");
        interface_description(&mut out, LinkType::LinuxSll2).expect("idb");
        let data = [1u8, 2, 3, 4, 5];
        let frame = Frame {
            ts: Duration::from_micros(1_700_000_000_123_456),
            ifindex: None,
            link: LinkType::LinuxSll2,
            orig_len: 60,
            data: &data,
        };
        packet(&mut out, 0, &frame, "pid 7 curl").expect("epb");
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < out.len() {
            let word = |o: usize| u32::from_le_bytes(out[o..o + 4].try_into().expect("4"));
            let (kind, len) = (word(at), word(at + 4) as usize);
            assert_eq!(len % 4, 0);
            assert_eq!(
                word(at + len - 4) as usize,
                len,
                "trailing length of {kind:#x}"
            );
            kinds.push(kind);
            at += len;
        }
        assert_eq!(kinds, vec![0x0A0D_0D0A, 1, 6]);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("pid 7 curl"));
    }
}
