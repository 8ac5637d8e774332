//! What a snapshot lost, said on stderr once at its end: the gaps while
//! the captured interface was gone, and one line of counted losses
//! (kernel drops, owner events the ring could not hold, frames skipped as
//! malformed). The table itself is printed as always; these lines say
//! how far short it may be.

use std::time::Duration;

use netop_core::engine::EngineStats;
use netop_core::{CaptureStats, Gap};

use netop_lib::collect::Health;

/// Gaps listed one by one before the rest are summed up.
const LISTED_GAPS: usize = 3;

/// The stderr lines for a snapshot, none when nothing was lost.
pub fn snapshot_notes(health: &Health, capture: CaptureStats, engine: EngineStats) -> Vec<String> {
    let mut lines = Vec::new();
    let gaps: Vec<&Gap> = health.capture.gaps().collect();
    for gap in gaps.iter().take(LISTED_GAPS) {
        let ongoing = health.capture.gone.as_ref() == Some(*gap);
        let when = if ongoing {
            format!(
                "went {:.1} s into the run and was still gone at the end ({:.1} s, retrying)",
                secs(gap.after),
                secs(gap.length)
            )
        } else {
            format!(
                "was gone for {:.1} s, from {:.1} s into the run",
                secs(gap.length),
                secs(gap.after)
            )
        };
        lines.push(format!(
            "netop: {} {when}; its traffic then is not counted",
            gap.device
        ));
    }
    if gaps.len() > LISTED_GAPS {
        let rest = &gaps[LISTED_GAPS..];
        let total: Duration = rest.iter().map(|g| g.length).sum();
        lines.push(format!(
            "netop: and {} more gaps, {:.1} s in all",
            rest.len(),
            secs(total)
        ));
    }
    let mut lost = Vec::new();
    let drops = capture.dropped + capture.if_dropped;
    if drops > 0 {
        lost.push(format!(
            "the kernel dropped {drops} packets; totals are short (raise --bpf-buffer)"
        ));
    }
    if health.lost_events > 0 {
        lost.push(format!(
            "{} owner events overflowed the ring (their bytes may show as unknown)",
            health.lost_events
        ));
    }
    if engine.decode_errors > 0 {
        lost.push(format!(
            "{} frames skipped as malformed",
            engine.decode_errors
        ));
    }
    if !lost.is_empty() {
        lines.push(format!("netop: {}", lost.join("; ")));
    }
    lines
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use netop_core::CaptureHealth;

    use super::*;

    fn gap(after: u64, length_ms: u64) -> Gap {
        Gap {
            device: "vflap0".into(),
            after: Duration::from_secs(after),
            length: Duration::from_millis(length_ms),
        }
    }

    #[test]
    fn nothing_lost_says_nothing() {
        let notes = snapshot_notes(
            &Health::default(),
            CaptureStats::default(),
            EngineStats::default(),
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_healed_gap_names_the_interface_and_its_length() {
        let health = Health {
            capture: CaptureHealth {
                gone: None,
                healed: vec![gap(3, 1250)],
            },
            lost_events: 0,
        };
        let notes = snapshot_notes(&health, CaptureStats::default(), EngineStats::default());
        assert_eq!(
            notes,
            ["netop: vflap0 was gone for 1.2 s, from 3.0 s into the run; its traffic then is not counted"]
        );
    }

    #[test]
    fn an_ongoing_gap_and_many_gaps_are_summed_up() {
        let health = Health {
            capture: CaptureHealth {
                gone: Some(gap(20, 2000)),
                healed: vec![gap(1, 100), gap(2, 100), gap(3, 100), gap(4, 300)],
            },
            lost_events: 0,
        };
        let notes = snapshot_notes(&health, CaptureStats::default(), EngineStats::default());
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert_eq!(notes[3], "netop: and 2 more gaps, 2.3 s in all");
        let health = Health {
            capture: CaptureHealth {
                gone: Some(gap(20, 2000)),
                healed: Vec::new(),
            },
            lost_events: 0,
        };
        let notes = snapshot_notes(&health, CaptureStats::default(), EngineStats::default());
        assert_eq!(
            notes,
            ["netop: vflap0 went 20.0 s into the run and was still gone at the end (2.0 s, retrying); its traffic then is not counted"]
        );
    }

    #[test]
    fn every_loss_fits_on_one_line() {
        let health = Health {
            capture: CaptureHealth::default(),
            lost_events: 7,
        };
        let capture = CaptureStats {
            received: 100,
            dropped: 3,
            if_dropped: 1,
        };
        let engine = EngineStats {
            decode_errors: 2,
            ..EngineStats::default()
        };
        assert_eq!(
            snapshot_notes(&health, capture, engine),
            ["netop: the kernel dropped 4 packets; totals are short (raise --bpf-buffer); 7 owner events overflowed the ring (their bytes may show as unknown); 2 frames skipped as malformed"]
        );
    }
}
