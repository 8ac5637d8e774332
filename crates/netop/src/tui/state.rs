//! The monitor's state and the one function that changes it.
//!
//! [`AppState`] is plain data: the last report from the capture thread plus
//! what the user chose (view, sort, filter, selection, expanded rows).
//! [`update`] applies one [`Event`] and returns what the loop must do
//! ([`Effect`]); drawing reads the state and changes nothing. Keys, reports
//! and resizes all go through `update`, so every key of the guide's table is
//! testable without a terminal.

pub use netop_core::OwnerMode;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use netop_core::engine::LiveReport;

use super::layout;
use super::rows::{self, RowId};

/// The four views, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Process,
    Connection,
    Interface,
    Dns,
}

impl View {
    pub const ALL: [View; 4] = [View::Process, View::Connection, View::Interface, View::Dns];

    pub fn title(self) -> &'static str {
        match self {
            View::Process => "Process",
            View::Connection => "Connection",
            View::Interface => "Interface",
            View::Dns => "DNS",
        }
    }

    fn index(self) -> usize {
        match self {
            View::Process => 0,
            View::Connection => 1,
            View::Interface => 2,
            View::Dns => 3,
        }
    }

    fn step(self, forward: bool) -> View {
        let i = self.index() + if forward { 1 } else { 3 };
        View::ALL[i % 4]
    }
}

/// What rows are ordered by. The Process view cycles the guide's four
/// (traffic, pid, name, connections); the Connection view cycles traffic,
/// pid, name and remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Traffic,
    Pid,
    Name,
    Connections,
    Remote,
}

impl SortColumn {
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Traffic => "traffic",
            SortColumn::Pid => "pid",
            SortColumn::Name => "name",
            SortColumn::Connections => "connections",
            SortColumn::Remote => "remote",
        }
    }

    /// The next column for `view` (`s`).
    fn next(self, view: View) -> SortColumn {
        let cycle: &[SortColumn] = match view {
            View::Connection => &[
                SortColumn::Traffic,
                SortColumn::Pid,
                SortColumn::Name,
                SortColumn::Remote,
            ],
            _ => &[
                SortColumn::Traffic,
                SortColumn::Pid,
                SortColumn::Name,
                SortColumn::Connections,
            ],
        };
        let at = cycle.iter().position(|c| *c == self).unwrap_or(0);
        cycle[(at + 1) % cycle.len()]
    }

    /// The direction a column starts in: biggest traffic first, names and
    /// numbers ascending.
    fn natural_descending(self) -> bool {
        matches!(self, SortColumn::Traffic | SortColumn::Connections)
    }
}

/// Everything the monitor shows and remembers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub view: View,
    pub report: Arc<LiveReport>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub sort: SortColumn,
    pub descending: bool,
    /// The applied filter (lower-cased).
    pub filter: Option<String>,
    /// The filter bar being edited, if open.
    pub filter_input: Option<String>,
    /// Processes expanded into their sockets (by pid; `None` = unknown).
    pub expanded: BTreeSet<Option<u32>>,
    /// Per view: the selected row (kept across reorders) and the first
    /// row shown.
    pub selected: [Option<RowId>; 4],
    /// Per view: where the selected row was when last placed, for when it
    /// disappears.
    pub index: [usize; 4],
    pub offset: [usize; 4],
    pub help: bool,
    pub interval: Duration,
    pub color: bool,
    /// DNS observatory on (off with `--no-dns`).
    pub dns: bool,
    /// Whether a report has arrived yet.
    pub started: bool,
    /// Seconds east of UTC, for the wall-clock times of the DNS log.
    pub utc_offset: i32,
    /// The one interface captured (`--interface`), if any.
    pub interface: Option<String>,
    /// The Process view shows each process's container (`--containers`).
    pub containers: bool,
    /// How socket owners are found; `None` (replays) shows nothing.
    pub owners: Option<OwnerMode>,
    /// How traffic is counted (`--capture`): the status bar names kernel
    /// counting, and a fallback from it; plain pcap shows nothing.
    pub counting: netop_core::Counting,
    /// The theme, an index in `theme::PALETTES` (`t` cycles).
    pub theme: usize,
    /// The iftop-style layout: 2 s, 10 s and 40 s averages instead of
    /// sparklines (`w` toggles).
    pub windows: bool,
    /// Rows kept on top (`p`): processes by name, connections by remote
    /// endpoint.
    pub pins: Pins,
    pub alerts: Alerts,
    /// What crossed its alert threshold at the last report.
    pub alerting: Alerting,
    /// `--exclude`: processes whose name contains one of these (lower
    /// case) are hidden, with their connections.
    pub exclude: Vec<String>,
    /// The Process view's optional columns (the config file's `columns`).
    pub columns: super::process_view::Shown,
    /// Reverse-DNS names (`--resolve`) of remote addresses the DNS
    /// observatory did not name.
    pub ptr: std::collections::HashMap<std::net::IpAddr, String>,
    /// Service names for ports (`n` toggles numbers).
    pub services: Arc<super::services::Services>,
    pub numeric: bool,
    /// A one-off line for the status bar (a save, an export), until the
    /// next key.
    pub message: Option<String>,
}

