//! Why traffic has no owner.
//!
//! "unknown" alone is the complaint users raise most against per-process
//! monitors. The engine files every unowned byte under one reason, decided
//! when the flow's owner search fails (and revised if a later search learns
//! more), so the unknown row can be opened up and explained.

use crate::flow::Counters;

/// The reasons, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnknownReason {
    /// Neither end is one of this host's addresses, and no socket in any
    /// network namespace here owns it: the host only routed or bridged it.
    Forwarded,
    /// Sent to this host, but no socket was listening for it (a SYN to a
    /// closed port, a datagram to an unbound port).
    NoListener,
    /// Made by the kernel itself, not by a socket: ICMP, IGMP, ARP, and
    /// other traffic without ports.
    Kernel,
    /// A socket sent or held it, but its process was gone (or the socket
    /// had left its process) before netop could see the owner.
    OwnerGone,
    /// The address maps into another network namespace (through NAT) that
    /// netop could not read.
    Namespace,
    /// A socket of another user, whose process this run may not see (no
    /// root): the owner is hidden, not gone (the backend says which
    /// user's processes it sees, [`SocketResolver::visible_uid`]).
    ///
    /// [`SocketResolver::visible_uid`]: crate::SocketResolver::visible_uid
    Hidden,
}

impl UnknownReason {
    pub const ALL: [UnknownReason; 6] = [
        UnknownReason::Forwarded,
        UnknownReason::NoListener,
        UnknownReason::Kernel,
        UnknownReason::OwnerGone,
        UnknownReason::Namespace,
        UnknownReason::Hidden,
    ];

    /// The machine-readable name (JSON keys).
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::Forwarded => "forwarded",
            UnknownReason::NoListener => "no_listener",
            UnknownReason::Kernel => "kernel",
            UnknownReason::OwnerGone => "owner_gone",
            UnknownReason::Namespace => "namespace",
            UnknownReason::Hidden => "hidden",
        }
    }

    /// A few words for people (the monitor's expanded unknown row).
    pub fn label(self) -> &'static str {
        match self {
            UnknownReason::Forwarded => "forwarded through the host",
            UnknownReason::NoListener => "no socket listening",
            UnknownReason::Kernel => "kernel (ICMP, ARP, IGMP, ...)",
            UnknownReason::OwnerGone => "owner gone before it was seen",
            UnknownReason::Namespace => "namespace not readable",
            UnknownReason::Hidden => "another user's (needs root)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Bytes per reason: all of them, and those of flows matching the filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Breakdown {
    all: [Counters; 6],
    matched: [Counters; 6],
}

impl Breakdown {
    #[cfg(test)]
    pub(crate) fn add(
        &mut self,
        why: UnknownReason,
        dir: crate::flow::Direction,
        bytes: u64,
        matched: bool,
    ) {
        self.add_n(why, dir, (bytes, 1), matched);
    }

    /// Adds `(bytes, packets)`.
    pub(crate) fn add_n(
        &mut self,
        why: UnknownReason,
        dir: crate::flow::Direction,
        (bytes, packets): (u64, u64),
        matched: bool,
    ) {
        self.all[why.index()].add_n(dir, bytes, packets);
        if matched {
            self.matched[why.index()].add_n(dir, bytes, packets);
        }
    }

    pub(crate) fn take(&mut self, why: UnknownReason, c: &Counters, matched: bool) {
        self.all[why.index()].remove(c);
        if matched {
            self.matched[why.index()].remove(c);
        }
    }

    pub(crate) fn give(&mut self, why: UnknownReason, c: &Counters, matched: bool) {
        self.all[why.index()].merge(c);
        if matched {
            self.matched[why.index()].merge(c);
        }
    }

    /// The non-empty reasons, in [`UnknownReason::ALL`] order; `matched`
    /// picks the filtered counters.
    pub(crate) fn rows(&self, matched: bool) -> Vec<(UnknownReason, Counters)> {
        let source = if matched { &self.matched } else { &self.all };
        UnknownReason::ALL
            .iter()
            .map(|&why| (why, source[why.index()]))
            .filter(|(_, c)| c.rx_packets + c.tx_packets > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Direction;

    #[test]
    fn moves_between_reasons_keep_the_sum() {
        let mut b = Breakdown::default();
        b.add(UnknownReason::NoListener, Direction::Rx, 100, false);
        b.add(UnknownReason::NoListener, Direction::Tx, 40, true);
        let mut c = Counters::default();
        c.add(Direction::Rx, 100);
        b.take(UnknownReason::NoListener, &c, false);
        b.give(UnknownReason::OwnerGone, &c, false);
        let rows = b.rows(false);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, UnknownReason::NoListener);
        assert_eq!(rows[0].1.tx_bytes, 40);
        assert_eq!(rows[1].0, UnknownReason::OwnerGone);
        assert_eq!(rows[1].1.rx_bytes, 100);
        assert_eq!(b.rows(true).len(), 1, "only the matched flow's bytes");
    }

    #[test]
    fn names_are_distinct() {
        let names: std::collections::HashSet<_> =
            UnknownReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), UnknownReason::ALL.len());
    }
}
