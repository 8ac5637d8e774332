//! Screens of the monitor, drawn into ratatui's `TestBackend` from the
//! fixed scene in `fixture.rs` and compared with reviewed snapshots, at
//! the smallest supported size (80x24) and a large one (200x50).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::fixture;
use super::state::{update, AppState, Event};

/// The screen as text, one line per row.
fn draw(state: &AppState) -> String {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| super::render(state, f)).expect("draw");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(state: &mut AppState, code: KeyCode) {
    update(state, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn keys(state: &mut AppState, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

fn snapshot_at_both_sizes(name: &str, setup: impl Fn(&mut AppState)) {
    for size in SIZES {
        let mut state = fixture::state(size);
        setup(&mut state);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), draw(&state));
    }
}

#[test]
fn process_view() {
    snapshot_at_both_sizes("process", |_| {});
}

#[test]
fn process_view_expanded() {
    snapshot_at_both_sizes("process_expanded", |s| key(s, KeyCode::Enter));
}

#[test]
fn process_view_unknown_expanded() {
    // The unknown row is last: End selects it, Enter opens its reasons.
    snapshot_at_both_sizes("process_unknown_expanded", |s| {
        key(s, KeyCode::End);
        key(s, KeyCode::Enter);
    });
}

#[test]
fn connection_view() {
    snapshot_at_both_sizes("connection", |s| keys(s, "2"));
}

#[test]
fn interface_view() {
    snapshot_at_both_sizes("interface", |s| keys(s, "3"));
}

#[test]
fn dns_view() {
    snapshot_at_both_sizes("dns", |s| keys(s, "4"));
}

#[test]
fn dns_view_without_dns() {
    for size in SIZES {
        let mut settings = fixture::settings();
        settings.dns = false;
        let mut state = AppState::new(settings, size);
        let mut report = (*fixture::report()).clone();
        report.dns = None;
        update(&mut state, Event::Report(report.into()));
        keys(&mut state, "4");
        let screen = draw(&state);
        assert!(screen.contains("[no data]"), "{screen}");
        insta::assert_snapshot!(format!("dns_off_{}x{}", size.0, size.1), screen);
    }
}

#[test]
fn filter_bar_and_filtered_rows() {
    snapshot_at_both_sizes("filter_typing", |s| keys(s, "/cur"));
    snapshot_at_both_sizes("filter_applied", |s| {
        keys(s, "/curl");
        key(s, KeyCode::Enter);
    });
}

#[test]
fn help_overlay() {
    snapshot_at_both_sizes("help", |s| keys(s, "?"));
}

#[test]
fn too_small_terminal_says_so() {
    for size in [(79, 24), (80, 23), (40, 10)] {
        let state = fixture::state(size);
        let screen = draw(&state);
        assert!(screen.contains("Terminal too small"), "{screen}");
        assert!(screen.contains("at least 80x24"), "{screen}");
    }
    insta::assert_snapshot!("too_small_60x20", draw(&fixture::state((60, 20))));
}

#[test]
fn rates_are_coloured_by_the_guides_thresholds_and_not_without_colour() {
    let mut state = fixture::state((200, 50));
    keys(&mut state, "2");
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    terminal.draw(|f| super::render(&state, f)).expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let find = |text: &str| -> (u16, u16) {
        for y in 0..50u16 {
            let line: String = (0..200u16)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            if let Some(col) = line.find(text) {
                let x = line[..col].chars().count() as u16;
                return (x, y);
            }
        }
        panic!("{text} not on screen");
    };
    // Above 100 KB/s red, 1 to 100 KB/s yellow, under 1 KB/s green.
    let (x, y) = find("1.6 MB/s");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find("51.9 KB/s");
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    let (x, y) = find("354 B/s");
    assert_eq!(buffer[(x, y)].fg, Color::Green);

    state.color = false;
    terminal.draw(|f| super::render(&state, f)).expect("draw");
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "colour without colour: {cell:?}");
        assert_eq!(cell.bg, Color::Reset);
    }
    // The selection is still visible: reverse video is not a colour.
    assert!(buffer
        .content()
        .iter()
        .any(|c| c.modifier.contains(Modifier::REVERSED)));
}

#[test]
fn process_view_with_containers() {
    let mut state = fixture::state((200, 50));
    state.containers = true;
    let screen = draw(&state);
    assert!(screen.contains("docker:3f2a1b4c5d6e"), "{screen}");
    insta::assert_snapshot!("process_containers_200x50", screen);
}

#[test]
fn the_container_column_is_dropped_first_on_a_narrow_terminal() {
    for width in [80, 100, 107] {
        let plain = fixture::state((width, 24));
        let mut with = fixture::state((width, 24));
        with.containers = true;
        assert_eq!(draw(&with), draw(&plain), "at {width} columns");
    }
    let mut wide = fixture::state((108, 24));
    wide.containers = true;
    assert!(draw(&wide).contains("Container"));
    // Without the flag the fixture's containers stay off screen.
    assert!(!draw(&fixture::state((200, 50))).contains("Container"));
}