/// Pinned rows, as the config file keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    pub processes: BTreeSet<String>,
    /// `address:port` of the remote end.
    pub remotes: BTreeSet<String>,
}

/// Rate thresholds (bytes per second, rx + tx).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alerts {
    /// Every process and connection (`--alert`, `alerts.rate`).
    pub rate: Option<u64>,
    /// Per process name (`[alerts.processes]`), before `rate`.
    pub processes: std::collections::BTreeMap<String, u64>,
    /// Ring the bell when something starts crossing.
    pub bell: bool,
}

impl Alerts {
    /// The threshold of a process named `name`.
    pub fn limit_of(&self, name: &str) -> Option<u64> {
        self.processes.get(name).copied().or(self.rate)
    }
}

/// The rows above their thresholds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alerting {
    /// Processes by pid (the unknown row is never alerted on).
    pub processes: BTreeSet<u32>,
    pub connections: BTreeSet<(Option<u32>, netop_core::FlowKey)>,
    /// "name 2.1 MB/s > 1.0 MB/s" of the fastest crossing process or
    /// connection, and how many more.
    pub summary: Option<String>,
}

/// The pin key of a connection: its remote endpoint.
pub fn remote_key(key: &netop_core::FlowKey) -> String {
    std::net::SocketAddr::new(key.remote_ip, key.remote_port).to_string()
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Report(Arc<LiveReport>),
    /// Reverse-DNS names of remote addresses (`--resolve`).
    Names(Vec<(std::net::IpAddr, String)>),
}

/// What the loop must do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Ring the terminal bell (an alert started).
    Bell,
    /// The sort, theme or pins changed: save them (only into a config
    /// file that exists).
    SavePrefs,
    /// Write the current view to a file (`e` TSV, `E` JSON).
    Export(super::export::ExportFormat),
}

/// Settings taken from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sort: SortColumn,
    pub filter: Option<String>,
    pub interval: Duration,
    pub color: bool,
    pub dns: bool,
    pub utc_offset: i32,
    pub interface: Option<String>,
    pub containers: bool,
    pub owners: Option<OwnerMode>,
    pub counting: netop_core::Counting,
    /// Theme name (unknown: the default).
    pub theme: String,
    pub pins: Pins,
    pub alerts: Alerts,
    pub exclude: Vec<String>,
    pub services: Arc<super::services::Services>,
    pub columns: super::process_view::Shown,
}

impl AppState {
    pub fn new(settings: Settings, size: (u16, u16)) -> AppState {
        AppState {
            view: View::Process,
            report: Arc::new(LiveReport::default()),
            size,
            sort: settings.sort,
            descending: settings.sort.natural_descending(),
            filter: settings
                .filter
                .map(|f| f.to_lowercase())
                .filter(|f| !f.is_empty()),
            filter_input: None,
            expanded: BTreeSet::new(),
            selected: [None, None, None, None],
            index: [0; 4],
            offset: [0; 4],
            help: false,
            interval: settings.interval,
            color: settings.color,
            dns: settings.dns,
            started: false,
            utc_offset: settings.utc_offset,
            interface: settings.interface,
            containers: settings.containers,
            owners: settings.owners,
            counting: settings.counting,
            theme: super::theme::index_of(&settings.theme),
            windows: false,
            pins: settings.pins,
            alerts: settings.alerts,
            alerting: Alerting::default(),
            exclude: settings.exclude.iter().map(|p| p.to_lowercase()).collect(),
            ptr: Default::default(),
            services: settings.services,
            columns: settings.columns,
            numeric: false,
            message: None,
        }
    }

