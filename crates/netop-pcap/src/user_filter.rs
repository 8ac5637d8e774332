//! `--bpf EXPR`: the user's libpcap filter expression.
//!
//! It is compiled by libpcap (so the syntax and the error messages are
//! tcpdump's) for the link type of the frames it meets, and run on each
//! captured frame before the engine sees it (`pcap_offline_filter`, the
//! same BPF interpreter libpcap uses), for live captures and replays
//! alike. It is not attached to the kernel socket: that socket already
//! carries netop's own program, the per-packet snap length that keeps DNS
//! messages whole (`dns_snap.rs`), and one socket takes one program. So
//! DNS is parsed whenever the expression lets port-53 packets through,
//! and the expression sees the captured bytes: headers (256 bytes), or
//! the whole DNS message. Length primitives (`greater`, `less`) see the
//! captured length, not the wire length.

use netop_core::{
    Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Frame, LinkType, Poll,
};

/// Link types checked at start-up: cooked v2 (`any`) and Ethernet (every
/// single interface on Linux, loopback included).
const CHECKED: [LinkType; 2] = [LinkType::LinuxSll2, LinkType::Ethernet];

/// Compiles `expr` for `link`; the error is libpcap's message.
fn compile(expr: &str, link: LinkType) -> Result<pcap::BpfProgram, String> {
    let dead =
        pcap::Capture::dead(pcap::Linktype(link.to_linktype())).map_err(|e| e.to_string())?;
    dead.compile(expr, true).map_err(|e| match e {
        pcap::Error::PcapError(message) => message,
        other => other.to_string(),
    })
}

/// Checks `expr` before anything is opened (no privileges needed): the
/// one-line error names libpcap's reason.
pub fn check(expr: &str, any: bool) -> Result<(), String> {
    let link = if any { CHECKED[0] } else { CHECKED[1] };
    compile(expr, link).map(|_| ())
}

/// `capture`, passing on only the frames `expr` matches.
pub fn filtered(capture: Box<dyn Capture>, expr: &str) -> Box<dyn Capture> {
    Box::new(Filtered::new(capture, expr))
}

/// A capture that passes on only the frames `expr` matches.
pub struct Filtered {
    inner: Box<dyn Capture>,
    expr: String,
    /// The program for the link type of the frames seen so far.
    program: Option<(LinkType, pcap::BpfProgram)>,
    /// Set when the expression cannot be compiled for a link type met
    /// during the run.
    error: Option<String>,
}

impl std::fmt::Debug for Filtered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filtered")
            .field("expr", &self.expr)
            .finish_non_exhaustive()
    }
}

impl Filtered {
    pub fn new(inner: Box<dyn Capture>, expr: &str) -> Filtered {
        Filtered {
            inner,
            expr: expr.to_string(),
            program: None,
            error: None,
        }
    }
}

/// True when `frame` passes: compiles once per link type.
fn passes(
    program: &mut Option<(LinkType, pcap::BpfProgram)>,
    error: &mut Option<String>,
    expr: &str,
    frame: &Frame<'_>,
) -> bool {
    if program.as_ref().is_none_or(|(link, _)| *link != frame.link) {
        match compile(expr, frame.link) {
            Ok(p) => *program = Some((frame.link, p)),
            Err(e) => {
                *error = Some(e);
                return false;
            }
        }
    }
    program.as_ref().is_some_and(|(_, p)| p.filter(frame.data))
}

impl Capture for Filtered {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        // A frame that does not pass is read past; the caller's wait is
        // bounded by the inner capture's timeout on the next call.
        let (program, error, expr) = (&mut self.program, &mut self.error, &self.expr);
        match self.inner.next_frame()? {
            Poll::Frame(frame) if passes(program, error, expr, &frame) => Ok(Poll::Frame(frame)),
            Poll::Frame(_) => Ok(Poll::Idle),
            other => Ok(other),
        }
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        let (program, error, expr) = (&mut self.program, &mut self.error, &self.expr);
        let batch = self.inner.dispatch(&mut |frame| {
            if passes(program, error, expr, frame) {
                each(frame);
            }
        })?;
        if let Some(message) = self.error.take() {
            return Err(CaptureError::Failed {
                device: format!("--bpf '{}'", self.expr),
                message,
            });
        }
        Ok(batch)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions_compile_for_any_and_one_interface() {
        for expr in [
            "udp port 9999",
            "tcp port 443",
            "not host 10.0.0.5",
            "icmp or arp",
        ] {
            assert_eq!(check(expr, true), Ok(()), "{expr}");
            assert_eq!(check(expr, false), Ok(()), "{expr}");
        }
    }

    #[test]
    fn an_invalid_expression_gives_libpcaps_message() {
        let e = check("udp prot 53", true).expect_err("invalid");
        assert!(e.contains("syntax error"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
