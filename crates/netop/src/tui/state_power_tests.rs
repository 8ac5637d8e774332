//! Issue 14's keys and reports: sliding windows (`w`), pins (`p`), themes
//! (`t`), saving preferences, and alerts, against the fixed scene.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::tui::fixture;

fn press(state: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(state, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn scene() -> AppState {
    fixture::state((80, 24))
}

/// The process names of the Process view, in order.
fn process_order(state: &AppState) -> Vec<String> {
    rows::process_lines(state)
        .iter()
        .filter_map(|l| match l {
            rows::ProcessLine::Process { process, .. } => Some(process.name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn w_toggles_the_window_layout() {
    let mut s = scene();
    assert!(!s.windows);
    assert!(press(&mut s, KeyCode::Char('w')).is_empty());
    assert!(s.windows);
    press(&mut s, KeyCode::Char('w'));
    assert!(!s.windows);
}

#[test]
fn t_cycles_every_theme_and_asks_to_save() {
    let mut s = scene();
    let mut seen = vec![s.theme];
    for _ in 0..super::super::theme::PALETTES.len() {
        assert_eq!(press(&mut s, KeyCode::Char('t')), vec![Effect::SavePrefs]);
        seen.push(s.theme);
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 0]);
}

#[test]
fn a_sort_change_asks_to_save() {
    let mut s = scene();
    assert_eq!(press(&mut s, KeyCode::Char('s')), vec![Effect::SavePrefs]);
}

#[test]
fn p_pins_the_selected_process_on_top_across_sorts_and_reports() {
    let mut s = scene();
    let before = process_order(&s);
    assert!(before.len() >= 3, "{before:?}");
    let last_named = before
        .iter()
        .rev()
        .find(|n| *n != "unknown")
        .cloned()
        .expect("a process");
    // Select it, pin it.
    press(&mut s, KeyCode::End);
    while !matches!(s.selected(), Some(RowId::Process(Some(_))))
        || process_order(&s).iter().position(|n| *n == last_named)
            != rows::process_lines(&s)
                .iter()
                .position(|l| Some(&l.id()) == s.selected())
    {
        press(&mut s, KeyCode::Up);
    }
    assert_eq!(press(&mut s, KeyCode::Char('p')), vec![Effect::SavePrefs]);
    assert!(s.pins.processes.contains(&last_named));
    assert_eq!(process_order(&s)[0], last_named, "pinned on top");
    // Every sort keeps it first; so does a new report.
    for _ in 0..4 {
        press(&mut s, KeyCode::Char('s'));
        assert_eq!(process_order(&s)[0], last_named, "sort {:?}", s.sort);
        press(&mut s, KeyCode::Char('S'));
        assert_eq!(process_order(&s)[0], last_named, "reversed {:?}", s.sort);
    }
    update(&mut s, Event::Report(fixture::report()));
    assert_eq!(process_order(&s)[0], last_named);
    // The cursor stayed on it; p again unpins.
    press(&mut s, KeyCode::Char('p'));
    assert!(s.pins.processes.is_empty());
}

#[test]
fn p_pins_a_connection_by_its_remote_endpoint() {
    let mut s = scene();
    press(&mut s, KeyCode::Char('2'));
    press(&mut s, KeyCode::End);
    let Some(RowId::Connection(_, key)) = s.selected().cloned() else {
        panic!("no connection selected");
    };
    assert_eq!(press(&mut s, KeyCode::Char('p')), vec![Effect::SavePrefs]);
    assert!(s.pins.remotes.contains(&remote_key(&key)));
    let first = rows::connections(&s)[0];
    assert_eq!(remote_key(&first.key), remote_key(&key));
}

#[test]
fn p_on_nothing_pinnable_does_nothing() {
    let mut s = scene();
    press(&mut s, KeyCode::Char('3'));
    assert!(press(&mut s, KeyCode::Char('p')).is_empty());
    assert_eq!(s.pins, Pins::default());
}

#[test]
fn pins_from_the_config_file_apply_at_start() {
    let mut settings = fixture::settings();
    let names = process_order(&scene());
    let quietest = names
        .iter()
        .rev()
        .find(|n| *n != "unknown")
        .cloned()
        .expect("a process");
    settings.pins.processes.insert(quietest.clone());
    let mut s = AppState::new(settings, (80, 24));
    update(&mut s, Event::Report(fixture::report()));
    assert_eq!(process_order(&s)[0], quietest);
}

#[test]
fn alerts_flag_rows_above_the_threshold_and_ring_once() {
    let mut settings = fixture::settings();
    let report = fixture::report();
    let busiest = report
        .processes
        .iter()
        .filter(|p| p.pid.is_some())
        .max_by_key(|p| p.rate.total())
        .expect("a process")
        .clone();
    let limit = busiest.rate.total() - 1;
    settings.alerts = Alerts {
        rate: Some(limit),
        processes: Default::default(),
        bell: true,
    };
    let mut s = AppState::new(settings, (80, 24));
    assert_eq!(
        update(&mut s, Event::Report(Arc::clone(&report))),
        vec![Effect::Bell]
    );
    let pid = busiest.pid.expect("pid");
    assert!(s.alerting.processes.contains(&pid));
    assert_eq!(s.alerting.processes.len(), 1, "only the busiest crosses");
    let summary = s.alerting.summary.clone().expect("a summary");
    assert!(
        summary.contains(&busiest.name) || summary.contains('→'),
        "{summary}"
    );
    // Still above on the next report: no second bell.
    assert!(update(&mut s, Event::Report(Arc::clone(&report))).is_empty());
    // Below again: nothing flagged.
    s.alerts.rate = Some(u64::MAX);
    update(&mut s, Event::Report(report));
    assert_eq!(s.alerting, Alerting::default());
}

#[test]
fn a_per_process_threshold_wins_and_the_bell_can_be_off() {
    let mut settings = fixture::settings();
    let report = fixture::report();
    let quiet = report
        .processes
        .iter()
        .filter(|p| p.pid.is_some() && p.rate.total() > 0)
        .min_by_key(|p| p.rate.total())
        .expect("a process with traffic")
        .clone();
    settings.alerts = Alerts {
        rate: Some(u64::MAX),
        processes: [(quiet.name.clone(), 0)].into_iter().collect(),
        bell: false,
    };
    let mut s = AppState::new(settings, (80, 24));
    assert!(update(&mut s, Event::Report(report)).is_empty(), "bell off");
    assert!(s.alerting.processes.contains(&quiet.pid.expect("pid")));
    assert!(s.alerting.connections.is_empty());
}

#[test]
fn window_rates_are_means_of_the_per_second_history() {
    let history: Vec<(u64, u64)> = (0..60).map(|i| (i, 2 * i)).collect();
    // Last 2 seconds: (58 + 116 + 59 + 118) / 2.
    assert_eq!(rows::window_rate(&history, 2), (58 + 116 + 59 + 118) / 2);
    let ten: u64 = (50..60).map(|i| 3 * i).sum();
    assert_eq!(rows::window_rate(&history, 10), ten / 10);
    assert_eq!(rows::window_rate(&[], 40), 0);
}

#[test]
fn a_key_clears_the_status_message() {
    let mut s = scene();
    s.message = Some("saved to /x".into());
    press(&mut s, KeyCode::Down);
    assert_eq!(s.message, None);
}

#[test]
fn exclude_hides_processes_and_their_connections() {
    let mut settings = fixture::settings();
    settings.exclude = vec!["FIRE".into()];
    let mut s = AppState::new(settings, (80, 24));
    update(&mut s, Event::Report(fixture::report()));
    let names = process_order(&s);
    assert!(!names.iter().any(|n| n.contains("firefox")), "{names:?}");
    assert!(names.iter().any(|n| n == "unknown"), "{names:?}");
    assert!(rows::connections(&s).iter().all(|c| c.process != "firefox"));
    assert!(!rows::connections(&s).is_empty());
    // The DNS view hides its queries too.
    let all = s.report.dns.as_ref().map_or(0, |d| d.log.len());
    let shown = super::super::dns_view::queries(&s);
    assert!(shown.iter().all(|q| !q.process.contains("firefox")));
    assert!(shown.len() < all, "the fixture has firefox queries");
}

#[test]
fn e_and_shift_e_export_the_view_as_shown() {
    use super::super::export::{export, ExportFormat};
    let mut s = scene();
    assert_eq!(
        press(&mut s, KeyCode::Char('e')),
        vec![Effect::Export(ExportFormat::Tsv)]
    );
    assert_eq!(
        press(&mut s, KeyCode::Char('E')),
        vec![Effect::Export(ExportFormat::Json)]
    );
    // Filtered and sorted as on screen.
    for c in "/curl".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Enter);
    let tsv = export(&s, ExportFormat::Tsv).expect("an export");
    assert!(
        tsv.name.starts_with("netop-process-") && tsv.name.ends_with(".tsv"),
        "{}",
        tsv.name
    );
    let lines: Vec<&str> = tsv.contents.lines().collect();
    assert!(lines[0].starts_with("pid\tprocess\tuser\t"), "{}", lines[0]);
    let shown = process_order(&s);
    assert_eq!(lines.len(), 1 + shown.len(), "{}", tsv.contents);
    for (line, name) in lines[1..].iter().zip(&shown) {
        assert_eq!(line.split('\t').nth(1), Some(name.as_str()));
    }
    // JSON: the same rows as objects.
    press(&mut s, KeyCode::Char('2'));
    let json = export(&s, ExportFormat::Json).expect("an export");
    assert!(json.name.starts_with("netop-connection-") && json.name.ends_with(".json"));
    let value: serde_json::Value = serde_json::from_str(&json.contents).expect("JSON");
    let rows = value.as_array().expect("an array");
    assert_eq!(rows.len(), rows::connections(&s).len());
    assert!(rows
        .iter()
        .all(|r| r["rate_10s"].is_u64() && r["remote"].is_string()));
    // The DNS view has no export: a message, no effect.
    press(&mut s, KeyCode::Char('4'));
    assert!(press(&mut s, KeyCode::Char('e')).is_empty());
    assert!(s.message.is_some());
}

#[test]
fn n_toggles_service_names_and_numbers() {
    let mut s = scene();
    assert_eq!(s.port(netop_core::Protocol::Tcp, 443), "https");
    assert_eq!(s.port(netop_core::Protocol::Udp, 53), "domain");
    assert_eq!(s.port(netop_core::Protocol::Tcp, 54321), "54321");
    assert!(press(&mut s, KeyCode::Char('n')).is_empty());
    assert_eq!(s.port(netop_core::Protocol::Tcp, 443), "443");
    press(&mut s, KeyCode::Char('n'));
    assert_eq!(s.port(netop_core::Protocol::Tcp, 443), "https");
}
