//! The DNS view: resolver statistics above, the live query log below, as
//! the guide lays them out. With `--no-dns` both say `[no data]`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use netop_core::dns::{QueryRecord, QueryStatus, ResolverStats};

use super::format;
use super::layout::dns_stats_height;
use super::render::{fit, fit_right, Theme};
use super::rows::RowId;
use super::state::AppState;

/// The log entries shown, oldest first, filtered.
pub fn queries(state: &AppState) -> Vec<&QueryRecord> {
    let Some(dns) = &state.report.dns else {
        return Vec::new();
    };
    dns.log
        .iter()
        .filter(|q| match &state.filter {
            None => true,
            Some(f) => q.matches(f),
        })
        // --exclude hides an excluded process's queries too.
        .filter(|q| {
            !state
                .exclude
                .iter()
                .any(|x| super::rows::contains(&q.process, x))
        })
        .collect()
}

pub fn query_ids(state: &AppState) -> Vec<RowId> {
    queries(state).iter().map(|q| RowId::Query(q.seq)).collect()
}

pub fn render(state: &AppState, theme: Theme, frame: &mut Frame<'_>, body: Rect) {
    let stats_height = dns_stats_height(body);
    let top = Rect {
        height: stats_height.min(body.height),
        ..body
    };
    let bottom = Rect {
        y: body.y + top.height,
        height: body.height - top.height,
        ..body
    };
    let stats_block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim())
        .title(" Resolver Statistics ");
    let log_block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim())
        .title(" Live Query Log ");
    if !state.dns {
        let no_data = || {
            Paragraph::new(Line::styled(
                " [no data]  (DNS observatory off: --no-dns)",
                theme.dim(),
            ))
        };
        frame.render_widget(no_data().block(stats_block), top);
        frame.render_widget(no_data().block(log_block), bottom);
        return;
    }
    let resolvers = state
        .report
        .dns
        .as_ref()
        .map(|d| d.resolvers.as_slice())
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(stats_lines(resolvers, theme, top)).block(stats_block),
        top,
    );
    frame.render_widget(
        Paragraph::new(log_lines(state, theme, bottom)).block(log_block),
        bottom,
    );
}

fn stats_lines(resolvers: &[ResolverStats], theme: Theme, area: Rect) -> Vec<Line<'static>> {
    let inner = usize::from(area.width.saturating_sub(2));
    let server_w = inner
        .saturating_sub(1 + 10 + 11 + 9 + 9 + 9 + 6)
        .clamp(15, 40);
    let header = format!(
        " {} {} {} {} {} {}",
        fit("Interface", 10),
        fit("Server", server_w),
        fit_right("Avg Latency", 11),
        fit_right("p95", 9),
        fit_right("Fail Rate", 9),
        fit_right("Queries", 9),
    );
    let mut lines = vec![Line::styled(header, theme.header())];
    if resolvers.is_empty() {
        lines.push(Line::styled(" no DNS queries seen yet", theme.dim()));
    }
    for r in resolvers {
        let ms = |d: Option<std::time::Duration>| {
            d.map_or_else(
                || "-".to_string(),
                |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
            )
        };
        let rate = r.failure_rate();
        let fail_style = if rate > 0.05 {
            theme.bad()
        } else if rate > 0.0 {
            theme.warn()
        } else {
            Default::default()
        };
        lines.push(Line::from(vec![
            Span::raw(format!(
                " {} {} {} {} ",
                fit(&r.interface, 10),
                fit(&r.server.to_string(), server_w),
                fit_right(&ms(r.avg_latency), 11),
                fit_right(&ms(r.p95_latency), 9),
            )),
            Span::styled(fit_right(&format!("{:.1}%", rate * 100.0), 9), fail_style),
            Span::raw(format!(" {}", fit_right(&format::thousands(r.queries), 9))),
        ]));
    }
    lines
}

fn log_lines(state: &AppState, theme: Theme, area: Rect) -> Vec<Line<'static>> {
    let inner = usize::from(area.width.saturating_sub(2));
    // Time, Process, Type, Latency (and Resolver when there is room) are
    // fixed; Query and Response share the rest. The statistics above name
    // the resolvers, so narrow screens drop that column first.
    let resolver_w = if inner >= 100 { 16 } else { 0 };
    let fixed = 8 + 12 + 6 + 8 + resolver_w + 6;
    let flexible = inner.saturating_sub(fixed + 1);
    let (query_w, response_w) = (flexible / 2, flexible - flexible / 2);
    let header = format!(
        " {} {} {} {} {} {} {}",
        fit("Time", 8),
        fit("Process", 12),
        fit("Query", query_w),
        fit("Type", 6),
        fit("Response", response_w),
        fit_right("Latency", 8),
        fit("Resolver", resolver_w),
    );
    let mut lines = vec![Line::styled(header, theme.header())];
    let all = queries(state);
    if all.is_empty() {
        let note = if state.filter.is_some() {
            " no query matches the filter (Esc clears it)"
        } else {
            " no DNS queries seen yet"
        };
        lines.push(Line::styled(note, theme.dim()));
        return lines;
    }
    let page = usize::from(area.height.saturating_sub(3));
    let selected = state.selected();
    for q in all.iter().skip(state.offset()).take(page) {
        let time = clock(q.ts.as_secs(), state.utc_offset);
        let latency = q
            .latency
            .map_or_else(|| "-".to_string(), |d| format!("{}ms", d.as_millis()));
        let response = if q.response.is_empty() {
            q.status.to_string()
        } else {
            q.response.clone()
        };
        let style = match q.status {
            QueryStatus::Answered => Default::default(),
            QueryStatus::NxDomain | QueryStatus::Pending | QueryStatus::Truncated => theme.warn(),
            _ => theme.bad(),
        };
        let mut line = Line::from(vec![
            Span::raw(format!(
                " {} {} {} {} ",
                fit(&time, 8),
                fit(&q.process, 12),
                fit(&q.name, query_w),
                fit(&q.qtype, 6),
            )),
            Span::styled(fit(&response, response_w), style),
            Span::raw(format!(
                " {} {}",
                fit_right(&latency, 8),
                fit(&q.resolver.ip().to_string(), resolver_w)
            )),
        ]);
        if selected == Some(&RowId::Query(q.seq)) {
            line = line.patch_style(theme.selected());
        }
        lines.push(line);
    }
    lines
}

/// `HH:MM:SS` of Unix second `secs` at `offset` seconds east of UTC.
pub fn clock(secs: u64, offset: i32) -> String {
    let local = (secs as i64 + i64::from(offset)).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        local / 3600,
        local / 60 % 60,
        local % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_applies_the_offset() {
        assert_eq!(clock(0, 0), "00:00:00");
        assert_eq!(clock(3_661, 0), "01:01:01");
        assert_eq!(clock(3_600, -7_200), "23:00:00");
        assert_eq!(clock(86_399, 3_600), "00:59:59");
    }
}
