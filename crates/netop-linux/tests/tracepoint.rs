//! The perf tracepoint owner source (issue 17, item 4) against real
//! sockets, and the resolver's choice of owner mode: a refused event
//! source falls back to the tracepoint, saying why; both refused, to
//! polling, saying both.
//!
//! The tests that open the tracepoint need root (or CAP_PERFMON): skipped
//! otherwise, a failure under `CI`.
#![cfg(target_os = "linux")]

use netop_core::{OwnerMode, OwnersChoice};
use netop_linux::events::EventsUnavailable;
use netop_linux::tracepoint::{TracepointSource, TracepointUnavailable};
use netop_linux::LinuxResolver;

mod short_connection;

/// Whether the tracepoint can be opened here; a skip (or, under CI, a
/// failure) otherwise.
fn tracepoint_runs() -> bool {
    match TracepointSource::open() {
        Ok(_) => true,
        Err(why) => {
            netop_core::testing::skip(&format!("perf tracepoint unavailable: {why}"));
            false
        }
    }
}

fn refused_events() -> Result<netop_linux::events::EventSource, EventsUnavailable> {
    Err(EventsUnavailable::NotPermitted)
}

#[test]
fn a_refused_event_source_falls_back_to_the_tracepoint_saying_why() {
    if !tracepoint_runs() {
        return;
    }
    let resolver = LinuxResolver::with_sources(
        OwnersChoice::Auto,
        "--owners",
        refused_events,
        TracepointSource::open,
    )
    .expect("resolver");
    let mode = resolver.event_mode();
    let OwnerMode::Tracepoint { reason } = &mode else {
        panic!("expected the tracepoint, got {mode:?}");
    };
    assert!(reason.contains("not permitted"), "{reason}");
    assert!(
        mode.to_string()
            .starts_with("tracepoint (perf sock:inet_sock_set_state; eBPF: not permitted"),
        "{mode}"
    );
}

#[test]
fn both_refused_fall_back_to_polling_naming_both() {
    let resolver =
        LinuxResolver::with_sources(OwnersChoice::Auto, "--owners", refused_events, || {
            Err(TracepointUnavailable::NotPermitted("EACCES".into()))
        })
        .expect("resolver");
    match resolver.event_mode() {
        OwnerMode::Polling { reason } => {
            assert!(reason.contains("eBPF needs root"), "{reason}");
            assert!(reason.contains("perf_event_open refused"), "{reason}");
        }
        other => panic!("expected polling, got {other:?}"),
    }
}

#[test]
fn the_choice_decides_which_sources_are_tried() {
    let never_events = || -> Result<netop_linux::events::EventSource, EventsUnavailable> {
        panic!("the event source must not be tried")
    };
    let never_tracepoint = || -> Result<TracepointSource, TracepointUnavailable> {
        panic!("the tracepoint must not be tried")
    };
    let polling = LinuxResolver::with_sources(
        OwnersChoice::Polling,
        "--owners polling",
        never_events,
        never_tracepoint,
    )
    .expect("resolver");
    assert_eq!(
        polling.event_mode(),
        OwnerMode::Polling {
            reason: "turned off with --owners polling".into()
        }
    );
    let events_only = LinuxResolver::with_sources(
        OwnersChoice::Events,
        "--owners",
        refused_events,
        never_tracepoint,
    )
    .expect("resolver");
    assert!(matches!(
        events_only.event_mode(),
        OwnerMode::Polling { .. }
    ));
    let forced = LinuxResolver::with_sources(
        OwnersChoice::Tracepoint,
        "--owners tracepoint",
        never_events,
        || Err(TracepointUnavailable::Tracefs("no tracefs".into())),
    )
    .expect("resolver");
    match forced.event_mode() {
        OwnerMode::Polling { reason } => {
            assert!(
                reason.contains("not tried (--owners tracepoint)"),
                "{reason}"
            );
            assert!(reason.contains("no tracefs"), "{reason}");
        }
        other => panic!("expected polling, got {other:?}"),
    }
}

#[test]
fn the_tracepoint_names_the_owner_of_a_connection_whose_process_exited() {
    if !tracepoint_runs() {
        return;
    }
    let mut resolver = LinuxResolver::with_owners(OwnersChoice::Tracepoint, "--owners tracepoint")
        .expect("resolver");
    assert!(
        matches!(resolver.event_mode(), OwnerMode::Tracepoint { .. }),
        "{:?}",
        resolver.event_mode()
    );
    // A process that connects, sends a line and exits at once.
    let (pid, _, entry) = short_connection::short_lived_client(&mut resolver);
    let owner = entry.owner.expect("owner");
    assert_eq!(owner.pid, pid);
    // Gone before the drain: its name from the kernel's exec record.
    assert_eq!(owner.name, "bash");
}
