//! The Interface view: a card per interface with its state, addresses, DNS
//! servers, an hour of per-minute traffic as sparklines, current rates,
//! totals since netop started, and the kernel's packet and error counters.

use std::net::IpAddr;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use netop_core::engine::LiveInterface;

use super::format;
use super::layout::CARD_HEIGHT;
use super::render::{fit, Theme};
use super::rows::{self, RowId};
use super::state::AppState;

pub fn render(state: &AppState, theme: Theme, frame: &mut Frame<'_>, body: Rect) {
    let all = rows::interfaces(state);
    if all.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("  no interfaces listed yet", theme.dim())),
            body,
        );
        return;
    }
    let fits = usize::from(body.height / CARD_HEIGHT).max(1);
    for (n, iface) in all.iter().skip(state.offset()).take(fits).enumerate() {
        let rect = Rect {
            y: body.y + n as u16 * CARD_HEIGHT,
            height: CARD_HEIGHT.min(body.height),
            ..body
        };
        let selected = state.selected() == Some(&RowId::Interface(iface.index));
        card(iface, selected, theme, frame, rect);
    }
}

fn addresses(addrs: &[IpAddr], v4: bool) -> String {
    let list: Vec<String> = addrs
        .iter()
        .filter(|a| a.is_ipv4() == v4)
        .map(IpAddr::to_string)
        .collect();
    if list.is_empty() {
        "(none)".to_string()
    } else {
        list.join(", ")
    }
}

fn card(iface: &LiveInterface, selected: bool, theme: Theme, frame: &mut Frame<'_>, rect: Rect) {
    let (state_text, state_color) = if iface.up {
        ("UP", theme.good())
    } else {
        ("DOWN", theme.bad())
    };
    let border = if selected {
        theme.header()
    } else {
        theme.dim()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(vec![
            Span::raw("─ "),
            Span::styled(iface.name.clone(), theme.header()),
            Span::raw(" "),
        ]))
        .title(
            Line::from(vec![
                Span::raw(" "),
                Span::styled(state_text, state_color),
                Span::raw(" "),
            ])
            .centered(),
        );
    let inner = usize::from(rect.width.saturating_sub(2));
    let dns = if iface.dns_servers.is_empty() {
        "(none)".to_string()
    } else {
        iface
            .dns_servers
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    // "  RX: <sparkline>  2.1 MB/s    Total: 1.2 GB"
    let spark = inner
        .saturating_sub(2 + 4 + 2 + 10 + 4 + 7 + 9)
        .clamp(10, 60);
    let traffic = |label: &str, samples: Vec<u64>, rate: u64, total: u64| -> Line<'static> {
        Line::from(vec![
            Span::raw(format!("  {label}: ")),
            Span::styled(format::sparkline(&samples, spark), theme.rate(rate)),
            Span::raw("  "),
            Span::styled(fit(&format::rate(rate), 10), theme.rate(rate)),
            Span::raw(format!("    Total: {}", format::size(total))),
        ])
    };
    let packets = match iface.kernel {
        Some(k) => {
            let mut line = format!(
                "  Packets:  RX {}  TX {}    Errors: RX {}  TX {}",
                format::thousands(k.rx_packets),
                format::thousands(k.tx_packets),
                format::thousands(k.rx_errors),
                format::thousands(k.tx_errors),
            );
            let dropped = format!(
                "    Dropped: RX {}  TX {}",
                format::thousands(k.rx_dropped),
                format::thousands(k.tx_dropped),
            );
            if line.chars().count() + dropped.chars().count() <= inner {
                line.push_str(&dropped);
            }
            line
        }
        None => "  Packets:  (kernel counters not available)".to_string(),
    };
    let lines = vec![
        Line::raw(format!("  IPv4: {}", addresses(&iface.addrs, true))),
        Line::raw(format!("  IPv6: {}", addresses(&iface.addrs, false))),
        Line::raw(format!("  DNS:  {dns}")),
        Line::raw(""),
        traffic(
            "RX",
            iface.minutes.iter().map(|m| m.0).collect(),
            iface.rate.rx,
            iface.totals.rx_bytes,
        ),
        traffic(
            "TX",
            iface.minutes.iter().map(|m| m.1).collect(),
            iface.rate.tx,
            iface.totals.tx_bytes,
        ),
        Line::raw(""),
        Line::raw(packets),
    ];
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
