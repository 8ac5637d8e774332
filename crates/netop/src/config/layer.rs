//! Defaults < file < environment < flags: the file fills in what neither
//! the command line nor a `NETOP_*` variable set (clap reports where each
//! value came from, [`netop_cli::Explicit`]).

use netop_cli::{Args, Format, SortColumn};

use super::{Config, Format as FileFormat, Owners, Sort};

/// What the file adds beyond flags: the monitor's own settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    pub pins: super::Pins,
    pub alert_processes: std::collections::BTreeMap<String, u64>,
    pub bell: bool,
    pub columns: Option<Vec<super::Column>>,
    pub export_dir: Option<std::path::PathBuf>,
}

/// Applies `config` to `args` where `args` holds a default, and returns
/// what has no flag.
pub fn apply(config: &Config, args: &mut Args) -> Extras {
    let given = |id: &str| args.power.explicit.contains(id);
    if !given("interface") && config.interface.is_some() {
        args.interface.clone_from(&config.interface);
    }
    if let (false, Some(v)) = (given("interval"), config.interval) {
        args.interval = v;
    }
    if let (false, Some(v)) = (given("sort"), config.sort) {
        args.sort = match v {
            Sort::Traffic => SortColumn::Traffic,
            Sort::Pid => SortColumn::Pid,
            Sort::Name => SortColumn::Name,
            Sort::Connections => SortColumn::Connections,
        };
    }
    if let (false, Some(v)) = (given("format"), config.format) {
        args.format = match v {
            FileFormat::Tsv => Format::Tsv,
            FileFormat::Json => Format::Json,
            FileFormat::Pretty => Format::Pretty,
        };
    }
    if let (false, Some(v)) = (given("owners"), config.owners) {
        args.owners = match v {
            Owners::Auto => netop_cli::OwnersChoice::Auto,
            Owners::Events => netop_cli::OwnersChoice::Events,
            Owners::Tracepoint => netop_cli::OwnersChoice::Tracepoint,
            Owners::Polling => netop_cli::OwnersChoice::Polling,
        };
    }
    if !given("theme") && config.theme.is_some() {
        args.power.theme.clone_from(&config.theme);
    }
    if !given("alert") && config.alerts.rate.is_some() {
        args.power.alert = config.alerts.rate;
    }
    // Switches: a flag can only turn them on (off for dns/events).
    if !given("containers") {
        args.containers |= config.containers == Some(true);
    }
    if !given("no_dns") && !args.dns_log {
        args.no_dns |= config.dns == Some(false);
    }
    if !given("no_events") {
        args.no_events |= config.events == Some(false);
    }
    Extras {
        pins: config.pins.clone(),
        alert_processes: config.alerts.processes.clone(),
        bell: config.alerts.bell.unwrap_or(true),
        columns: config.columns.clone(),
        export_dir: config.export_dir.clone(),
    }
}
