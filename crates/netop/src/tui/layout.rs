//! Where things go on the screen. Drawing, scrolling and mouse clicks all
//! use these functions, so a page is as tall as what is drawn and a click
//! lands on the row under the pointer.

use ratatui::layout::Rect;

use super::state::{AppState, View};

/// The smallest terminal the monitor draws in (the guide: 80x24).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Rows of one interface card, borders included.
pub const CARD_HEIGHT: u16 = 10;

/// Rows the DNS view gives its resolver statistics, borders included.
pub fn dns_stats_height(body: Rect) -> u16 {
    (body.height / 3).clamp(5, 12)
}

/// The screen's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// View tabs (top line).
    pub tabs: Rect,
    pub body: Rect,
    /// The filter bar, when it is open.
    pub filter: Option<Rect>,
    /// Status bar (bottom line).
    pub status: Rect,
}

pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < MIN_WIDTH || size.1 < MIN_HEIGHT
}

pub fn areas(state: &AppState) -> Areas {
    let (w, h) = state.size;
    let full = Rect::new(0, 0, w, h);
    let tabs = Rect {
        height: 1.min(h),
        ..full
    };
    let status = Rect {
        y: h.saturating_sub(1),
        height: 1.min(h),
        ..full
    };
    let filter = state.filter_input.as_ref().map(|_| Rect {
        y: h.saturating_sub(2),
        height: 1.min(h),
        ..full
    });
    let bottom = if filter.is_some() { 2 } else { 1 };
    let body = Rect {
        y: 1.min(h),
        height: h.saturating_sub(1 + bottom),
        ..full
    };
    Areas {
        tabs,
        body,
        filter,
        status,
    }
}

/// The area of the scrolling list of the current view, header line
/// included: the whole body for the tables, the log pane in the DNS view.
fn list_area(state: &AppState) -> Rect {
    let body = areas(state).body;
    match state.view {
        View::Dns => {
            let stats = dns_stats_height(body);
            Rect {
                y: body.y + stats,
                height: body.height.saturating_sub(stats),
                ..body
            }
        }
        _ => body,
    }
}

/// Rows one page holds in the current view.
pub fn page_rows(state: &AppState) -> usize {
    let list = list_area(state);
    match state.view {
        View::Interface => usize::from(list.height / CARD_HEIGHT).max(1),
        // DNS log: a bordered block with a header line.
        View::Dns => usize::from(list.height.saturating_sub(3)),
        _ => usize::from(list.height.saturating_sub(1)),
    }
}

/// The row index (in the view's row list) drawn at screen line `y`.
pub fn row_at(state: &AppState, y: u16) -> Option<usize> {
    let list = list_area(state);
    let first = match state.view {
        View::Interface => {
            if y < list.y {
                return None;
            }
            let card = usize::from((y - list.y) / CARD_HEIGHT);
            return (card < page_rows(state)).then(|| state.offset() + card);
        }
        View::Dns => list.y + 2,
        _ => list.y + 1,
    };
    if y < first || y >= first + page_rows(state) as u16 {
        return None;
    }
    Some(state.offset() + usize::from(y - first))
}
