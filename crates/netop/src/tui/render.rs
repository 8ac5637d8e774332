//! Drawing: the whole screen from an [`AppState`], changing nothing.
//!
//! Tabs on the top line, the current view in the middle, the filter bar
//! (while typing) and the status bar at the bottom; the help overlay on
//! top. Below 80x24 the screen says so instead of drawing a garbled table.

use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use super::state::{AppState, OwnerMode, View};
use super::{connection_view, dns_view, interface_view, process_view};

pub use super::theme::Theme;

impl Theme {
    pub fn of(state: &AppState) -> Theme {
        Theme::new(state.theme, state.color)
    }
}

pub fn render(state: &AppState, frame: &mut Frame<'_>) {
    let area = frame.area();
    if layout::too_small(state.size) || area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let theme = Theme::of(state);
    let areas = layout::areas(state);
    tabs(state, theme, frame, areas.tabs);
    match state.view {
        View::Process => process_view::render(state, theme, frame, areas.body),
        View::Connection => connection_view::render(state, theme, frame, areas.body),
        View::Interface => interface_view::render(state, theme, frame, areas.body),
        View::Dns => dns_view::render(state, theme, frame, areas.body),
    }
    if let (Some(input), Some(rect)) = (&state.filter_input, areas.filter) {
        let line = Line::from(vec![
            Span::styled(" Filter: ", theme.header()),
            Span::raw(input.clone()),
            Span::styled("█", theme.dim()),
            Span::styled("   Enter apply · Esc cancel", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), rect);
    }
    status_bar(state, theme, frame, areas.status);
    if state.help {
        help(theme, frame, areas.body);
    }
}

fn too_small(frame: &mut Frame<'_>, area: Rect) {
    let text = vec![
        Line::from(format!(
            "Terminal too small: {}x{}",
            area.width, area.height
        )),
        Line::from(format!("netop needs at least {MIN_WIDTH}x{MIN_HEIGHT}.")),
        Line::from("Enlarge the window, or press q to quit."),
    ];
    let top = area.height.saturating_sub(3) / 2;
    let rect = Rect {
        y: area.y + top,
        height: area.height.saturating_sub(top),
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

fn tabs(state: &AppState, theme: Theme, frame: &mut Frame<'_>, rect: Rect) {
    let mut spans = vec![Span::styled(" netop ", theme.header())];
    for (i, view) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, view.title());
        let style = if *view == state.view {
            theme.selected().add_modifier(Modifier::BOLD)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), rect);
}

fn status_bar(state: &AppState, theme: Theme, frame: &mut Frame<'_>, rect: Rect) {
    let report = &state.report;
    let mut parts = vec![format!(" {}", state.view.title())];
    if let Some(f) = &state.filter {
        parts.push(format!("filter: {f}"));
    }
    if matches!(state.view, View::Process | View::Connection) {
        let arrow = if state.descending { "↓" } else { "↑" };
        parts.push(format!("sort: {} {arrow}", state.sort.label()));
    }
    parts.push(format!("refresh {}", interval(state)));
    let connections = report.connections.iter().filter(|c| !c.unconnected).count();
    parts.push(format!("{connections} connections"));
    let drops = report.capture.dropped + report.capture.if_dropped;
    let mut spans = vec![Span::raw(parts.join(" │ "))];
    match &state.owners {
        Some(OwnerMode::Events) => spans.push(Span::raw(" │ events")),
        Some(OwnerMode::Polling { .. }) => {
            spans.push(Span::raw(" │ "));
            spans.push(Span::styled("polling", theme.warn()));
        }
        Some(OwnerMode::Tracepoint { .. }) => {
            spans.push(Span::raw(" │ "));
            spans.push(Span::styled("tracepoint", theme.warn()));
        }
        None => {}
    }
    match &state.counting {
        netop_core::Counting::Kernel { .. } => spans.push(Span::raw(" │ kernel")),
        netop_core::Counting::Fallback { .. } => {
            spans.push(Span::raw(" │ "));
            spans.push(Span::styled("pcap", theme.warn()));
        }
        netop_core::Counting::Packets => {}
    }
    let alarm = theme.alarm();
    if let Some(gap) = &report.capture_gone {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(
            format!("{}: gone, retrying", gap.device),
            alarm,
        ));
    }
    if drops > 0 {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(format!("dropped {drops} packets"), alarm));
    }
    if report.lost_events > 0 {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(
            format!("lost {} events", report.lost_events),
            theme.warn(),
        ));
    }
    if report.stats.decode_errors > 0 {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(
            format!("{} malformed", report.stats.decode_errors),
            theme.warn(),
        ));
    }
    if let Some(summary) = &state.alerting.summary {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(format!("⚠ alert: {summary}"), alarm));
    }
    if let Some(message) = &state.message {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(message.clone(), theme.warn()));
    }
    if !state.started {
        spans.push(Span::styled(
            " │ waiting for the first refresh…",
            theme.dim(),
        ));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    // Narrow terminals keep the help key and drop the quit key.
    let hint = if used + 16 <= usize::from(rect.width) || state.owners.is_none() {
        " ? help  q quit "
    } else {
        " ? help "
    };
    let pad = usize::from(rect.width).saturating_sub(used + hint.len());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(hint, theme.dim()));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.selected()),
        rect,
    );
}

/// `1s`, `0.5s`, `2s`.
fn interval(state: &AppState) -> String {
    let secs = state.interval.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}s")
    } else {
        format!("{secs:.1}s")
    }
}

const HELP: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit"),
    ("Tab / Shift-Tab", "next / previous view"),
    ("1 2 3 4", "Process, Connection, Interface, DNS view"),
    ("/ , Esc", "filter (Enter applies) / clear the filter"),
    ("s / S", "next sort column / reverse the order"),
    ("↑ ↓ PgUp PgDn", "move the selection by a row / a page"),
    ("Enter", "expand or collapse a process (Process view)"),
    ("p", "pin / unpin the selected row (kept on top)"),
    ("w", "sparklines / 2 s, 10 s, 40 s averages"),
    ("t", "next theme"),
    ("e / E", "export the view to a TSV / JSON file"),
    ("n", "service names / port numbers"),
    ("Home / End", "first / last row"),
    ("mouse", "wheel scrolls, click selects"),
    ("?", "close this help"),
];

fn help(theme: Theme, frame: &mut Frame<'_>, body: Rect) {
    let width = 66.min(body.width);
    let height = (HELP.len() as u16 + 4).min(body.height);
    let rect = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line<'_>> = HELP
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("  {key:<18}"), theme.header()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.insert(0, Line::raw(""));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys ")
                .title_alignment(Alignment::Center),
        ),
        rect,
    );
}

/// Text cut or padded to exactly `width` columns (`…` marks a cut).
pub fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        let mut s = String::with_capacity(width);
        s.push_str(text);
        s.extend(std::iter::repeat_n(' ', width - n));
        s
    } else if width == 0 {
        String::new()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

/// Right-aligned [`fit`].
pub fn fit_right(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n >= width {
        fit(text, width)
    } else {
        let mut s: String = std::iter::repeat_n(' ', width - n).collect();
        s.push_str(text);
        s
    }
}
