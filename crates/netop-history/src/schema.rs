//! The tables. A traffic row is (tier, start, label) and four signed
//! counters, in a `WITHOUT ROWID` table keyed by exactly that, so a row
//! costs its numbers and a label id, and the names live once in `labels`.
//! DNS rows are (tier, start, resolver) and two counters.
//!
//! `tier` is the row's length in seconds (60 or 3600). Hour rows exist
//! only for hours whose minutes were folded, so the two tiers never cover
//! the same time and a range query adds both.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::HistoryError;

/// Raised when the tables change incompatibly.
pub const VERSION: u32 = 1;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    id        INTEGER PRIMARY KEY,
    kind      INTEGER NOT NULL,
    name      TEXT NOT NULL,
    user      TEXT NOT NULL,
    container TEXT NOT NULL,
    UNIQUE (kind, name, user, container)
);
CREATE TABLE IF NOT EXISTS traffic (
    tier       INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    label      INTEGER NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    PRIMARY KEY (tier, start, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dns (
    tier     INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    resolver TEXT NOT NULL,
    queries  INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (tier, start, resolver)
) WITHOUT ROWID;
";

/// Creates the tables in a new file; WAL mode, so readers never wait for
/// the writer and a crash loses only uncommitted transactions.
pub fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // In WAL mode NORMAL syncs at checkpoints: a power cut may lose the
    // last transactions, never corrupt the file; a killed process loses
    // nothing committed.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(TABLES)?;
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?1)",
        [VERSION.to_string()],
    )?;
    Ok(())
}

/// Fails unless the file is a netop history of this version.
pub fn check(conn: &Connection, path: &Path) -> Result<(), HistoryError> {
    let found: Result<Option<String>, rusqlite::Error> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional();
    match found {
        Ok(Some(v)) if v == VERSION.to_string() => Ok(()),
        Ok(found) => Err(HistoryError::Schema {
            path: path.to_path_buf(),
            found,
            expected: VERSION,
        }),
        Err(source)
            if matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied)
            ) =>
        {
            Err(HistoryError::Open {
                path: path.to_path_buf(),
                source,
            })
        }
        // Not a database at all, or one without netop's tables.
        Err(rusqlite::Error::SqliteFailure(e, message))
            if e.code == rusqlite::ErrorCode::NotADatabase
                || message
                    .as_deref()
                    .is_some_and(|m| m.contains("no such table")) =>
        {
            Err(HistoryError::Schema {
                path: path.to_path_buf(),
                found: None,
                expected: VERSION,
            })
        }
        Err(source) => Err(HistoryError::Sql {
            path: path.to_path_buf(),
            source,
        }),
    }
}
