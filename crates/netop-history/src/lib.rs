//! netop's traffic history: what each process, interface, unknown reason
//! and DNS resolver moved, per minute and per hour, in one SQLite file
//! that survives restarts.
//!
//! Kept as vnstat keeps interfaces: fixed tiers. `netop serve` writes one
//! [`Minute`] a minute, in one transaction; after
//! [`Retention::minutes`] (7 days) minute rows are folded into hour rows,
//! which are kept for [`Retention::hours`] (a year). A process is its
//! name, user, container and executable's path (a label row shared by its
//! minutes), never a pid: pids are recycled and mean nothing a day later. The database is in
//! WAL mode, so readers (`netop history`, the dashboard) never wait for
//! the writer, and a killed writer loses at most the minute in progress.
//!
//! No clock is read here: every call that ages rows takes `now`, so the
//! tests move time by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

mod query;
mod schema;
pub mod when;
mod write;

pub use query::{Grouping, Query, Sample, Total};

/// Length of a minute row and of an hour row, in seconds.
pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;

/// What a traffic row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A process: name, user, container, executable.
    Process = 0,
    /// An interface: its name.
    Interface = 1,
    /// Traffic without an owner: the reason's name.
    Unknown = 2,
}

/// Who a traffic row belongs to. Empty strings stand for none (the
/// container of a process in none; the user of an interface; the
/// executable of a process whose path could not be read, or of a row
/// written before paths were kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub kind: Kind,
    pub name: String,
    pub user: String,
    pub container: String,
    pub exe: String,
}

impl Label {
    pub fn process(name: &str, user: &str, container: Option<&str>) -> Self {
        Label {
            kind: Kind::Process,
            name: name.to_string(),
            user: user.to_string(),
            container: container.unwrap_or_default().to_string(),
            exe: String::new(),
        }
    }

    /// The same process label with its executable's path.
    pub fn with_exe(mut self, exe: Option<&str>) -> Self {
        self.exe = exe.unwrap_or_default().to_string();
        self
    }

    pub fn interface(name: &str) -> Self {
        Label {
            kind: Kind::Interface,
            name: name.to_string(),
            user: String::new(),
            container: String::new(),
            exe: String::new(),
        }
    }

    pub fn unknown(reason: &str) -> Self {
        Label {
            kind: Kind::Unknown,
            name: reason.to_string(),
            user: String::new(),
            container: String::new(),
            exe: String::new(),
        }
    }
}

/// Bytes and packets moved in a period. Signed: unknown bytes that found
/// their owner late leave the unknown row (see netop's `deltas.rs`), so a
/// period's unknown change may be negative; sums stay exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub rx_packets: i64,
    pub tx_packets: i64,
}

impl Traffic {
    pub fn add(&mut self, other: &Traffic) {
        self.rx_bytes += other.rx_bytes;
        self.tx_bytes += other.tx_bytes;
        self.rx_packets += other.rx_packets;
        self.tx_packets += other.tx_packets;
    }

    pub fn is_zero(&self) -> bool {
        *self == Traffic::default()
    }

    pub fn total_bytes(&self) -> i64 {
        self.rx_bytes + self.tx_bytes
    }
}

/// DNS queries to one resolver in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsCounts {
    pub queries: i64,
    pub failures: i64,
}

/// One minute (or the part of it before a stop) of everything.
#[derive(Debug, Clone, Default)]
pub struct Minute {
    /// Unix seconds at the start of the minute (a multiple of 60).
    pub start: i64,
    pub traffic: Vec<(Label, Traffic)>,
    /// By resolver address.
    pub dns: Vec<(String, DnsCounts)>,
}

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Minute rows older than this are folded into hour rows.
    pub minutes: Duration,
    /// Hour rows older than this are deleted.
    pub hours: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            minutes: Duration::from_secs(7 * 86_400),
            hours: Duration::from_secs(365 * 86_400),
        }
    }
}

/// What can go wrong with the database; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("no history database at {path} (netop serve creates it; pass --history PATH to read another)")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source} (run as root, or as a member of the group of netop serve's user, e.g. netop)")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the directory of {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the history database {path}: {source} (check its permissions, or pass --history PATH)")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a netop history database this netop reads (schema {found:?}, expected {expected} or older)")]
    Schema {
        path: PathBuf,
        found: Option<String>,
        expected: u32,
    },
    #[error("history database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    /// The hour of the last roll-up: roll-ups run once an hour.
    maintained: Option<i64>,
}

impl History {
    /// Opens `path` for writing, creating the file and its directory.
    pub fn create(path: &Path, retention: Retention) -> Result<Self, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                create_private_dir(dir).map_err(|source| HistoryError::Directory {
                    path: path.to_path_buf(),
                    source,
                })?;
            }
        }
        let new = !path.exists();
        let conn = Connection::open(path).map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if new {
            // Who used the network is not everyone's business: the owner
            // and its group (SQLite gives its side files the same mode).
            set_mode(path, 0o640).map_err(|source| HistoryError::Directory {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let history = History {
            conn,
            path: path.to_path_buf(),
            retention,
            maintained: None,
        };
        schema::create(&history.conn).map_err(|e| history.sql(e))?;
        let version = schema::check(&history.conn, &history.path)?;
        if version != schema::VERSION {
            return Err(HistoryError::Schema {
                path: history.path,
                found: Some(version.to_string()),
                expected: schema::VERSION,
            });
        }
        Ok(history)
    }

    /// Opens an existing database to read (`netop history`, the
    /// dashboard); never creates one.
    pub fn open_read_only(path: &Path) -> Result<Self, HistoryError> {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HistoryError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(HistoryError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let open = |uri: bool| {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            if uri {
                // The writer has stopped (its log is folded in and gone),
                // and this user may not create SQLite's shared-memory file
                // beside the database: read the file as it is.
                let mut name = String::from("file:");
                name.push_str(
                    &path
                        .to_string_lossy()
                        .replace('?', "%3f")
                        .replace('#', "%23"),
                );
                name.push_str("?immutable=1");
                Connection::open_with_flags(name, flags | OpenFlags::SQLITE_OPEN_URI)
            } else {
                Connection::open_with_flags(path, flags)
            }
        };
        let opened = open(false).and_then(|conn| {
            // The first read opens the log; a failure shows here.
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(conn)
        });
        let wal = {
            let mut p = path.as_os_str().to_owned();
            p.push("-wal");
            PathBuf::from(p)
        };
        let conn = match opened {
            Ok(conn) => Ok(conn),
            Err(_) if !wal.exists() => open(true),
            Err(e) => Err(e),
        }
        .map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let version = schema::check(&conn, path)?;
        if version < schema::VERSION {
            // A file an older netop wrote and no newer one opened for
            // writing yet: read it through a view of today's shape.
            schema::view_old(&conn, version).map_err(|source| HistoryError::Sql {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(History {
            conn,
            path: path.to_path_buf(),
            retention: Retention::default(),
            maintained: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> HistoryError {
        // A read-only open of a file it may not read fails at the first
        // statement, not at the open: say so as an open error.
        if matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied)
        ) {
            return HistoryError::Open {
                path: self.path.clone(),
                source,
            };
        }
        HistoryError::Sql {
            path: self.path.clone(),
            source,
        }
    }
}

/// Creates `dir` (and its parents) readable by its owner and group only.
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