    /// The rows of the current view, as drawn.
    pub fn row_ids(&self) -> Vec<RowId> {
        rows::ids(self)
    }

    /// Index of the selected row in `ids`, if it is still there.
    pub fn cursor(&self, ids: &[RowId]) -> Option<usize> {
        let sel = self.selected[self.view.index()].as_ref()?;
        ids.iter().position(|id| id == sel)
    }

    pub fn offset(&self) -> usize {
        self.offset[self.view.index()]
    }

    pub fn selected(&self) -> Option<&RowId> {
        self.selected[self.view.index()].as_ref()
    }

    /// Moves the cursor to `index` (clamped) and scrolls it into view.
    fn select(&mut self, ids: &[RowId], index: usize) {
        let v = self.view.index();
        if ids.is_empty() {
            self.selected[v] = None;
            self.offset[v] = 0;
            return;
        }
        let index = index.min(ids.len() - 1);
        self.selected[v] = Some(ids[index].clone());
        self.index[v] = index;
        let page = layout::page_rows(self).max(1);
        let offset = &mut self.offset[v];
        if index < *offset {
            *offset = index;
        } else if index >= *offset + page {
            *offset = index + 1 - page;
        }
        *offset = (*offset).min(ids.len().saturating_sub(page));
    }

    /// The name shown for a connection's remote end: the DNS
    /// observatory's, else reverse DNS's (`--resolve`).
    pub fn remote_name<'a>(&'a self, c: &'a netop_core::engine::LiveConnection) -> Option<&'a str> {
        c.remote_name
            .as_deref()
            .or_else(|| self.ptr.get(&c.key.remote_ip).map(String::as_str))
    }

    /// A port as shown: its service name, or the number (`n`, or none).
    pub fn port(&self, proto: netop_core::Protocol, port: u16) -> String {
        match self.services.name(proto, port) {
            Some(name) if !self.numeric => name.to_string(),
            _ => port.to_string(),
        }
    }

    /// Keeps the selection on the same row after the rows changed (new
    /// report, new sort or filter); when that row is gone, the cursor
    /// stays at the same position.
    fn reselect(&mut self) {
        let ids = self.row_ids();
        let index = self.cursor(&ids).unwrap_or(self.index[self.view.index()]);
        self.select(&ids, index);
    }

    fn move_by(&mut self, delta: isize) {
        let ids = self.row_ids();
        let at = self.cursor(&ids).unwrap_or(0);
        let to = at.saturating_add_signed(delta);
        self.select(&ids, to);
    }
}

/// Applies one event.
pub fn update(state: &mut AppState, event: Event) -> Vec<Effect> {
    match event {
        Event::Report(report) => {
            // The DNS log follows new queries while the cursor is on the
            // newest one (or nowhere yet).
            let follow = state.view == View::Dns && {
                let ids = state.row_ids();
                state.cursor(&ids).is_none_or(|i| i + 1 == ids.len())
            };
            state.report = report;
            state.started = true;
            if follow {
                let ids = state.row_ids();
                state.select(&ids, ids.len().saturating_sub(1));
            } else {
                state.reselect();
            }
            check_alerts(state)
        }
        Event::Resize(w, h) => {
            state.size = (w, h);
            state.reselect();
            Vec::new()
        }
        Event::Key(key) => on_key(state, key),
        Event::Names(names) => {
            state.ptr.extend(names);
            Vec::new()
        }
        Event::Mouse(mouse) => {
            on_mouse(state, mouse);
            Vec::new()
        }
    }
}

