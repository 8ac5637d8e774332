//! The Connection view: every connection of every process, flat, with the
//! guide's eleven columns. On narrow terminals the least needed columns
//! (Local first, then Iface, Retrans, RTT) give way so the rest stay
//! readable; from about 125 columns all of them are shown.

use std::net::IpAddr;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use netop_core::engine::LiveConnection;
use netop_core::flow::Direction;

use super::format;
use super::render::{fit, fit_right, Theme};
use super::rows;
use super::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Process,
    Local,
    Remote,
    Proto,
    State,
    Dir,
    Iface,
    RxRate,
    TxRate,
    Rtt,
    Retrans,
    /// The iftop-style layout's 2 s, 10 s, 40 s averages (rx + tx).
    Window(usize),
}

/// (column, title, minimum width, right-aligned), in screen order.
const COLUMNS: [(Column, &str, usize, bool); 11] = [
    (Column::Process, "Process", 12, false),
    (Column::Local, "Local", 21, false),
    (Column::Remote, "Remote", 21, false),
    (Column::Proto, "Proto", 5, false),
    (Column::State, "State", 11, false),
    (Column::Dir, "Dir", 3, false),
    (Column::Iface, "Iface", 6, false),
    (Column::RxRate, "RX Rate", 10, true),
    (Column::TxRate, "TX Rate", 10, true),
    (Column::Rtt, "RTT", 7, true),
    (Column::Retrans, "Retrans", 7, true),
];

/// Columns dropped first when the terminal is too narrow.
const DROP_ORDER: [Column; 4] = [Column::Local, Column::Iface, Column::Retrans, Column::Rtt];

/// The columns that fit in `width`, with their widths; Process and Remote
/// share the spare room.
fn columns(width: u16, windows: bool) -> Vec<(Column, &'static str, usize, bool)> {
    let mut cols: Vec<_> = COLUMNS.to_vec();
    if windows {
        let at = cols.iter().position(|c| c.0 == Column::RxRate).unwrap_or(0);
        cols.retain(|c| !matches!(c.0, Column::RxRate | Column::TxRate));
        for (i, (seconds, title)) in [(2, "2s"), (10, "10s"), (40, "40s")]
            .into_iter()
            .enumerate()
        {
            cols.insert(at + i, (Column::Window(seconds), title, 6, true));
        }
    }
    let need = |cols: &[(Column, &str, usize, bool)]| -> usize {
        cols.iter().map(|c| c.2).sum::<usize>() + cols.len().saturating_sub(1)
    };
    for drop in DROP_ORDER {
        if need(&cols) <= usize::from(width) {
            break;
        }
        cols.retain(|c| c.0 != drop);
    }
    // Room left over widens Process (up to 24) and Remote (up to 48, for
    // DNS names); past that the table keeps its width.
    let spare = usize::from(width).saturating_sub(need(&cols));
    let to_process = (spare / 3).min(24 - 12);
    let to_remote = (spare - to_process).min(48 - 21);
    for c in &mut cols {
        match c.0 {
            Column::Process => c.2 += to_process,
            Column::Remote => c.2 += to_remote,
            _ => {}
        }
    }
    cols
}

/// `192.0.2.1:443`, `[2001:db8::1]:443`, `github.com:443`; `*:8080` for
/// the unspecified address.
pub fn endpoint(ip: IpAddr, port: u16, name: Option<&str>) -> String {
    endpoint_port(ip, &port.to_string(), name)
}

