//! Issue 14's screens at 80x24: the three-window layout, a pinned row, an
//! alert, and each theme (with the colours of each line, which text
//! snapshots alone would not show).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::fixture;
use super::state::{update, Alerts, AppState, Event};
use super::theme::PALETTES;

fn buffer(state: &AppState) -> Buffer {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| super::render(state, f)).expect("draw");
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The text, then per line the runs of style: `fg/bg/modifiers xN`.
fn styled(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = text(buffer);
    out.push_str("--- styles (fg/bg/modifiers x cells) ---\n");
    for y in 0..area.height {
        let mut runs: Vec<(String, usize)> = Vec::new();
        for x in 0..area.width {
            let c = &buffer[(x, y)];
            let key = format!("{:?}/{:?}/{:?}", c.fg, c.bg, c.modifier);
            match runs.last_mut() {
                Some((k, n)) if *k == key => *n += 1,
                _ => runs.push((key, 1)),
            }
        }
        let line: Vec<String> = runs.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        out.push_str(&format!("{y:2}: {}\n", line.join(", ")));
    }
    out
}

fn press(state: &mut AppState, c: char) {
    update(
        state,
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
}

#[test]
fn window_layout_process_and_connection_views() {
    let mut s = fixture::state((80, 24));
    press(&mut s, 'w');
    let screen = text(&buffer(&s));
    assert!(
        screen.contains("2s") && screen.contains("10s") && screen.contains("40s"),
        "{screen}"
    );
    insta::assert_snapshot!("windows_process_80x24", screen);
    press(&mut s, '2');
    let screen = text(&buffer(&s));
    assert!(screen.contains("40s"), "{screen}");
    insta::assert_snapshot!("windows_connection_80x24", screen);
}

#[test]
fn a_pinned_row_is_on_top_and_marked() {
    let mut s = fixture::state((80, 24));
    let quiet = s
        .report
        .processes
        .iter()
        .filter(|p| p.pid.is_some())
        .min_by_key(|p| p.rate.total())
        .expect("a process")
        .name
        .clone();
    s.pins.processes.insert(quiet.clone());
    let screen = text(&buffer(&s));
    let first_row = screen.lines().nth(2).expect("a first row");
    assert!(first_row.contains(&format!("★{quiet}")), "{screen}");
    insta::assert_snapshot!("pinned_80x24", screen);
}

#[test]
fn an_alert_highlights_the_row_and_says_so() {
    let mut settings = fixture::settings();
    settings.alerts = Alerts {
        rate: Some(1_000_000),
        processes: Default::default(),
        bell: true,
    };
    let mut s = AppState::new(settings, (80, 24));
    update(&mut s, Event::Report(fixture::report()));
    let b = buffer(&s);
    let screen = text(&b);
    let status = screen.lines().nth(23).expect("status bar");
    assert!(status.contains("⚠ alert:"), "{screen}");
    // The alerting process's row is underlined on a coloured background.
    let pid = *s
        .alerting
        .processes
        .iter()
        .next()
        .expect("an alerting process");
    let y = screen
        .lines()
        .position(|l| l.trim_start().starts_with(&pid.to_string()))
        .expect("its row") as u16;
    let cell = &b[(2, y)];
    assert!(cell.modifier.contains(Modifier::UNDERLINED), "{cell:?}");
    assert_eq!(cell.bg, Color::Red);
    insta::assert_snapshot!("alert_80x24", styled(&b));
}

#[test]
fn each_theme_at_80x24() {
    for (i, palette) in PALETTES.iter().enumerate() {
        let mut s = fixture::state((80, 24));
        s.theme = i;
        insta::assert_snapshot!(format!("theme_{}_80x24", palette.name), styled(&buffer(&s)));
    }
}

#[test]
fn no_color_wins_over_every_theme() {
    for i in 0..PALETTES.len() {
        let mut s = fixture::state((80, 24));
        s.theme = i;
        s.color = false;
        s.alerts.rate = Some(1);
        let report = Arc::clone(&s.report);
        update(&mut s, Event::Report(report));
        for cell in buffer(&s).content() {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "theme {i}"
            );
        }
    }
}

#[test]
fn the_connection_view_names_services_unless_numeric() {
    let mut s = fixture::state((200, 50));
    press(&mut s, '2');
    let named = text(&buffer(&s));
    assert!(named.contains("140.82.121.4:https"), "{named}");
    press(&mut s, 'n');
    let numeric = text(&buffer(&s));
    assert!(numeric.contains("140.82.121.4:443"), "{numeric}");
    assert!(!numeric.contains(":https"), "{numeric}");
}

#[test]
fn config_columns_hide_optional_process_columns() {
    let mut s = fixture::state((80, 24));
    s.columns = super::process_view::Shown {
        user: false,
        sockets: true,
        conns: false,
        container: false,
    };
    let screen = text(&buffer(&s));
    let header = screen.lines().nth(1).expect("header");
    assert!(
        header.contains("Sockets") && !header.contains("User") && !header.contains("Conns"),
        "{header}"
    );
    assert!(!screen.contains("alice"), "{screen}");
    // The room goes to the other columns: still a full line.
    assert!(header.ends_with("TX Total"), "{header}");
}

#[test]
fn reverse_dns_names_fill_in_where_the_observatory_named_nothing() {
    let mut s = fixture::state((200, 50));
    press(&mut s, '2');
    let before = text(&buffer(&s));
    assert!(before.contains("203.0.113.9:5000"), "{before}");
    update(
        &mut s,
        Event::Names(vec![(
            "203.0.113.9".parse().expect("ip"),
            "scanner.example".into(),
        )]),
    );
    let after = text(&buffer(&s));
    assert!(after.contains("scanner.example:5000"), "{after}");
    // A name from the DNS observatory wins over reverse DNS.
    let mut report = (*s.report).clone();
    for c in &mut report.connections {
        if c.key.remote_ip.to_string() == "140.82.121.4" {
            c.remote_name = Some("github.com".into());
        }
    }
    update(&mut s, Event::Report(Arc::new(report)));
    update(
        &mut s,
        Event::Names(vec![(
            "140.82.121.4".parse().expect("ip"),
            "ptr.example".into(),
        )]),
    );
    let screen = text(&buffer(&s));
    assert!(
        screen.contains("github.com:https") && !screen.contains("ptr.example"),
        "{screen}"
    );
}
