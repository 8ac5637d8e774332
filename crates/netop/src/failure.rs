//! What can stop netop, the one line it prints, and the exit code (the
//! table in `--help` and the README).

use std::fmt;

/// A reason to stop, carrying its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Capture needs root (or, on Linux, CAP_NET_RAW + CAP_NET_ADMIN).
    Privileges,
    /// `--interface` names nothing that exists.
    UnknownInterface {
        name: String,
        available: Vec<String>,
    },
    /// The monitor was asked for, but stdin or stdout is not a terminal.
    NotATerminal,
    /// A combination of flags the parser cannot refuse on its own.
    Usage(String),
    /// The config file is malformed, names an unknown key or value, or
    /// may not be used (ownership).
    Config(netop::config::ConfigError),
    /// `--bpf`'s expression does not compile (libpcap's message).
    InvalidFilter(String),
    /// A snapshot with `--alert`: some process crossed its threshold
    /// (the table was printed).
    Alert,
    /// Anything else that went wrong at run time.
    Runtime(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Runtime(_) | Failure::NotATerminal => 1,
            Failure::Config(_) | Failure::InvalidFilter(_) => 2,
            Failure::Privileges => 3,
            Failure::Usage(_) => 2,
            Failure::Alert => 5,
            Failure::UnknownInterface { .. } => 4,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Privileges => {
                f.write_str("netop requires root privileges. Run with: sudo netop")?;
                match crate::platform::privileges_fix() {
                    Some(fix) => write!(f, " ({fix})"),
                    None => Ok(()),
                }
            }
            Failure::UnknownInterface { name, available } => {
                write!(f, "unknown interface '{name}'; available: ")?;
                if available.is_empty() {
                    f.write_str("(none found)")
                } else {
                    f.write_str(&available.join(", "))
                }
            }
            Failure::NotATerminal => f.write_str(
                "the interactive monitor needs a terminal; \
                 for output to a pipe or file run a snapshot with --duration SECONDS",
            ),
            Failure::Usage(message) => f.write_str(message),
            Failure::Config(e) => write!(f, "{e}"),
            Failure::InvalidFilter(message) => write!(f, "invalid --bpf expression: {message}"),
            Failure::Alert => f.write_str("a process crossed the --alert threshold"),
            // `{:#}` prints the whole context chain on one line.
            Failure::Runtime(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}