/// [`endpoint`] with the port as shown (a service name or a number).
pub fn endpoint_port(ip: IpAddr, port: &str, name: Option<&str>) -> String {
    match (name, ip) {
        (Some(name), _) => format!("{name}:{port}"),
        (None, ip) if ip.is_unspecified() => format!("*:{port}"),
        (None, IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        (None, IpAddr::V4(v4)) => format!("{v4}:{port}"),
    }
}

pub fn render(state: &AppState, theme: Theme, frame: &mut Frame<'_>, body: Rect) {
    let cols = columns(body.width, state.windows);
    let header: Vec<String> = cols
        .iter()
        .map(|(_, title, w, right)| {
            if *right {
                fit_right(title, *w)
            } else {
                fit(title, *w)
            }
        })
        .collect();
    let mut lines = vec![Line::styled(header.join(" "), theme.header())];
    let all = rows::connections(state);
    let page = usize::from(body.height.saturating_sub(1));
    let selected = state.selected();
    for c in all.iter().skip(state.offset()).take(page) {
        let pinned = rows::is_pinned_connection(state, c);
        let mut line = row(state, c, &cols, pinned, theme);
        if state.alerting.connections.contains(&(c.pid, c.key)) {
            line = line.patch_style(theme.alert());
        }
        if selected == Some(&rows::RowId::Connection(c.pid, c.key)) {
            line = line.patch_style(theme.selected());
        }
        lines.push(line);
    }
    if all.is_empty() {
        let note = if state.filter.is_some() {
            "  no connection matches the filter (Esc clears it)"
        } else {
            "  no connections yet"
        };
        lines.push(Line::styled(note, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), body);
}

fn row(
    state: &AppState,
    c: &LiveConnection,
    cols: &[(Column, &str, usize, bool)],
    pinned: bool,
    theme: Theme,
) -> Line<'static> {
    let mut spans = Vec::with_capacity(cols.len() * 2);
    for (i, (col, _, w, right)) in cols.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let text = match col {
            Column::Process if pinned => format!("★{}", c.process),
            Column::Process => c.process.clone(),
            Column::Local => endpoint_port(
                c.key.local_ip,
                &state.port(c.key.proto, c.key.local_port),
                None,
            ),
            Column::Remote => endpoint_port(
                c.key.remote_ip,
                &state.port(c.key.proto, c.key.remote_port),
                state.remote_name(c),
            ),
            Column::Proto => c.key.proto.to_string(),
            Column::State => c.state.map_or("-", |s| s.as_str()).to_string(),
            Column::Dir => match c.opened_by {
                Some(Direction::Tx) => "Out",
                Some(Direction::Rx) => "In",
                None => "-",
            }
            .to_string(),
            Column::Iface => {
                if c.interface.is_empty() {
                    "-".to_string()
                } else {
                    c.interface.clone()
                }
            }
            Column::RxRate => format::rate(c.rate.rx),
            Column::TxRate => format::rate(c.rate.tx),
            Column::Rtt => c.rtt_us.map_or_else(|| "-".to_string(), format::rtt),
            Column::Retrans => c.retrans.map_or_else(|| "-".to_string(), |r| r.to_string()),
            Column::Window(seconds) => format::compact(rows::window_rate(&c.history, *seconds)),
        };
        let text = if *right {
            fit_right(&text, *w)
        } else {
            fit(&text, *w)
        };
        let style = match col {
            Column::RxRate => theme.rate(c.rate.rx),
            Column::TxRate => theme.rate(c.rate.tx),
            Column::Window(seconds) => theme.rate(rows::window_rate(&c.history, *seconds)),
            Column::Process if pinned => theme.pinned(),
            _ => Default::default(),
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_drop_local_first_and_keep_the_essentials() {
        let names = |w| columns(w, false).iter().map(|c| c.1).collect::<Vec<_>>();
        assert_eq!(names(200).len(), 11);
        let at80 = names(80);
        for must in [
            "Process", "Remote", "Proto", "State", "Dir", "RX Rate", "TX Rate",
        ] {
            assert!(
                at80.contains(&must),
                "{must} missing at 80 columns: {at80:?}"
            );
        }
        assert!(!at80.contains(&"Local"));
        for w in [80u16, 100, 125, 200] {
            for windows in [false, true] {
                let cols = columns(w, windows);
                let used: usize = cols.iter().map(|c| c.2).sum::<usize>() + cols.len() - 1;
                assert!(used <= usize::from(w), "{used} columns used of {w}");
            }
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("192.0.2.1".parse().expect("ip"), 443, None),
            "192.0.2.1:443"
        );
        assert_eq!(
            endpoint("2001:db8::1".parse().expect("ip"), 53, None),
            "[2001:db8::1]:53"
        );
        assert_eq!(
            endpoint("0.0.0.0".parse().expect("ip"), 8080, None),
            "*:8080"
        );
        assert_eq!(
            endpoint("192.0.2.1".parse().expect("ip"), 443, Some("github.com")),
            "github.com:443"
        );
    }
}
