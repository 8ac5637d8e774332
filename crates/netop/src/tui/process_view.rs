//! The Process view: one row per process (the guide's nine columns, rates
//! with sparklines), and under an expanded process a tree of its sockets
//! and connections. With `--containers` a Container column follows User;
//! it is the first column dropped on a narrow terminal, so the guide's
//! nine always fit.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use netop_core::engine::{LiveConnection, LiveProcess};
use netop_core::flow::{Counters, Direction};
use netop_core::UnknownReason;

use super::format;
use super::render::{fit, fit_right, Theme};
use super::rows::{self, ProcessLine};
use super::state::AppState;

/// Column widths for a terminal `width` columns wide. The rate columns
/// take what the fixed columns leave, so sparklines grow with the window
/// (up to the 60 seconds of history).
#[derive(Debug, Clone, Copy)]
struct Widths {
    pid: usize,
    name: usize,
    user: usize,
    /// 0 when the column is not shown.
    container: usize,
    sockets: usize,
    conns: usize,
    rate: usize,
    total: usize,
    /// The iftop-style layout: three window columns instead of the two
    /// sparkline cells.
    windows: bool,
}

/// The optional columns the config file's `columns` shows (all by
/// default; Container also needs `--containers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub user: bool,
    pub sockets: bool,
    pub conns: bool,
    pub container: bool,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            user: true,
            sockets: true,
            conns: true,
            container: true,
        }
    }
}

/// A window column (`2s`, `10s`, `40s`): a compact rate.
const WINDOW: usize = 6;

/// The Container column: `docker:` and a 12-character short id, plus one.
const CONTAINER: usize = 20;
/// What the Container column leaves at least to the Process column.
const NAME_WITH_CONTAINER: usize = 16;

impl Widths {
    fn for_width(width: u16, containers: bool, windows: bool, shown: Shown) -> Widths {
        let on = |shown: bool, w: usize| if shown { w } else { 0 };
        let (pid, user, sockets, conns, total) = (
            7,
            on(shown.user, 8),
            on(shown.sockets, 7),
            on(shown.conns, 5),
            9,
        );
        // One-column gaps between the columns (eight for the guide's nine).
        let gaps = 8 - [shown.user, shown.sockets, shown.conns]
            .iter()
            .filter(|s| !**s)
            .count();
        let fixed = pid + user + sockets + conns + 2 * total + gaps;
        let containers = containers && shown.container;
        let mut avail = usize::from(width).saturating_sub(fixed);
        // The Container column (and its gap) only where the rates keep
        // their minimum and the name its room.
        let container = if containers && avail >= CONTAINER + 1 + 2 * MIN_RATE + NAME_WITH_CONTAINER
        {
            avail -= CONTAINER + 1;
            CONTAINER
        } else {
            0
        };
        // A rate cell is "<sparkline> <rate>": at least 4 bars, at most 60.
        let rate = (avail.saturating_sub(16) / 2).clamp(MIN_RATE, 65);
        // Three window columns take the two rate cells' place (one more gap).
        let rates = if windows { 3 * WINDOW + 1 } else { 2 * rate };
        Widths {
            pid,
            name: avail
                .saturating_sub(rates)
                .clamp(6, 40.max(avail.saturating_sub(2 * rate))),
            windows,
            user,
            container,
            sockets,
            conns,
            rate,
            total,
        }
    }

    fn spark(&self) -> usize {
        self.rate - 5
    }
}

/// The narrowest rate cell: a 4-bar sparkline and a rate.
const MIN_RATE: usize = 9;