#[test]
fn the_status_bar_names_kernel_counting_and_its_fallback() {
    use netop_core::Counting;
    let status = |counting: Counting| {
        let mut state = fixture::state((200, 50));
        state.counting = counting;
        let screen = draw(&state);
        screen.lines().last().unwrap_or_default().to_string()
    };
    let kernel = status(Counting::Kernel {
        attach: "tcx".into(),
        interfaces: 3,
    });
    assert!(kernel.contains("│ kernel"), "{kernel}");
    let fallback = status(Counting::Fallback {
        reason: "not permitted".into(),
    });
    assert!(
        fallback.contains("│ pcap") && !fallback.contains("permitted"),
        "{fallback}"
    );
    let plain = status(Counting::Packets);
    assert!(
        !plain.contains("pcap") && !plain.contains("kernel"),
        "{plain}"
    );
}

#[test]
fn the_status_bar_names_how_owners_are_found() {
    use super::state::OwnerMode;
    let status = |owners: Option<OwnerMode>, size: (u16, u16)| {
        let mut state = fixture::state(size);
        state.owners = owners;
        let screen = draw(&state);
        let last = screen.lines().last().unwrap_or_default().to_string();
        last
    };
    let events = status(Some(OwnerMode::Events), (200, 50));
    assert!(events.contains("│ events"), "{events}");
    let polling = OwnerMode::Polling {
        reason: "turned off with --no-events".into(),
    };
    let line = status(Some(polling.clone()), (200, 50));
    assert!(line.contains("│ polling"), "{line}");
    assert!(
        !line.contains("--no-events"),
        "the reason is for stderr: {line}"
    );
    // At the smallest size it still fits, beside the help key.
    let line = status(Some(polling), (80, 24));
    assert!(
        line.contains("│ polling") && line.ends_with("? help"),
        "{line}"
    );
    let tracepoint = OwnerMode::Tracepoint {
        reason: "not permitted".into(),
    };
    let line = status(Some(tracepoint.clone()), (200, 50));
    assert!(line.contains("│ tracepoint"), "{line}");
    let line = status(Some(tracepoint), (80, 24));
    assert!(
        line.contains("│ tracepoint") && line.ends_with("? help"),
        "{line}"
    );
    let replay = status(None, (200, 50));
    assert!(
        !replay.contains("polling") && !replay.contains("events"),
        "{replay}"
    );
}

#[test]
fn an_exited_process_is_marked_while_its_bytes_are_recent() {
    let mut state = fixture::state((120, 30));
    let mut report = (*state.report).clone();
    let row = report
        .processes
        .iter_mut()
        .find(|p| p.pid.is_some())
        .expect("a process row");
    row.exited = true;
    let name = row.name.clone();
    state.report = std::sync::Arc::new(report);
    let screen = draw(&state);
    assert!(
        screen
            .lines()
            .any(|l| l.contains(&format!("{name} (exited)"))),
        "{screen}"
    );
}

/// Issue 11: traffic another process moved for this one (macOS PKTAP's
/// effective pid) names that process in the expanded tree.
#[test]
fn issue_11_the_expanded_tree_names_who_moved_bytes_for_a_process() {
    let mut state = fixture::state((120, 30));
    let mut report = (*state.report).clone();
    let row = report
        .processes
        .iter_mut()
        .find(|p| p.pid.is_some())
        .expect("a process row");
    row.delegates = vec![(310, "nsurlsessiond".to_string())];
    let pid = row.pid;
    state.report = std::sync::Arc::new(report);
    assert!(
        !draw(&state).contains("via nsurlsessiond"),
        "collapsed: not shown"
    );
    state.expanded.insert(pid);
    let screen = draw(&state);
    assert!(
        screen
            .lines()
            .any(|l| l.contains("via nsurlsessiond (310)")),
        "{screen}"
    );
}

#[test]
fn issue_15_the_status_bar_says_a_lost_interface_and_counted_losses() {
    use std::sync::Arc;
    use std::time::Duration;

    let mut state = fixture::state((200, 50));
    let mut report = (*state.report).clone();
    report.capture_gone = Some(netop_core::Gap {
        device: "vflap0".into(),
        after: Duration::from_secs(3),
        length: Duration::from_millis(800),
    });
    report.lost_events = 12;
    report.stats.decode_errors = 3;
    state.report = Arc::new(report);
    let screen = draw(&state);
    let status = screen.lines().last().unwrap_or_default();
    assert!(status.contains("│ vflap0: gone, retrying"), "{status}");
    assert!(status.contains("│ lost 12 events"), "{status}");
    assert!(status.contains("│ 3 malformed"), "{status}");
    // Back: the words go away.
    let mut report = (*state.report).clone();
    report.capture_gone = None;
    state.report = Arc::new(report);
    let screen = draw(&state);
    assert!(!screen.contains("gone, retrying"), "{screen}");
}
