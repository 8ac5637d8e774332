//! The interface a run was asked to count (`--interface`) going away and
//! coming back, as gaps: the monitor's status bar says `IFACE: gone,
//! retrying` and a snapshot's stderr lists them, as for the libpcap
//! capture that reopens its device (`netop-pcap/src/reopen.rs`). With
//! every interface counted there is no such gap: interfaces come and go.

use std::time::Instant;

use netop_core::{CaptureHealth, Gap};

/// Healed gaps kept (the oldest go first).
const HEALED_KEPT: usize = 64;

#[derive(Debug)]
pub(super) struct Outages {
    /// The interface asked for; `None` when counting every one.
    device: Option<String>,
    opened: Instant,
    /// Since when it has been gone.
    since: Option<Instant>,
    healed: Vec<Gap>,
}

impl Outages {
    pub(super) fn new(device: Option<String>, opened: Instant) -> Outages {
        Outages {
            device,
            opened,
            since: None,
            healed: Vec::new(),
        }
    }

    /// After a listing of interfaces: whether the one asked for is
    /// counted now.
    pub(super) fn saw(&mut self, present: bool, now: Instant) {
        let Some(device) = &self.device else {
            return;
        };
        match (present, self.since) {
            (false, None) => self.since = Some(now),
            (true, Some(since)) => {
                if self.healed.len() >= HEALED_KEPT {
                    self.healed.remove(0);
                }
                self.healed.push(Gap {
                    device: device.clone(),
                    after: since.saturating_duration_since(self.opened),
                    length: now.saturating_duration_since(since),
                });
                self.since = None;
            }
            _ => {}
        }
    }

    pub(super) fn health(&self, now: Instant) -> CaptureHealth {
        CaptureHealth {
            gone: match (&self.device, self.since) {
                (Some(device), Some(since)) => Some(Gap {
                    device: device.clone(),
                    after: since.saturating_duration_since(self.opened),
                    length: now.saturating_duration_since(since),
                }),
                _ => None,
            },
            healed: self.healed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_asked_for_interface_going_and_coming_back_is_a_gap() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut o = Outages::new(Some("veth0".into()), t0);
        o.saw(true, at(1));
        assert_eq!(o.health(at(1)), CaptureHealth::default());
        o.saw(false, at(3));
        o.saw(false, at(4));
        let gone = o.health(at(5)).gone.expect("gone");
        assert_eq!(
            (gone.device.as_str(), gone.after, gone.length),
            ("veth0", Duration::from_secs(3), Duration::from_secs(2))
        );
        o.saw(true, at(6));
        let h = o.health(at(7));
        assert_eq!(h.gone, None);
        assert_eq!(h.healed.len(), 1);
        assert_eq!(
            (h.healed[0].after, h.healed[0].length),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
    }

    #[test]
    fn counting_every_interface_has_no_gaps() {
        let t0 = Instant::now();
        let mut o = Outages::new(None, t0);
        o.saw(false, t0 + Duration::from_secs(1));
        assert_eq!(
            o.health(t0 + Duration::from_secs(2)),
            CaptureHealth::default()
        );
    }
}