pub fn render(state: &AppState, theme: Theme, frame: &mut Frame<'_>, body: Rect) {
    let w = Widths::for_width(body.width, state.containers, state.windows, state.columns);
    let mut header = vec![fit_right("PID", w.pid), fit("Process", w.name)];
    if w.user > 0 {
        header.push(fit("User", w.user));
    }
    if w.container > 0 {
        header.push(fit("Container", w.container));
    }
    if w.sockets > 0 {
        header.push(fit_right("Sockets", w.sockets));
    }
    if w.conns > 0 {
        header.push(fit_right("Conns", w.conns));
    }
    if w.windows {
        header.extend(rows::WINDOWS.map(|s| fit_right(&format!("{s}s"), WINDOW)));
    } else {
        header.extend([fit_right("RX Rate", w.rate), fit_right("TX Rate", w.rate)]);
    }
    header.extend([
        fit_right("RX Total", w.total),
        fit_right("TX Total", w.total),
    ]);
    let header = header.join(" ");
    let mut lines = vec![Line::styled(header, theme.header())];
    let all = rows::process_lines(state);
    let page = usize::from(body.height.saturating_sub(1));
    let selected = state.selected();
    for line in all.iter().skip(state.offset()).take(page) {
        let mut rendered = match line {
            ProcessLine::Process { process, expanded } => {
                let pinned = rows::is_pinned_process(state, process);
                let row = process_row(process, *expanded, pinned, &w, theme);
                let alerting = process
                    .pid
                    .is_some_and(|pid| state.alerting.processes.contains(&pid));
                if alerting {
                    row.patch_style(theme.alert())
                } else {
                    row
                }
            }
            ProcessLine::Socket { conn, last, .. } => {
                socket_row(state, conn, *last, body.width, theme)
            }
            ProcessLine::Reason { why, totals, last } => reason_row(*why, totals, *last, theme),
            ProcessLine::Delegate { delegate, last, .. } => delegate_row(delegate, *last, theme),
        };
        if selected == Some(&line.id()) {
            rendered = rendered.patch_style(theme.selected());
        }
        lines.push(rendered);
    }
    if all.is_empty() {
        let note = if state.filter.is_some() {
            "  no process matches the filter (Esc clears it)"
        } else if state.started {
            "  no process has network sockets or traffic yet"
        } else {
            "  reading sockets…"
        };
        lines.push(Line::styled(note, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), body);
}

fn process_row(
    p: &LiveProcess,
    expanded: bool,
    pinned: bool,
    w: &Widths,
    theme: Theme,
) -> Line<'static> {
    let rx: Vec<u64> = p.history.iter().map(|s| s.0).collect();
    let tx: Vec<u64> = p.history.iter().map(|s| s.1).collect();
    let marker = if expanded { "▾" } else { "▸" };
    let pid = p.pid.map_or_else(|| "-".to_string(), |pid| pid.to_string());
    // An exited process stays on screen while its bytes are recent.
    let gone = if p.exited { " (exited)" } else { "" };
    let pin = if pinned { "★" } else { "" };
    let name = format!("{marker}{pin}{}{gone}", p.name);
    let rate_cell = |samples: &[u64], rate: u64| -> Vec<Span<'static>> {
        vec![
            Span::styled(format::sparkline(samples, w.spark()), theme.rate(rate)),
            Span::raw(" "),
            Span::raw(fit_right(&format::compact(rate), 4)),
        ]
    };
    let mut spans = vec![
        Span::raw(fit_right(&pid, w.pid)),
        Span::raw(" "),
        if pinned {
            Span::styled(fit(&name, w.name), theme.pinned())
        } else {
            Span::raw(fit(&name, w.name))
        },
        Span::raw(" "),
    ];
    if w.user > 0 {
        spans.extend([Span::raw(fit(&p.user, w.user)), Span::raw(" ")]);
    }
    if w.container > 0 {
        let container = p.container.as_ref().map(ToString::to_string);
        let cell = match &container {
            Some(c) => Span::raw(fit(c, w.container)),
            // The unknown row has no process, so no container either.
            None if p.pid.is_none() => Span::raw(fit("", w.container)),
            None => Span::styled(fit("-", w.container), theme.dim()),
        };
        spans.extend([cell, Span::raw(" ")]);
    }
    if w.sockets > 0 {
        spans.extend([
            Span::raw(fit_right(&p.sockets.to_string(), w.sockets)),
            Span::raw(" "),
        ]);
    }
    if w.conns > 0 {
        spans.extend([
            Span::raw(fit_right(&p.conns.to_string(), w.conns)),
            Span::raw(" "),
        ]);
    }
    if w.windows {
        for (i, seconds) in rows::WINDOWS.iter().enumerate() {
            let rate = rows::window_rate(&p.history, *seconds);
            if i > 0 {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(
                fit_right(&format::compact(rate), WINDOW),
                theme.rate(rate),
            ));
        }
    } else {
        spans.extend(rate_cell(&rx, p.rate.rx));
        spans.push(Span::raw(" "));
        spans.extend(rate_cell(&tx, p.rate.tx));
    }
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit_right(
        &format::size(p.totals.rx_bytes),
        w.total,
    )));
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit_right(
        &format::size(p.totals.tx_bytes),
        w.total,
    )));
    Line::from(spans)
}