fn on_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return vec![Effect::Quit];
    }
    if state.filter_input.is_some() {
        edit_filter(state, key);
        return Vec::new();
    }
    state.message = None;
    if state.help {
        // Any key closes the overlay; `q` still quits.
        state.help = false;
        return match key.code {
            KeyCode::Char('q') => vec![Effect::Quit],
            _ => Vec::new(),
        };
    }
    let page = layout::page_rows(state).max(1) as isize;
    match key.code {
        KeyCode::Char('q') => return vec![Effect::Quit],
        KeyCode::Tab => switch(state, state.view.step(true)),
        KeyCode::BackTab => switch(state, state.view.step(false)),
        KeyCode::Char('1') => switch(state, View::Process),
        KeyCode::Char('2') => switch(state, View::Connection),
        KeyCode::Char('3') => switch(state, View::Interface),
        KeyCode::Char('4') => switch(state, View::Dns),
        KeyCode::Char('/') => state.filter_input = Some(String::new()),
        KeyCode::Esc if state.filter.is_some() => {
            state.filter = None;
            state.reselect();
        }
        KeyCode::Char('s') => {
            state.sort = state.sort.next(state.view);
            state.descending = state.sort.natural_descending();
            state.reselect();
            return vec![Effect::SavePrefs];
        }
        KeyCode::Char('w') => state.windows = !state.windows,
        KeyCode::Char('n') => state.numeric = !state.numeric,
        KeyCode::Char('e') | KeyCode::Char('E') => {
            if state.view == View::Dns {
                state.message = Some("export: the Process, Connection and Interface views".into());
            } else {
                let format = if key.code == KeyCode::Char('E') {
                    super::export::ExportFormat::Json
                } else {
                    super::export::ExportFormat::Tsv
                };
                return vec![Effect::Export(format)];
            }
        }
        KeyCode::Char('t') => {
            state.theme = (state.theme + 1) % super::theme::PALETTES.len();
            return vec![Effect::SavePrefs];
        }
        KeyCode::Char('p') if toggle_pin(state) => {
            state.reselect();
            return vec![Effect::SavePrefs];
        }
        KeyCode::Char('S') => {
            state.descending = !state.descending;
            state.reselect();
        }
        KeyCode::Up | KeyCode::Char('k') => state.move_by(-1),
        KeyCode::Down | KeyCode::Char('j') => state.move_by(1),
        KeyCode::PageUp => state.move_by(-page),
        KeyCode::PageDown => state.move_by(page),
        KeyCode::Home => {
            let ids = state.row_ids();
            state.select(&ids, 0);
        }
        KeyCode::End => {
            let ids = state.row_ids();
            state.select(&ids, ids.len().saturating_sub(1));
        }
        KeyCode::Enter => toggle_expanded(state),
        KeyCode::Char('?') => state.help = true,
        _ => {}
    }
    Vec::new()
}

fn switch(state: &mut AppState, view: View) {
    state.view = view;
    // Each table has its own sort columns; one the new view lacks falls
    // back to traffic.
    let valid = match view {
        View::Connection => state.sort != SortColumn::Connections,
        _ => state.sort != SortColumn::Remote,
    };
    if !valid {
        state.sort = SortColumn::Traffic;
        state.descending = true;
    }
    state.reselect();
}

fn edit_filter(state: &mut AppState, key: KeyEvent) {
    let Some(input) = state.filter_input.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Enter => {
            let pattern = input.trim().to_lowercase();
            state.filter = (!pattern.is_empty()).then_some(pattern);
            state.filter_input = None;
            state.reselect();
        }
        KeyCode::Esc => state.filter_input = None,
        KeyCode::Backspace => {
            input.pop();
        }
        // A pattern is one line of printable text.
        KeyCode::Char(c)
            if !key.modifiers.contains(KeyModifiers::CONTROL)
                && !c.is_control()
                && input.chars().count() < 128 =>
        {
            input.push(c);
        }
        _ => {}
    }
}

