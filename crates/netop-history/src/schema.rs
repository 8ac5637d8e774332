//! The tables. A traffic row is (tier, start, label) and four signed
//! counters, in a `WITHOUT ROWID` table keyed by exactly that, so a row
//! costs its numbers and a label id, and the names live once in `labels`.
//! DNS rows are (tier, start, resolver) and two counters.
//!
//! `tier` is the row's length in seconds (60 or 3600). Hour rows exist
//! only for hours whose minutes were folded, so the two tiers never cover
//! the same time and a range query adds both.
//!
//! Versions: 1 had labels of (kind, name, user, container); 2 adds the
//! executable's path (`exe`, part of the label's key). A writer migrates a
//! version-1 file in one transaction when it opens it (old labels get an
//! empty path, their ids and rows stay); a reader of a version-1 file
//! that no writer opened yet sees it through a temporary view with that
//! empty path, so it needs no write access.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::HistoryError;

/// Raised when the tables change; older versions are migrated.
pub const VERSION: u32 = 2;

/// The labels table (version 2), under `name`.
fn labels_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
    id        INTEGER PRIMARY KEY,
    kind      INTEGER NOT NULL,
    name      TEXT NOT NULL,
    user      TEXT NOT NULL,
    container TEXT NOT NULL,
    exe       TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, name, user, container, exe)
);"
    )
}

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
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
    let found: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match found.as_deref() {
        None => {
            conn.execute_batch(&labels_table("labels"))?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                [VERSION.to_string()],
            )?;
        }
        Some("1") => migrate_1(conn)?,
        Some(_) => {}
    }
    Ok(())
}

/// Version 1 to 2: the labels table rebuilt with `exe` in its key (SQLite
/// cannot change a UNIQUE constraint in place), ids kept, so every traffic
/// row still points at its label. One transaction: a crash leaves
/// version 1 as it was.
fn migrate_1(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(&format!(
        "{}
         INSERT INTO labels_v2 (id, kind, name, user, container, exe)
           SELECT id, kind, name, user, container, '' FROM labels;
         DROP TABLE labels;
         ALTER TABLE labels_v2 RENAME TO labels;
         UPDATE meta SET value = '2' WHERE key = 'schema';",
        labels_table("labels_v2")
    ))?;
    tx.commit()
}

/// A reader's view of a version-1 file in today's shape: a temporary
/// view named `labels` (the temp schema is searched first) with an empty
/// `exe`. Written to the connection's temp schema only.
pub fn view_old(conn: &Connection, version: u32) -> rusqlite::Result<()> {
    if version == 1 {
        conn.execute_batch(
            "PRAGMA temp_store = MEMORY;
             CREATE TEMP VIEW labels AS
               SELECT id, kind, name, user, container, '' AS exe FROM main.labels;",
        )?;
    }
    Ok(())
}

/// The file's version; fails unless it is a netop history of this
/// version or an older one.
pub fn check(conn: &Connection, path: &Path) -> Result<u32, HistoryError> {
    let found: Result<Option<String>, rusqlite::Error> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional();
    match found {
        Ok(Some(v)) if v.parse::<u32>().is_ok_and(|v| (1..=VERSION).contains(&v)) => {
            Ok(v.parse().unwrap_or(VERSION))
        }
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