/// `  ├─ TCP  192.0.2.10:54321 → 140.82.121.4:443  ESTABLISHED  eth0  ↓1.2M ↑200K`
fn socket_row(
    state: &AppState,
    c: &LiveConnection,
    last: bool,
    width: u16,
    theme: Theme,
) -> Line<'static> {
    let branch = if last { "  └─ " } else { "  ├─ " };
    // Narrow screens keep the remote end whole and show only the local
    // port (the local address is one of the host's own).
    let local = if width < 110 {
        format!(":{}", state.port(c.key.proto, c.key.local_port))
    } else {
        super::connection_view::endpoint_port(
            c.key.local_ip,
            &state.port(c.key.proto, c.key.local_port),
            None,
        )
    };
    let (remote, tcp_state) = if c.unconnected {
        (
            "(no connection)".to_string(),
            c.state.map_or("-", |s| s.as_str()),
        )
    } else {
        (
            super::connection_view::endpoint_port(
                c.key.remote_ip,
                &state.port(c.key.proto, c.key.remote_port),
                state.remote_name(c),
            ),
            c.state.map_or("-", |s| s.as_str()),
        )
    };
    let dir = match c.opened_by {
        Some(Direction::Tx) => "out",
        Some(Direction::Rx) => "in ",
        None => "   ",
    };
    let fd =
        c.fd.map_or_else(|| "fd=-".to_string(), |fd| format!("fd={fd}"));
    let fixed = format!(
        "{branch}{} {} {}  {} → ",
        fit(&fd, 6),
        fit(&c.key.proto.to_string(), 4),
        dir,
        local
    );
    let tail = format!(
        "  {}  {}  ",
        fit(tcp_state, 11),
        fit(
            if c.interface.is_empty() {
                "-"
            } else {
                &c.interface
            },
            6
        ),
    );
    let rates = format!(
        "↓{} ↑{}",
        fit_right(&format::compact(c.rate.rx), 4),
        fit_right(&format::compact(c.rate.tx), 4)
    );
    let used = fixed.chars().count() + tail.chars().count() + rates.chars().count();
    let remote_width = usize::from(width).saturating_sub(used).clamp(8, 48);
    // A service name that does not fit gives way to the number.
    let remote = if remote.chars().count() > remote_width && !c.unconnected {
        super::connection_view::endpoint(c.key.remote_ip, c.key.remote_port, state.remote_name(c))
    } else {
        remote
    };
    Line::from(vec![
        Span::styled(fixed, theme.dim()),
        Span::raw(fit(&remote, remote_width)),
        Span::raw(tail),
        Span::styled(rates, theme.rate(c.rate.total())),
    ])
}

/// One reason under the expanded unknown row: what it means and its bytes
/// since netop started.
fn reason_row(why: UnknownReason, totals: &Counters, last: bool, theme: Theme) -> Line<'static> {
    let branch = if last { "  └─ " } else { "  ├─ " };
    Line::from(vec![
        Span::styled(branch, theme.dim()),
        Span::raw(fit(why.label(), 32)),
        Span::styled(
            format!(
                "  ↓{} ↑{}",
                fit_right(&format::size(totals.rx_bytes), 9),
                fit_right(&format::size(totals.tx_bytes), 9)
            ),
            theme.dim(),
        ),
    ])
}

/// A process that moved bytes on the expanded one's behalf (macOS: the
/// PKTAP header's real pid when its effective pid is this process).
fn delegate_row(delegate: &(u32, String), last: bool, theme: Theme) -> Line<'static> {
    let branch = if last { "  └─ " } else { "  ├─ " };
    Line::from(vec![
        Span::styled(branch, theme.dim()),
        Span::raw(format!("via {} ({})", delegate.1, delegate.0)),
        Span::styled("  moved bytes for this process", theme.dim()),
    ])
}