/// `p`: pins or unpins the selected process (by name; on a socket row,
/// its process) or connection (by remote endpoint). False when nothing
/// pinnable is selected.
fn toggle_pin(state: &mut AppState) -> bool {
    fn flip(set: &mut BTreeSet<String>, key: String) {
        if !set.remove(&key) {
            set.insert(key);
        }
    }
    match (state.view, state.selected().cloned()) {
        (View::Process, Some(RowId::Process(Some(pid)) | RowId::Socket(Some(pid), _))) => {
            let Some(name) = state
                .report
                .processes
                .iter()
                .find(|p| p.pid == Some(pid))
                .map(|p| p.name.clone())
            else {
                return false;
            };
            flip(&mut state.pins.processes, name);
            // The cursor follows the process to the top.
            state.selected[View::Process.index()] = Some(RowId::Process(Some(pid)));
            true
        }
        (View::Connection, Some(RowId::Connection(_, key))) => {
            flip(&mut state.pins.remotes, remote_key(&key));
            true
        }
        _ => false,
    }
}

/// After a report: which rows are above their thresholds, the status
/// bar's summary, and the bell when something new crossed.
fn check_alerts(state: &mut AppState) -> Vec<Effect> {
    let alerts = &state.alerts;
    if alerts.rate.is_none() && alerts.processes.is_empty() {
        state.alerting = Alerting::default();
        return Vec::new();
    }
    let mut now = Alerting::default();
    // (rate, text) of the fastest crossing, and how many crossed.
    let mut top: Option<(u64, String)> = None;
    let mut count = 0usize;
    let mut note = |rate: u64, what: String, limit: u64| {
        count += 1;
        if top.as_ref().is_none_or(|t| rate > t.0) {
            let text = format!(
                "{what} {} > {}",
                super::format::rate(rate),
                super::format::rate(limit)
            );
            top = Some((rate, text));
        }
    };
    for p in &state.report.processes {
        let (Some(pid), Some(limit)) = (p.pid, alerts.limit_of(&p.name)) else {
            continue;
        };
        if p.rate.total() > limit {
            now.processes.insert(pid);
            note(p.rate.total(), p.name.clone(), limit);
        }
    }
    if let Some(limit) = alerts.rate {
        for c in state.report.connections.iter().filter(|c| !c.unconnected) {
            if c.rate.total() > limit {
                now.connections.insert((c.pid, c.key));
                note(
                    c.rate.total(),
                    format!("{} → {}", c.process, remote_key(&c.key)),
                    limit,
                );
            }
        }
    }
    now.summary = top.map(|(_, text)| match count {
        1 => text,
        n => format!("{text} (+{} more)", n - 1),
    });
    let new = now
        .processes
        .difference(&state.alerting.processes)
        .next()
        .is_some()
        || now
            .connections
            .difference(&state.alerting.connections)
            .next()
            .is_some();
    state.alerting = now;
    if new && state.alerts.bell {
        vec![Effect::Bell]
    } else {
        Vec::new()
    }
}

/// `Enter`: expand or collapse the selected process (Process view only).
/// On a socket (or delegate) row it collapses the process the row
/// belongs to.
fn toggle_expanded(state: &mut AppState) {
    if state.view != View::Process {
        return;
    }
    let pid = match state.selected() {
        Some(RowId::Process(pid)) => *pid,
        Some(RowId::Socket(pid, _)) => *pid,
        Some(RowId::Delegate(pid, _)) => *pid,
        _ => return,
    };
    if !state.expanded.remove(&pid) {
        state.expanded.insert(pid);
    }
    // The cursor stays on the process itself.
    state.selected[View::Process.index()] = Some(RowId::Process(pid));
    state.reselect();
}

fn on_mouse(state: &mut AppState, mouse: MouseEvent) {
    match mouse.kind {
        MouseEventKind::ScrollUp => state.move_by(-3),
        MouseEventKind::ScrollDown => state.move_by(3),
        MouseEventKind::Down(crossterm::event::MouseButton::Left) => {
            if state.help || state.filter_input.is_some() {
                return;
            }
            if let Some(row) = layout::row_at(state, mouse.row) {
                let ids = state.row_ids();
                if row < ids.len() {
                    state.select(&ids, row);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "state_power_tests.rs"]
mod power_tests;
