//! The `netop` command line as a library of its own: the flags (clap
//! derive), `--help`'s examples and exit codes, and shell completions.
//!
//! It is separate from the binary so `cargo xtask dist` can build the man
//! page and completions from the very same definitions without linking
//! the backends (libpcap, eBPF), which xtask must build before it has
//! installed them. It depends on clap only and does no I/O of its own.

mod args;

use std::io::Write;

pub use args::{
    bare_command, command, Args, CaptureChoice, Format, OwnersChoice, SortColumn, EXAMPLES,
    EXIT_CODES,
};
pub use args::{parse_rate, Command, Explicit, PowerArgs, SetupArgs, ENVIRONMENT, THEMES};
pub use args::{Grouping, HistoryArgs, HistoryFormat, ServeArgs, DEFAULT_HISTORY, DEFAULT_PORT};
pub use clap_complete::Shell;

/// Every shell `--completions` and `cargo xtask dist` write a script for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The completion script of `shell` for every flag `--help` shows.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), "netop", &mut script);
    script
}

/// The command without its hidden (test-only) flags: clap_complete's
/// scripts would offer them otherwise.
fn visible_command() -> clap::Command {
    let full = bare_command();
    let visible: Vec<clap::Arg> = full
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .cloned()
        .collect();
    let mut cmd = clap::Command::new("netop")
        .version(env!("CARGO_PKG_VERSION"))
        .args(visible);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

/// Writes the completion script of `shell`. It is built in memory first:
/// clap_complete panics on a failed write, and a reader may close the
/// pipe early.
pub fn write_completions(shell: Shell, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(&completions(shell))
}

/// The file name each shell's completion directory expects for netop.
pub fn completion_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "netop",
        Shell::Zsh => "_netop",
        Shell::Fish => "netop.fish",
        Shell::Elvish => "netop.elv",
        Shell::PowerShell => "_netop.ps1",
        _ => "netop.completion",
    }
}
