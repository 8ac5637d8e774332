//! Every key of the guide's table, and the mouse, against the fixed scene.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::*;
use crate::tui::fixture;

fn press(state: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(state, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(state: &mut AppState, text: &str) {
    for c in text.chars() {
        press(state, KeyCode::Char(c));
    }
}

fn scene() -> AppState {
    fixture::state((80, 24))
}

fn selected_pid(state: &AppState) -> Option<Option<u32>> {
    match state.selected() {
        Some(RowId::Process(pid)) => Some(*pid),
        _ => None,
    }
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut s = scene();
    assert_eq!(press(&mut s, KeyCode::Char('q')), vec![Effect::Quit]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(update(&mut s, Event::Key(ctrl_c)), vec![Effect::Quit]);
    // Ctrl-C quits even while typing a filter; `q` there is text.
    typed(&mut s, "/");
    assert!(press(&mut s, KeyCode::Char('q')).is_empty());
    assert_eq!(update(&mut s, Event::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn key_releases_are_ignored() {
    let mut s = scene();
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert!(update(&mut s, Event::Key(release)).is_empty());
}

#[test]
fn tab_and_shift_tab_cycle_the_views() {
    let mut s = scene();
    let mut seen = vec![s.view];
    for _ in 0..4 {
        press(&mut s, KeyCode::Tab);
        seen.push(s.view);
    }
    assert_eq!(
        seen,
        [
            View::Process,
            View::Connection,
            View::Interface,
            View::Dns,
            View::Process
        ]
    );
    press(&mut s, KeyCode::BackTab);
    assert_eq!(s.view, View::Dns);
    press(&mut s, KeyCode::BackTab);
    assert_eq!(s.view, View::Interface);
}

#[test]
fn number_keys_jump_to_views() {
    let mut s = scene();
    for (key, view) in [
        ('2', View::Connection),
        ('3', View::Interface),
        ('4', View::Dns),
        ('1', View::Process),
    ] {
        typed(&mut s, &key.to_string());
        assert_eq!(s.view, view);
    }
}

#[test]
fn filter_bar_applies_on_enter_and_cancels_on_esc() {
    let mut s = scene();
    typed(&mut s, "/CURL");
    assert_eq!(s.filter_input.as_deref(), Some("CURL"));
    assert_eq!(s.filter, None, "nothing applies before Enter");
    press(&mut s, KeyCode::Backspace);
    typed(&mut s, "L");
    press(&mut s, KeyCode::Enter);
    assert_eq!(
        s.filter.as_deref(),
        Some("curl"),
        "patterns are case-insensitive"
    );
    assert_eq!(s.filter_input, None);
    let pids: Vec<_> = rows::process_lines(&s).iter().map(|l| l.id()).collect();
    assert_eq!(pids, vec![RowId::Process(Some(2103))]);

    // Esc in the bar cancels the edit and keeps the applied filter.
    typed(&mut s, "/fire");
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.filter.as_deref(), Some("curl"));
    assert_eq!(s.filter_input, None);
    // Esc outside the bar clears the filter.
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.filter, None);
    assert_eq!(rows::process_lines(&s).len(), 5);
}

#[test]
fn filter_matches_remote_addresses_and_dns_queries() {
    let mut s = scene();
    typed(&mut s, "/93.184");
    press(&mut s, KeyCode::Enter);
    let ids: Vec<_> = rows::process_lines(&s).iter().map(|l| l.id()).collect();
    assert_eq!(
        ids,
        vec![RowId::Process(Some(2103))],
        "curl talks to 93.184.216.34"
    );
    typed(&mut s, "2");
    assert_eq!(rows::connections(&s).len(), 1);
    typed(&mut s, "/github");
    press(&mut s, KeyCode::Enter);
    typed(&mut s, "4");
    let names: Vec<_> = crate::tui::dns_view::queries(&s)
        .iter()
        .map(|q| q.name.clone())
        .collect();
    assert_eq!(names, ["github.com", "api.github.com"]);
}

#[test]
fn s_cycles_sort_columns_and_shift_s_reverses() {
    let mut s = scene();
    assert_eq!((s.sort, s.descending), (SortColumn::Traffic, true));
    let first = |s: &AppState| selected_or_first(s);
    assert_eq!(first(&s), RowId::Process(Some(1842)), "busiest first");
    let mut cycle = vec![];
    for _ in 0..4 {
        typed(&mut s, "s");
        cycle.push(s.sort);
    }
    assert_eq!(
        cycle,
        [
            SortColumn::Pid,
            SortColumn::Name,
            SortColumn::Connections,
            SortColumn::Traffic
        ]
    );
    typed(&mut s, "s"); // pid, ascending
    let order =
        |s: &AppState| -> Vec<RowId> { rows::process_lines(s).iter().map(|l| l.id()).collect() };
    assert_eq!(
        order(&s),
        [612, 1842, 2103, 3000]
            .map(|p| RowId::Process(Some(p)))
            .into_iter()
            .chain([RowId::Process(None)])
            .collect::<Vec<_>>(),
        "unknown stays last"
    );
    typed(&mut s, "S");
    assert!(s.descending);
    assert_eq!(order(&s)[0], RowId::Process(Some(3000)));
    // The Connection view has its own cycle, with remote address.
    typed(&mut s, "2");
    let mut cycle = vec![s.sort];
    for _ in 0..4 {
        typed(&mut s, "s");
        cycle.push(s.sort);
    }
    assert_eq!(
        cycle,
        [
            SortColumn::Pid,
            SortColumn::Name,
            SortColumn::Remote,
            SortColumn::Traffic,
            SortColumn::Pid
        ]
    );
}

fn selected_or_first(s: &AppState) -> RowId {
    s.selected()
        .cloned()
        .unwrap_or_else(|| s.row_ids()[0].clone())
}

#[test]
fn arrows_page_home_and_end_move_the_selection() {
    let mut s = scene();
    typed(&mut s, "2");
    let ids = s.row_ids();
    assert_eq!(s.selected(), Some(&ids[0]));
    press(&mut s, KeyCode::Down);
    assert_eq!(s.selected(), Some(&ids[1]));
    press(&mut s, KeyCode::Up);
    press(&mut s, KeyCode::Up);
    assert_eq!(s.selected(), Some(&ids[0]), "stops at the top");
    press(&mut s, KeyCode::End);
    assert_eq!(s.selected(), ids.last());
    press(&mut s, KeyCode::Home);
    assert_eq!(s.selected(), Some(&ids[0]));
    press(&mut s, KeyCode::PageDown);
    assert_eq!(s.selected(), ids.last(), "a page is more than six rows");
    press(&mut s, KeyCode::PageUp);
    assert_eq!(s.selected(), Some(&ids[0]));
}

#[test]
fn paging_scrolls_a_long_list_by_one_screen() {
    let mut report = (*fixture::report()).clone();
    let template = report.connections[0].clone();
    for port in 0..100u16 {
        let mut c = template.clone();
        c.key.local_port = 10_000 + port;
        report.connections.push(c);
    }
    let mut s = scene();
    update(&mut s, Event::Report(report.into()));
    typed(&mut s, "2");
    let page = layout::page_rows(&s);
    assert_eq!(page, 24 - 3, "tabs, header and status bar take three lines");
    press(&mut s, KeyCode::PageDown);
    assert_eq!(s.cursor(&s.row_ids()), Some(page));
    assert_eq!(s.offset(), 1, "the selected row is the last one shown");
    press(&mut s, KeyCode::End);
    let n = s.row_ids().len();
    assert_eq!(s.offset(), n - page);
    press(&mut s, KeyCode::PageUp);
    assert_eq!(s.cursor(&s.row_ids()), Some(n - 1 - page));
}

#[test]
fn enter_expands_and_collapses_the_selected_process() {
    let mut s = scene();
    assert_eq!(selected_pid(&s), Some(Some(1842)));
    press(&mut s, KeyCode::Enter);
    assert!(s.expanded.contains(&Some(1842)));
    let ids = s.row_ids();
    assert!(matches!(ids[1], RowId::Socket(Some(1842), _)));
    assert_eq!(ids.len(), 5 + 3, "firefox's three sockets under it");
    // Enter on a socket row collapses its process and selects it.
    press(&mut s, KeyCode::Down);
    assert!(matches!(s.selected(), Some(RowId::Socket(..))));
    press(&mut s, KeyCode::Enter);
    assert!(s.expanded.is_empty());
    assert_eq!(selected_pid(&s), Some(Some(1842)));
    // Other views ignore Enter.
    typed(&mut s, "2");
    press(&mut s, KeyCode::Enter);
    assert!(s.expanded.is_empty());
}

#[test]
fn question_mark_toggles_help_and_any_key_closes_it() {
    let mut s = scene();
    typed(&mut s, "?");
    assert!(s.help);
    typed(&mut s, "2");
    assert!(!s.help);
    assert_eq!(s.view, View::Process, "the closing key does nothing else");
    typed(&mut s, "?");
    typed(&mut s, "?");
    assert!(!s.help);
    typed(&mut s, "?");
    assert_eq!(press(&mut s, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn selection_follows_its_row_when_rows_reorder() {
    let mut s = scene();
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    let chosen = s.selected().cloned().expect("a selection");
    // Same data, new order: by name.
    typed(&mut s, "ss");
    assert_eq!(s.sort, SortColumn::Name);
    assert_eq!(s.selected(), Some(&chosen));
    // A new report keeps it too.
    update(&mut s, Event::Report(fixture::report()));
    assert_eq!(s.selected(), Some(&chosen));
}

#[test]
fn mouse_wheel_scrolls_and_click_selects() {
    let mut s = scene();
    let mouse = |kind, row| MouseEvent {
        kind,
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut s, Event::Mouse(mouse(MouseEventKind::ScrollDown, 5)));
    assert_eq!(s.cursor(&s.row_ids()), Some(3));
    update(&mut s, Event::Mouse(mouse(MouseEventKind::ScrollUp, 5)));
    assert_eq!(s.cursor(&s.row_ids()), Some(0));
    // Line 0 is the tabs, line 1 the header: line 4 is the third row.
    update(
        &mut s,
        Event::Mouse(mouse(MouseEventKind::Down(MouseButton::Left), 4)),
    );
    assert_eq!(s.cursor(&s.row_ids()), Some(2));
    // A click below the last row selects nothing new.
    update(
        &mut s,
        Event::Mouse(mouse(MouseEventKind::Down(MouseButton::Left), 20)),
    );
    assert_eq!(s.cursor(&s.row_ids()), Some(2));
}

#[test]
fn resize_keeps_the_selection_visible() {
    let mut s = scene();
    press(&mut s, KeyCode::End);
    update(&mut s, Event::Resize(200, 50));
    assert_eq!(s.size, (200, 50));
    let ids = s.row_ids();
    let at = s.cursor(&ids).expect("selection kept");
    assert!(at >= s.offset() && at < s.offset() + layout::page_rows(&s));
}

#[test]
fn the_dns_log_follows_new_queries() {
    let mut s = scene();
    typed(&mut s, "4");
    press(&mut s, KeyCode::End);
    let mut report = (*fixture::report()).clone();
    let dns = report.dns.as_mut().expect("dns");
    let mut newer = dns.log[0].clone();
    newer.seq = 99;
    dns.log.push(newer);
    update(&mut s, Event::Report(report.into()));
    assert_eq!(s.selected(), Some(&RowId::Query(99)));
}

#[test]
fn the_interface_view_shows_only_the_captured_interface() {
    let mut s = scene();
    typed(&mut s, "3");
    assert_eq!(s.row_ids(), vec![RowId::Interface(1), RowId::Interface(2)]);
    let mut settings = fixture::settings();
    settings.interface = Some("eth0".into());
    let mut s = AppState::new(settings, (80, 24));
    update(&mut s, Event::Report(fixture::report()));
    typed(&mut s, "3");
    assert_eq!(s.row_ids(), vec![RowId::Interface(2)]);
}
